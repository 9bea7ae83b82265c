//! Steps, callbacks and approvals: their step-table entries. A family step's config entries
//! become expressions, `connection`, `timeout`, `idempotency_key`, `retry`, `output` and
//! `files` go where the format keeps them, and the effect class (after irreversible
//! connections and `effect … because`) and `unattended` come from [`crate::effects`].

use super::error::LowerError;
use super::expr::millis;
use super::stmt::Lowerer;
use crate::families::Effect;
use crate::types::Type;
use weir_bytecode::identity::BlockIds;
use weir_bytecode::{
    ActionStep, ApprovalDef, Ask, Backoff, CallStep, CallbackDef, ConfigEntry, DeciderKind, DeciderRef,
    Decision, EffectClass, ExprIx, FileFetch, InputField, Instr, RetryOn, RetryPolicy, StepKind, StepPolicy,
    Undo,
};
use weir_diagnostics::Span;
use weir_grammar::ast;
use weir_grammar::ast::{Config, EntryKind, Expr, ExprKind, Ident, RetryClass, Step, StepCall, TypeRecord};

/// The effect class in the format.
pub(crate) fn effect_class(effect: Effect) -> EffectClass {
    match effect {
        Effect::Pure => EffectClass::Pure,
        Effect::Read => EffectClass::Read,
        Effect::Write => EffectClass::Write,
        Effect::Irreversible => EffectClass::Irreversible,
    }
}

