//! Stable step identities (docs/bytecode.md, "Step identities"). A named statement is
//! known by its name alone; an anonymous one by the nearest named statement before it in
//! its block (or its block's path), its kind and its count since then. So an edit changes
//! the identities only of the anonymous statements that follow it in the same block, up to
//! the next named statement; everything elsewhere in the flow keeps its identity.

use std::collections::BTreeMap;

/// Hands out identities for the statements of one block, in source order.
#[derive(Clone, Debug)]
pub struct BlockIds {
    /// The block's own path (`""` for the entry block).
    path: String,
    /// The identity anonymous statements are counted from.
    anchor: String,
    /// Anonymous statements of each kind since the anchor.
    counts: BTreeMap<&'static str, u32>,
}

impl BlockIds {
    /// The flow's entry block.
    pub fn root() -> BlockIds {
        BlockIds::at(String::new())
    }

    /// The block at `path` (for example `on_failure`, or what [`BlockIds::nested`] gives).
    pub fn at(path: impl Into<String>) -> BlockIds {
        let path = path.into();
        BlockIds { anchor: path.clone(), path, counts: BTreeMap::new() }
    }

    /// This block's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A named statement (step, callback, approval, const): its identity is `name`, and
    /// later anonymous statements of this block count from it.
    pub fn named(&mut self, name: &str) -> String {
        self.anchor = name.to_string();
        self.counts.clear();
        name.to_string()
    }

    /// An anonymous statement of `kind` (`log`, `sleep`, `wait`, `if`, `for`, `loop`,
    /// `repeat`, `parallel`, `try`, `saga`, `fail`, `return`): `ANCHOR/KIND#N`.
    pub fn anonymous(&mut self, kind: &'static str) -> String {
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        join(&self.anchor, &format!("{kind}#{n}"))
    }

    /// A block inside the statement whose identity is `owner`, in the role `role`
    /// (`then`, `arm#2`, `else`, `body`, `catch`, `undo`, `on_reject`, `branch#1`).
    pub fn nested(owner: &str, role: &str) -> BlockIds {
        BlockIds::at(join(owner, role))
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() { b.to_string() } else { format!("{a}/{b}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_statements_count_from_the_last_name() {
        let mut top = BlockIds::root();
        assert_eq!(top.anonymous("log"), "log#1");
        assert_eq!(top.named("fetch"), "fetch");
        assert_eq!(top.anonymous("log"), "fetch/log#1");
        assert_eq!(top.anonymous("sleep"), "fetch/sleep#1");
        assert_eq!(top.anonymous("log"), "fetch/log#2");
        let owner = top.anonymous("if");
        let mut then = BlockIds::nested(&owner, "arm#1");
        assert_eq!(then.anonymous("sleep"), "fetch/if#1/arm#1/sleep#1");
        assert_eq!(then.named("notify"), "notify");
        assert_eq!(BlockIds::at("on_failure").anonymous("log"), "on_failure/log#1");
    }
}
