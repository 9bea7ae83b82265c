//! Trigger checks (design.md §3, triggers): a schedule's cron pattern is valid and fires, its
//! time zone exists, it says which zone it follows, and it is probably what was meant; a
//! webhook is verified, and no two flows of a project listen on one webhook path.

use crate::schedule::{self, CronProblem, FIELDS, MONTHS, Suspicion};
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// Every webhook path of a project: which flow of which file listens where, so that the
/// check of one file sees the paths the project's other files take.
#[derive(Debug, Default)]
pub struct WebhookRoutes<'a> {
    routes: Vec<Route<'a>>,
}

/// One `trigger webhook "PATH"`.
#[derive(Debug)]
struct Route<'a> {
    /// The path, normalised (see [`normalize_path`]).
    path: String,
    /// The file, as the caller shows it.
    file: &'a str,
    flow: &'a Flow,
    /// The path's string in the file.
    span: Span,
}

impl<'a> WebhookRoutes<'a> {
    /// Add a file's flows. Files added first keep a path: a later flow on the same path is
    /// the one reported.
    pub fn add_file(&mut self, file: &'a str, flows: impl IntoIterator<Item = &'a Flow>) {
        for flow in flows {
            for stmt in &flow.body {
                if let StmtKind::Trigger(Trigger::Webhook { path, .. }) = &stmt.kind
                    && let Some(plain) = path.as_plain()
                {
                    self.routes.push(Route { path: normalize_path(&plain), file, flow, span: path.span });
                }
            }
        }
    }

    /// The route that owns `path` (normalised).
    fn owner(&self, path: &str) -> Option<&Route<'a>> {
        self.routes.iter().find(|r| r.path == path)
    }
}

/// `github/pr/` and `/github/pr` are one path: a leading `/` is implied and a trailing one
/// ignored. Case matters, as in HTTP.
pub fn normalize_path(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.starts_with('/') { trimmed.to_string() } else { format!("/{trimmed}") }
}

/// Check the triggers of one flow. `file` holds the flows of its file, `routes` the webhook
/// paths of its project, and `now` the instant schedules are counted from.
pub(super) fn check_flow(
    flow: &Flow,
    file: &[&Flow],
    routes: &WebhookRoutes<'_>,
    now: Option<jiff::Timestamp>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for stmt in &flow.body {
        let StmtKind::Trigger(trigger) = &stmt.kind else { continue };
        match trigger {
            Trigger::Schedule { cron, tz, .. } => schedule_checks(cron, tz.as_ref(), now, &mut out),
            Trigger::Webhook { path, verify, .. } => {
                if verify.is_none() {
                    out.push(
                        Diagnostic::new(Code::WebhookWithoutVerification, path.span, "this webhook accepts unsigned calls")
                            .with_primary_label("no `verify`")
                            .with_label(stmt.span, "anyone who knows the path can start runs")
                            .with_help("add `verify hmac(secret NAME)` (with `scheme github` for GitHub), or `verify none because \"…\"`"),
                    );
                }
                duplicate_path(flow, path, file, routes, &mut out);
            }
            Trigger::Manual => {}
        }
    }
    out
}

fn duplicate_path(
    flow: &Flow,
    path: &Template,
    file: &[&Flow],
    routes: &WebhookRoutes<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(plain) = path.as_plain() else { return };
    let normalized = normalize_path(&plain);
    let Some(owner) = routes.owner(&normalized) else { return };
    if std::ptr::eq(owner.flow, flow) && owner.span == path.span {
        return;
    }
    let same_file = file.iter().any(|f| std::ptr::eq(*f, owner.flow));
    let who = if std::ptr::eq(owner.flow, flow) {
        format!("this flow already listens on `{normalized}`")
    } else {
        format!("flow `{}` already listens on `{normalized}`", owner.flow.name.name)
    };
    let message = format!("webhook path `{normalized}` is taken twice");
    let mut diagnostic = Diagnostic::new(Code::DuplicateWebhookPath, path.span, message)
        .with_primary_label("a second trigger on this path")
        .with_help(
            "give each webhook trigger its own path; one flow may have several triggers, but one path starts one flow",
        );
    if same_file {
        diagnostic = diagnostic.with_label(owner.span, who);
    } else {
        diagnostic = diagnostic.with_note(format!("{who} in `{}`", owner.file));
    }
    out.push(diagnostic);
}

