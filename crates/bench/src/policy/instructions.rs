//! The policy's cost counted in instructions: each build's server runs under
//! valgrind's callgrind, every request is sent once to warm it up, the
//! counters are zeroed, each request is sent `PASSES` more times one after
//! another, and the counters are dumped. Unlike CPU time, the count does not
//! move with what else the machine does, so a 2% difference shows.

use std::path::Path;

use anyhow::{Context, bail};

use super::{Build, seed};
use crate::http::{Connection, Probe, Server};

/// How often each request is counted.
pub(super) const PASSES: usize = 4;

/// Instructions per answer, per phase.
pub(super) struct Counted {
    pub dashboard: f64,
    pub staff: f64,
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
    let (dashboards, views) = super::probes(server.addr, seeded).await?;
    let dashboard = counted(&server, &dashboards, &out, 1).await?;
    let staff = counted(&server, &views, &out, 2).await?;
    Ok(Counted { dashboard, staff })
}

/// Instructions per answer to `probes`, read from the `dump`-th dump.
async fn counted(server: &Server, probes: &[Probe], out: &Path, dump: usize) -> anyhow::Result<f64> {
    let mut conn = Connection::open(server.addr).await?;
    send_all(&mut conn, probes).await?;
    control(server, "-z")?;
    for _ in 0..PASSES {
        send_all(&mut conn, probes).await?;
    }
    control(server, "-d")?;
    let file = format!("{}.{}.{dump}", out.display(), server.child.id());
    // The dump is written by the server process itself; wait until it is whole.
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(total) = text.lines().find_map(|l| l.strip_prefix("summary: "))
        {
            let total: f64 = total.trim().parse().with_context(|| format!("summary in {file}"))?;
            return Ok(total / (PASSES * probes.len()) as f64);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bail!("callgrind wrote no summary to {file}")
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
