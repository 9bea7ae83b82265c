//! Interface changes between two versions of a flow (design.md §3, interface): `weir check
//! NEW --against OLD` compares the `input` and `output` of flows with the same slug and asks
//! for the version bump semver wants.
//!
//! Breaking (needs a major bump): a required input added, an input removed, an input made
//! required, an input narrowed or changed to another type, an output field removed, made
//! optional or changed to a type that is not narrower. Additions (need at least a minor
//! bump): an optional input added, an input made optional or widened, an output (field)
//! added. A narrowed output field breaks nobody and needs no bump of its own.
//!
//! Before 1.0.0 each level moves one place to the right, as cargo does: from `0.y.z` a minor
//! bump is the major one and a patch bump the minor one; from `0.0.z` every bump is major.

use crate::interface::Interface;
use crate::types::{Field, Type};
use semver::Version;
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// One difference between two interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// What changed, for people (`required input \`b\` added`).
    pub what: String,
    /// Whether callers written for the old version may break.
    pub breaking: bool,
    /// Where it shows in the new flow, when it is there at all.
    pub span: Option<Span>,
}

/// How far a version moved, in semver's terms (after the pre-1.0 shift).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// The same version, or an older one.
    None,
    /// A bug fix: no interface change allowed.
    Patch,
    /// Additions allowed.
    Minor,
    /// Anything allowed.
    Major,
}

/// Compare every flow of the new file with the old file's flow of the same slug: the
/// diagnostics belong to the new file.
pub fn diff_files(old: &[&Flow], new: &[&Flow]) -> Vec<Diagnostic> {
    new.iter()
        .filter_map(|n| old.iter().find(|o| o.name.name == n.name.name).map(|o| diff(o, n)))
        .flatten()
        .collect()
}

/// Compare two versions of one flow: an error when a breaking change has no major bump, a
/// warning when an addition has no minor one. Nothing when either version is missing or not
/// semver (another check reports that).
pub fn diff(old: &Flow, new: &Flow) -> Vec<Diagnostic> {
    let (old_i, new_i) = (Interface::new(old), Interface::new(new));
    let (Some(from), Some(to)) = (old_i.version.clone(), new_i.version.clone()) else { return Vec::new() };
    let changes = changes(&old_i, &new_i);
    let bump = bump(&from, &to);
    let at = version_span(new).unwrap_or(new.name.span);
    let (breaking, additions): (Vec<&Change>, Vec<&Change>) = changes.iter().partition(|c| c.breaking);
    let slug = &new.name.name;
    if !breaking.is_empty() && bump < Bump::Major {
        let diagnostic = Diagnostic::new(
            Code::BreakingChangeWithoutMajor,
            at,
            format!("`{slug}` {from} → {to} breaks its callers but is not a major release"),
        )
        .with_primary_label(format!("{} from {from}", describe(bump)));
        return vec![with_changes(diagnostic, &breaking, "breaking", &from).with_help(format!(
            "release it as {}, or keep the old interface (an added input can take a default)",
            next(&from, Bump::Major)
        ))];
    }
    if !additions.is_empty() && bump < Bump::Minor && breaking.is_empty() {
        let diagnostic = Diagnostic::new(
            Code::AdditionWithoutMinor,
            at,
            format!("`{slug}` {from} → {to} adds to its interface but is not a minor release"),
        )
        .with_primary_label(format!("{} from {from}", describe(bump)));
        return vec![with_changes(diagnostic, &additions, "added", &from).with_help(format!(
            "release it as {}: callers that need the addition can then ask for it",
            next(&from, Bump::Minor)
        ))];
    }
    Vec::new()
}

/// Labels at the changes that show in the new file, and a note listing all of them.
fn with_changes(mut diagnostic: Diagnostic, changes: &[&Change], kind: &str, from: &Version) -> Diagnostic {
    for change in changes {
        if let Some(span) = change.span {
            diagnostic = diagnostic.with_label(span, change.what.clone());
        }
    }
    let list: Vec<&str> = changes.iter().map(|c| c.what.as_str()).collect();
    let before_one = if from.major == 0 {
        "; before 1.0.0 every level moves one place right, as in cargo (0.3.1 → 0.4.0 is major, → 0.3.2 minor)"
    } else {
        ""
    };
    diagnostic.with_note(format!("{kind}: {}{before_one}", list.join("; ")))
}

