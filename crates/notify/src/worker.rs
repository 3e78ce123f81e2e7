//! The worker that drains the outbox.
//!
//! Each round claims due messages one at a time (so every message's lease starts
//! right before its own send), sends it, and then marks it sent, reschedules it
//! with exponential backoff, or gives it up. Sending is at-least-once: a worker
//! that dies between sending and marking leaves its lease to expire, and the
//! message is sent again by whoever claims it next. That retry is never silent:
//! the outbox row counts it in `retried_after_lease_expiry`, the log says so,
//! and the e-mail's Message-ID and the SMS reference are the same on every
//! attempt, so the receiving side can tell.
//!
//! Logs name outbox IDs, kinds, attempts and scrubbed provider errors; never an
//! address, number, name or text.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use custodian_store::Store;
use custodian_store::lease::retry_delay_secs;
use custodian_store::outbox::{Channel, ClaimRequest, Claimed, Content, OutboxCounts};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::clock::{Clock, micros};
use crate::mail::{Mailer, OutgoingEmail};
use crate::sms::{OutgoingSms, SmsGateway};
use crate::{NotifyError, SendError};

/// The `[outbox]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// How long a claim holds (seconds). A worker that stops mid-send blocks its
    /// message this long before another takes over. Must be more than twice the
    /// senders' timeouts. Default 300.
    pub lease_secs: u64,
    /// Messages per round at most. Default 20.
    pub batch: u32,
    /// Seconds between rounds while the outbox is idle. Default 5.
    pub poll_interval_secs: u64,
    /// Delay after the first failed attempt (seconds); it doubles with every
    /// further failure. Default 30.
    pub retry_first_delay_secs: u64,
    /// The longest delay between attempts (seconds). Default 3600.
    pub retry_max_delay_secs: u64,
    /// Attempts before a message is given up (`failed`). Default 10.
    pub max_attempts: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            lease_secs: 300,
            batch: 20,
            poll_interval_secs: 5,
            retry_first_delay_secs: 30,
            retry_max_delay_secs: 3600,
            max_attempts: 10,
        }
    }
}

impl WorkerConfig {
    /// The wait after failed attempt number `attempt` (1-based): the first delay,
    /// doubled per further attempt, capped at the maximum.
    pub fn retry_delay(&self, attempt: i64) -> Duration {
        Duration::from_secs(retry_delay_secs(self.retry_first_delay_secs, self.retry_max_delay_secs, attempt))
    }

    fn validate(&self) -> Result<(), NotifyError> {
        let bad = |m: &str| Err(NotifyError::Config(format!("outbox: {m}")));
        if self.lease_secs == 0 || self.batch == 0 || self.poll_interval_secs == 0 {
            return bad("lease_secs, batch and poll_interval_secs must be at least 1");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1");
        }
        if self.retry_first_delay_secs == 0 || self.retry_max_delay_secs < self.retry_first_delay_secs {
            return bad("retry_first_delay_secs must be at least 1 and at most retry_max_delay_secs");
        }
        Ok(())
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: usize,
    pub sent: usize,
    /// Failed attempts that will be retried.
    pub retrying: usize,
    /// Messages given up.
    pub failed: usize,
    /// Claims taken over from a worker whose lease expired (possible duplicates).
    pub possible_duplicates: usize,
    /// Sends whose claim was gone by the time they finished (expired and taken
    /// over, or cancelled).
    pub lost_claims: usize,
}

/// Drains the outbox; see the module documentation.
pub struct Worker {
    store: Store,
    config: WorkerConfig,
    clock: Arc<dyn Clock>,
    mailer: Option<Mailer>,
    sms: Option<SmsGateway>,
    channels: Vec<Channel>,
    send_deadline: Duration,
    installation: OnceCell<String>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("config", &self.config).field("channels", &self.channels).finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker for the channels that have a sender; messages of a channel
    /// without one stay queued.
    pub fn new(
        store: Store,
        config: WorkerConfig,
        clock: Arc<dyn Clock>,
        mailer: Option<Mailer>,
        sms: Option<SmsGateway>,
    ) -> Result<Worker, NotifyError> {
        config.validate()?;
        let lease = Duration::from_secs(config.lease_secs);
        let send_deadline = lease / 2;
        let longest =
            mailer.as_ref().map(Mailer::timeout).into_iter().chain(sms.as_ref().map(SmsGateway::timeout)).max();
        if longest.is_some_and(|t| t >= send_deadline) {
            return Err(NotifyError::Config(
                "outbox.lease_secs must be more than twice the SMTP and SMS timeouts, so a live worker never loses its claim".into(),
            ));
        }
        let mut channels = Vec::new();
        if mailer.is_some() {
            channels.push(Channel::Email);
        }
        if sms.is_some() {
            channels.push(Channel::Sms);
        }
        Ok(Worker { store, config, clock, mailer, sms, channels, send_deadline, installation: OnceCell::new() })
    }