/// A schedule's pattern, zone and plausibility.
fn schedule_checks(
    cron: &Template,
    tz: Option<&Template>,
    now: Option<jiff::Timestamp>,
    out: &mut Vec<Diagnostic>,
) {
    let zone = match tz {
        None => {
            out.push(
                Diagnostic::new(
                    Code::ScheduleWithoutTz,
                    cron.span,
                    "this schedule has no time zone: UTC is assumed",
                )
                .with_primary_label("no `tz`")
                .with_help("say which clock it follows: `tz \"Europe/Oslo\"` (or `tz \"UTC\"` on purpose)"),
            );
            schedule::zone("UTC").ok()
        }
        Some(tz) => match tz.as_plain() {
            Some(name) => match schedule::zone(&name) {
                Ok(zone) => Some(zone),
                Err(suggestion) => {
                    let diagnostic = Diagnostic::new(
                        Code::InvalidTimeZone,
                        tz.span,
                        format!("`{name}` is not a time zone weir knows"),
                    )
                    .with_primary_label("not in the tz database");
                    let abbreviation =
                        (2..=5).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_uppercase());
                    out.push(match suggestion {
                        _ if abbreviation => diagnostic.with_help(
                            "an abbreviation is not a zone (it changes with daylight saving): name a place, such as `Europe/Berlin`, or write `UTC`",
                        ),
                        Some(zone) => diagnostic.with_help(format!("did you mean `{zone}`?")),
                        None => diagnostic.with_help(
                            "write an IANA zone name such as `Europe/Oslo`, `America/New_York` or `UTC`",
                        ),
                    });
                    None
                }
            },
            None => None,
        },
    };
    let Some(pattern) = cron.as_plain() else { return };
    let parsed = schedule::parse(&pattern);
    let at = |range: std::ops::Range<usize>| field_span(cron, &pattern, range);
    let schedule = match parsed {
        Ok(schedule) => schedule,
        Err(problem) => {
            out.push(invalid_cron(&problem, &pattern, cron.span, at));
            return;
        }
    };
    let Some(zone) = zone else { return };
    for suspicion in schedule.suspicions(&zone, now) {
        let (span, message, label, help) = match &suspicion {
            Suspicion::EveryMinute => (
                at(schedule.field_range(0)),
                "this schedule fires every minute".to_string(),
                format!("`{}` in the minute field matches every minute", &pattern[schedule.field_range(0)]),
                {
                    let range = schedule.field_range(0);
                    let fixed = format!("{}0{}", &pattern[..range.start], &pattern[range.end..]);
                    format!("write the minute it should fire at: `{}` fires at minute 0 only", fixed.trim())
                },
            ),
            Suspicion::LeapDayOnly => (
                at(schedule.field_range(2)),
                "this schedule fires only on February 29".to_string(),
                "February 29 exists only in leap years".to_string(),
                "for the end of February every year, write `L` in the day-of-month field (`0 0 L 2 *`)"
                    .to_string(),
            ),
            Suspicion::SkipsMonths { never, leap_only } => {
                let mut skipped: Vec<String> =
                    never.iter().map(|&m| MONTHS[m as usize - 1].to_string()).collect();
                skipped.extend(
                    leap_only.iter().map(|&m| format!("{} (except in leap years)", MONTHS[m as usize - 1])),
                );
                (
                    at(schedule.field_range(2)),
                    format!("this schedule skips {}", list(&skipped)),
                    "not every month has this day".to_string(),
                    "for the last day of every month, write `L` in the day-of-month field (`0 0 L * *`)"
                        .to_string(),
                )
            }
            Suspicion::DstGap { date, at: time, from, to } => {
                let zone_name = zone.iana_name().unwrap_or("this zone");
                (
                    cron.span,
                    format!(
                        "this schedule fires at {} in a daylight-saving gap of {zone_name}",
                        time.strftime("%H:%M")
                    ),
                    format!(
                        "on {} the clocks jump from {} to {}, so {} does not exist that day",
                        date.strftime("%-d %b %Y"),
                        from.strftime("%H:%M"),
                        to.strftime("%H:%M"),
                        time.strftime("%H:%M")
                    ),
                    format!(
                        "pick a time outside {}–{} (or `tz \"UTC\"`), so it runs at the time it says every day",
                        from.strftime("%H:%M"),
                        to.strftime("%H:%M")
                    ),
                )
            }
        };
        let mut help = help;
        if let Some(now) = now {
            let times: Vec<String> = schedule::next_fire_times(&schedule, &zone, now, 3)
                .iter()
                .map(schedule::display_time)
                .collect();
            if !times.is_empty() {
                let from = schedule::display_time(&now.to_zoned(jiff::tz::TimeZone::UTC));
                help.push_str(&format!("; the next fire times after {from} are {}", list(&times)));
            }
        }
        out.push(
            Diagnostic::new(Code::SuspiciousSchedule, span, message)
                .with_primary_label(label)
                .with_help(help),
        );
    }
}

