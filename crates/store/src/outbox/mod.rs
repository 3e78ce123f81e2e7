//! The message outbox: every e-mail and SMS is written here before it is sent,
//! so a crash never loses one, and a worker (crate `custodian-notify`) sends it.
//!
//! * **Personal data sealed and short-lived.** Recipient, subject and body are
//!   sealed under the system key with associated data `outbox/<id>/<column>`, and
//!   set to NULL as soon as the message is sent, given up or cancelled. What stays
//!   is non-personal status: kind, attempts, times, the provider's (scrubbed) error.
//! * **Leases** (`crate::lease`, shared with the registry queue).
//!   [`Outbox::claim`] moves due messages to `sending` with a lease (an expiry
//!   time and a random claim token) in one writing transaction, so two workers
//!   or instances never hold the same message. Only the holder of the current
//!   token can mark it sent, reschedule or give it up. A worker that dies
//!   mid-send leaves its lease to expire; the next claim takes the message over
//!   and counts it in `retried_after_lease_expiry`: the send may have happened,
//!   so the retry is a *possible duplicate*, recorded, never silent.
//!
//! Queueing and cancelling are in `queue.rs`, claiming and settling in
//! `claims.rs`, the status reads here.
//! * **Consent (A9).** An e-mail cannot be queued without an [`EmailConsent`]:
//!   either the customer's recorded consent, or a named exemption.
//! * **Audit.** Queueing, sending (the disclosure to the mail or SMS provider),
//!   giving up and cancelling append audit entries with the outbox ID, never a
//!   value. Sending is recorded with the purpose given when the message was queued.
//!
//! All times are microseconds since the epoch and passed in by the caller, so
//! the worker's clock (and a test's) decides what is due.

use std::fmt;

use custodian_domain::validate::{Email, Phone};
use serde::Serialize;
use sqlx::Row;
use zeroize::Zeroizing;

use crate::audit::{Access, AccessPurpose, Actor};
use crate::crypto::field_aad;
use crate::{Store, StoreError};

mod claims;
mod queue;

pub use crate::lease::ClaimTicket;

const TABLE: &str = "outbox";
/// The sealed columns, wiped when a message is finished.
pub const PERSONAL_COLUMNS: [&str; 4] = ["recipient", "subject", "body", "attachment"];
/// Longest error text kept (characters).
const ERROR_MAX_CHARS: usize = 500;
/// Longest body accepted (bytes): far above any notice, far below a mail server's limit.
const BODY_MAX_BYTES: usize = 64 * 1024;
const SUBJECT_MAX_CHARS: usize = 200;
/// Largest attachment accepted (bytes): an invoice's PDF is a few kilobytes.
const ATTACHMENT_MAX_BYTES: usize = 2 * 1024 * 1024;
/// The `meta` row that holds the per-installation value of message IDs.
const INSTALLATION_META: &str = "outbox_installation";
/// The actor that sends, gives up and takes over expired leases.
pub const WORKER_ACTOR: &str = "outbox";

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Why an e-mail may be sent at all (A9: e-mail only to customers who consented).
/// The enqueue API takes one, so the question cannot be skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailConsent {
    /// The customer's recorded consent to e-mail (`customers.email_consent`) is
    /// yes. The caller read it; the outbox records that it was claimed.
    Given,
    /// A mail that needs no customer consent, for a named reason.
    NotRequired(ConsentExemption),
}

/// The closed list of e-mails that need no consent. Adding one is a decision
/// about the privacy protocol, not a convenience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentExemption {
    /// A system mail to a staff member or the owner about their own account or
    /// work (no customer is written to).
    StaffAccount,
}

impl EmailConsent {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailConsent::Given => "given",
            EmailConsent::NotRequired(ConsentExemption::StaffAccount) => "not_required:staff_account",
        }
    }
}

/// What to send, to whom. The recipient types are validated values.
pub enum Outgoing {
    Email { to: Email, consent: EmailConsent, subject: String, text: String, attachment: Option<Attachment> },
    Sms { to: Phone, text: String },
}

/// A file sent with an e-mail. Only the company's own documents for the
/// recipient go this way (an invoice to a business customer, A12); never an
/// export of personal data (A10).
#[derive(Clone)]
pub struct Attachment {
    /// The file name the recipient sees: letters, digits, `-`, `_` and one
    /// `.` before the extension; no personal data (it is not sealed).
    pub name: String,
    pub content_type: AttachmentType,
    pub bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Attachment {{ {:?}, {} bytes }}", self.content_type, self.bytes.len())
    }
}

/// The kinds of file an e-mail may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    Pdf,
}

impl AttachmentType {
    pub fn mime(self) -> &'static str {
        match self {
            AttachmentType::Pdf => "application/pdf",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            AttachmentType::Pdf => "pdf",
        }
    }

    /// The type of a stored file name, by its extension.
    fn of(name: &str) -> Option<AttachmentType> {
        name.rsplit_once('.').and_then(|(_, ext)| (ext == "pdf").then_some(AttachmentType::Pdf))
    }
}

