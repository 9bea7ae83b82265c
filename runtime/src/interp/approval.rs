//! Approvals at run time (language.md, "Approvals"; docs/runtime.md, "Approvals").
//!
//! When a run reaches an approval it journals the *request* (`started` on the approval's
//! identity: the evaluated summary, the digests of `binds`, who may decide, who may not,
//! `min`, the due time) together with the timeout's durable timer, and pauses. A decision is
//! a *vote* journaled by [`Interpreter::decide`] under `NAME/vote/PERSON`, checked first
//! against the request (deciders, `not initiator`, `exclude`, one vote per person, the
//! input fields' types). The next drive counts the votes: one reject vetoes, `min` approvals
//! approve, and a due timeout takes the approval's `default`. The outcome is journaled as
//! the approval's `completed` event with the timer's `fired`, atomically, and the approval's
//! value `{ outcome, by, at, reason, …inputs }` is what later steps read.

use super::{Flow, InterpError, Interpreter, Outcome, Run, RunError, Stop};
use crate::store::{Append, Event, EventKind, NewEvent, RunId, StepId};
use serde::{Deserialize, Serialize};
use weir_bytecode::{ApprovalDef, BlockIx, Bytecode, DeciderKind, Decision, StepIx, StepKind, Value};

/// What a paused run waits for: an approval or a post to a callback (printed by `weir run`,
/// `weir approve`, `weir callback` and `weir resume`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// `approval` or `callback`.
    pub kind: String,
    /// The approval's name (what `weir approve RUN NAME` takes), or the callback's.
    pub name: String,
    /// Its journal identity.
    pub step: String,
    /// Who may decide (empty: any person of the project), without those excluded.
    pub deciders: Vec<String>,
    /// Who may not (`not initiator`, `exclude`).
    pub excluded: Vec<String>,
    /// The input fields a decider fills in when approving.
    pub inputs: Vec<String>,
    /// Approvals needed.
    pub min: u32,
    /// Approvals so far.
    pub approvals: u32,
    /// When its timeout passes (Unix ms).
    pub due_at_ms: u64,
    /// The evaluated `summary`.
    pub summary: Option<String>,
    /// For a callback: the URL a worker posts to.
    pub url: Option<String>,
    /// The run that waits, when it is not this one but a run it called (decide that run).
    pub run: Option<String>,
}

/// The request journaled when a run reaches an approval: everything a decider is shown and
/// every rule a vote is checked against, fixed at that moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The approval's name.
    pub name: String,
    /// The evaluated `summary`.
    pub summary: Option<String>,
    /// The evaluated `attach` expressions, as shown.
    pub attach: Vec<String>,
    /// SHA-256 (hex) of each `binds` value's JSON: what a decision is a decision about.
    pub binds: Vec<String>,
    /// People who may decide (groups expanded from weir.toml); empty: any person.
    pub deciders: Vec<String>,
    /// People who may not (`not initiator`, `exclude`).
    pub excluded: Vec<String>,
    /// Distinct approvals needed.
    pub min: u32,
    /// The declared input fields.
    pub inputs: Vec<String>,
    /// When the timeout passes (Unix ms).
    pub due_at_ms: u64,
    /// `approve` or `reject`: what a passed timeout decides.
    pub default: String,
    /// `ask CONN { … }`, evaluated: journaled now, delivered once the notify family exists.
    pub ask: Option<serde_json::Value>,
}

impl ApprovalRequest {
    /// The deciders who are not excluded (empty: any person of the project).
    pub fn eligible(&self) -> Vec<String> {
        self.deciders.iter().filter(|d| !self.excluded.contains(d)).cloned().collect()
    }
}

/// One person's decision, journaled under `NAME/vote/PERSON`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// Approve (true) or reject.
    pub approve: bool,
    /// The person (their name in weir.toml).
    pub by: String,
    /// When (Unix ms).
    pub at_ms: u64,
    /// Why, if they said.
    pub reason: Option<String>,
    /// The input fields they filled in (a record).
    pub input: Value,
    /// The `binds` digests of the request they decided on.
    pub binds: Vec<String>,
}