impl Lowerer<'_> {
    /// `step NAME = …`: its entry, and its `undo` block if any.
    pub(crate) fn step(&mut self, step: &Step, span: Span, ids: &mut BlockIds) -> Result<Instr, LowerError> {
        let name = step.name.name.as_str();
        let entries: &[ast::ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
        let kind = match &step.call {
            StepCall::Family { family, method, target, .. } => {
                let target = target.as_ref().map(|t| self.template(t)).transpose()?;
                let mut action = ActionStep {
                    family: family.name.clone(),
                    method: method.as_ref().map(|m| m.name.clone()),
                    target,
                    connection: None,
                    config: Vec::new(),
                    output: None,
                    files: Vec::new(),
                    policy: self.policy(name),
                };
                for entry in entries {
                    match &entry.kind {
                        EntryKind::Plain { key, value } if key.name == "connection" => {
                            action.connection = Some(connection_name(value)?);
                        }
                        EntryKind::Plain { key, value } => {
                            let value = self.expr(value)?;
                            match key.name.as_str() {
                                "timeout" => action.policy.timeout = Some(value),
                                "idempotency_key" => action.policy.idempotency_key = Some(value),
                                _ => action.config.push(ConfigEntry { key: key.name.clone(), value }),
                            }
                        }
                        EntryKind::Output { ty } => {
                            let ty = self.aliases.resolve(ty);
                            action.output = Some(super::types::lower_type(&mut self.b, &ty));
                        }
                        EntryKind::Files { fields } => action.files = self.files(fields)?,
                        EntryKind::Retry(retry) => action.policy.retries.push(retry_policy(retry)?),
                        EntryKind::Effect { .. } | EntryKind::Unattended { .. } | EntryKind::Undo { .. } => {}
                        _ => return Err(misplaced(name)),
                    }
                }
                StepKind::Action(action)
            }
            StepCall::Call { flow, version, .. } => {
                let mut call = CallStep {
                    flow: flow.name.clone(),
                    range: version.as_ref().map(|v| v.name.clone()),
                    input: None,
                    policy: self.policy(name),
                };
                for entry in entries {
                    match &entry.kind {
                        EntryKind::Plain { key, value } => {
                            let value = self.expr(value)?;
                            match key.name.as_str() {
                                "input" => call.input = Some(value),
                                "timeout" => call.policy.timeout = Some(value),
                                "idempotency_key" => call.policy.idempotency_key = Some(value),
                                _ => return Err(misplaced(name)),
                            }
                        }
                        EntryKind::Retry(retry) => call.policy.retries.push(retry_policy(retry)?),
                        EntryKind::Effect { .. } | EntryKind::Unattended { .. } | EntryKind::Undo { .. } => {}
                        _ => return Err(misplaced(name)),
                    }
                }
                StepKind::Call(call)
            }
            StepCall::Sleep { duration, .. } => {
                timer_entries(name, entries)?;
                StepKind::Sleep { duration: self.expr(duration)? }
            }
            StepCall::Wait { target, .. } => {
                timer_entries(name, entries)?;
                self.wait(target)?
            }
        };
        let id = ids.named(name);
        let ix = self.step_entry(id.clone(), Some(name), span, kind);
        let mut undo = None;
        for entry in entries {
            if let EntryKind::Undo { always, body } = &entry.kind {
                if undo.is_some() {
                    return Err(LowerError::unchecked(format!("step `{name}` has two `undo` blocks")));
                }
                let body = self.nested(&body.stmts, BlockIds::nested(&id, "undo"))?;
                undo = Some(Undo { always: *always, body });
            }
        }
        Ok(Instr::Step { step: ix, undo })
    }

    /// The policy of step `name` before its config is read: effect and `unattended` from
    /// effects.rs.
    fn policy(&self, name: &str) -> StepPolicy {
        let effect = self.effects.get(name);
        StepPolicy {
            effect: effect_class(effect.map_or(Effect::Write, |e| e.effect)),
            unattended: effect.and_then(|e| e.unattended.clone()),
            timeout: None,
            retries: Vec::new(),
            idempotency_key: None,
        }
    }

    /// ssh `files { NAME: res<KIND> = "PATH" }`.
    fn files(&mut self, fields: &TypeRecord) -> Result<Vec<FileFetch>, LowerError> {
        let mut out = Vec::with_capacity(fields.fields.len());
        for f in &fields.fields {
            let path = f.default.as_ref().ok_or_else(|| {
                LowerError::unchecked(format!("the file `{}` has no remote path", f.key.name))
            })?;
            let ty = self.aliases.resolve(&f.ty);
            let ty = super::types::lower_type(&mut self.b, &ty);
            let path = self.expr(path)?;
            out.push(FileFetch { name: f.key.name.clone(), ty, path });
        }
        Ok(out)
    }

    /// `callback NAME { output T  timeout D }`.
    pub(crate) fn callback(
        &mut self,
        name: &Ident,
        config: &Config,
        span: Span,
        ids: &mut BlockIds,
    ) -> Result<Instr, LowerError> {
        let mut output = None;
        let mut timeout = None;
        for entry in &config.entries {
            match &entry.kind {
                EntryKind::Output { ty } => {
                    let ty = self.aliases.resolve(ty);
                    output = Some(super::types::lower_type(&mut self.b, &ty));
                }
                EntryKind::Plain { key, value } if key.name == "timeout" => timeout = Some(self.expr(value)?),
                _ => return Err(misplaced(&name.name)),
            }
        }
        let timeout = timeout
            .ok_or_else(|| LowerError::unchecked(format!("callback `{}` has no `timeout`", name.name)))?;
        let id = ids.named(&name.name);
        let step =
            self.step_entry(id, Some(&name.name), span, StepKind::Callback(CallbackDef { output, timeout }));
        self.callbacks.insert(name.name.clone(), step);
        Ok(Instr::Callback { step })
    }

    /// `approval NAME { … }`, with its `on reject` block.
    pub(crate) fn approval(
        &mut self,
        name: &Ident,
        config: &Config,
        span: Span,
        ids: &mut BlockIds,
    ) -> Result<Instr, LowerError> {
        let mut def = ApprovalDef {
            summary: None,
            attach: Vec::new(),
            binds: Vec::new(),
            input: Vec::new(),
            deciders: Vec::new(),
            not_initiator: false,
            exclude: Vec::new(),
            min: None,
            ask: None,
            timeout: weir_bytecode::ExprIx(0),
            default: Decision::Reject,
        };
        let mut description = None;
        let mut timeout = None;
        let mut default = None;
        let mut on_reject = None;
        for entry in &config.entries {
            match &entry.kind {
                EntryKind::Plain { key, value } => {
                    let value = self.expr(value)?;
                    match key.name.as_str() {
                        "summary" => def.summary = Some(value),
                        "description" => description = Some(value),
                        "timeout" => timeout = Some(value),
                        _ => return Err(misplaced(&name.name)),
                    }
                }
                EntryKind::List { key, values } => {
                    let values = values.iter().map(|v| self.expr(v)).collect::<Result<Vec<ExprIx>, _>>()?;
                    match key.name.as_str() {
                        "attach" => def.attach.extend(values),
                        "binds" => def.binds.extend(values),
                        _ => return Err(misplaced(&name.name)),
                    }
                }
                EntryKind::Input { fields } => def.input = self.input_fields(fields)?,
                EntryKind::Deciders(deciders) => {
                    for who in &deciders.who {
                        let kind = match who.kind.as_ref().map(|k| k.name.as_str()) {
                            None => DeciderKind::Any,
                            Some("group") => DeciderKind::Group,
                            Some("person") => DeciderKind::Person,
                            Some(other) => {
                                return Err(LowerError::unchecked(format!(
                                    "`{other}` is not a kind of decider"
                                )));
                            }
                        };
                        def.deciders.push(DeciderRef { kind, name: word(&who.name)? });
                    }
                    for rule in &deciders.rules {
                        match rule {
                            ast::DeciderRule::NotInitiator { .. } => def.not_initiator = true,
                            ast::DeciderRule::Exclude { who, .. } => {
                                let who = self.expr(who)?;
                                def.exclude.push(who);
                            }
                            ast::DeciderRule::Min { count, .. } => def.min = Some(self.expr(count)?),
                        }
                    }
                }
                EntryKind::Ask { connection, config } => {
                    let mut entries = Vec::new();
                    for e in config.iter().flat_map(|c| &c.entries) {
                        let EntryKind::Plain { key, value } = &e.kind else {
                            return Err(misplaced(&name.name));
                        };
                        let value = self.expr(value)?;
                        entries.push(ConfigEntry { key: key.name.clone(), value });
                    }
                    def.ask = Some(Ask { connection: connection.name.clone(), config: entries });
                }
                EntryKind::Default { value } => {
                    default = Some(match value.name.as_str() {
                        "approve" => Decision::Approve,
                        "reject" => Decision::Reject,
                        other => {
                            return Err(LowerError::unchecked(format!(
                                "`default {other}` is not a decision"
                            )));
                        }
                    });
                }
                EntryKind::OnReject { .. } => {}
                _ => return Err(misplaced(&name.name)),
            }
        }
        def.summary = def.summary.or(description);
        def.timeout = timeout
            .ok_or_else(|| LowerError::unchecked(format!("approval `{}` has no `timeout`", name.name)))?;
        def.default = default
            .ok_or_else(|| LowerError::unchecked(format!("approval `{}` has no `default`", name.name)))?;
        let id = ids.named(&name.name);
        let step = self.step_entry(id.clone(), Some(&name.name), span, StepKind::Approval(Box::new(def)));
        for entry in &config.entries {
            if let EntryKind::OnReject { body } = &entry.kind {
                if on_reject.is_some() {
                    return Err(LowerError::unchecked(format!(
                        "approval `{}` has two `on reject` blocks",
                        name.name
                    )));
                }
                on_reject = Some(self.nested(&body.stmts, BlockIds::nested(&id, "on_reject"))?);
            }
        }
        Ok(Instr::Approval { step, on_reject })
    }

    /// `input { name: T [= default], … }` (the flow's or an approval's).
    pub(crate) fn input_fields(&mut self, fields: &TypeRecord) -> Result<Vec<InputField>, LowerError> {
        let Type::Record { fields: types } = self.aliases.record(fields) else {
            return Err(LowerError::unchecked("an input is not a record"));
        };
        let mut out: Vec<InputField> = Vec::with_capacity(fields.fields.len());
        for (field, ty) in fields.fields.iter().zip(types) {
            if out.iter().any(|f| f.name == field.key.name) {
                return Err(LowerError::unchecked(format!(
                    "the input `{}` is declared twice",
                    field.key.name
                )));
            }
            let ty_ix = super::types::lower_type(&mut self.b, &ty.ty);
            let default = self.opt_expr(field.default.as_ref())?;
            out.push(InputField { name: field.key.name.clone(), ty: ty_ix, optional: ty.optional, default });
        }
        Ok(out)
    }
}