/// Whether `name` is a plain file name of `kind`: `stem.ext`, the stem of
/// letters, digits, `-` and `_`.
fn valid_attachment_name(name: &str, kind: AttachmentType) -> bool {
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            ext == kind.extension()
                && (1..=100).contains(&stem.len())
                && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outgoing::Email { consent, .. } => write!(f, "Outgoing::Email {{ consent: {consent:?}, .. }}"),
            Outgoing::Sms { .. } => f.write_str("Outgoing::Sms { .. }"),
        }
    }
}

impl Outgoing {
    pub fn channel(&self) -> Channel {
        match self {
            Outgoing::Email { .. } => Channel::Email,
            Outgoing::Sms { .. } => Channel::Sms,
        }
    }
}

/// A message to queue.
#[derive(Debug)]
pub struct NewMessage {
    /// The message kind's code (`login_name`, `activation_code`, ...): lower-case
    /// ASCII letters, digits, `_` and `.`. Non-personal; kept after sending.
    pub kind: &'static str,
    /// The customer the message is about, if any (so erasure can cancel it).
    pub customer_id: Option<i64>,
    pub content: Outgoing,
}

/// The state of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// Claimed by a worker whose lease has not been released.
    Sending,
    Sent,
    /// Given up after the last attempt or a permanent refusal.
    Failed,
    Cancelled,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Pending,
            MessageStatus::Sending,
            MessageStatus::Sent,
            MessageStatus::Failed,
            MessageStatus::Cancelled,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// What a claim asks for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub now: i64,
    /// How long the claim holds, in microseconds. Must exceed the longest send.
    pub lease_micros: i64,
    /// At most this many messages.
    pub limit: i64,
    /// Only these channels (the ones this worker can send).
    pub channels: &'a [Channel],
    /// A message whose lease expired after this many attempts is given up rather
    /// than tried again (a message that makes its worker crash must not loop).
    pub max_attempts: i64,
}

/// The opened content of a claimed message. Wiped from memory when dropped.
pub enum Content {
    Email { to: Zeroizing<String>, subject: Zeroizing<String>, text: Zeroizing<String>, attachment: Option<Attachment> },
    Sms { to: Zeroizing<String>, text: Zeroizing<String> },
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::Email { .. } => f.write_str("Content::Email { .. }"),
            Content::Sms { .. } => f.write_str("Content::Sms { .. }"),
        }
    }
}

/// A message claimed for sending.
#[derive(Debug)]
pub struct Claimed {
    pub ticket: ClaimTicket,
    pub kind: String,
    /// The number of this attempt (1 for the first).
    pub attempt: i64,
    /// Whether this claim took over an expired lease: an earlier attempt may
    /// have been delivered, so this send is a possible duplicate.
    pub took_over_expired_lease: bool,
    /// How often this message was taken over after an expired lease, in total.
    pub retried_after_lease_expiry: i64,
    pub content: Content,
}

impl Claimed {
    pub fn id(&self) -> i64 {
        self.ticket.id
    }

    pub fn channel(&self) -> Channel {
        match self.content {
            Content::Email { .. } => Channel::Email,
            Content::Sms { .. } => Channel::Sms,
        }
    }
}

/// The non-personal state of one message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageState {
    pub id: i64,
    pub channel: Channel,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub status: MessageStatus,
    pub attempts: i64,
    pub retried_after_lease_expiry: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub last_error: Option<String>,
    /// Whether recipient, subject and body are gone (true once finished).
    pub content_wiped: bool,
}

/// Counts for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Messages that were taken over after an expired lease at least once.
    pub possible_duplicates: i64,
}

/// The outbox of a [`Store`]; see the module documentation.
#[derive(Clone, Copy)]
pub struct Outbox<'s> {
    store: &'s Store,
}

impl Store {
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { store: self }
    }
}

fn seal(store: &Store, id: i64, column: &str, value: &str) -> Vec<u8> {
    store.keys.system.seal(&field_aad(TABLE, id, column), value.as_bytes())
}

fn seal_bytes(store: &Store, id: i64, column: &str, value: &[u8]) -> Vec<u8> {
    store.keys.system.seal(&field_aad(TABLE, id, column), value)
}

fn open_bytes(store: &Store, id: i64, column: &str, sealed: Option<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let sealed = sealed.ok_or_else(|| StoreError::Corrupt(format!("outbox message {id} has no {column}")))?;
    Ok(store.keys.system.open(&field_aad(TABLE, id, column), &sealed)?)
}

fn open(store: &Store, id: i64, column: &str, sealed: Option<Vec<u8>>) -> Result<Zeroizing<String>, StoreError> {
    let plain = open_bytes(store, id, column, sealed)?;
    let text = std::str::from_utf8(&plain).map_err(|_| crate::CryptoError::Malformed)?;
    Ok(Zeroizing::new(text.to_string()))
}