/// A decision given on the command line (or, later, through the server).
#[derive(Clone, Debug)]
pub struct Decide<'d> {
    /// The approval's name.
    pub approval: &'d str,
    /// Who decides: a person's name or email in weir.toml.
    pub person: &'d str,
    /// Approve (true) or reject.
    pub approve: bool,
    /// Why.
    pub reason: Option<&'d str>,
    /// The approval's input fields (a record).
    pub input: Value,
}

/// How a rejection ended a run: journaled in its `@end` event (readable as a [`RunError`]
/// with code `rejected`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Rejection {
    code: String,
    message: String,
    step: String,
    approval: String,
    by: String,
    reason: Option<String>,
}

impl Rejection {
    fn new(approval: &str, by: &str, reason: Option<&str>) -> Rejection {
        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
        let message = if by == TIMEOUT {
            format!("`{approval}` timed out and its default is reject")
        } else {
            format!("`{approval}` was rejected by {by}{why}")
        };
        Rejection {
            code: "rejected".into(),
            message,
            step: approval.to_string(),
            approval: approval.to_string(),
            by: by.to_string(),
            reason: reason.map(str::to_string),
        }
    }

    /// The run's outcome.
    pub(super) fn outcome(&self) -> Outcome {
        Outcome::Rejected {
            approval: self.approval.clone(),
            by: self.by.clone(),
            reason: self.reason.clone(),
        }
    }

    /// The `@end` payload.
    pub(super) fn payload(approval: &str, by: &str, reason: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&Rejection::new(approval, by, reason)).unwrap_or_default()
    }

    /// Reads an `@end` payload back.
    pub(super) fn from_payload(payload: &[u8]) -> Option<Rejection> {
        serde_json::from_slice(payload).ok()
    }
}

/// Who "decides" when a timeout passes.
const TIMEOUT: &str = "@timeout";

impl Interpreter<'_> {
    /// Journal a person's vote on a run's pending approval, after checking it against the
    /// approval's request. The run is not driven here: `resume` it to act on the vote.
    pub fn decide(&self, id: RunId, bytecode: &Bytecode, decision: &Decide<'_>) -> Result<Vote, InterpError> {
        let record = self.store.run(id)?.ok_or_else(|| InterpError::Journal(format!("no run {}", id.0)))?;
        if record.status.is_terminal() {
            return Err(InterpError::Decision(format!(
                "run {} already finished ({}); there is nothing to decide",
                id.0,
                record.status.name()
            )));
        }
        let journal = self.store.journal(id, 0)?;
        let (step, request) = pending(&journal, decision.approval)?;
        let empty = weir_config::Config::default();
        let config = self.project.map_or(&empty, |(config, _)| config);
        let person = find_person(config, decision.person).map_err(InterpError::Decision)?;
        if !request.deciders.is_empty() && !request.deciders.contains(&person) {
            return Err(InterpError::Decision(format!(
                "`{person}` may not decide `{}`: its deciders are {}",
                request.name,
                request.deciders.join(", ")
            )));
        }
        if request.excluded.contains(&person) {
            let initiator = journal
                .iter()
                .find(|e| e.step.path == "@run/initiator")
                .and_then(|e| serde_json::from_slice::<String>(&e.payload).ok());
            let why = if initiator.as_deref() == Some(person.as_str()) {
                "they started the run (`not initiator`)"
            } else {
                "the approval excludes them (`exclude`)"
            };
            return Err(InterpError::Decision(format!(
                "`{person}` may not decide `{}`: {why}; another decider must",
                request.name
            )));
        }
        let vote_id = StepId::new(format!("{}/vote/{person}", step.path), step.iteration, 0);
        let input = if decision.approve {
            approval_input(bytecode, &request.name, decision.input.clone())?
        } else if matches!(&decision.input, Value::Record(fields) if !fields.is_empty()) {
            return Err(InterpError::Decision(
                "a rejection takes no input fields; say why with --reason".to_string(),
            ));
        } else {
            Value::record::<&str>([])
        };
        let earlier = journal.iter().find(|e| e.step == vote_id && e.kind == EventKind::ApprovalDecided);
        if let Some(earlier) = earlier {
            // The same decision again (a retry after a lost answer) is the decision taken;
            // a different one is refused.
            return match serde_json::from_slice::<Vote>(&earlier.payload) {
                Ok(vote)
                    if vote.approve == decision.approve
                        && vote.input == input
                        && vote.reason.as_deref() == decision.reason =>
                {
                    Ok(vote)
                }
                _ => Err(InterpError::Decision(format!("`{person}` already decided `{}`", request.name))),
            };
        }
        let vote = Vote {
            approve: decision.approve,
            by: person,
            at_ms: self.clock.now_ms(),
            reason: decision.reason.map(str::to_string),
            input,
            binds: request.binds.clone(),
        };
        let payload = serde_json::to_vec(&vote).map_err(|e| InterpError::Decision(e.to_string()))?;
        let event = NewEvent { step: vote_id, kind: EventKind::ApprovalDecided, payload };
        // The run is `running` again with the vote, atomically: if nothing drives it now (a
        // crash right after), `weir resume` finds it among the unfinished runs.
        let status = Some(crate::store::RunStatus::Running);
        self.store.append(id, &Append { at_ms: vote.at_ms, events: vec![event], status })?;
        self.crash_point(super::InterpPoint::AfterVote);
        Ok(vote)
    }

    /// The approvals a run waits for now, by name (empty when it waits for none).
    pub fn pending_approvals(&self, id: RunId) -> Result<Vec<ApprovalRequest>, InterpError> {
        let journal = self.store.journal(id, 0)?;
        Ok(pending_requests(&journal).into_iter().map(|(_, r)| r).collect())
    }
}

