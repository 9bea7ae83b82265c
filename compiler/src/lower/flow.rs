//! The flow-level declarations: description, inputs, output (evaluated at `@output`), run
//! timeout, concurrency, triggers and `on failure`.

use super::error::LowerError;
use super::stmt::Lowerer;
use super::types::lower_type;
use crate::types::Type;
use weir_bytecode::{BlockIx, Concurrency, FlowDef, OverflowPolicy, Sited, Trigger, Verify, WebhookScheme};
use weir_grammar::ast;
use weir_grammar::ast::{ExprKind, Flow, StmtKind};

/// The identity of the flow's `output` site.
pub const OUTPUT_SITE: &str = "@output";

/// The flow's `version`, as semver.
pub(crate) fn version(flow: &Flow) -> Result<semver::Version, LowerError> {
    let text = flow
        .body
        .iter()
        .find_map(|s| match &s.kind {
            StmtKind::Version { value } => Some(value.as_plain()),
            _ => None,
        })
        .ok_or_else(|| LowerError::unchecked(format!("flow `{}` has no `version`", flow.name.name)))?
        .ok_or_else(|| LowerError::unchecked("the flow's `version` has holes"))?;
    semver::Version::parse(&text)
        .map_err(|e| LowerError::unchecked(format!("the flow's version `{text}` is not semver: {e}")))
}

/// The flow's declarations, once its body is lowered into `entry`.
pub(crate) fn finish(cx: &mut Lowerer<'_>, flow: &Flow, entry: BlockIx) -> Result<FlowDef, LowerError> {
    let mut description = None;
    let mut inputs = Vec::new();
    let mut output = None;
    let mut run_timeout = None;
    let mut concurrency = None;
    let mut triggers = Vec::new();
    let mut on_failure = None;
    for stmt in &flow.body {
        match &stmt.kind {
            StmtKind::Description { value } => {
                description =
                    Some(value.as_plain().ok_or_else(|| LowerError::unchecked("the description has holes"))?);
            }
            StmtKind::Input { fields } => inputs = cx.input_fields(fields)?,
            StmtKind::Output { value } => {
                if output.is_some() {
                    return Err(LowerError::unchecked("the flow has two `output`s"));
                }
                let value = cx.expr(value)?;
                let site = cx.site(OUTPUT_SITE.to_string(), None, stmt.span);
                output = Some(Sited { site, value });
            }
            StmtKind::Timeout { value } => run_timeout = Some(cx.expr(value)?),
            StmtKind::Concurrency(c) => concurrency = Some(lower_concurrency(cx, c)?),
            StmtKind::Trigger(t) => triggers.push(lower_trigger(cx, t)?),
            StmtKind::OnFailure { var, body } => {
                if on_failure.is_some() {
                    return Err(LowerError::unchecked("the flow has two `on failure` blocks"));
                }
                on_failure = Some(cx.on_failure(var.as_ref().map(|v| v.name.as_str()), body)?);
            }
            _ => {}
        }
    }
    let output_type = match crate::check::output_type(flow) {
        Type::Unit => None,
        ty => Some(lower_type(&mut cx.b, &ty)),
    };
    let concurrency = concurrency
        .ok_or_else(|| LowerError::unchecked(format!("flow `{}` has no `concurrency`", flow.name.name)))?;
    Ok(FlowDef {
        description,
        inputs,
        output_type,
        output,
        run_timeout,
        concurrency,
        triggers,
        entry,
        on_failure,
    })
}

fn lower_concurrency(cx: &mut Lowerer<'_>, c: &ast::Concurrency) -> Result<Concurrency, LowerError> {
    Ok(match c {
        ast::Concurrency::Max { max, per, policy } => Concurrency::Max {
            max: cx.expr(max)?,
            per: cx.opt_expr(per.as_ref())?,
            policy: match policy.name.as_str() {
                "queue" => OverflowPolicy::Queue,
                "skip" => OverflowPolicy::Skip,
                "cancel-previous" => OverflowPolicy::CancelPrevious,
                other => return Err(LowerError::unchecked(format!("`{other}` is not a concurrency policy"))),
            },
        },
        ast::Concurrency::Unlimited { because } => Concurrency::Unlimited {
            because: because.as_plain().ok_or_else(|| LowerError::unchecked("the reason has holes"))?,
        },
    })
}

fn plain(t: &ast::Template, what: &str) -> Result<String, LowerError> {
    t.as_plain().ok_or_else(|| LowerError::unchecked(format!("the {what} has holes")))
}

fn lower_trigger(cx: &mut Lowerer<'_>, t: &ast::Trigger) -> Result<Trigger, LowerError> {
    Ok(match t {
        ast::Trigger::Manual => Trigger::Manual,
        ast::Trigger::Schedule { cron, tz, with } => Trigger::Schedule {
            cron: plain(cron, "cron pattern")?,
            tz: tz.as_ref().map(|tz| plain(tz, "time zone")).transpose()?,
            with: cx.opt_expr(with.as_ref())?,
        },
        ast::Trigger::Webhook { path, verify, scheme, with } => {
            let verify = match verify {
                Some(ast::Verify::Hmac { key, .. }) => Verify::Hmac { secret: secret_name(key)? },
                Some(ast::Verify::None { because, .. }) => {
                    Verify::None { because: plain(because, "reason")? }
                }
                None => return Err(LowerError::unchecked("a webhook has no `verify`")),
            };
            let scheme = match scheme.as_ref().map(|s| s.name.as_str()) {
                None | Some("generic") => WebhookScheme::Generic,
                Some("github") => WebhookScheme::Github,
                Some(other) => {
                    return Err(LowerError::unchecked(format!("`{other}` is not a webhook scheme")));
                }
            };
            cx.in_payload = true;
            let with = cx.opt_expr(with.as_ref());
            cx.in_payload = false;
            Trigger::Webhook { path: plain(path, "webhook path")?, verify, scheme, with: with? }
        }
    })
}

/// The secret of `verify hmac(secret NAME)`.
fn secret_name(key: &ast::Expr) -> Result<String, LowerError> {
    match &key.kind {
        ExprKind::Secret { name } => Ok(name.name.clone()),
        ExprKind::Paren { inner } => secret_name(inner),
        _ => Err(LowerError::unchecked("`verify hmac(…)` takes `secret NAME`")),
    }
}