/// A config entry the checker does not allow where it is.
fn misplaced(name: &str) -> LowerError {
    LowerError::unchecked(format!("`{name}` has a setting the checker does not allow there"))
}

/// A timer or wait step takes no settings but `undo` (and the effect entries the checker
/// reports on).
fn timer_entries(name: &str, entries: &[ast::ConfigEntry]) -> Result<(), LowerError> {
    for entry in entries {
        if !matches!(
            entry.kind,
            EntryKind::Undo { .. } | EntryKind::Effect { .. } | EntryKind::Unattended { .. }
        ) {
            return Err(misplaced(name));
        }
    }
    Ok(())
}

/// A connection named by a bare word (or a plain string).
fn connection_name(value: &Expr) -> Result<String, LowerError> {
    word(value).map_err(|_| LowerError::unchecked("a `connection` is not a connection name"))
}

/// A bare word or a plain string, as text.
fn word(value: &Expr) -> Result<String, LowerError> {
    match &value.kind {
        ExprKind::Name { name } => Ok(name.clone()),
        ExprKind::String(t) => t.as_plain().ok_or_else(|| LowerError::unchecked("a name has holes")),
        ExprKind::Paren { inner } => word(inner),
        _ => Err(LowerError::unchecked("expected a name")),
    }
}

