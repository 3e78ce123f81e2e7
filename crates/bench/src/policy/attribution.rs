//! Which of a callgrind profile's instructions the access policy executed.
//!
//! A release build inlines most policy decisions into their callers, so
//! counting by function name misses them. Callgrind's output names the
//! source file of every cost line, inlined code included (`fi=`/`fe=`), and
//! the build keeps line tables (`debug = 1`). An instruction counts as the
//! policy's when its line is in one of [`POLICY_SOURCES`], or when it runs in a
//! function defined there (the standard library code such a function inlines);
//! a call from policy code to anything else counts with all it costs. A
//! policy function called back from outside (a filter given to a reader)
//! may so be counted twice: the share is an upper bound, not a flattering one.
//!
//! The format is valgrind's "Callgrind Format Specification".

use std::collections::HashMap;

use anyhow::{Context, bail};

/// The access policy's code: the rules, the store's checks and the route
/// table's access declarations.
pub(super) const POLICY_SOURCES: &[&str] =
    &["crates/domain/src/policy.rs", "crates/store/src/permit.rs", "crates/web/src/access.rs"];

/// Instructions in one profile: all of them, and the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Share {
    pub total: u64,
    pub policy: u64,
}

/// The state of the reader between lines.
#[derive(Default)]
struct Reading {
    /// File id → whether it is a policy source.
    files: HashMap<String, bool>,
    /// The file of the current function (`fl=`).
    function_file: bool,
    /// The file of the current cost lines (`fi=`/`fe=`, else the function's).
    line_file: bool,
    /// The called function's file (`cfi=`/`cfl=`), for the next `calls=`.
    callee_file: Option<bool>,
    /// The next cost line is a call's inclusive cost; holds whether the
    /// callee is policy code.
    call_to_policy: Option<bool>,
}

impl Reading {
    /// Resolves a compressed file name (`(id) name` defines, `(id)` refers).
    fn file(&mut self, spec: &str, sources: &[&str]) -> anyhow::Result<bool> {
        let spec = spec.trim();
        let is_policy = |name: &str| sources.iter().any(|s| name.ends_with(s));
        match spec.strip_prefix('(') {
            Some(rest) => {
                let (id, name) = rest.split_once(')').with_context(|| format!("file name {spec:?}"))?;
                let name = name.trim();
                if name.is_empty() {
                    self.files.get(id).copied().with_context(|| format!("file ({id}) used before it is named"))
                } else {
                    let policy = is_policy(name);
                    self.files.insert(id.to_string(), policy);
                    Ok(policy)
                }
            }
            None => Ok(is_policy(spec)),
        }
    }
}

/// Reads a profile written with the default positions (`line`) and the event
/// `Ir` first.
pub(super) fn policy_share(profile: &str, sources: &[&str]) -> anyhow::Result<Share> {
    let mut share = Share::default();
    let mut cx = Reading::default();
    let mut positions = 1;
    for line in profile.lines() {
        let Some(first) = line.bytes().next() else { continue };
        if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'*') {
            let mut fields = line.split_ascii_whitespace().skip(positions);
            let cost: u64 = match fields.next() {
                Some(c) => c.parse().with_context(|| format!("cost line {line:?}"))?,
                None => 0,
            };
            let in_policy = cx.function_file || cx.line_file;
            match cx.call_to_policy.take() {
                Some(callee_is_policy) => {
                    if in_policy && !callee_is_policy {
                        share.policy += cost;
                    }
                }
                None => {
                    if in_policy {
                        share.policy += cost;
                    }
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else { continue };
        match key {
            "positions" => positions = value.split_ascii_whitespace().count().max(1),
            "events" if value.split_ascii_whitespace().next() != Some("Ir") => {
                bail!("the profile's first event is not Ir: {value}")
            }
            "summary" | "totals" => share.total = value.trim().parse().with_context(|| format!("{key}: {value}"))?,
            "fl" => {
                cx.function_file = cx.file(value, sources)?;
                cx.line_file = cx.function_file;
            }
            "fi" | "fe" => cx.line_file = cx.file(value, sources)?,
            "fn" => cx.line_file = cx.function_file,
            "cfi" | "cfl" => cx.callee_file = Some(cx.file(value, sources)?),
            "calls" => cx.call_to_policy = Some(cx.callee_file.take().unwrap_or(cx.function_file)),
            _ => {}
        }
    }
    if share.total == 0 {
        bail!("the profile has no summary");
    }
    Ok(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &[&str] = &["src/policy.rs"];

    /// A profile written by hand. `main` (main.rs) runs 100 instructions of
    /// its own, 7 of them on a line inlined from policy.rs; it calls `allows`
    /// (policy.rs) twice and `render` (page.rs, 40 of its own) once, which
    /// calls `allows` once more. `allows` runs 6 per call (18 in all) and its
    /// first call asks `alloc` for memory (5).
    const PROFILE: &str = "\
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 163

ob=(1) /usr/bin/custodian
fl=(1) /src/main.rs
fn=(1) main
10 60
fi=(2) /work/main/src/policy.rs
3 7
fe=(1)
11 33
cfi=(2)
cfn=(2) allows
calls=2 3
12 17
cfl=(3) /src/page.rs
cfn=(3) render
calls=1 1
13 46

fl=(2)
fn=(2)
3 18
cfl=(4) /rustc/library/alloc/src/raw_vec.rs
cfn=(4) alloc
calls=1 1
4 5

fl=(3)
fn=(3)
1 40
cfi=(2)
cfn=(2)
calls=1 3
2 6

fl=(4)
fn=(4)
1 5
";

    #[test]
    fn inlined_lines_policy_functions_and_what_they_call_count() {
        let share = policy_share(PROFILE, SOURCES).unwrap();
        // The line inlined into main, allows' own work over all three calls,
        // and the allocation it asked for; the calls into allows are not
        // counted again.
        assert_eq!(share, Share { total: 163, policy: 7 + 18 + 5 });
    }

    #[test]
    fn a_profile_without_totals_or_with_another_event_is_refused() {
        assert!(policy_share("events: Ir\nfl=(1) a.rs\nfn=(1) f\n1 5\n", SOURCES).is_err());
        assert!(policy_share("events: Dr Ir\nsummary: 5 5\n", SOURCES).is_err());
        assert!(policy_share("events: Ir\nsummary: 9\nfi=(7)\n", SOURCES).is_err(), "an unnamed file");
    }

    #[test]
    fn relative_positions_and_instruction_positions_are_read() {
        let profile =
            "positions: instr line\nevents: Ir\nsummary: 30\nfl=(1) x/src/policy.rs\nfn=(1) f\n0x10 3 10\n+2 +1 20\n";
        assert_eq!(policy_share(profile, SOURCES).unwrap(), Share { total: 30, policy: 30 });
    }
}
