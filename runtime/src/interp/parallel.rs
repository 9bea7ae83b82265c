//! `parallel { … }` and `for … parallel N` at run time: branches really in flight at once.
//!
//! Each branch (or iteration) runs on a thread of its own, as a copy of the run's state
//! (journal, step outputs, locals, loop iterations), journaling through the shared store;
//! at most N iterations of a `for … parallel N` run at once. Identities do not depend on
//! timing (a branch's steps have their own ids; an iteration's index is in its steps'
//! identities), so a resumed run memoizes whatever any branch finished, in whatever order it
//! finished. When all are done, their journal entries and step outputs join the run's (after
//! a `for`, each body step is the list of its outputs in input order), and their
//! compensations join the enclosing saga in branch order.
//!
//! Outcome: a store error stops the drive; otherwise the first failure or rejection in
//! branch order propagates; otherwise a pause, a decision, or a `return`. A failing branch
//! cancels its siblings: each stops at its next step, journaling that it was cancelled there
//! (`STEP/cancelled`), so a later drive and a replay stop it at the same place; its saga
//! unwinds. A replay runs branches one after another and matches their events by identity
//! rather than position (the original interleaving is timing).

use super::saga::Registered;
use super::{Flow, Run, Stop};
use crate::store::{Event, StepId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use weir_bytecode::{BlockIx, Value};

/// One unit of concurrent work: a block, with a loop variable and iteration for a `for`.
pub(super) struct Work {
    /// The block.
    pub body: BlockIx,
    /// `for x in …`: the variable and this iteration's item.
    pub local: Option<(String, Value)>,
    /// `for`: this iteration's index.
    pub iteration: Option<u32>,
}

/// What a branch ends with.
pub(super) struct Joined {
    pub result: Result<Flow, Stop>,
    journal: HashMap<(StepId, u8), Event>,
    pub steps: HashMap<String, Value>,
    registered: Vec<Registered>,
}

/// The state a branch starts from.
struct Fork {
    journal: HashMap<(StepId, u8), Event>,
    votes: Vec<Event>,
    initiator: Option<String>,
    deadline: Option<u64>,
    input: Value,
    steps: HashMap<String, Value>,
    prev: HashMap<String, Value>,
    locals: Vec<(String, Value)>,
    loops: Vec<u32>,
    in_saga: bool,
}

impl Run<'_, '_, '_> {
    /// Runs `work` on up to `width` threads at once; the results come back in `work`'s order,
    /// already joined into this run's journal and compensations.
    pub(super) fn concurrently(&mut self, work: Vec<Work>, width: usize) -> Vec<Joined> {
        let count = work.len();
        let replay = self.interp.replay;
        // A replay runs one branch at a time and matches events by identity.
        let width = if replay.is_some() { 1 } else { width.clamp(1, count.max(1)) };
        if let Some(oracle) = replay {
            oracle.unordered(1);
        }
        let fork = Fork {
            journal: self.journal.clone(),
            votes: self.votes.clone(),
            initiator: self.initiator.clone(),
            deadline: self.deadline,
            input: self.input.clone(),
            steps: self.steps.clone(),
            prev: self.prev.clone(),
            locals: self.locals.clone(),
            loops: self.loops.clone(),
            in_saga: !self.sagas.is_empty(),
        };
        let (interp, program, id, flow) = (self.interp, self.program, self.id, self.flow.clone());
        let next = AtomicUsize::new(0);
        // One failing branch cancels its siblings (language.md): they stop at their next step.
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let results: Mutex<Vec<Option<Joined>>> = Mutex::new((0..count).map(|_| None).collect());
        let (lines, heard) = std::sync::mpsc::channel::<String>();
        std::thread::scope(|scope| {
            for _ in 0..width {
                let lines = lines.clone();
                let (fork, work, next, results, flow, cancel) =
                    (&fork, &work, &next, &results, &flow, &cancel);
                scope.spawn(move || {
                    let mut report = |line: &str| {
                        let _ = lines.send(line.to_string());
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(unit) = work.get(i) else { break };
                        let mut child = Run {
                            interp,
                            id,
                            program,
                            flow: flow.clone(),
                            journal: fork.journal.clone(),
                            votes: fork.votes.clone(),
                            // The run was marked `running` before its branches started.
                            running: std::cell::Cell::new(true),
                            initiator: fork.initiator.clone(),
                            deadline: fork.deadline,
                            input: fork.input.clone(),
                            steps: fork.steps.clone(),
                            prev: fork.prev.clone(),
                            sagas: if fork.in_saga { vec![Vec::new()] } else { Vec::new() },
                            cancelled: Some(cancel.clone()),
                            locals: fork.locals.clone(),
                            loops: fork.loops.clone(),
                            site: RefCell::new(String::new()),
                            draws: RefCell::new(HashMap::new()),
                            store_error: RefCell::new(None),
                            report: &mut report,
                        };
                        child.locals.extend(unit.local.clone());
                        child.loops.extend(unit.iteration);
                        let result = child.block(unit.body);
                        if matches!(result, Err(Stop::Failed(_) | Stop::Rejected(_))) {
                            cancel.store(true, Ordering::SeqCst);
                        }
                        interp.crash_point(super::InterpPoint::InParallel);
                        let result = match child.pending() {
                            Err(stop) => Err(stop),
                            Ok(()) => result,
                        };
                        let joined = Joined {
                            result,
                            journal: child.journal,
                            steps: child.steps,
                            registered: child.sagas.pop().unwrap_or_default(),
                        };
                        if let Some(slot) = results.lock().unwrap_or_else(|e| e.into_inner()).get_mut(i) {
                            *slot = Some(joined);
                        }
                    }
                });
            }
            drop(lines);
            // Progress as it happens, from whichever branch.
            for line in heard {
                (self.report)(&line);
            }
        });
        if let Some(oracle) = replay {
            oracle.unordered(-1);
        }
        let joined: Vec<Joined> =
            results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect();
        for branch in &joined {
            self.journal.extend(branch.journal.iter().map(|(k, v)| (k.clone(), v.clone())));
            if let Some(frame) = self.sagas.last_mut() {
                frame.extend(branch.registered.iter().cloned());
            }
        }
        joined
    }

    /// `parallel { … } { … }`.
    pub(super) fn parallel(&mut self, branches: &[BlockIx]) -> Result<Flow, Stop> {
        self.mark_running()?;
        let work = branches.iter().map(|&body| Work { body, local: None, iteration: None }).collect();
        let joined = self.concurrently(work, branches.len());
        for (branch, result) in branches.iter().zip(&joined) {
            for name in self.body_names(*branch) {
                if let Some(value) = result.steps.get(&name) {
                    self.steps.insert(name, value.clone());
                }
            }
        }
        outcome(joined.into_iter().map(|j| j.result).collect())
    }

    /// `for x in xs parallel N { … }`: at most N iterations at once; afterwards each body
    /// step is the list of its outputs, in input order.
    pub(super) fn parallel_for(
        &mut self,
        var: &str,
        items: Vec<Value>,
        body: BlockIx,
        width: usize,
    ) -> Result<Flow, Stop> {
        self.mark_running()?;
        let names = self.body_names(body);
        let work = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Work {
                body,
                local: Some((var.to_string(), item)),
                iteration: Some(u32::try_from(i).unwrap_or(u32::MAX)),
            })
            .collect();
        // Inside one iteration, `prev` is not another iteration's value: they run at once.
        for name in &names {
            self.steps.remove(name);
            self.prev.insert(name.clone(), Value::None);
        }
        let joined = self.concurrently(work, width);
        for name in &names {
            let outputs = joined.iter().map(|j| j.steps.get(name).cloned().unwrap_or(Value::None)).collect();
            self.steps.insert(name.clone(), Value::List(outputs));
        }
        // `break` and `continue` end their own iteration.
        let results = joined
            .into_iter()
            .map(|j| match j.result {
                Ok(Flow::Break | Flow::Continue) => Ok(Flow::Next),
                other => other,
            })
            .collect();
        outcome(results)
    }
}

