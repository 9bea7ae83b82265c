//! Callbacks at run time (language.md, "Waits and callbacks"; docs/runtime.md,
//! "Callbacks").
//!
//! `callback NAME { output T, timeout D }` journals `CallbackCreated` (the token's SHA-256
//! and its expiry) before `NAME.url` can be handed out. The token itself is never stored: it
//! is an HMAC-SHA256, under a key kept in the store, of the run id and the callback's
//! identity, so every drive (and a replay) derives the same URL while the journal holds only
//! the hash. `step x = wait NAME` consumes the post the store kept (an early post included)
//! in the same append as the step's outcome: a body of the declared type completes the step;
//! `{ "error": { "code", "message" } }` fails it with that error; past the expiry it fails
//! with code `timeout`; otherwise the run pauses, with a durable timer at the expiry so that
//! `weir resume` wakes it.

use super::{Interpreter, Run, RunError, Stop, Waiting};
use crate::store::{CallbackState, EventKind, NewEvent, RunId, StepId, StoreError, TokenHash};
use weir_bytecode::{StepIx, StepKind, Value};

/// Where a project's callback URLs point when weir.toml has no `[server] url`.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:7420";

/// The kv namespace of weir's own values (no flow slug starts with `@`).
const OWN: &str = "@weir";
/// The kv key of the callback-token key.
const KEY: &[u8] = b"callback-key";

impl Interpreter<'_> {
    /// The store's callback key, made (from the system's RNG) and stored durably the first
    /// time a callback needs it.
    fn callback_key(&self) -> Result<[u8; 32], StoreError> {
        if let Some(key) = self.store.kv_get(OWN, KEY)?.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| StoreError::Limit("the system's random source failed".to_string()))?;
        self.store.kv_put(OWN, KEY, &key)?;
        Ok(key)
    }

    /// The token of the callback created at `step` in run `run` (hex, 256 bits).
    pub fn callback_token(&self, run: RunId, step: &StepId) -> Result<String, StoreError> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.callback_key()?);
        let mut message = run.to_bytes().to_vec();
        message.extend_from_slice(&step.encode());
        Ok(crate::store::hex::encode(ring::hmac::sign(&key, &message).as_ref()))
    }

    /// The URL a worker posts a callback's body to.
    pub fn callback_url(&self, token: &str) -> String {
        let base =
            self.project.and_then(|(config, _)| config.server_url.as_deref()).unwrap_or(DEFAULT_SERVER_URL);
        format!("{}/callbacks/{token}", base.trim_end_matches('/'))
    }
}

/// A token as posted: the token itself or its whole URL.
pub fn token_of(text: &str) -> &str {
    text.trim().trim_end_matches('/').rsplit('/').next().unwrap_or_default()
}

/// `{ "error": { "code", "message" } }`: a worker reporting failure.
fn worker_error(body: &Value) -> Option<(String, String)> {
    let Value::Record(fields) = body else { return None };
    let [(name, Value::Record(error))] = fields.as_slice() else { return None };
    if name != "error" {
        return None;
    }
    let text = |key: &str| {
        error.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
    };
    Some((text("code")?, text("message").unwrap_or_default()))
}

/// Checks a body posted to the callback `step` of `program` before it is stored: a worker
/// error, or a value of the declared output type. `Err` says what is wrong.
pub fn check_post(program: &weir_bytecode::Program, step: &StepId, body: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let value =
        weir_bytecode::eval::parse_json(text).map_err(|e| format!("the body is not JSON: {}", e.message))?;
    if worker_error(&value).is_some() {
        return Ok(());
    }
    let base = step.path.split('[').next().unwrap_or_default();
    let output = program.steps.iter().find(|s| s.id == base).and_then(|s| match &s.kind {
        StepKind::Callback(def) => def.output,
        _ => None,
    });
    match output {
        Some(ty) => weir_bytecode::conform_named(program, ty, value, "body").map(drop),
        None => Ok(()),
    }
}

