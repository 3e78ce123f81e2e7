//! The policy's cost counted in instructions: each build's server runs under
//! valgrind's callgrind, every request is sent once to warm it up, the
//! counters are zeroed, each request is sent `PASSES` more times one after
//! another, and the counters are dumped. Unlike CPU time, the count does not
//! move with what else the machine does, so a 2% difference shows. Each
//! dump is also read line by line for the share the policy's own code ran
//! (`attribution`).

use std::path::Path;

use anyhow::{Context, bail};

use super::{Build, attribution, seed};
use crate::http::{Connection, Probe, Server};

/// How often each request is counted.
pub(super) const PASSES: usize = 4;

/// Instructions per answer to one phase's requests.
#[derive(Debug, Clone, Copy)]
pub(super) struct Count {
    pub all: f64,
    /// Those run by the policy's code (see `attribution`).
    pub policy: f64,
}

/// Instructions per answer, per phase.
pub(super) struct Counted {
    pub dashboard: Count,
    pub staff: Count,
    pub api: Count,
}

/// Whether valgrind's callgrind and its control program are installed.
pub(super) fn available() -> bool {
    let runs = |program: &str| {
        std::process::Command::new(program)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    runs("valgrind") && runs("callgrind_control")
}

pub(super) async fn count(build: &Build<'_>, seeded: &seed::Seeded, out_dir: &Path) -> anyhow::Result<Counted> {
    let out = out_dir.join(format!("callgrind.{}", build.label.replace(' ', "-")));
    let out_arg = format!("--callgrind-out-file={}.%p", out.display());
    let wrapper = ["valgrind", "--tool=callgrind", out_arg.as_str()];
    let key = build.db.key.to_hex();
    let env = [seed::ATTEMPTS, ("CUSTODIAN_READ_CACHE", "false")];
    let server = Server::start_under(&wrapper, &build.bin, &build.db.url, &key, build.data_dir.path(), &env).await?;
    let probes = super::probes(server.addr, seeded).await?;
    let dashboard = counted(&server, &probes.dashboards, &out, 1).await?;
    let staff = counted(&server, &probes.views, &out, 2).await?;
    let api = counted(&server, &probes.api, &out, 3).await?;
    Ok(Counted { dashboard, staff, api })
}

/// Instructions per answer to `probes`, read from the `dump`-th dump.
async fn counted(server: &Server, probes: &[Probe], out: &Path, dump: usize) -> anyhow::Result<Count> {
    let mut conn = Connection::open(server.addr).await?;
    send_all(&mut conn, probes).await?;
    control(server, "-z")?;
    for _ in 0..PASSES {
        send_all(&mut conn, probes).await?;
    }
    control(server, "-d")?;
    let file = format!("{}.{}.{dump}", out.display(), server.child.id());
    // The dump is written by the server process itself; it is whole once its
    // last line, the totals, is there.
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&file)
            && text.lines().any(|l| l.starts_with("totals: "))
        {
            let share = attribution::policy_share(&text, attribution::POLICY_SOURCES)
                .with_context(|| format!("reading {file}"))?;
            let answers = (PASSES * probes.len()) as f64;
            return Ok(Count { all: share.total as f64 / answers, policy: share.policy as f64 / answers });
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bail!("callgrind wrote no totals to {file}")
}

async fn send_all(conn: &mut Connection, probes: &[Probe]) -> anyhow::Result<()> {
    for probe in probes {
        let answer = conn.send(probe).await?;
        if !probe.accepts(&answer) {
            bail!("{} {} is not answered as expected: {}", probe.method, probe.uri, answer.describe());
        }
    }
    Ok(())
}

fn control(server: &Server, what: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("callgrind_control")
        .arg(what)
        .arg(server.child.id().to_string())
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("callgrind_control {what} failed: {status}");
    }
    Ok(())
}
