//! The flow as a graph (petgraph): nodes for steps, approvals, callbacks, waits, branches,
//! joins and loop heads; edges for control, data and failure (`catch`, `on reject`, `undo`,
//! `on failure`). Loops are explicit loop heads with a back edge marked as such, so the
//! graph without back edges is acyclic and the guard checks can compute dominators on it.

use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;
use weir_diagnostics::Span;
use weir_grammar::ast::*;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Where every run starts.
    Start,
    /// Where a run that did not fail ends.
    End,
    /// A step.
    Step,
    /// An approval.
    Approval,
    /// A callback declaration (its URL exists from here on).
    Callback,
    /// `sleep`, `wait for`, `wait until`, `log`, `fail`, `return`, …: a plain statement.
    Statement,
    /// The start of an `if`, `parallel`, `try` or `saga`.
    Branch,
    /// Where the paths of a branch meet again.
    Join,
    /// The head of a `for`, `loop` or `repeat`.
    LoopHead,
    /// The start of a failure path: `catch`, `on reject`, `undo`, `on failure`.
    Handler,
}

/// What an edge means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Control passes from one node to the next.
    Control,
    /// From the end of a loop body back to its head.
    Back,
    /// A value produced by the source is read by the target.
    Data,
    /// The source's failure (or rejection) leads to the target.
    Failure,
}

/// A node.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// Its label (a step's name, `if`, `for x`, …).
    pub label: String,
    /// Where in the source.
    pub span: Span,
}

/// A flow's graph.
#[derive(Debug)]
pub struct FlowGraph {
    /// The graph.
    pub graph: DiGraph<Node, EdgeKind>,
    /// The start node.
    pub start: NodeIndex,
    /// The end node.
    pub end: NodeIndex,
    /// Each `try`'s branch node with its `catch` handler: the body may fail anywhere in it.
    pub tries: Vec<(NodeIndex, NodeIndex)>,
}

struct Builder<'a> {
    graph: DiGraph<Node, EdgeKind>,
    /// Named producers (steps, approvals, callbacks) by name.
    named: HashMap<&'a str, NodeIndex>,
    /// Reads to connect once every producer is known: (reader, name).
    reads: Vec<(NodeIndex, &'a str)>,
    /// Handlers of enclosing `try`s, innermost last.
    catches: Vec<NodeIndex>,
    /// Loop heads of enclosing loops, innermost last, with their exits.
    loops: Vec<(NodeIndex, NodeIndex)>,
    /// Nodes control does not fall through.
    terminal: HashSet<NodeIndex>,
    end: NodeIndex,
    /// `try` branch nodes with their handlers.
    tries: Vec<(NodeIndex, NodeIndex)>,
    /// False when only control and failure edges are wanted (the guard proof).
    data: bool,
}

/// Build the graph of a flow.
pub fn build(flow: &Flow) -> FlowGraph {
    build_with(flow, true)
}

/// The graph without data edges: what control and failure can do, which is all the guard
/// proof asks (and half the work).
pub fn build_control(flow: &Flow) -> FlowGraph {
    build_with(flow, false)
}

