//! Flow interfaces for `call SLUG@RANGE`: every flow of the project (and the library flows)
//! passed in as data, resolved by slug and semver range, with their inputs and output type.

use crate::types::{Field, Type};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use weir_grammar::ast::*;

/// What a caller sees of one flow.
#[derive(Debug)]
pub struct Interface<'a> {
    /// The flow's slug.
    pub slug: String,
    /// Its `version`, when it has a valid one.
    pub version: Option<semver::Version>,
    /// The flow itself, typed lazily.
    flow: &'a Flow,
    /// Its inputs: name, type, and whether the caller must give it.
    inputs: OnceLock<Vec<(String, Type, bool)>>,
    /// The type of its `output`.
    output: OnceLock<Type>,
}

impl<'a> Interface<'a> {
    /// The interface of `flow`.
    pub fn new(flow: &'a Flow) -> Interface<'a> {
        let version = flow.body.iter().find_map(|s| match &s.kind {
            StmtKind::Version { value } => value.as_plain().and_then(|v| semver::Version::parse(&v).ok()),
            _ => None,
        });
        Interface {
            slug: flow.name.name.clone(),
            version,
            flow,
            inputs: OnceLock::new(),
            output: OnceLock::new(),
        }
    }

    /// Inputs: `(name, type, required)`.
    pub fn inputs(&self) -> &[(String, Type, bool)] {
        self.inputs.get_or_init(|| {
            let fields = match crate::check::input_type(self.flow) {
                Type::Record { fields } => fields,
                _ => Vec::new(),
            };
            let declared: Vec<&TypeField> = self
                .flow
                .body
                .iter()
                .filter_map(|s| match &s.kind {
                    StmtKind::Input { fields } => Some(fields.fields.iter()),
                    _ => None,
                })
                .flatten()
                .collect();
            fields
                .into_iter()
                .map(|Field { name, ty, optional }| {
                    let has_default = declared.iter().any(|d| d.key.name == name && d.default.is_some());
                    let required = !optional && !has_default && !matches!(ty, Type::Optional { .. });
                    (name, ty, required)
                })
                .collect()
        })
    }

    /// The flow itself.
    pub fn flow(&self) -> &'a Flow {
        self.flow
    }

    /// The type of the flow's `output` (nothing when it has none).
    pub fn output(&self) -> &Type {
        self.output.get_or_init(|| crate::check::output_type(self.flow))
    }
}

/// Every flow a `call` may name.
#[derive(Debug, Default)]
pub struct Library<'a> {
    flows: BTreeMap<String, Vec<Interface<'a>>>,
}

/// Why a `call` did not resolve.
#[derive(Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// No flow has this slug.
    UnknownFlow,
    /// The range is not a semver range.
    BadRange,
    /// Flows with this slug exist, but none has a version in the range (the versions found).
    NoMatchingVersion(Vec<String>),
}

impl<'a> Library<'a> {
    /// A library of these flows.
    pub fn new(flows: impl IntoIterator<Item = &'a Flow>) -> Library<'a> {
        let mut library = Library::default();
        for flow in flows {
            library.flows.entry(flow.name.name.clone()).or_default().push(Interface::new(flow));
        }
        library
    }

    /// Every slug, for "did you mean".
    pub fn slugs(&self) -> Vec<&str> {
        self.flows.keys().map(String::as_str).collect()
    }

    /// The newest flow named `slug` whose version is in `range` (any version without one).
    pub fn resolve(&self, slug: &str, range: Option<&str>) -> Result<&Interface<'a>, Unresolved> {
        let candidates = self.flows.get(slug).ok_or(Unresolved::UnknownFlow)?;
        let req = match range {
            Some(range) => Some(semver::VersionReq::parse(range).map_err(|_| Unresolved::BadRange)?),
            None => None,
        };
        candidates
            .iter()
            .filter(|i| match (&req, &i.version) {
                (Some(req), Some(v)) => req.matches(v),
                (Some(_), None) => false,
                (None, _) => true,
            })
            .max_by(|a, b| a.version.cmp(&b.version))
            .ok_or_else(|| {
                Unresolved::NoMatchingVersion(
                    candidates.iter().filter_map(|i| i.version.as_ref().map(|v| v.to_string())).collect(),
                )
            })
    }
}

/// True when the flow has a `call` step anywhere (blocks, undo and on-reject included).
pub fn has_calls(flow: &Flow) -> bool {
    stmts_call(&flow.body)
}

fn stmts_call(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|stmt| {
        matches!(&stmt.kind, StmtKind::Step(step) if matches!(step.call, StepCall::Call { .. }))
            || stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()).any(|b| stmts_call(&b.stmts))
    })
}