impl Run<'_, '_, '_> {
    /// Marks the run `running` before branches that journal on their own threads start.
    fn mark_running(&mut self) -> Result<(), Stop> {
        if self.running.get() { Ok(()) } else { self.append(Vec::new()) }
    }
}

/// The outcome of concurrent work: a store error first (the drive must stop), then the
/// first failure or rejection in order, then a decision, a pause, a `return`.
fn outcome(results: Vec<Result<Flow, Stop>>) -> Result<Flow, Stop> {
    let mut stops: Vec<Stop> = Vec::new();
    let mut returned = None;
    for result in results {
        match result {
            Ok(Flow::Return(value)) => {
                returned.get_or_insert(value);
            }
            Ok(_) => {}
            Err(stop) => stops.push(stop),
        }
    }
    let rank = |stop: &Stop| match stop {
        Stop::Store(_) => 0,
        // A branch's own failure, not the cancellation it caused in its siblings.
        Stop::Failed(error) if error.code == "cancelled" => 2,
        Stop::Failed(_) | Stop::Rejected(_) => 1,
        Stop::NeedsDecision(_) => 3,
        Stop::Paused(_) => 4,
    };
    // `min_by_key` keeps the first of equals: branch order decides between failures.
    let first = stops.iter().enumerate().min_by_key(|(i, s)| (rank(s), *i)).map(|(i, _)| i);
    if let Some(i) = first {
        return Err(stops.swap_remove(i));
    }
    Ok(returned.map_or(Flow::Next, Flow::Return))
}