fn build_with(flow: &Flow, data: bool) -> FlowGraph {
    let mut graph = DiGraph::new();
    let start = graph.add_node(Node { kind: NodeKind::Start, label: "start".into(), span: flow.name.span });
    let end = graph.add_node(Node { kind: NodeKind::End, label: "end".into(), span: flow.name.span });
    let mut builder = Builder {
        graph,
        named: HashMap::default(),
        reads: Vec::new(),
        catches: Vec::new(),
        loops: Vec::new(),
        terminal: Default::default(),
        end,
        tries: Vec::new(),
        data,
    };
    let mut on_failure = None;
    let body: Vec<&Stmt> = flow
        .body
        .iter()
        .filter(|s| {
            if let StmtKind::OnFailure { .. } = s.kind {
                on_failure = Some(*s);
                false
            } else {
                true
            }
        })
        .collect();
    let last = builder.sequence(&body, start);
    builder.graph.add_edge(last, end, EdgeKind::Control);
    if let Some(stmt) = on_failure
        && let StmtKind::OnFailure { body, .. } = &stmt.kind
    {
        let handler = builder.node(NodeKind::Handler, "on failure", stmt.span);
        builder.graph.add_edge(start, handler, EdgeKind::Failure);
        let refs: Vec<&Stmt> = body.stmts.iter().collect();
        builder.sequence(&refs, handler);
    }
    let reads = std::mem::take(&mut builder.reads);
    for (reader, name) in reads {
        if let Some(&producer) = builder.named.get(name)
            && producer != reader
        {
            let known =
                builder.graph.edges_connecting(producer, reader).any(|e| *e.weight() == EdgeKind::Data);
            if !known {
                builder.graph.add_edge(producer, reader, EdgeKind::Data);
            }
        }
    }
    FlowGraph { graph: builder.graph, start, end, tries: builder.tries }
}

impl<'a> Builder<'a> {
    fn node(&mut self, kind: NodeKind, label: impl Into<String>, span: Span) -> NodeIndex {
        self.graph.add_node(Node { kind, label: label.into(), span })
    }

    /// Control from `from` to `to`, unless `from` does not fall through (`fail`, `return`,
    /// `break`, `continue`): what follows those is reached by no control edge.
    fn control(&mut self, from: NodeIndex, to: NodeIndex) {
        if !self.terminal.contains(&from) {
            self.graph.add_edge(from, to, EdgeKind::Control);
        }
    }

