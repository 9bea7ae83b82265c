//! Guards (language.md, "Effects and who must look first"): every irreversible step, and
//! every write step fed free-form model or agent data, must be dominated by the *approve*
//! outcome of an approval placed after every producer of its inputs, on failure paths too.
//!
//! The proof runs on the flow's graph (`dag`) with each approval split in two: the approval
//! itself, from which rejection leaves for `on reject`, and its approve outcome, from which
//! the rest of the block runs. Every `try` also gets an edge from its start to its `catch`
//! (the body may fail anywhere, so only an approval in front of the whole `try` guards the
//! `catch`). Dominators come from petgraph; the dominator tree is numbered once so each
//! "does A dominate B" afterwards is two comparisons.

use super::Narrowness;
use crate::dag::{self, EdgeKind, FlowGraph, NodeKind};
use crate::effects::{StepEffect, flow_effects_with};
use crate::families::Effect;
use crate::interface::Library;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::VecDeque;
use weir_config::Config;
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// Why a step needs a guard.
enum Need<'a> {
    /// Its effect is irreversible.
    Irreversible,
    /// It writes free-form data that came from a model or an agent (the expression and the
    /// step it came from).
    ModelData { expr: Span, source: &'a str },
}

/// What the guard proof knows about one step.
struct StepInfo<'a> {
    step: &'a Step,
    /// Inside an `undo`: the undo inherits its step's guard.
    in_undo: bool,
}

/// The flow's graph in the form the proof needs, with its numbered dominator tree.
struct GuardGraph<'g> {
    graph: DiGraph<NodeKind, EdgeKind>,
    /// The flow graph this was made from (its nodes keep their indices here).
    source: &'g FlowGraph,
    start: NodeIndex,
    /// Approval node → its approve outcome.
    approved: HashMap<NodeIndex, NodeIndex>,
    /// Approve outcome → its approval node.
    approval_of: HashMap<NodeIndex, NodeIndex>,
    /// Preorder and postorder numbers in the dominator tree (`None`: unreachable).
    order: Vec<Option<(u32, u32)>>,
    /// The nearest approve outcome strictly above each node in the dominator tree.
    nearest_approved: Vec<Option<NodeIndex>>,
}

