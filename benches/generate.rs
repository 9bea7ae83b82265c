//! Generated flows for the parse and check benchmarks: a realistic mix of every statement
//! kind, deterministic for a given size.

/// One chunk of statements, numbered `n`.
fn chunk(n: usize, out: &mut String) {
    match n % 11 {
        0 => out.push_str(&format!(
            "  step s{n} = http POST \"/items/{{input.repo}}/{n}\" {{\n    connection api\n    body {{ id: {n}, count: input.pr * 2, tags: [\"a\", \"b\"], ok: true }}\n    retry 3 on transient backoff exponential(2s, max 1m)\n    idempotency_key \"{{run.id}}-s{n}\"\n  }}\n"
        )),
        1 => out.push_str(&format!(
            "  step s{n} = llm {{\n    connection openai\n    model \"gpt-4.1-mini\"\n    prompt \"Summarise item {n} of {{input.repo}} for {{input.pr}}\"\n    output {{ summary: string, risk: \"low\" | \"high\", items: list<string> }}\n  }}\n  log \"{{s{n}.summary}}\"\n"
        )),
        2 => out.push_str(&format!(
            "  step s{n} = function {{\n    value {{ ok: input.pr > 3 && input.repo != \"x\", label: \"n={{input.pr * 2}}\" }}\n  }}\n  log s{n}.value\n"
        )),
        3 => out.push_str(&format!("  sleep 2s # pause {n}\n")),
        4 => out.push_str(&format!(
            "  parallel {{\n    step p{n}a = http GET \"/a/{n}\" {{ connection api }}\n    step p{n}b = function {{ value {n} + 1 }}\n  }}\n  log {{ a: p{n}a.status, b: p{n}b.value }}\n"
        )),
        5 => out.push_str(&format!(
            "  for item in input.items parallel 4 {{\n    step f{n} = http PUT \"/items/{{item}}\" {{\n      connection api\n      body {{ item: item }}\n    }}\n  }}\n"
        )),
        6 => out.push_str(&format!(
            "  if input.pr > {n} {{\n    log \"big {{input.pr}}\"\n  }} else {{\n    log {{ n: {n}, small: true }}\n  }}\n"
        )),
        7 => out.push_str(&format!(
            "  approval a{n} {{\n    summary \"Ship {{input.repo}}#{{input.pr}}? {{s{m}.summary}}\"\n    deciders group \"release\" not initiator\n    timeout 24h\n    default reject\n  }}\n  step d{n} = http DELETE \"/items/{n}\" {{ connection api }}\n  step w{n} = http POST \"/notes/{n}\" {{\n    connection api\n    body {{ text: s{m}.summary }}\n  }}\n",
            m = n - 6
        )),
        8 => out.push_str(&format!(
            "  try {{\n    step t{n} = http POST \"/jobs/{n}\" {{\n      connection api\n      body {{ n: {n} }}\n    }}\n  }} catch e {{\n    log \"job {n} failed: {{e.message}}\"\n  }}\n"
        )),
        9 => out.push_str(&format!(
            "  saga {{\n    step r{n} = http POST \"/reserve/{n}\" {{\n      connection api\n      undo {{\n        step u{n} = http DELETE \"/reserve/{n}\" {{ connection api }}\n      }}\n    }}\n    step c{n} = http POST \"/confirm/{n}\" {{ connection api }}\n  }}\n"
        )),
        _ => out.push_str(&format!(
            "  loop max 3 {{\n    step l{n} = function {{ value input.pr + {n} }}\n    if l{n}.value > 2 {{\n      break\n    }}\n  }}\n"
        )),
    }
}

/// A flow of `steps` statements.
pub fn flow(steps: usize) -> String {
    let mut out = String::from(
        "flow bench {\n  version \"1.0.0\"\n  concurrency max 1 per input.repo queue\n  trigger manual\n  input { repo: string, pr: int, items: list<string> }\n\n",
    );
    for n in 0..steps {
        chunk(n, &mut out);
    }
    out.push_str("  output { done: true }\n}\n");
    out
}

/// A flow of about `lines` lines.
pub fn flow_of_lines(lines: usize) -> String {
    let mut out = String::from(
        "flow bench {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  input { repo: string, pr: int, items: list<string> }\n",
    );
    let mut n = 0;
    while out.lines().count() < lines.saturating_sub(2) {
        chunk(n, &mut out);
        n += 1;
    }
    out.push_str("}\n");
    out
}