/// A person of weir.toml by name or email: their name (what deciders and `--as` compare).
pub fn find_person(config: &weir_config::Config, who: &str) -> Result<String, String> {
    if config.people.contains_key(who) {
        return Ok(who.to_string());
    }
    if let Some((name, _)) = config.people.iter().find(|(_, p)| p.email.as_deref() == Some(who)) {
        return Ok(name.clone());
    }
    if config.people.is_empty() {
        return Err(format!(
            "weir.toml declares no people: add `[people.{who}]` (with an `email`) to act as `{who}`"
        ));
    }
    let names: Vec<&str> = config.people.keys().map(String::as_str).collect();
    Err(format!("`{who}` is not one of the project's people (weir.toml `[people]`: {})", names.join(", ")))
}

/// Approval requests without an outcome, in journal order.
fn pending_requests(journal: &[Event]) -> Vec<(StepId, ApprovalRequest)> {
    let decided: std::collections::HashSet<&StepId> =
        journal.iter().filter(|e| e.kind == EventKind::StepCompleted).map(|e| &e.step).collect();
    journal
        .iter()
        .filter(|e| e.kind == EventKind::StepStarted && !decided.contains(&e.step))
        .filter_map(|e| Some((e.step.clone(), serde_json::from_slice::<ApprovalRequest>(&e.payload).ok()?)))
        .collect()
}

/// The pending request named `name`.
fn pending(journal: &[Event], name: &str) -> Result<(StepId, ApprovalRequest), InterpError> {
    let open = pending_requests(journal);
    if let Some(found) = open.iter().find(|(_, r)| r.name == name) {
        return Ok(found.clone());
    }
    let decided = journal.iter().any(|e| {
        e.kind == EventKind::StepStarted
            && serde_json::from_slice::<ApprovalRequest>(&e.payload).is_ok_and(|r| r.name == name)
    });
    if decided {
        return Err(InterpError::Decision(format!("the approval `{name}` was already decided")));
    }
    let waiting: Vec<String> = open.iter().map(|(_, r)| format!("`{}`", r.name)).collect();
    Err(InterpError::Decision(if waiting.is_empty() {
        format!("the run is not waiting for the approval `{name}` (it waits for no approval)")
    } else {
        format!("the run is not waiting for the approval `{name}`; it waits for {}", waiting.join(", "))
    }))
}