/// Check one flow's guards.
pub(super) fn check_flow<'a>(
    flow: &'a Flow,
    config: Option<&Config>,
    library: Option<&'a Library<'a>>,
    narrowness: &Narrowness,
) -> Vec<Diagnostic> {
    let all_effects = flow_effects_with(flow, config, library);
    let mut effects: HashMap<&str, &StepEffect> = HashMap::default();
    for effect in &all_effects {
        effects.entry(effect.step.as_str()).or_insert(effect);
    }
    let mut ctx = Context::default();
    ctx.collect(&flow.body, false);
    // Cheap exit: nothing irreversible, and no write that could carry model data.
    let has_model_source = ctx.steps.values().any(|s| is_model_source(s.step));
    let candidates: Vec<&StepInfo<'_>> = ctx
        .order
        .iter()
        .map(|name| &ctx.steps[name])
        .filter(|info| !info.in_undo)
        .filter(|info| {
            effects.get(info.step.name.name.as_str()).is_some_and(|e| {
                e.unattended.is_none()
                    && (e.effect == Effect::Irreversible || (e.effect == Effect::Write && has_model_source))
            })
        })
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let tainter = Tainter { ctx: &ctx, effects: &effects, narrowness, memo: Default::default() };
    let flow_graph = dag::build_control(flow);
    let graph = GuardGraph::new(&flow_graph);
    let mut nodes: HashMap<&str, NodeIndex> = HashMap::default();
    for index in flow_graph.graph.node_indices() {
        let node = &flow_graph.graph[index];
        if matches!(node.kind, NodeKind::Step | NodeKind::Approval) {
            nodes.entry(node.label.as_str()).or_insert(index);
        }
    }
    let mut out = Vec::new();
    let mut reported_defaults = HashSet::default();
    let mut reported_binds = HashSet::default();
    for info in candidates {
        let step = info.step;
        let effect = effects[step.name.name.as_str()];
        let need = if effect.effect == Effect::Irreversible {
            Need::Irreversible
        } else {
            match tainter.step_taint(step) {
                Some((expr, source)) => Need::ModelData { expr, source },
                None => continue,
            }
        };
        let Some(&node) = nodes.get(step.name.name.as_str()) else { continue };
        if graph.order[node.index()].is_none() {
            continue; // unreachable: reported as unreachable code
        }
        let producers = tainter.producers(step, matches!(need, Need::ModelData { .. }));
        let mut nearest = None;
        let mut guard = None;
        let mut late_producer = None;
        let mut candidate = graph.nearest_approved[node.index()];
        while let Some(approved) = candidate {
            nearest.get_or_insert(approved);
            let after = producers.iter().find(|p| {
                nodes.get(p.as_str()).is_some_and(|&pn| graph.dominates(approved, pn) && pn != node)
            });
            match after {
                None => {
                    guard = Some(approved);
                    break;
                }
                Some(p) => {
                    late_producer.get_or_insert((approved, p.clone()));
                }
            }
            candidate = graph.nearest_approved[approved.index()];
        }
        match guard {
            Some(approved) => {
                let approval = graph.approval_of[&approved];
                let name = graph.label(approval);
                let Some(approval_stmt) = ctx.approvals.get(name) else { continue };
                guard_details(
                    step,
                    &ctx,
                    approval_stmt,
                    &mut reported_defaults,
                    &mut reported_binds,
                    &mut out,
                );
            }
            None => match late_producer {
                Some((approved, producer)) => {
                    let approval = graph.approval_of[&approved];
                    let name = graph.label(approval);
                    let approval_span = ctx.approvals.get(name).map(|a| a.0.span);
                    let producer_span = ctx.steps.get(producer.as_str()).map(|p| p.step.name.span);
                    let mut d = Diagnostic::new(
                        Code::ApprovalBeforeProducer,
                        step.name.span,
                        format!(
                            "approval `{name}` comes before `{producer}`, whose output `{}` uses",
                            step.name.name
                        ),
                    )
                    .with_primary_label(describe_need(&need, effect));
                    if let Some(span) = approval_span {
                        d = d.with_label(span, "decided before the data exists");
                    }
                    if let Some(span) = producer_span {
                        d = d.with_label(span, "produced after the approval");
                    }
                    out.push(d.with_help(format!(
                        "move approval `{name}` after `{producer}`, so deciders see what `{}` will act on",
                        step.name.name
                    )));
                }
                None => {
                    let path = graph.unguarded_path(node);
                    let last = producers.last().cloned();
                    let code = match need {
                        Need::Irreversible => Code::UnguardedIrreversible,
                        Need::ModelData { .. } => Code::UnguardedModelWrite,
                    };
                    let message = match &need {
                        Need::Irreversible => {
                            format!("irreversible step `{}` can run without an approval", step.name.name)
                        }
                        Need::ModelData { source, .. } => format!(
                            "step `{}` writes free-form data from `{source}` without an approval",
                            step.name.name
                        ),
                    };
                    let mut d = Diagnostic::new(code, step.name.span, message)
                        .with_primary_label(describe_need(&need, effect));
                    if let Need::ModelData { expr, source } = &need
                        && *expr != step.name.span
                    {
                        d = d.with_label(*expr, format!("free-form output of `{source}`"));
                    }
                    let place = match &last {
                        Some(p) => format!("after `{p}` and before `{}`", step.name.name),
                        None => format!("before `{}`", step.name.name),
                    };
                    let narrow = match need {
                        Need::ModelData { .. } => ", narrow the value (a literal union, bool or number),",
                        Need::Irreversible => "",
                    };
                    out.push(
                        d.with_note(format!("a path without approval: {path}")).with_help(format!(
                            "put an `approval` {place} on every path{narrow} or say `unattended because \"…\"` on the step"
                        )),
                    );
                }
            },
        }
    }
    out
}