/// How far `to` moved from `from`.
pub fn bump(from: &Version, to: &Version) -> Bump {
    let (a, b) = ([from.major, from.minor, from.patch], [to.major, to.minor, to.patch]);
    if b <= a {
        return Bump::None;
    }
    let first = (0..3).find(|&i| a[i] != b[i]).unwrap_or(2);
    // Leading zeros of the old version shift every level one place to the right.
    let lead = match (from.major, from.minor) {
        (0, 0) => 2,
        (0, _) => 1,
        _ => 0,
    };
    match first.checked_sub(lead) {
        None | Some(0) => Bump::Major,
        Some(1) => Bump::Minor,
        _ => Bump::Patch,
    }
}

/// The smallest version after `from` that is a bump of this level.
pub fn next(from: &Version, level: Bump) -> Version {
    let lead = match (from.major, from.minor) {
        (0, 0) => 2,
        (0, _) => 1,
        _ => 0,
    };
    let place = match level {
        Bump::Major => lead,
        Bump::Minor => (lead + 1).min(2),
        Bump::None | Bump::Patch => 2,
    };
    match place {
        0 => Version::new(from.major + 1, 0, 0),
        1 => Version::new(from.major, from.minor + 1, 0),
        _ => Version::new(from.major, from.minor, from.patch + 1),
    }
}

fn describe(bump: Bump) -> &'static str {
    match bump {
        Bump::None => "no newer version",
        Bump::Patch => "a patch release",
        Bump::Minor => "a minor release",
        Bump::Major => "a major release",
    }
}

/// Every difference between two interfaces, inputs first, in the new flow's order.
pub fn changes(old: &Interface<'_>, new: &Interface<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    let input_span = |name: &str| input_field(new.flow(), name).map(|f| f.span);
    let input_block = input_block(new.flow());
    for (name, ..) in old.inputs() {
        if !new.inputs().iter().any(|(n, ..)| n == name) {
            out.push(Change { what: format!("input `{name}` removed"), breaking: true, span: input_block });
        }
    }
    for (name, ty, required) in new.inputs() {
        let span = input_span(name);
        let Some((_, old_ty, old_required)) = old.inputs().iter().find(|(n, ..)| n == name) else {
            let what = if *required {
                format!("required input `{name}` added")
            } else {
                format!("optional input `{name}` added")
            };
            out.push(Change { what, breaking: *required, span });
            continue;
        };
        match (old_required, required) {
            (false, true) => {
                out.push(Change { what: format!("input `{name}` made required"), breaking: true, span })
            }
            (true, false) => {
                out.push(Change { what: format!("input `{name}` made optional"), breaking: false, span })
            }
            _ => {}
        }
        let (old_ty, ty) = (strip_optional(old_ty), strip_optional(ty));
        if old_ty == ty {
            continue;
        }
        let (what, breaking) = if subtype(old_ty, ty) {
            (format!("input `{name}` widened from `{old_ty}` to `{ty}`"), false)
        } else if subtype(ty, old_ty) {
            (format!("input `{name}` narrowed from `{old_ty}` to `{ty}`"), true)
        } else {
            (format!("input `{name}` changed from `{old_ty}` to `{ty}`"), true)
        };
        out.push(Change { what, breaking, span });
    }
    let output_span = output_stmt(new.flow());
    match (old.output(), new.output()) {
        (Type::Unit, Type::Unit) => {}
        (Type::Unit, _) => {
            out.push(Change { what: "an output added".into(), breaking: false, span: output_span })
        }
        (_, Type::Unit) => out.push(Change {
            what: "the output removed".into(),
            breaking: true,
            span: version_span(new.flow()),
        }),
        (Type::Record { fields: old_fields }, Type::Record { fields: new_fields }) => {
            output_fields(old_fields, new_fields, new.flow(), output_span, &mut out)
        }
        (old_ty, ty) if old_ty == ty || subtype(ty, old_ty) => {}
        (old_ty, ty) => out.push(Change {
            what: format!("the output changed from `{old_ty}` to `{ty}`"),
            breaking: true,
            span: output_span,
        }),
    }
    out
}