/// The diagnostic for a pattern that is not a schedule.
fn invalid_cron(
    problem: &CronProblem,
    pattern: &str,
    whole: Span,
    at: impl Fn(std::ops::Range<usize>) -> Span,
) -> Diagnostic {
    let shape = "five fields: minute, hour, day of month, month, day of week (`30 7 * * MON-FRI`)";
    let (span, message, label, help) = match problem {
        CronProblem::Empty => (whole, "this schedule is empty".to_string(), "no cron pattern".to_string(), format!("write {shape}")),
        CronProblem::UnknownShorthand => (
            whole,
            format!("`{}` is not a cron shorthand", pattern.trim()),
            "unknown shorthand".to_string(),
            format!("write `{}`, or {shape}", schedule::SHORTHANDS[..5].join("`, `")),
        ),
        CronProblem::FieldCount(n) => (
            whole,
            format!("this cron pattern has {n} field{}; weir takes 5", if *n == 1 { "" } else { "s" }),
            "not five fields".to_string(),
            format!("write {shape}; weir schedules to the minute, without seconds or years"),
        ),
        CronProblem::Field { index, range } => {
            let field = FIELDS[*index];
            (
                at(range.clone()),
                format!("`{}` is not a valid {}", &pattern[range.clone()], field.name),
                format!("the {} field takes {}", field.name, field.accepts),
                "write a value, a list (`1,15`), a range (`1-5`), a step (`*/10`) or `*`".to_string(),
            )
        }
        CronProblem::Malformed => (
            whole,
            "this cron pattern is not valid".to_string(),
            "its fields do not fit together".to_string(),
            format!("write {shape}"),
        ),
        CronProblem::NeverFires { days } => (
            days.clone().map_or(whole, at),
            "this schedule never fires".to_string(),
            "no date has this day of month in these months".to_string(),
            "check the day-of-month and month fields: `0 0 30 2 *` asks for February 30; `L` is the last day of a month".to_string(),
        ),
    };
    Diagnostic::new(Code::InvalidCron, span, message).with_primary_label(label).with_help(help)
}

/// The span of a byte range of the pattern, when the string's text maps one to one onto the
/// source (no escapes); otherwise the whole string.
fn field_span(cron: &Template, pattern: &str, range: std::ops::Range<usize>) -> Span {
    match cron.parts.as_slice() {
        [TemplatePart::Text { span, .. }] if span.len() == pattern.len() => {
            Span::new(span.start as usize + range.start, span.start as usize + range.end)
        }
        _ => cron.span,
    }
}

/// "a", "a and b", "a, b and c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