/// The steps of a flow that run only after some approval's yes (dominated by an approve
/// outcome): a `call` takes its effect from the callee's other, unguarded steps.
pub(crate) fn approved_steps(flow: &Flow) -> HashSet<String> {
    let flow_graph = dag::build_control(flow);
    let graph = GuardGraph::new(&flow_graph);
    flow_graph
        .graph
        .node_indices()
        .filter(|&n| {
            flow_graph.graph[n].kind == NodeKind::Step && graph.nearest_approved[n.index()].is_some()
        })
        .map(|n| flow_graph.graph[n].label.clone())
        .collect()
}

/// The primary label of a guard diagnostic.
fn describe_need(need: &Need<'_>, effect: &StepEffect) -> String {
    match need {
        Need::Irreversible => format!("irreversible: {}", effect.reason),
        Need::ModelData { .. } => format!("write: {}", effect.reason),
    }
}

/// `default approve` in front of a guarded step, and a `binds` that is not what the step uses.
fn guard_details<'a>(
    step: &Step,
    ctx: &Context<'_>,
    approval: &(&'a Ident, &'a weir_grammar::ast::Config),
    reported_defaults: &mut HashSet<Span>,
    reported_binds: &mut HashSet<(Span, Span)>,
    out: &mut Vec<Diagnostic>,
) {
    let (name, config) = approval;
    for entry in &config.entries {
        match &entry.kind {
            EntryKind::Default { value }
                if value.name == "approve" && reported_defaults.insert(entry.span) =>
            {
                out.push(
                    Diagnostic::new(
                        Code::DefaultApproveGuard,
                        value.span,
                        format!(
                            "approval `{}` approves by itself when it times out, and it guards `{}`",
                            name.name, step.name.name
                        ),
                    )
                    .with_primary_label("nobody answering counts as yes")
                    .with_help("write `default reject`: a guarded step must not run because nobody answered"),
                );
            }
            EntryKind::List { key, values } if key.name == "binds" => {
                let used = ctx.content_paths(step);
                let bound: Vec<String> = values.iter().filter_map(path_of).collect();
                let overlaps = bound.iter().any(|b| {
                    used.iter()
                        .any(|u| u == b || u.starts_with(&format!("{b}.")) || b.starts_with(&format!("{u}.")))
                });
                if !overlaps
                    && !bound.is_empty()
                    && !used.is_empty()
                    && reported_binds.insert((entry.span, step.name.span))
                {
                    let uses = used.iter().take(3).map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
                    out.push(
                        Diagnostic::new(
                            Code::BindsNotUsed,
                            entry.span,
                            format!(
                                "approval `{}` binds {}, which `{}` (the step it guards) does not use",
                                name.name,
                                bound.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", "),
                                step.name.name
                            ),
                        )
                        .with_primary_label("the decision is bound to other content")
                        .with_label(step.name.span, format!("uses {uses}"))
                        .with_help(format!(
                            "bind what `{}` acts on, so the decision is checked against that content at run time",
                            step.name.name
                        )),
                    );
                }
            }
            _ => {}
        }
    }
}

/// `a.b.c` for a name or a chain of fields.
fn path_of(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name { name } => Some(name.clone()),
        ExprKind::Field { base, name, .. } => path_of(base).map(|b| format!("{b}.{}", name.name)),
        ExprKind::Paren { inner } => path_of(inner),
        _ => None,
    }
}

/// Every name or field chain a step's inputs read, outermost chains only.
fn used_paths(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    for expr in step_inputs(step) {
        paths_in(expr, &mut out);
    }
    out
}

fn paths_in(expr: &Expr, out: &mut Vec<String>) {
    if let Some(path) = path_of(expr) {
        out.push(path);
        return;
    }
    for child in expr.children() {
        paths_in(child, out);
    }
}

/// The expressions that feed a step: its target's holes and its config (not its
/// connection, undo or types).
fn step_inputs(step: &Step) -> Vec<&Expr> {
    let mut out = Vec::new();
    if let StepCall::Family { target: Some(t), .. } = &step.call {
        out.extend(t.holes());
    }
    for entry in step.config.iter().flat_map(|c| &c.entries) {
        match &entry.kind {
            EntryKind::Plain { key, value } if key.name != "connection" => out.push(value),
            EntryKind::List { values, .. } => out.extend(values),
            _ => {}
        }
    }
    out
}

