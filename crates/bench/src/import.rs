//! Target 4: peak memory of the real command-line import of 100,000 customers.
//!
//! Writes a JSON-lines file, runs `custodian --data-dir <tmp> customer import
//! <file>` as a child process (the release binary next to this one), and polls
//! the child's `/proc/<pid>/status` every 20 ms for `VmHWM`, the peak resident
//! set size, which only grows. The last reading before the process exits is
//! reported; growth in the final polling interval would be missed.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::report::{Outcome, Table, megabytes, thousands, verdict};

const MAX_PEAK_BYTES: u64 = 200_000_000;
const POLL: Duration = Duration::from_millis(20);

pub struct Settings {
    pub customers: u64,
}

/// The `custodian` binary beside this executable.
pub(crate) fn custodian_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe.parent().context("this executable has no directory")?;
    let bin = dir.join("custodian");
    if !bin.is_file() {
        bail!(
            "{} not found: build it first with `cargo build --release -p custodian` (the import and web targets run the real binary)",
            bin.display()
        );
    }
    Ok(bin)
}

fn write_input(path: &Path, customers: u64) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for n in 1..=customers {
        let line = serde_json::json!({ "kind": "business", "fields": custodian_testkit::customer_fields(n) });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// `VmHWM` of `pid` in bytes, while the process is alive.
pub(crate) fn peak_rss(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmHWM:")
}

/// The resident memory of process `pid` now.
pub(crate) fn current_rss(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS:")
}

/// A size in kB from `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.trim_start_matches(field).trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

pub(crate) struct Run {
    pub wall: Duration,
    pub peak: u64,
    pub samples: usize,
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// `bin` with none of the caller's `CUSTODIAN_*` settings: the child must use
/// only what the bench gives it. Output is piped.
pub(crate) fn clean_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CUSTODIAN_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("CUSTODIAN_LANGUAGE", "en").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn run_child(bin: &Path, data_dir: &Path, input: &Path) -> anyhow::Result<Run> {
    let mut cmd = clean_command(bin);
    cmd.arg("--data-dir").arg(data_dir).args(["customer", "import"]).arg(input);
    run_measured(cmd)
}

/// Runs `cmd` to its end, polling its peak resident set size.
pub(crate) fn run_measured(mut cmd: Command) -> anyhow::Result<Run> {
    let start = Instant::now();
    let mut child = cmd.spawn().context("starting the custodian binary")?;
    let pid = child.id();
    let mut out_pipe = child.stdout.take().context("child stdout")?;
    let mut err_pipe = child.stderr.take().context("child stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let mut peak = 0u64;
    let mut samples = 0usize;
    let status = loop {
        if let Some(p) = peak_rss(pid) {
            peak = peak.max(p);
            samples += 1;
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(POLL);
    };
    let wall = start.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Run { wall, peak, samples, status, stdout, stderr })
}

pub async fn run(settings: &Settings) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let bin = custodian_binary()?;
    let customers = settings.customers;
    tokio::task::spawn_blocking(move || measure(&bin, customers)).await?
}

fn measure(bin: &Path, customers: u64) -> anyhow::Result<(Table, Vec<Outcome>)> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("customers.jsonl");
    eprintln!("import: writing {} customers to {} ...", thousands(customers), input.display());
    let size = write_input(&input, customers)?;
    let data_dir = dir.path().join("data");
    eprintln!("import: running {} customer import ...", bin.display());
    let run = run_child(bin, &data_dir, &input)?;
    if !run.status.success() {
        bail!("the import exited with {}:\n{}{}", run.status, run.stdout, run.stderr);
    }
    let expected = format!("imported {customers} customers");
    if !run.stdout.contains(&expected) {
        bail!("the import did not report {expected:?}; it printed:\n{}{}", run.stdout, run.stderr);
    }
    if run.samples == 0 {
        bail!("the import ended before its memory could be read");
    }
    let rate = customers as f64 / run.wall.as_secs_f64();
    let pass = run.peak < MAX_PEAK_BYTES;
    let mut t =
        Table::measurement(format!("[4] import of {} customers through the CLI (sqlite)", thousands(customers)));
    t.row([
        "peak RSS (VmHWM)".to_string(),
        megabytes(run.peak),
        String::new(),
        String::new(),
        "< 200 MB".into(),
        verdict(pass),
    ]);
    t.row(["wall time".to_string(), format!("{:.2} s", run.wall.as_secs_f64())]);
    t.row(["throughput".to_string(), format!("{} customers/s", thousands(rate.round() as u64))]);
    t.row(["exit code".to_string(), run.status.code().map_or_else(|| run.status.to_string(), |c| c.to_string())]);
    t.note(format!(
        "input: {} bytes of JSON lines; child: {} --data-dir <tmp> customer import <file>",
        thousands(size),
        bin.display()
    ));
    t.note(format!(
        "VmHWM polled every {} ms, {} readings; child said: {}",
        POLL.as_millis(),
        run.samples,
        run.stdout.trim()
    ));
    let outcome = Outcome::new(
        &format!("4 import {} peak RSS", thousands(customers)),
        "sqlite",
        megabytes(run.peak),
        "< 200 MB",
        pass,
    );
    Ok((t, vec![outcome]))
}