/// A stored attachment, opened: none when the message has no file name.
fn open_attachment(
    store: &Store,
    id: i64,
    name: Option<String>,
    sealed: Option<Vec<u8>>,
) -> Result<Option<Attachment>, StoreError> {
    let Some(name) = name else { return Ok(None) };
    let content_type = AttachmentType::of(&name)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox message {id}: attachment type")))?;
    Ok(Some(Attachment { name, content_type, bytes: open_bytes(store, id, "attachment", sealed)? }))
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Config(msg.into())
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= 64
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// `text` cut to [`ERROR_MAX_CHARS`] characters, control characters replaced.
fn clip_error(text: &str) -> String {
    let mut out: String = text.chars().take(ERROR_MAX_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().count() > ERROR_MAX_CHARS {
        out.push('…');
    }
    out
}

fn worker_access(purpose: &str) -> Access {
    Access::new(Actor::job(WORKER_ACTOR), AccessPurpose::parse(purpose).unwrap_or(AccessPurpose::Administration))
}

const WIPE: &str = "recipient = NULL, subject = NULL, body = NULL, attachment = NULL, attachment_name = NULL";

impl Outbox<'_> {
    /// The non-personal state of one message.
    pub async fn state(self, id: i64) -> Result<Option<MessageState>, StoreError> {
        let row = sqlx::query(
            "SELECT id, channel, kind, customer_id, status, attempts, retried_after_lease_expiry, created_at,
                    next_attempt_at, last_attempt_at, finished_at, last_error,
                    CAST(CASE WHEN recipient IS NULL AND subject IS NULL AND body IS NULL AND attachment IS NULL THEN 1 ELSE 0 END AS BIGINT)
             FROM outbox WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let channel: String = r.try_get(1)?;
        let status: String = r.try_get(4)?;
        let wiped: i64 = r.try_get(12)?;
        Ok(Some(MessageState {
            id: r.try_get(0)?,
            channel: Channel::parse(&channel)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown outbox channel {channel:?}")))?,
            kind: r.try_get(2)?,
            customer_id: r.try_get(3)?,
            status: MessageStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown outbox status {status:?}")))?,
            attempts: r.try_get(5)?,
            retried_after_lease_expiry: r.try_get(6)?,
            created_at: r.try_get(7)?,
            next_attempt_at: r.try_get(8)?,
            last_attempt_at: r.try_get(9)?,
            finished_at: r.try_get(10)?,
            last_error: r.try_get(11)?,
            content_wiped: wiped == 1,
        }))
    }

    /// How many messages are in each state.
    pub async fn counts(self) -> Result<OutboxCounts, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetch_all(&self.store.pool).await?;
        let mut c = OutboxCounts::default();
        for (status, n) in rows {
            match MessageStatus::parse(&status) {
                Some(MessageStatus::Pending) => c.pending = n,
                Some(MessageStatus::Sending) => c.sending = n,
                Some(MessageStatus::Sent) => c.sent = n,
                Some(MessageStatus::Failed) => c.failed = n,
                Some(MessageStatus::Cancelled) => c.cancelled = n,
                None => {}
            }
        }
        c.possible_duplicates = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE retried_after_lease_expiry > 0")
            .fetch_one(&self.store.pool)
            .await?;
        Ok(c)
    }

    /// The earliest time a pending message is due, if any (for the worker's sleep).
    pub async fn next_due(self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END) FROM outbox
             WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.store.pool)
        .await?)
    }

    /// Deletes finished messages (their rows hold no personal data any more)
    /// that finished before `before`; returns how many.
    pub async fn purge_finished(self, before: i64) -> Result<u64, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let n = sqlx::query("DELETE FROM outbox WHERE status IN ('sent', 'failed', 'cancelled') AND finished_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// A random value that is fixed for this database, made on first use: with
    /// the outbox ID it makes message IDs unique across installations.
    pub async fn installation_id(self) -> Result<String, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(INSTALLATION_META)
            .bind(crate::lease::new_token())
            .execute(&mut *tx)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(INSTALLATION_META)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_errors_are_kept_tidy() {
        assert!(valid_kind("login_name"));
        assert!(valid_kind("portal.notice"));
        assert!(!valid_kind(""));
        assert!(!valid_kind("Login"));
        assert!(!valid_kind("a b"));
        let long = "x".repeat(600);
        assert_eq!(clip_error(&long).chars().count(), ERROR_MAX_CHARS + 1);
        assert_eq!(clip_error("a\nb"), "a b");
    }

    #[test]
    fn debug_output_holds_no_content() {
        let c = Content::Sms { to: Zeroizing::new("+31612345678".into()), text: Zeroizing::new("code 123456".into()) };
        let shown = format!("{c:?}");
        assert!(!shown.contains("+316") && !shown.contains("123456"));
    }
}