/// Steps whose output is free-form model or agent data: llm steps and callback waits.
fn is_model_source(step: &Step) -> bool {
    match &step.call {
        StepCall::Family { family, .. } => family.name == "llm",
        StepCall::Wait { target: WaitTarget::Callback { .. }, .. } => true,
        _ => false,
    }
}

/// Steps, approvals and loop variables of a flow.
#[derive(Default)]
struct Context<'a> {
    steps: HashMap<&'a str, StepInfo<'a>>,
    order: Vec<&'a str>,
    /// Each step's index in `order`.
    position: HashMap<&'a str, usize>,
    approvals: HashMap<&'a str, (&'a Ident, &'a weir_grammar::ast::Config)>,
    /// Loop variable → what it iterates over.
    loop_vars: HashMap<&'a str, &'a Expr>,
}

impl<'a> Context<'a> {
    /// The step outputs a step's inputs read, as paths from the producing step (a loop
    /// variable stands for what it iterates over; inputs, `run` and approvals are dropped).
    fn content_paths(&self, step: &Step) -> Vec<String> {
        let mut out = Vec::new();
        let mut pending = used_paths(step);
        let mut expanded = HashSet::default();
        while let Some(path) = pending.pop() {
            let root = path.split('.').next().unwrap_or("");
            if self.steps.contains_key(root) {
                out.push(path);
            } else if let Some(iter) = self.loop_vars.get(root)
                && expanded.insert(root.to_string())
            {
                paths_in(iter, &mut pending);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn collect(&mut self, stmts: &'a [Stmt], in_undo: bool) {
        for stmt in stmts {
            match &stmt.kind {
                StmtKind::Step(step) => {
                    if !self.steps.contains_key(step.name.name.as_str()) {
                        self.position.insert(&step.name.name, self.order.len());
                        self.order.push(&step.name.name);
                        self.steps.insert(&step.name.name, StepInfo { step, in_undo });
                    }
                    for entry in step.config.iter().flat_map(|c| &c.entries) {
                        if let EntryKind::Undo { body, .. } = &entry.kind {
                            self.collect(&body.stmts, true);
                        }
                    }
                    continue;
                }
                StmtKind::Approval { name, config } => {
                    self.approvals.entry(&name.name).or_insert((name, config));
                }
                StmtKind::For { var, iter, .. } => {
                    self.loop_vars.insert(&var.name, iter);
                }
                _ => {}
            }
            for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
                self.collect(&block.stmts, in_undo);
            }
        }
    }
}

/// Follows data back through pure steps and loop variables: to the producers of a step's
/// inputs, and to the model or agent output an expression carries.
struct Tainter<'c, 'a> {
    ctx: &'c Context<'a>,
    effects: &'c HashMap<&'c str, &'c StepEffect>,
    narrowness: &'c Narrowness,
    memo: std::cell::RefCell<HashMap<&'a str, Option<(Span, &'a str)>>>,
}

impl<'c, 'a> Tainter<'c, 'a> {
    /// The first model-data expression among a step's inputs, and its source step.
    fn step_taint(&self, step: &'a Step) -> Option<(Span, &'a str)> {
        step_inputs(step).into_iter().find_map(|e| self.expr_taint(e, 0).map(|s| (self.narrowest(e), s)))
    }

    /// The span to point at for a tainted input: the innermost tainted name or field chain.
    fn narrowest(&self, expr: &'a Expr) -> Span {
        if path_of(expr).is_some() {
            return expr.span;
        }
        for child in expr.children() {
            if self.expr_taint(child, 0).is_some() {
                return self.narrowest(child);
            }
        }
        expr.span
    }