fn output_fields(old: &[Field], new: &[Field], flow: &Flow, block: Option<Span>, out: &mut Vec<Change>) {
    for field in old {
        if !new.iter().any(|f| f.name == field.name) {
            out.push(Change {
                what: format!("output field `{}` removed", field.name),
                breaking: true,
                span: block,
            });
        }
    }
    for field in new {
        let span = output_field(flow, &field.name).or(block);
        let Some(before) = old.iter().find(|f| f.name == field.name) else {
            out.push(Change { what: format!("output field `{}` added", field.name), breaking: false, span });
            continue;
        };
        let as_type = |f: &Field| if f.optional { Type::optional(f.ty.clone()) } else { f.ty.clone() };
        let (old_ty, ty) = (as_type(before), as_type(field));
        if old_ty != ty && !subtype(&ty, &old_ty) {
            let what = format!("output field `{}` changed from `{old_ty}` to `{ty}`", field.name);
            out.push(Change { what, breaking: true, span });
        }
    }
}

/// True when every value of `a` is a value of `b` (what an input may widen to, and an output
/// narrow to). Unknown types are given the benefit of the doubt.
pub fn subtype(a: &Type, b: &Type) -> bool {
    match (a, b) {
        _ if a == b => true,
        (Type::Unknown, _) | (_, Type::Unknown) => true,
        (Type::Secret | Type::Res { .. } | Type::Unit, _) => false,
        (_, Type::Json) => true,
        (Type::String | Type::Literals { .. }, Type::String | Type::Text) => true,
        (Type::Literals { values: a }, Type::Literals { values: b }) => a.iter().all(|v| b.contains(v)),
        (Type::Int { .. }, Type::Int { range: None }) | (Type::Int { .. }, Type::Float) => true,
        (Type::Int { range: Some((al, ah)) }, Type::Int { range: Some((bl, bh)) }) => bl <= al && ah <= bh,
        (Type::List { item: a }, Type::List { item: b }) => subtype(a, b),
        (Type::None, Type::Optional { .. }) => true,
        (Type::Optional { inner: a }, Type::Optional { inner: b }) => subtype(a, b),
        (a, Type::Optional { inner: b }) => subtype(a, b),
        (Type::Record { fields: a }, Type::Record { fields: b }) => {
            b.iter().all(|fb| match a.iter().find(|fa| fa.name == fb.name) {
                Some(fa) => (fb.optional || !fa.optional) && subtype(&fa.ty, &fb.ty),
                None => fb.optional || matches!(fb.ty, Type::Optional { .. }),
            })
        }
        _ => false,
    }
}

fn strip_optional(t: &Type) -> &Type {
    match t {
        Type::Optional { inner } => inner,
        other => other,
    }
}

/// The `version "…"` string of a flow.
fn version_span(flow: &Flow) -> Option<Span> {
    flow.body.iter().find_map(|s| match &s.kind {
        StmtKind::Version { value } => Some(value.span),
        _ => None,
    })
}

fn input_block(flow: &Flow) -> Option<Span> {
    flow.body.iter().find_map(|s| match &s.kind {
        StmtKind::Input { fields } => Some(fields.span),
        _ => None,
    })
}

fn input_field<'a>(flow: &'a Flow, name: &str) -> Option<&'a TypeField> {
    flow.body
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Input { fields } => Some(fields.fields.iter()),
            _ => None,
        })
        .flatten()
        .find(|f| f.key.name == name)
}

fn output_stmt(flow: &Flow) -> Option<Span> {
    flow.body.iter().find_map(|s| match &s.kind {
        StmtKind::Output { .. } => Some(s.span),
        _ => None,
    })
}