/// The approval's input fields from a decider, checked against their declared types.
fn approval_input(bytecode: &Bytecode, name: &str, given: Value) -> Result<Value, InterpError> {
    let program = &bytecode.program;
    let def = program.steps.iter().find_map(|s| match &s.kind {
        StepKind::Approval(def) if s.name.as_deref() == Some(name) => Some(def),
        _ => None,
    });
    let Some(def) = def else { return Ok(given) };
    let mut given = match given {
        Value::Record(fields) => fields,
        Value::None => Vec::new(),
        _ => return Err(InterpError::Decision("the input fields must be a record".to_string())),
    };
    let mut out = Vec::with_capacity(def.input.len());
    for field in &def.input {
        let value = match given.iter().position(|(n, _)| n == &field.name) {
            Some(at) => {
                let (_, value) = given.swap_remove(at);
                weir_bytecode::conform_named(program, field.ty, value, &field.name)
                    .map_err(InterpError::Decision)?
            }
            None => match field.default {
                Some(default) => weir_bytecode::eval(program, &weir_bytecode::MapEnv::default(), default)
                    .map_err(|e| InterpError::Decision(e.message))?,
                None if field.optional => Value::None,
                None => {
                    return Err(InterpError::Decision(format!(
                        "approving `{name}` needs the input `{}` (--input {}=VALUE)",
                        field.name, field.name
                    )));
                }
            },
        };
        out.push((field.name.clone(), value));
    }
    if let Some((extra, _)) = given.first() {
        let declared: Vec<&str> = def.input.iter().map(|f| f.name.as_str()).collect();
        let known = if declared.is_empty() { "none".to_string() } else { declared.join(", ") };
        return Err(InterpError::Decision(format!(
            "`{name}` has no input `{extra}` (its input fields: {known})"
        )));
    }
    Ok(Value::Record(out))
}