    /// The model or agent step whose free-form output `expr` carries, if any.
    fn expr_taint(&self, expr: &'a Expr, depth: usize) -> Option<&'a str> {
        if depth > 64 {
            return None;
        }
        if self.narrowness.get(expr.span) == Some(true) {
            return None;
        }
        match &expr.kind {
            ExprKind::Name { name } => self.name_taint(name, depth),
            _ => expr.children().into_iter().find_map(|c| self.expr_taint(c, depth + 1)),
        }
    }

    fn name_taint(&self, name: &str, depth: usize) -> Option<&'a str> {
        if let Some(info) = self.ctx.steps.get(name) {
            let key: &'a str = &info.step.name.name;
            if let Some(known) = self.memo.borrow().get(key) {
                return known.map(|(_, s)| s);
            }
            self.memo.borrow_mut().insert(key, None); // against cycles
            let taint = if is_model_source(info.step) {
                Some((info.step.name.span, key))
            } else if self.effects.get(key).is_some_and(|e| !e.producer) {
                // A pure step passes on what it was given.
                self.step_taint(info.step)
            } else {
                None
            };
            self.memo.borrow_mut().insert(key, taint);
            return taint.map(|(_, s)| s);
        }
        if let Some(iter) = self.ctx.loop_vars.get(name) {
            return self.expr_taint(iter, depth + 1);
        }
        None
    }

    /// The name and field chains among a step's inputs whose type can carry free-form text.
    fn wide_paths(&self, step: &Step) -> Vec<String> {
        fn walk(tainter: &Tainter<'_, '_>, expr: &Expr, out: &mut Vec<String>) {
            if tainter.narrowness.get(expr.span) == Some(true) {
                return;
            }
            if let Some(path) = path_of(expr) {
                out.push(path);
                return;
            }
            for child in expr.children() {
                walk(tainter, child, out);
            }
        }
        let mut out = Vec::new();
        for expr in step_inputs(step) {
            walk(self, expr, &mut out);
        }
        out
    }

    /// The producers (read, write and irreversible steps, callback waits, calls) whose output
    /// reaches a step's inputs, through pure steps and loop variables, in source order.
    /// With `wide`, only inputs of a type that can carry free-form text count.
    fn producers(&self, step: &'a Step, wide: bool) -> Vec<String> {
        let roots = |step: &Step| -> Vec<String> {
            let paths = if wide { self.wide_paths(step) } else { used_paths(step) };
            paths.into_iter().map(|p| p.split('.').next().unwrap_or("").to_string()).collect()
        };
        let mut found = Vec::new();
        let mut seen = HashSet::default();
        let mut stack: Vec<String> = roots(step);
        while let Some(root) = stack.pop() {
            if !seen.insert(root.clone()) {
                continue;
            }
            if let Some(info) = self.ctx.steps.get(root.as_str()) {
                if self.effects.get(root.as_str()).is_some_and(|e| e.producer) {
                    found.push(root);
                } else {
                    stack.extend(roots(info.step));
                }
            } else if let Some(iter) = self.ctx.loop_vars.get(root.as_str()) {
                let mut paths = Vec::new();
                paths_in(iter, &mut paths);
                stack.extend(paths.into_iter().map(|p| p.split('.').next().unwrap_or("").to_string()));
            }
        }
        found.sort_by_key(|n| self.ctx.position.get(n.as_str()).copied().unwrap_or(usize::MAX));
        found
    }
}

impl<'g> GuardGraph<'g> {
    fn new(flow: &'g FlowGraph) -> GuardGraph<'g> {
        let source = &flow.graph;
        let mut graph: DiGraph<NodeKind, EdgeKind> =
            DiGraph::with_capacity(source.node_count(), source.edge_count());
        for index in source.node_indices() {
            graph.add_node(source[index].kind);
        }
        let mut approved = HashMap::default();
        let mut approval_of = HashMap::default();
        for index in source.node_indices() {
            if source[index].kind == NodeKind::Approval {
                let outcome = graph.add_node(NodeKind::Join);
                graph.add_edge(index, outcome, EdgeKind::Control);
                approved.insert(index, outcome);
                approval_of.insert(outcome, index);
            }
        }
        for edge in source.edge_references() {
            let kind = *edge.weight();
            if kind == EdgeKind::Data {
                continue;
            }
            let (a, b) = (edge.source(), edge.target());
            let from = match approved.get(&a) {
                Some(&outcome) if kind != EdgeKind::Failure => outcome,
                _ => a,
            };
            graph.add_edge(from, b, kind);
        }
        for &(branch, handler) in &flow.tries {
            graph.add_edge(branch, handler, EdgeKind::Failure);
        }
        let dominators = petgraph::algo::dominators::simple_fast(&graph, flow.start);
        let count = graph.node_count();
        let mut children: Vec<Vec<NodeIndex>> = vec![Vec::new(); count];
        for index in graph.node_indices() {
            if let Some(parent) = dominators.immediate_dominator(index) {
                children[parent.index()].push(index);
            }
        }
        let mut order = vec![None; count];
        let mut nearest_approved = vec![None; count];
        let mut clock = 0u32;
        let mut pre = vec![0u32; count];
        // Iterative DFS: (node, next child to visit).
        let mut stack = vec![(flow.start, 0usize)];
        pre[flow.start.index()] = clock;
        clock += 1;
        while let Some((node, next)) = stack.pop() {
            if let Some(&child) = children[node.index()].get(next) {
                stack.push((node, next + 1));
                pre[child.index()] = clock;
                clock += 1;
                nearest_approved[child.index()] =
                    if approval_of.contains_key(&node) { Some(node) } else { nearest_approved[node.index()] };
                stack.push((child, 0));
            } else {
                order[node.index()] = Some((pre[node.index()], clock));
                clock += 1;
            }
        }
        GuardGraph { graph, source: flow, start: flow.start, approved, approval_of, order, nearest_approved }
    }

    /// A node's label (an approve outcome has none of its own).
    fn label(&self, node: NodeIndex) -> &'g str {
        let source = &self.source.graph;
        if node.index() < source.node_count() { &source[node].label } else { "" }
    }