impl Run<'_, '_, '_> {
    /// `callback NAME { … }`: journal the token's hash (once) and bind `NAME.url`.
    pub(super) fn callback(&mut self, ix: StepIx) -> Result<(), Stop> {
        let Some(def) = self.program.step(ix) else { return Ok(()) };
        let StepKind::Callback(callback) = &def.kind else { return Ok(()) };
        let name = def.name.clone().unwrap_or_else(|| def.id.clone());
        self.set_site(ix);
        let id = self.step_id(ix, "");
        let token = self.interp.callback_token(self.id, &id)?;
        let created = EventKind::CallbackCreated { token: TokenHash::of(b""), expires_at_ms: 0 }.tag();
        if !self.journal.contains_key(&(id.clone(), created)) {
            let timeout_ms = match self.eval(callback.timeout) {
                Ok(Value::Duration(ms)) => u64::try_from(ms).unwrap_or(0),
                Ok(_) => 0,
                Err(e) => return self.fail(e),
            };
            let now = self.interp.clock.now_ms();
            let expires_at_ms = now.saturating_add(timeout_ms);
            let kind = EventKind::CallbackCreated { token: TokenHash::of(token.as_bytes()), expires_at_ms };
            self.append_at(now, vec![NewEvent { step: id, kind, payload: Vec::new() }])?;
        }
        let url = self.interp.callback_url(&token);
        self.steps.insert(name, Value::record([("url", Value::String(url))]));
        Ok(())
    }

    /// `step x = wait NAME`: the post's body, a worker's error, a timeout, or a pause.
    pub(super) fn wait_callback(&mut self, callback: StepIx, id: &StepId) -> Result<Value, Stop> {
        if self.interp.replay.is_some() {
            return self.replayed_wait(id);
        }
        let name = self.program.step(callback).and_then(|s| s.name.clone()).unwrap_or_default();
        let created_at = self.step_id(callback, "");
        let token = self.interp.callback_token(self.id, &created_at)?;
        let hash = TokenHash::of(token.as_bytes());
        let Some(record) = self.interp.store.callback(&hash)? else {
            return self.step_failed(
                id,
                "journal",
                format!("the callback `{name}` was not created before `wait {name}`"),
            );
        };
        let timer = StepId::new(format!("{}/timeout", id.path), id.iteration, 0);
        let mut events = vec![NewEvent {
            step: id.clone(),
            kind: EventKind::CallbackReceived { token: hash },
            payload: Vec::new(),
        }];
        let scheduled = self.recorded(&timer, &EventKind::TimerScheduled { due_at_ms: 0 }).is_some();
        let timer_fired = NewEvent { step: timer.clone(), kind: EventKind::TimerFired, payload: Vec::new() };
        match record.state {
            CallbackState::Posted { payload, .. } => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                let body = weir_bytecode::eval::parse_json(&text).unwrap_or(Value::String(text));
                if scheduled {
                    events.push(timer_fired);
                }
                let output = self.program.step(callback).and_then(|s| match &s.kind {
                    StepKind::Callback(def) => def.output,
                    _ => None,
                });
                let outcome = match worker_error(&body) {
                    Some((code, message)) => Err(RunError { code, message, step: id.path.clone() }),
                    None => match output
                        .map(|ty| weir_bytecode::conform_named(self.program, ty, body.clone(), "body"))
                    {
                        Some(Err(problem)) => Err(RunError {
                            code: "callback_body".into(),
                            message: format!(
                                "the body posted to `{name}` does not fit its output: {problem}"
                            ),
                            step: id.path.clone(),
                        }),
                        Some(Ok(value)) => Ok(value),
                        None => Ok(body),
                    },
                };
                match outcome {
                    Ok(value) => {
                        let payload = serde_json::to_vec(&value).unwrap_or_default();
                        events.push(NewEvent { step: id.clone(), kind: EventKind::StepCompleted, payload });
                        self.append(events)?;
                        Ok(value)
                    }
                    Err(error) => {
                        let payload = serde_json::to_vec(&error).unwrap_or_default();
                        events.push(NewEvent { step: id.clone(), kind: EventKind::StepFailed, payload });
                        self.append(events)?;
                        Err(Stop::Failed(error))
                    }
                }
            }
            CallbackState::Consumed { .. } => self.step_failed(
                id,
                "journal",
                format!("the post to `{name}` was consumed, but this step has no outcome in the journal"),
            ),
            CallbackState::Waiting if self.interp.clock.now_ms() > record.expires_at_ms => {
                let mut events = Vec::new();
                if scheduled {
                    events.push(timer_fired);
                }
                let error = RunError {
                    code: "timeout".into(),
                    message: format!("nothing was posted to `{name}` before its timeout"),
                    step: id.path.clone(),
                };
                let payload = serde_json::to_vec(&error).unwrap_or_default();
                events.push(NewEvent { step: id.clone(), kind: EventKind::StepFailed, payload });
                self.append(events)?;
                Err(Stop::Failed(error))
            }
            CallbackState::Waiting => {
                self.check_deadline(id)?;
                if !scheduled {
                    // Wakes `weir resume` just after the expiry, to fail the wait.
                    let due_at_ms = record.expires_at_ms.saturating_add(1);
                    self.append(vec![NewEvent {
                        step: timer,
                        kind: EventKind::TimerScheduled { due_at_ms },
                        payload: Vec::new(),
                    }])?;
                    (self.report)(&format!("step {} waits for a post to callback {name}", id.path));
                }
                Err(Stop::Paused(Box::new(Waiting {
                    kind: "callback".into(),
                    name,
                    step: id.path.clone(),
                    deciders: Vec::new(),
                    excluded: Vec::new(),
                    inputs: Vec::new(),
                    min: 0,
                    approvals: 0,
                    due_at_ms: record.expires_at_ms,
                    summary: None,
                    url: Some(self.interp.callback_url(&token)),
                    run: None,
                })))
            }
        }
    }

    /// A replayed wait: the events the original journaled for it, in its order (the timer
    /// set when it paused; the consumed post, the timer's end and the outcome together).
    fn replayed_wait(&mut self, id: &StepId) -> Result<Value, Stop> {
        let Some(oracle) = self.interp.replay else { return Ok(Value::None) };
        let timer = StepId::new(format!("{}/timeout", id.path), id.iteration, 0);
        if let Some(scheduled) = oracle.find(&timer, &EventKind::TimerScheduled { due_at_ms: 0 }) {
            let kind = scheduled.kind.clone();
            self.append(vec![NewEvent { step: timer.clone(), kind, payload: Vec::new() }])?;
        }
        let Some(outcome) = oracle.outcome(id) else {
            // The original may have stopped here at the run's deadline.
            self.check_deadline(id)?;
            return Err(Stop::Store(super::replay::stop(
                oracle,
                id,
                &format!("the outcome of `wait` {}", id.path),
            )));
        };
        let mut events = Vec::new();
        let received = EventKind::CallbackReceived { token: TokenHash::of(b"") };
        if let Some(event) = oracle.find(id, &received) {
            events.push(NewEvent { step: id.clone(), kind: event.kind.clone(), payload: Vec::new() });
        }
        if oracle.find(&timer, &EventKind::TimerFired).is_some() {
            events.push(NewEvent { step: timer, kind: EventKind::TimerFired, payload: Vec::new() });
        }
        match outcome {
            Ok(payload) => {
                let value = serde_json::from_slice::<Value>(payload).unwrap_or(Value::None);
                events.push(NewEvent {
                    step: id.clone(),
                    kind: EventKind::StepCompleted,
                    payload: payload.to_vec(),
                });
                self.append(events)?;
                Ok(value)
            }
            Err(payload) => {
                let error = serde_json::from_slice::<RunError>(payload).unwrap_or_else(|_| RunError {
                    code: "failed".into(),
                    message: "the wait failed".into(),
                    step: id.path.clone(),
                });
                events.push(NewEvent {
                    step: id.clone(),
                    kind: EventKind::StepFailed,
                    payload: payload.to_vec(),
                });
                self.append(events)?;
                Err(Stop::Failed(error))
            }
        }
    }
}