    /// Chain statements after `entry`; returns the node control leaves from.
    fn sequence(&mut self, stmts: &[&'a Stmt], entry: NodeIndex) -> NodeIndex {
        let mut at = entry;
        for stmt in stmts {
            at = self.stmt(stmt, at);
        }
        at
    }

    fn block(&mut self, block: &'a Block, entry: NodeIndex) -> NodeIndex {
        let refs: Vec<&'a Stmt> = block.stmts.iter().collect();
        self.sequence(&refs, entry)
    }

    fn stmt(&mut self, stmt: &'a Stmt, entry: NodeIndex) -> NodeIndex {
        match &stmt.kind {
            StmtKind::Step(step) => {
                let node = self.node(NodeKind::Step, step.name.name.clone(), step.name.span);
                self.named.insert(&step.name.name, node);
                self.control(entry, node);
                self.reads_of_step(step, node);
                if let Some(&catch) = self.catches.last() {
                    self.graph.add_edge(node, catch, EdgeKind::Failure);
                }
                if let Some(config) = &step.config {
                    for entry_ in &config.entries {
                        if let EntryKind::Undo { body, always } = &entry_.kind {
                            let label = if *always { "undo always" } else { "undo" };
                            let handler = self.node(
                                NodeKind::Handler,
                                format!("{label} {}", step.name.name),
                                entry_.span,
                            );
                            self.graph.add_edge(node, handler, EdgeKind::Failure);
                            self.block(body, handler);
                        }
                    }
                }
                node
            }
            StmtKind::Approval { name, config } => {
                let node = self.node(NodeKind::Approval, name.name.clone(), name.span);
                self.named.insert(&name.name, node);
                self.control(entry, node);
                for e in &config.entries {
                    match &e.kind {
                        EntryKind::OnReject { body } => {
                            let handler =
                                self.node(NodeKind::Handler, format!("on reject {}", name.name), e.span);
                            self.graph.add_edge(node, handler, EdgeKind::Failure);
                            self.block(body, handler);
                        }
                        other => self.reads_of_entry(other, node),
                    }
                }
                node
            }
            StmtKind::Callback { name, config } => {
                let node = self.node(NodeKind::Callback, name.name.clone(), name.span);
                self.named.insert(&name.name, node);
                self.control(entry, node);
                for e in &config.entries {
                    self.reads_of_entry(&e.kind, node);
                }
                node
            }
            StmtKind::Parallel { body } | StmtKind::Saga { body } => {
                let label = if matches!(stmt.kind, StmtKind::Parallel { .. }) { "parallel" } else { "saga" };
                let fork = self.node(NodeKind::Branch, label, stmt.span);
                self.control(entry, fork);
                let join = self.node(NodeKind::Join, format!("end {label}"), stmt.span);
                if label == "parallel" {
                    for branch in &body.stmts {
                        let exit = self.stmt(branch, fork);
                        self.control(exit, join);
                    }
                    if body.stmts.is_empty() {
                        self.control(fork, join);
                    }
                } else {
                    let exit = self.block(body, fork);
                    self.control(exit, join);
                }
                join
            }
            StmtKind::Branch { body } => self.block(body, entry),
            StmtKind::If { arms, else_body } => {
                let branch = self.node(NodeKind::Branch, "if", stmt.span);
                self.control(entry, branch);
                let join = self.node(NodeKind::Join, "end if", stmt.span);
                for arm in arms {
                    self.reads_of_expr(&arm.cond, branch);
                    let exit = self.block(&arm.body, branch);
                    self.control(exit, join);
                }
                match else_body {
                    Some(body) => {
                        let exit = self.block(body, branch);
                        self.control(exit, join);
                    }
                    None => self.control(branch, join),
                }
                join
            }
            StmtKind::For { var, iter, parallel, body } => {
                let head = self.node(NodeKind::LoopHead, format!("for {}", var.name), stmt.span);
                self.control(entry, head);
                self.reads_of_expr(iter, head);
                if let Some(n) = parallel {
                    self.reads_of_expr(n, head);
                }
                self.looped(head, body, stmt.span)
            }
            StmtKind::Loop { body, .. } => {
                let head = self.node(NodeKind::LoopHead, "loop", stmt.span);
                self.control(entry, head);
                self.looped(head, body, stmt.span)
            }
            StmtKind::Repeat { until, body, .. } => {
                let head = self.node(NodeKind::LoopHead, "repeat", stmt.span);
                self.control(entry, head);
                self.reads_of_expr(until, head);
                self.looped(head, body, stmt.span)
            }
            StmtKind::Try { body, catch, .. } => {
                let branch = self.node(NodeKind::Branch, "try", stmt.span);
                self.control(entry, branch);
                let handler = self.node(NodeKind::Handler, "catch", catch.span);
                let join = self.node(NodeKind::Join, "end try", stmt.span);
                self.tries.push((branch, handler));
                self.catches.push(handler);
                let exit = self.block(body, branch);
                self.catches.pop();
                self.control(exit, join);
                let exit = self.block(catch, handler);
                self.control(exit, join);
                join
            }
            StmtKind::Break | StmtKind::Continue => {
                let node = self.node(
                    NodeKind::Statement,
                    if matches!(stmt.kind, StmtKind::Break) { "break" } else { "continue" },
                    stmt.span,
                );
                self.control(entry, node);
                if let Some(&(head, exit)) = self.loops.last() {
                    if matches!(stmt.kind, StmtKind::Break) {
                        self.control(node, exit);
                    } else {
                        self.graph.add_edge(node, head, EdgeKind::Back);
                    }
                }
                self.terminal.insert(node);
                node
            }
            StmtKind::Fail { .. } | StmtKind::Return { .. } => {
                let label = if matches!(stmt.kind, StmtKind::Fail { .. }) { "fail" } else { "return" };
                let node = self.node(NodeKind::Statement, label, stmt.span);
                self.control(entry, node);
                self.reads_of_stmt(stmt, node);
                if label == "return" {
                    self.control(node, self.end);
                } else if let Some(&catch) = self.catches.last() {
                    // `catch` catches a `fail` inside its `try`.
                    self.graph.add_edge(node, catch, EdgeKind::Failure);
                }
                self.terminal.insert(node);
                node
            }
            _ => {
                let label = stmt_label(&stmt.kind);
                let node = self.node(NodeKind::Statement, label, stmt.span);
                self.control(entry, node);
                self.reads_of_stmt(stmt, node);
                node
            }
        }
    }

    /// A loop body after its head: a back edge from the body's end, and an exit node.
    fn looped(&mut self, head: NodeIndex, body: &'a Block, span: Span) -> NodeIndex {
        let exit = self.node(NodeKind::Join, format!("after {}", self.graph[head].label), span);
        self.loops.push((head, exit));
        let end = self.block(body, head);
        self.loops.pop();
        if !self.terminal.contains(&end) {
            self.graph.add_edge(end, head, EdgeKind::Back);
        }
        self.control(head, exit);
        exit
    }

    // ------------------------------------------------------------ data edges

    fn reads_of_step(&mut self, step: &'a Step, node: NodeIndex) {
        if !self.data {
            return;
        }
        if let StepCall::Family { target: Some(t), .. } = &step.call {
            self.reads_of_template(t, node);
        }
        if let StepCall::Wait { target: WaitTarget::Callback { name }, .. } = &step.call {
            self.reads.push((node, &name.name));
        }
        if let Some(config) = &step.config {
            for e in &config.entries {
                if !matches!(e.kind, EntryKind::Undo { .. }) {
                    self.reads_of_entry(&e.kind, node);
                }
            }
        }
    }

    fn reads_of_entry(&mut self, entry: &'a EntryKind, node: NodeIndex) {
        if !self.data {
            return;
        }
        match entry {
            EntryKind::Plain { key, value } if key.name != "connection" => self.reads_of_expr(value, node),
            EntryKind::List { values, .. } => values.iter().for_each(|v| self.reads_of_expr(v, node)),
            EntryKind::Deciders(d) => {
                for rule in &d.rules {
                    if let DeciderRule::Exclude { who, .. } = rule {
                        self.reads_of_expr(who, node);
                    }
                }
            }
            _ => {}
        }
    }

    fn reads_of_stmt(&mut self, stmt: &'a Stmt, node: NodeIndex) {
        if !self.data {
            return;
        }
        match &stmt.kind {
            StmtKind::Log { value } | StmtKind::Output { value } | StmtKind::Const { value, .. } => {
                self.reads_of_expr(value, node)
            }
            StmtKind::Fail { message, .. } => self.reads_of_expr(message, node),
            StmtKind::Return { value: Some(value) } => self.reads_of_expr(value, node),
            StmtKind::Wait { target: WaitTarget::Callback { name } } => self.reads.push((node, &name.name)),
            _ => {}
        }
    }

    fn reads_of_template(&mut self, template: &'a Template, node: NodeIndex) {
        for part in &template.parts {
            if let TemplatePart::Hole { expr, .. } = part {
                self.reads_of_expr(expr, node);
            }
        }
    }

    fn reads_of_expr(&mut self, expr: &'a Expr, node: NodeIndex) {
        if !self.data {
            return;
        }
        match &expr.kind {
            ExprKind::Name { name } => self.reads.push((node, name)),
            ExprKind::Field { base, .. } => self.reads_of_expr(base, node),
            ExprKind::Index { base, index } => {
                self.reads_of_expr(base, node);
                self.reads_of_expr(index, node);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| self.reads_of_expr(a, node)),
            ExprKind::Unary { operand, .. } => self.reads_of_expr(operand, node),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.reads_of_expr(lhs, node);
                self.reads_of_expr(rhs, node);
            }
            ExprKind::Paren { inner } => self.reads_of_expr(inner, node),
            ExprKind::List { items } => items.iter().for_each(|i| self.reads_of_expr(i, node)),
            ExprKind::Record { fields } => fields.iter().for_each(|f| self.reads_of_expr(&f.value, node)),
            ExprKind::String(t) => self.reads_of_template(t, node),
            _ => {}
        }
    }
}