    /// True when every path from the start to `b` passes `a`.
    fn dominates(&self, a: NodeIndex, b: NodeIndex) -> bool {
        match (self.order[a.index()], self.order[b.index()]) {
            (Some((a_pre, a_post)), Some((b_pre, b_post))) => a_pre <= b_pre && b_post <= a_post,
            _ => false,
        }
    }

    /// A path from the start to `target` that passes no approve outcome (or, when every path
    /// passes one on some branch, any shortest path), as the names a reader recognises.
    fn unguarded_path(&self, target: NodeIndex) -> String {
        let avoid: HashSet<NodeIndex> = self.approved.values().copied().collect();
        let path =
            self.bfs(target, &avoid).or_else(|| self.bfs(target, &HashSet::default())).unwrap_or_default();
        let mut words = vec!["start".to_string()];
        for window in path.windows(2) {
            let (from, to) = (window[0], window[1]);
            let kind = self.graph[to];
            let label = self.label(to);
            let rejected = self.graph[from] == NodeKind::Approval
                && self.graph.edges_connecting(from, to).any(|e| *e.weight() == EdgeKind::Failure);
            if rejected {
                words.push(format!("`{}` rejected", self.label(from)));
            }
            match kind {
                NodeKind::Step => words.push(format!("`{label}`")),
                NodeKind::Handler | NodeKind::LoopHead | NodeKind::Branch => words.push(label.to_string()),
                _ => {}
            }
        }
        words.dedup();
        words.join(" → ")
    }

    fn bfs(&self, target: NodeIndex, avoid: &HashSet<NodeIndex>) -> Option<Vec<NodeIndex>> {
        let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::default();
        let mut queue = VecDeque::from([self.start]);
        let mut seen: HashSet<NodeIndex> = [self.start].into_iter().collect();
        while let Some(node) = queue.pop_front() {
            if node == target {
                let mut path = vec![node];
                let mut at = node;
                while let Some(&p) = previous.get(&at) {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            for next in self.graph.neighbors(node) {
                if !avoid.contains(&next) && seen.insert(next) {
                    previous.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}