/// `retry N [on …] [backoff …]`, reduced to the literal numbers the format keeps.
fn retry_policy(retry: &ast::Retry) -> Result<RetryPolicy, LowerError> {
    let count = match &literal(&retry.count).kind {
        ExprKind::Int { value } => u32::try_from(*value).map_err(|_| {
            LowerError::out_of_range(format!("`retry {value}` is out of range (0 to 4294967295)"))
        })?,
        _ => return Err(LowerError::unchecked("a retry count is not a literal number")),
    };
    let mut on: Vec<RetryOn> = retry
        .on
        .iter()
        .map(|c| match c {
            RetryClass::Word(w) => Ok(match w.name.as_str() {
                "transient" => RetryOn::Transient,
                "any" => RetryOn::Any,
                code => RetryOn::Code(code.to_string()),
            }),
            RetryClass::Quoted(t) => t
                .as_plain()
                .map(RetryOn::Code)
                .ok_or_else(|| LowerError::unchecked("a retried error code has holes")),
        })
        .collect::<Result<_, _>>()?;
    if on.is_empty() {
        on.push(RetryOn::Transient);
    }
    let (backoff, jitter) = match &retry.backoff {
        None => (Backoff::Immediate, false),
        Some(b) => {
            let backoff = match b.kind.name.as_str() {
                "exponential" => Backoff::Exponential {
                    first_ms: duration_ms(&b.base)?,
                    max_ms: b.max.as_ref().map(duration_ms).transpose()?,
                },
                "fixed" => Backoff::Fixed { delay_ms: duration_ms(&b.base)? },
                other => return Err(LowerError::unchecked(format!("`{other}` is not a backoff"))),
            };
            (backoff, b.jitter)
        }
    };
    Ok(RetryPolicy { count, on, backoff, jitter })
}

/// The expression inside any parentheses.
fn literal(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren { inner } => literal(inner),
        _ => e,
    }
}

/// A literal duration in milliseconds.
fn duration_ms(e: &Expr) -> Result<u64, LowerError> {
    match &literal(e).kind {
        ExprKind::Duration { millis: ms } => {
            millis(*ms)?;
            Ok(*ms)
        }
        _ => Err(LowerError::unchecked("a backoff delay is not a literal duration")),
    }
}