fn stmt_label(kind: &StmtKind) -> &'static str {
    match kind {
        StmtKind::Log { .. } => "log",
        StmtKind::Sleep { .. } => "sleep",
        StmtKind::Wait { .. } => "wait",
        StmtKind::Output { .. } => "output",
        StmtKind::Const { .. } => "const",
        StmtKind::Version { .. } => "version",
        StmtKind::Description { .. } => "description",
        StmtKind::Concurrency(_) => "concurrency",
        StmtKind::Trigger(_) => "trigger",
        StmtKind::Input { .. } => "input",
        StmtKind::TypeAlias { .. } => "type",
        StmtKind::Timeout { .. } => "timeout",
        _ => "statement",
    }
}

impl FlowGraph {
    /// True when the graph without back and failure edges has no cycle.
    pub fn is_acyclic_forward(&self) -> bool {
        let forward = self.graph.filter_map(
            |_, n| Some(n.clone()),
            |_, e| matches!(e, EdgeKind::Control | EdgeKind::Failure).then_some(*e),
        );
        !petgraph::algo::is_cyclic_directed(&forward)
    }

    /// Graphviz dot.
    pub fn to_dot(&self, name: &str) -> String {
        let mut out = format!("digraph {:?} {{\n  rankdir=TB;\n", name);
        for index in self.graph.node_indices() {
            let node = &self.graph[index];
            let shape = match node.kind {
                NodeKind::Start | NodeKind::End => "circle",
                NodeKind::Approval => "hexagon",
                NodeKind::Branch | NodeKind::Join => "diamond",
                NodeKind::LoopHead => "invhouse",
                NodeKind::Handler => "octagon",
                NodeKind::Callback => "cds",
                NodeKind::Step | NodeKind::Statement => "box",
            };
            out.push_str(&format!("  n{} [label={:?}, shape={shape}];\n", index.index(), node.label));
        }
        for edge in self.graph.edge_indices() {
            let (a, b) = self.graph.edge_endpoints(edge).expect("edge has endpoints");
            let style = match self.graph[edge] {
                EdgeKind::Control => "",
                EdgeKind::Back => " [style=dashed]",
                EdgeKind::Data => " [style=dotted, color=blue]",
                EdgeKind::Failure => " [color=red]",
            };
            out.push_str(&format!("  n{} -> n{}{style};\n", a.index(), b.index()));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for index in self.graph.node_indices() {
            let node = &self.graph[index];
            let label = node.label.replace('"', "'");
            let shape = match node.kind {
                NodeKind::Approval => format!("{{{{\"{label}\"}}}}"),
                NodeKind::Branch | NodeKind::Join => format!("{{\"{label}\"}}"),
                NodeKind::Start | NodeKind::End => format!("((\"{label}\"))"),
                _ => format!("[\"{label}\"]"),
            };
            out.push_str(&format!("  n{}{shape}\n", index.index()));
        }
        for edge in self.graph.edge_indices() {
            let (a, b) = self.graph.edge_endpoints(edge).expect("edge has endpoints");
            let arrow = match self.graph[edge] {
                EdgeKind::Control => "-->",
                EdgeKind::Back => "-.->|back|",
                EdgeKind::Data => "-.->|data|",
                EdgeKind::Failure => "-->|failure|",
            };
            out.push_str(&format!("  n{} {arrow} n{}\n", a.index(), b.index()));
        }
        out
    }

    /// Nodes and edges as JSON values.
    pub fn to_json(&self) -> serde_json::Value {
        let nodes: Vec<serde_json::Value> = self
            .graph
            .node_indices()
            .map(|i| {
                let n = &self.graph[i];
                serde_json::json!({ "id": i.index(), "kind": n.kind, "label": n.label, "span": n.span })
            })
            .collect();
        let edges: Vec<serde_json::Value> = self
            .graph
            .edge_indices()
            .map(|e| {
                let (a, b) = self.graph.edge_endpoints(e).expect("edge has endpoints");
                serde_json::json!({ "from": a.index(), "to": b.index(), "kind": self.graph[e] })
            })
            .collect();
        serde_json::json!({ "nodes": nodes, "edges": edges })
    }
}
