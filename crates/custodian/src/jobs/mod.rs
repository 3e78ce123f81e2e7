//! The scheduled jobs of `custodian serve` (retention, backups), each run by
//! one instance at a time however many serve one database.
//!
//! Every instance looks at each job on the job's interval, but only the
//! holder of the job's lease in the database (see the store's `jobs`) does
//! the work. The holder renews the lease while it works and while it waits,
//! so the job stays with it; a holder that is killed stops renewing, and the
//! first instance to look after the lease ran out takes the job over. A run
//! whose lease was taken over (its instance stalled longer than the lease) is
//! stopped, so two runs of one job never overlap.

pub(crate) mod backup;
pub(crate) mod retention;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use custodian_store::Store;
use serde::Deserialize;
use tokio::time::Instant;

/// The `[jobs]` settings.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How long a job's lease holds without renewal (seconds): a killed
    /// instance's jobs are taken over after at most this plus an interval.
    /// Default 120.
    pub lease_secs: u64,
    /// Seconds between looks at retention (erasure requests, the scheduled
    /// run, notices, clean-ups). Default 300.
    pub retention_interval_secs: u64,
    /// Seconds between looks at backups (the nightly snapshot, the erasure
    /// journal). Default 15.
    pub backup_interval_secs: u64,
    /// Seconds to wait after a look that failed. Default 300.
    pub retry_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { lease_secs: 120, retention_interval_secs: 300, backup_interval_secs: 15, retry_secs: 300 }
    }
}

impl JobsConfig {
    /// What is wrong with these settings, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.lease_secs < 3 {
            return Some("lease_secs must be 3 or more (the lease is renewed every third of it)".into());
        }
        if self.retention_interval_secs == 0 || self.backup_interval_secs == 0 || self.retry_secs == 0 {
            return Some("intervals and retry_secs must be 1 or more".into());
        }
        None
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// A job: what one look does, and how long to wait before the next.
pub(crate) trait Job {
    /// The name of the job's lease.
    const NAME: &'static str;
    /// Does what is due now. `taken_over`: this instance did not hold the
    /// job at its previous look, so what it remembers of the job may be
    /// another instance's past: read it again.
    fn look(&mut self, taken_over: bool) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// The wait after a look.
    fn interval(&self) -> Duration;
}

/// This instance's name in the leases: host, process ID and a random part
/// (a restarted process with a reused ID is another holder).
pub(crate) fn holder() -> Arc<str> {
    // /etc/hostname first: a hardened service may not see /proc/sys.
    let host = std::fs::read_to_string("/etc/hostname")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "host" } else { host };
    format!("{host}/{}/{:08x}", std::process::id(), rand::random::<u32>()).into()
}

/// Looks at `job` until `stopped` changes, doing the work whenever this
/// instance holds the job's lease; gives the lease up on the way out.
pub(crate) async fn lead<J: Job>(
    store: Store,
    config: JobsConfig,
    holder: Arc<str>,
    mut job: J,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let lease = config.lease();
    let mut held = false;
    loop {
        let mut pause = job.interval();
        match store.lead_job(J::NAME, &holder, lease).await {
            Ok(true) => {
                let taken_over = !held;
                held = true;
                if taken_over {
                    tracing::info!(job = J::NAME, "job: run by this instance");
                }
                if let Err(e) = run(&store, J::NAME, &holder, lease, job.look(taken_over)).await {
                    // Errors name records by number only, never their content.
                    tracing::warn!(job = J::NAME, error = %e, "job: will try again");
                    pause = Duration::from_secs(config.retry_secs);
                }
            }
            Ok(false) => {
                if held {
                    tracing::info!(job = J::NAME, "job: run by another instance now");
                }
                held = false;
            }
            Err(e) => {
                tracing::warn!(job = J::NAME, error = %e, "job: the lease could not be read; will try again");
                held = false;
            }
        }
        // Wait, renewing the lease meanwhile so the job stays here.
        let until = Instant::now() + pause;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let step = if held { left.min(lease / 3) } else { left };
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                _ = stopped.changed() => {
                    if held {
                        let _ = store.leave_job(J::NAME, &holder).await;
                    }
                    return;
                }
            }
            if held && Instant::now() < until {
                held = store.lead_job(J::NAME, &holder, lease).await.unwrap_or(false);
            }
        }
    }
}

/// Runs `work` as a recorded run of job `name`, renewing the lease while it
/// works; stops it when the lease is lost.
async fn run(
    store: &Store,
    name: &str,
    holder: &str,
    lease: Duration,
    work: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    if !store.job_started(name, holder).await? {
        anyhow::bail!("the lease ran out before the run began");
    }
    let heartbeat = async {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(lease / 3).await;
            match store.lead_job(name, holder, lease).await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(job = name, error = %e, "job: the lease could not be renewed");
                    if renewed.elapsed() >= lease {
                        return;
                    }
                }
            }
        }
    };
    let result = tokio::select! {
        r = work => r,
        () = heartbeat => Err(anyhow::anyhow!("the lease went to another instance; this run stopped")),
    };
    store.job_ended(name, holder, result.is_ok()).await?;
    result
}