impl Run<'_, '_, '_> {
    /// `approval NAME { … } [on reject { … }]`: decided already, decided by the votes
    /// journaled since, timed out, or still waiting (the drive pauses).
    pub(super) fn approval(&mut self, ix: StepIx, on_reject: Option<BlockIx>) -> Result<Flow, Stop> {
        let Some(def) = self.program.step(ix) else { return Ok(Flow::Next) };
        let StepKind::Approval(approval) = &def.kind else { return Ok(Flow::Next) };
        let name = def.name.clone().unwrap_or_else(|| def.id.clone());
        self.set_site(ix);
        let id = self.step_id(ix, "");
        let value = match self.recorded(&id, &EventKind::StepCompleted) {
            Some(event) => serde_json::from_slice::<Value>(&event.payload).unwrap_or(Value::None),
            None => self.decide_now(&name, approval, &id)?,
        };
        let text = |field: &str| match value.field(field) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let outcome = text("outcome").unwrap_or_default();
        let by = text("by").unwrap_or_default();
        let reason = text("reason");
        self.steps.insert(name.clone(), value);
        let approved = match outcome.as_str() {
            "approved" => true,
            "timed_out" => approval.default == Decision::Approve,
            _ => false,
        };
        if approved {
            return Ok(Flow::Next);
        }
        let flow = match on_reject {
            Some(body) => self.block(body)?,
            None => Flow::Next,
        };
        match flow {
            Flow::Next => Err(Stop::Rejected(Box::new(Rejection::new(&name, &by, reason.as_deref())))),
            other => Ok(other),
        }
    }

    /// Journal the request when it is new, then decide from the votes and the clock.
    fn decide_now(&mut self, name: &str, approval: &ApprovalDef, id: &StepId) -> Result<Value, Stop> {
        // Past the run's deadline nothing is decided any more, votes or not (the same in
        // every drive once the deadline is journaled as passed).
        self.check_deadline(id)?;
        let timer = StepId::new(format!("{}/timeout", id.path), id.iteration, 0);
        let digests = self.digests(approval)?;
        let request = match self.recorded(id, &EventKind::StepStarted) {
            Some(event) => serde_json::from_slice::<ApprovalRequest>(&event.payload).map_err(|e| {
                Stop::Failed(RunError {
                    code: "journal".into(),
                    message: format!("the journaled request of `{name}` cannot be read: {e}"),
                    step: id.path.clone(),
                })
            })?,
            None => {
                let now = self.interp.clock.now_ms();
                let request = self.request(name, approval, digests.clone(), now)?;
                let payload = serde_json::to_vec(&request).unwrap_or_default();
                self.append_at(
                    now,
                    vec![
                        NewEvent { step: id.clone(), kind: EventKind::StepStarted, payload },
                        NewEvent {
                            step: timer.clone(),
                            kind: EventKind::TimerScheduled { due_at_ms: request.due_at_ms },
                            payload: Vec::new(),
                        },
                    ],
                )?;
                let who = match request.eligible() {
                    eligible if eligible.is_empty() => "any person of the project".to_string(),
                    eligible => eligible.join(", "),
                };
                (self.report)(&format!("approval {name} waits for {who}"));
                request
            }
        };
        if request.binds != digests {
            return self.step_failed(
                id,
                "binds_changed",
                format!(
                    "what `{name}` binds is not what was shown when the approval was requested; decide again on the current content"
                ),
            );
        }
        let prefix = format!("{}/vote/", id.path);
        let votes: Vec<Vote> = self
            .votes
            .iter()
            .filter(|e| e.step.iteration == id.iteration && e.step.path.starts_with(&prefix))
            .filter_map(|e| serde_json::from_slice(&e.payload).ok())
            .collect();
        let approvals = votes.iter().filter(|v| v.approve).count() as u32;
        let decided = match votes.iter().find(|v| !v.approve) {
            Some(veto) => Some(("rejected", veto)),
            None if approvals >= request.min => votes.iter().rfind(|v| v.approve).map(|v| ("approved", v)),
            None => None,
        };
        let value = match decided {
            Some((outcome, vote)) => {
                let mut fields = vec![
                    ("outcome".to_string(), Value::string(outcome)),
                    ("by".to_string(), Value::string(vote.by.clone())),
                    ("at".to_string(), Value::Time(i64::try_from(vote.at_ms).unwrap_or(i64::MAX))),
                    ("reason".to_string(), vote.reason.clone().map_or(Value::None, Value::String)),
                ];
                if let Value::Record(input) = &vote.input {
                    fields.extend(input.iter().cloned());
                }
                Value::Record(fields)
            }
            None => {
                if self.interp.clock.now_ms() < request.due_at_ms {
                    self.check_deadline(id)?;
                    return Err(Stop::Paused(Box::new(Waiting {
                        kind: "approval".into(),
                        name: name.to_string(),
                        step: id.path.clone(),
                        deciders: request.eligible(),
                        excluded: request.excluded.clone(),
                        inputs: request.inputs.clone(),
                        min: request.min,
                        approvals,
                        due_at_ms: request.due_at_ms,
                        summary: request.summary.clone(),
                        url: None,
                        run: None,
                    })));
                }
                let mut fields = vec![
                    ("outcome".to_string(), Value::string("timed_out")),
                    ("by".to_string(), Value::string(TIMEOUT)),
                    ("at".to_string(), Value::Time(i64::try_from(request.due_at_ms).unwrap_or(i64::MAX))),
                    ("reason".to_string(), Value::None),
                ];
                fields.extend(approval.input.iter().map(|f| (f.name.clone(), Value::None)));
                Value::Record(fields)
            }
        };
        let payload = serde_json::to_vec(&value).unwrap_or_default();
        self.append(vec![
            NewEvent { step: id.clone(), kind: EventKind::StepCompleted, payload },
            NewEvent { step: timer, kind: EventKind::TimerFired, payload: Vec::new() },
        ])?;
        let text = |field: &str| match value.field(field) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        (self.report)(&format!("approval {name} {} by {}", text("outcome"), text("by")));
        Ok(value)
    }

    /// SHA-256 of each `binds` value's JSON, evaluated now.
    fn digests(&self, approval: &ApprovalDef) -> Result<Vec<String>, Stop> {
        let mut out = Vec::with_capacity(approval.binds.len());
        for expr in &approval.binds {
            let value = match self.eval(*expr) {
                Ok(value) => value,
                Err(e) => return self.fail(e),
            };
            let json = match weir_bytecode::eval::to_json(&value) {
                Ok(json) => json,
                Err(e) => return self.fail(e),
            };
            out.push(weir_bytecode::header::hex(&weir_bytecode::sha256(json.as_bytes())));
        }
        Ok(out)
    }

    /// The request, evaluated now.
    fn request(
        &self,
        name: &str,
        approval: &ApprovalDef,
        binds: Vec<String>,
        now: u64,
    ) -> Result<ApprovalRequest, Stop> {
        let eval = |expr| match self.eval(expr) {
            Ok(value) => Ok(value),
            Err(e) => self.fail(e),
        };
        let shown = |value: Value| match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let summary = approval.summary.map(eval).transpose()?.map(shown);
        let attach = approval.attach.iter().map(|e| eval(*e).map(shown)).collect::<Result<Vec<_>, _>>()?;
        let mut excluded = Vec::new();
        for expr in &approval.exclude {
            match eval(*expr)? {
                Value::List(items) => excluded.extend(items.into_iter().map(shown)),
                Value::None => {}
                other => excluded.push(shown(other)),
            }
        }
        if approval.not_initiator
            && let Some(initiator) = &self.initiator
        {
            excluded.push(initiator.clone());
        }
        let min = match approval.min.map(eval).transpose()? {
            Some(Value::Int(n)) => u32::try_from(n.max(1)).unwrap_or(u32::MAX),
            _ => 1,
        };
        let timeout_ms = match eval(approval.timeout)? {
            Value::Duration(ms) => u64::try_from(ms).unwrap_or(0),
            _ => 0,
        };
        let ask = approval.ask.as_ref().map(|ask| {
            let fields: serde_json::Map<String, serde_json::Value> = ask
                .config
                .iter()
                .filter_map(|entry| {
                    let value = self.eval(entry.value).ok()?;
                    let json = weir_bytecode::eval::to_json(&value).ok()?;
                    Some((entry.key.clone(), serde_json::from_str(&json).ok()?))
                })
                .collect();
            serde_json::json!({ "connection": ask.connection, "fields": fields, "delivered": false })
        });
        Ok(ApprovalRequest {
            name: name.to_string(),
            summary,
            attach,
            binds,
            deciders: self.deciders(approval),
            excluded,
            min,
            inputs: approval.input.iter().map(|f| f.name.clone()).collect(),
            due_at_ms: now.saturating_add(timeout_ms),
            default: match approval.default {
                Decision::Approve => "approve".into(),
                Decision::Reject => "reject".into(),
            },
            ask,
        })
    }

    /// The people who may decide, groups expanded from weir.toml, in order, without repeats.
    fn deciders(&self, approval: &ApprovalDef) -> Vec<String> {
        let config = self.interp.project.map(|(config, _)| config);
        let mut out: Vec<String> = Vec::new();
        for decider in &approval.deciders {
            let group = config.and_then(|c| c.groups.get(&decider.name));
            let is_person = config.is_some_and(|c| c.people.contains_key(&decider.name));
            let members: Vec<String> = match (decider.kind, group) {
                (DeciderKind::Group, Some(group)) => group.members.clone(),
                (DeciderKind::Any, Some(group)) if !is_person => group.members.clone(),
                _ => vec![decider.name.clone()],
            };
            for member in members {
                if !out.contains(&member) {
                    out.push(member);
                }
            }
        }
        out
    }
}