/// The field of a record `output { … }` with this name.
fn output_field(flow: &Flow, name: &str) -> Option<Span> {
    flow.body.iter().find_map(|s| match &s.kind {
        StmtKind::Output { value: Expr { kind: ExprKind::Record { fields }, .. } } => {
            fields.iter().find(|f| f.key.name == name).map(|f| f.span)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    #[test]
    fn bumps_follow_cargo_before_one() {
        assert_eq!(bump(&v("1.2.3"), &v("2.0.0")), Bump::Major);
        assert_eq!(bump(&v("1.2.3"), &v("1.3.0")), Bump::Minor);
        assert_eq!(bump(&v("1.2.3"), &v("1.2.4")), Bump::Patch);
        assert_eq!(bump(&v("1.2.3"), &v("1.2.3")), Bump::None);
        assert_eq!(bump(&v("1.2.3"), &v("1.1.0")), Bump::None);
        assert_eq!(bump(&v("0.2.3"), &v("0.3.0")), Bump::Major);
        assert_eq!(bump(&v("0.2.3"), &v("0.2.4")), Bump::Minor);
        assert_eq!(bump(&v("0.2.3"), &v("1.0.0")), Bump::Major);
        assert_eq!(bump(&v("0.0.3"), &v("0.0.4")), Bump::Major);
        assert_eq!(next(&v("1.2.3"), Bump::Major), v("2.0.0"));
        assert_eq!(next(&v("1.2.3"), Bump::Minor), v("1.3.0"));
        assert_eq!(next(&v("0.2.3"), Bump::Major), v("0.3.0"));
        assert_eq!(next(&v("0.2.3"), Bump::Minor), v("0.2.4"));
        assert_eq!(next(&v("0.0.3"), Bump::Minor), v("0.0.4"));
    }

    #[test]
    fn subtypes() {
        let lit = |v: &[&str]| Type::Literals { values: v.iter().map(|s| s.to_string()).collect() };
        let range = |l, h| Type::Int { range: Some((l, h)) };
        assert!(subtype(&lit(&["a"]), &lit(&["a", "b"])));
        assert!(!subtype(&lit(&["a", "b"]), &lit(&["a"])));
        assert!(subtype(&range(1, 5), &range(1, 10)));
        assert!(!subtype(&range(1, 10), &range(1, 5)));
        assert!(subtype(&Type::String, &Type::Text));
        assert!(!subtype(&Type::Text, &Type::String));
        assert!(subtype(&Type::int(), &Type::optional(Type::int())));
        assert!(!subtype(&Type::optional(Type::int()), &Type::int()));
        assert!(!subtype(&Type::String, &Type::int()));
    }

    fn diff_of(old: &str, new: &str) -> Vec<(Code, String)> {
        let (old, new) = (weir_grammar::parse(old), weir_grammar::parse(new));
        let flows = |p: &weir_grammar::Parsed| -> Vec<Flow> {
            p.file
                .items
                .iter()
                .filter_map(|i| if let Item::Flow(f) = i { Some(f.clone()) } else { None })
                .collect()
        };
        let (old, new) = (flows(&old), flows(&new));
        let old: Vec<&Flow> = old.iter().collect();
        let new: Vec<&Flow> = new.iter().collect();
        diff_files(&old, &new).into_iter().map(|d| (d.code, d.note.unwrap_or_default())).collect()
    }

    fn flow(version: &str, input: &str, output: &str) -> String {
        format!("flow wibble {{\n  version \"{version}\"\n  input {{ {input} }}\n  {output}\n}}\n")
    }

    #[test]
    fn breaking_and_additive_changes() {
        let old = flow("1.2.0", "a: string, n: int in 1..10", "output { x: input.a }");
        let same = diff_of(&old, &flow("1.2.1", "a: string, n: int in 1..10", "output { x: input.a }"));
        assert_eq!(same, vec![]);
        let removed = diff_of(&old, &flow("1.3.0", "a: string", "output { x: input.a }"));
        assert_eq!(removed, vec![(Code::BreakingChangeWithoutMajor, "breaking: input `n` removed".into())]);
        assert_eq!(diff_of(&old, &flow("2.0.0", "a: string", "output { x: input.a }")), vec![]);
        let narrowed = diff_of(&old, &flow("1.3.0", "a: string, n: int in 1..5", "output { x: input.a }"));
        assert_eq!(narrowed[0].1, "breaking: input `n` narrowed from `int in 1..10` to `int in 1..5`");
        let added = diff_of(
            &old,
            &flow("1.2.1", "a: string, n: int in 1..10, b: bool = false", "output { x: input.a, y: 1 }"),
        );
        assert_eq!(
            added,
            vec![(
                Code::AdditionWithoutMinor,
                "added: optional input `b` added; output field `y` added".into()
            )]
        );
        assert_eq!(
            diff_of(&old, &flow("1.3.0", "a: string, n: int in 1..20", "output { x: input.a }")),
            vec![]
        );
        let dropped = diff_of(&old, &flow("1.3.0", "a: string, n: int in 1..10", "output { y: input.a }"));
        assert_eq!(dropped[0].1, "breaking: output field `x` removed");
        // Pre-1.0: a minor bump is the major one.
        let old0 = flow("0.4.0", "a: string", "");
        assert_eq!(diff_of(&old0, &flow("0.5.0", "a: string, b: string", "")), vec![]);
        assert_eq!(
            diff_of(&old0, &flow("0.4.1", "a: string, b: string", ""))[0].0,
            Code::BreakingChangeWithoutMajor
        );
        assert_eq!(diff_of(&old0, &flow("0.4.1", "a: string, b: string?", "")), vec![]);
    }
}