    /// Message counts by state, for monitoring.
    pub async fn counts(&self) -> Result<OutboxCounts, NotifyError> {
        Ok(self.store.outbox().counts().await?)
    }

    /// One round: claims and sends due messages until none is due or `batch`
    /// were handled.
    pub async fn run_once(&self) -> Result<RunReport, NotifyError> {
        let mut report = RunReport::default();
        if self.channels.is_empty() {
            return Ok(report);
        }
        let installation = self.installation.get_or_try_init(|| self.store.outbox().installation_id()).await?;
        while report.claimed < self.config.batch as usize {
            let request = ClaimRequest {
                now: self.clock.now_micros(),
                lease_micros: micros(Duration::from_secs(self.config.lease_secs)),
                limit: 1,
                channels: &self.channels,
                max_attempts: i64::from(self.config.max_attempts),
            };
            let Some(message) = self.store.outbox().claim(&request).await?.pop() else { break };
            report.claimed += 1;
            self.deliver(message, installation, &mut report).await?;
        }
        Ok(report)
    }

    /// Runs rounds until `shutdown` completes (checked between rounds, so a
    /// send in progress is finished and recorded).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let idle = Duration::from_secs(self.config.poll_interval_secs);
        loop {
            let pause = match self.run_once().await {
                Ok(r) if r.claimed >= self.config.batch as usize => Duration::ZERO,
                Ok(_) => idle,
                Err(e) => {
                    tracing::error!(error = %e, "outbox round failed");
                    idle
                }
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn send(&self, message: &Claimed, installation: &str) -> Result<(), SendError> {
        let id = message.id();
        match &message.content {
            Content::Email { to, subject, text, attachment } => {
                let Some(mailer) = &self.mailer else {
                    return Err(SendError::transient("no e-mail sender configured"));
                };
                let message_id = mailer.message_id(id, installation);
                let attachment = attachment.as_ref();
                mailer.send(&OutgoingEmail { message_id: &message_id, to, subject, text, attachment }).await
            }
            Content::Sms { to, text } => {
                let Some(sms) = &self.sms else { return Err(SendError::transient("no SMS sender configured")) };
                sms.send(&OutgoingSms { reference: &id.to_string(), to, text }).await
            }
        }
    }

    async fn deliver(&self, message: Claimed, installation: &str, report: &mut RunReport) -> Result<(), NotifyError> {
        let id = message.id();
        let kind = message.kind.clone();
        let attempt = message.attempt;
        let max = i64::from(self.config.max_attempts);
        if message.took_over_expired_lease {
            report.possible_duplicates += 1;
            tracing::warn!(
                outbox_id = id,
                kind = %kind,
                attempt,
                retried_after_lease_expiry = message.retried_after_lease_expiry,
                "taking over a message whose worker stopped while sending: possible duplicate (same Message-ID or reference as before)"
            );
        }
        let result = match tokio::time::timeout(self.send_deadline, self.send(&message, installation)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::transient(
                "the send took longer than half the lease and was abandoned; it may have arrived",
            )),
        };
        let ticket = message.ticket.clone();
        drop(message);
        let now = self.clock.now_micros();
        let outbox = self.store.outbox();
        let held = match result {
            Ok(()) => {
                let held = outbox.mark_sent(&ticket, now).await?;
                if held {
                    report.sent += 1;
                    tracing::info!(outbox_id = id, kind = %kind, attempt, "message sent");
                }
                held
            }
            Err(e) if e.permanent || attempt >= max => {
                let why = if e.permanent { "refused" } else { "given up" };
                let text = format!("{why} at attempt {attempt} of {max}: {}", e.detail);
                let held = outbox.give_up(&ticket, &text, now).await?;
                if held {
                    report.failed += 1;
                    tracing::warn!(outbox_id = id, kind = %kind, attempt, error = %e.detail, "message failed for good");
                }
                held
            }
            Err(e) => {
                let delay = self.config.retry_delay(attempt);
                let text = format!("attempt {attempt} of {max}: {}", e.detail);
                let held = outbox.reschedule(&ticket, now.saturating_add(micros(delay)), &text).await?;
                if held {
                    report.retrying += 1;
                    tracing::info!(
                        outbox_id = id,
                        kind = %kind,
                        attempt,
                        retry_in_secs = delay.as_secs(),
                        error = %e.detail,
                        "send failed, will retry"
                    );
                }
                held
            }
        };
        if !held {
            report.lost_claims += 1;
            tracing::warn!(
                outbox_id = id,
                kind = %kind,
                attempt,
                "the claim expired or was cancelled before the result was recorded; another attempt may follow (possible duplicate)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = WorkerConfig::default();
        let secs: Vec<u64> = (1..=10).map(|a| c.retry_delay(a).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(c.retry_delay(1000).as_secs(), 3600);
        assert_eq!(c.retry_delay(0).as_secs(), 30);
    }
}
