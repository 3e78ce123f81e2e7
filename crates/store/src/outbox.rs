//! The message outbox: every e-mail and SMS is written here before it is sent,
//! so a crash never loses one, and a worker (crate `custodian-notify`) sends it.
//!
//! * **Personal data sealed and short-lived.** Recipient, subject and body are
//!   sealed under the system key with associated data `outbox/<id>/<column>`, and
//!   set to NULL as soon as the message is sent, given up or cancelled. What stays
//!   is non-personal status: kind, attempts, times, the provider's (scrubbed) error.
//! * **Leases.** [`Outbox::claim`] moves due messages to `sending` with a lease
//!   (an expiry time and a random claim token) in one writing transaction, so two
//!   workers or instances never hold the same message. Only the holder of the
//!   current token can mark it sent, reschedule or give it up. A worker that dies
//!   mid-send leaves its lease to expire; the next claim takes the message over
//!   and counts it in `retried_after_lease_expiry`: the send may have happened,
//!   so the retry is a *possible duplicate*, recorded, never silent.
//! * **Consent (A9).** An e-mail cannot be queued without an [`EmailConsent`]:
//!   either the customer's recorded consent, or a named exemption.
//! * **Audit.** Queueing, sending (the disclosure to the mail or SMS provider),
//!   giving up and cancelling append audit entries with the outbox ID, never a
//!   value. Sending is recorded with the purpose given when the message was queued.
//!
//! All times are microseconds since the epoch and passed in by the caller, so
//! the worker's clock (and a test's) decides what is due.

use std::fmt;

use custodian_domain::policy::{Action, Principal, Resource};
use custodian_domain::validate::{Email, Phone};
use rand::RngCore;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use zeroize::Zeroizing;

use crate::audit::{self, Access, AccessPurpose, Actor, Event};
use crate::crypto::field_aad;
use crate::{Store, StoreError};

const TABLE: &str = "outbox";
/// The sealed columns, wiped when a message is finished.
pub const PERSONAL_COLUMNS: [&str; 3] = ["recipient", "subject", "body"];
/// Longest error text kept (characters).
const ERROR_MAX_CHARS: usize = 500;
/// Longest body accepted (bytes): far above any notice, far below a mail server's limit.
const BODY_MAX_BYTES: usize = 64 * 1024;
const SUBJECT_MAX_CHARS: usize = 200;
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
    Email { to: Email, consent: EmailConsent, subject: String, text: String },
    Sms { to: Phone, text: String },
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

/// Proof of holding a claim: the row and the claim's random token.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimTicket {
    pub id: i64,
    token: String,
}

impl fmt::Debug for ClaimTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimTicket {{ id: {}, .. }}", self.id)
    }
}

/// The opened content of a claimed message. Wiped from memory when dropped.
pub enum Content {
    Email { to: Zeroizing<String>, subject: Zeroizing<String>, text: Zeroizing<String> },
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

fn open(store: &Store, id: i64, column: &str, sealed: Option<Vec<u8>>) -> Result<Zeroizing<String>, StoreError> {
    let sealed = sealed.ok_or_else(|| StoreError::Corrupt(format!("outbox message {id} has no {column}")))?;
    let plain = store.keys.system.open(&field_aad(TABLE, id, column), &sealed)?;
    let text = std::str::from_utf8(&plain).map_err(|_| crate::CryptoError::Malformed)?;
    Ok(Zeroizing::new(text.to_string()))
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

fn new_token() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn worker_access(purpose: &str) -> Access {
    Access::new(Actor::job(WORKER_ACTOR), AccessPurpose::parse(purpose).unwrap_or(AccessPurpose::Administration))
}

const WIPE: &str = "recipient = NULL, subject = NULL, body = NULL";

impl Outbox<'_> {
    /// Queues a message and returns its outbox ID. The message is due at `now`.
    /// A customer may only queue messages about themselves.
    pub async fn enqueue(self, access: &Access, message: NewMessage, now: i64) -> Result<i64, StoreError> {
        if !valid_kind(message.kind) {
            return Err(invalid("an outbox message kind is lower-case ASCII, digits, '_' and '.'"));
        }
        match message.customer_id {
            Some(c) => crate::permit::require_on(access, c, Resource::Messages, Action::Write)?,
            None if access.actor.principal() == Principal::Subject => {
                return Err(crate::permit::denial(Resource::Messages, Action::Write));
            }
            None => crate::permit::require(access, Resource::Messages, Action::Write)?,
        }
        let channel = message.content.channel();
        let (to, consent, subject, text) = match &message.content {
            Outgoing::Email { to, consent, subject, text } => {
                (to.ascii(), Some(consent.as_str()), Some(subject.as_str()), text.as_str())
            }
            Outgoing::Sms { to, text } => (to.as_str().to_string(), None, None, text.as_str()),
        };
        if text.trim().is_empty() || text.len() > BODY_MAX_BYTES {
            return Err(invalid(format!("an outbox message body holds 1 to {BODY_MAX_BYTES} bytes")));
        }
        if let Some(s) = subject
            && (s.trim().is_empty() || s.chars().count() > SUBJECT_MAX_CHARS || s.chars().any(char::is_control))
        {
            return Err(invalid(format!("an e-mail subject holds 1 to {SUBJECT_MAX_CHARS} characters on one line")));
        }
        let store = self.store;
        let mut tx = crate::db::write_tx(&store.pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (channel, kind, customer_id, consent, purpose, status, attempts, retried_after_lease_expiry, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, 0, $6, $6) RETURNING id",
        )
        .bind(channel.as_str())
        .bind(message.kind)
        .bind(message.customer_id)
        .bind(consent)
        .bind(access.purpose.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let sealed_subject = subject.map(|s| seal(store, id, "subject", s));
        sqlx::query("UPDATE outbox SET recipient = $1, subject = $2, body = $3 WHERE id = $4")
            .bind(seal(store, id, "recipient", &to))
            .bind(sealed_subject)
            .bind(seal(store, id, "body", text))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let fields: Vec<&str> =
            PERSONAL_COLUMNS.into_iter().filter(|c| *c != "subject" || channel == Channel::Email).collect();
        let mut event = Event::new(access, "outbox.enqueue", "outbox", id).fields(fields);
        store.keys.seal_source(&mut event, None);
        audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due messages: pending ones whose time has come, and
    /// ones whose worker's lease expired (counted as possible duplicates). Each
    /// claimed message's attempt count goes up by one. A message whose content
    /// does not open, or whose lease expired after `max_attempts`, is given up here.
    pub async fn claim(self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>, StoreError> {
        if req.channels.is_empty() || req.limit <= 0 {
            return Ok(vec![]);
        }
        let store = self.store;
        let channels: Vec<String> = req.channels.iter().map(|c| format!("'{}'", c.as_str())).collect();
        let sql = format!(
            "SELECT id, status, attempts, purpose FROM outbox
             WHERE channel IN ({}) AND ((status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND lease_until <= $1))
             ORDER BY next_attempt_at, id LIMIT $2",
            channels.join(", ")
        );
        let mut tx = crate::db::write_tx(&store.pool).await?;
        let due = sqlx::query(&sql).bind(req.now).bind(req.limit).fetch_all(&mut *tx).await?;
        let mut claimed = Vec::with_capacity(due.len());
        let mut events = Vec::new();
        for row in &due {
            let id: i64 = row.try_get(0)?;
            let status: String = row.try_get(1)?;
            let attempts: i64 = row.try_get(2)?;
            let purpose: String = row.try_get(3)?;
            let expired = status == MessageStatus::Sending.as_str();
            if expired && attempts >= req.max_attempts {
                let error = format!(
                    "given up: the worker stopped while sending attempt {attempts} of {} (lease expired); it may have been delivered",
                    req.max_attempts
                );
                finish_failed(&mut tx, id, &error, req.now).await?;
                events.push(Event::new(&worker_access(&purpose), "outbox.failed", "outbox", id));
                continue;
            }
            let token = new_token();
            let updated = sqlx::query(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1,
                 retried_after_lease_expiry = retried_after_lease_expiry + $1,
                 lease_until = $2, claim_token = $3, last_attempt_at = $4, next_attempt_at = $4
                 WHERE id = $5 AND status = $6
                 RETURNING channel, kind, attempts, retried_after_lease_expiry, recipient, subject, body",
            )
            .bind(i64::from(expired))
            .bind(req.now.saturating_add(req.lease_micros))
            .bind(&token)
            .bind(req.now)
            .bind(id)
            .bind(&status)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(r) = updated else { continue };
            let channel: String = r.try_get(0)?;
            let opened = (|| -> Result<Content, StoreError> {
                let to = open(store, id, "recipient", r.try_get(4)?)?;
                let text = open(store, id, "body", r.try_get(6)?)?;
                Ok(match Channel::parse(&channel) {
                    Some(Channel::Email) => {
                        Content::Email { to, subject: open(store, id, "subject", r.try_get(5)?)?, text }
                    }
                    Some(Channel::Sms) => Content::Sms { to, text },
                    None => return Err(StoreError::Corrupt(format!("unknown outbox channel {channel:?}"))),
                })
            })();
            let content = match opened {
                Ok(c) => c,
                Err(StoreError::Db(e)) => return Err(StoreError::Db(e)),
                Err(_) => {
                    finish_failed(
                        &mut tx,
                        id,
                        "given up: the sealed content does not open (altered or moved)",
                        req.now,
                    )
                    .await?;
                    events.push(Event::new(&worker_access(&purpose), "outbox.failed", "outbox", id));
                    continue;
                }
            };
            claimed.push(Claimed {
                ticket: ClaimTicket { id, token },
                kind: r.try_get(1)?,
                attempt: r.try_get(2)?,
                took_over_expired_lease: expired,
                retried_after_lease_expiry: r.try_get(3)?,
                content,
            });
        }
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Marks a claimed message sent and wipes its content. Returns false when the
    /// claim is no longer held (its lease expired and another worker took it over,
    /// or it was cancelled): then nothing changes.
    pub async fn mark_sent(self, ticket: &ClaimTicket, now: i64) -> Result<bool, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let purpose: Option<String> = sqlx::query_scalar(&format!(
            "UPDATE outbox SET status = 'sent', finished_at = $1, lease_until = NULL, claim_token = NULL, {WIPE}
             WHERE id = $2 AND claim_token = $3 AND status = 'sending' RETURNING purpose"
        ))
        .bind(now)
        .bind(ticket.id)
        .bind(&ticket.token)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(purpose) = purpose else { return Ok(false) };
        let event = Event::new(&worker_access(&purpose), "outbox.sent", "outbox", ticket.id).fields(PERSONAL_COLUMNS);
        audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Releases a claim after a failed attempt: the message is due again at
    /// `next_attempt_at`. `error` must hold no personal data (the caller scrubs
    /// it); it is cut to 500 characters. False when the claim is no longer held.
    pub async fn reschedule(self, ticket: &ClaimTicket, next_attempt_at: i64, error: &str) -> Result<bool, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let n = sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $1, last_error = $2, lease_until = NULL, claim_token = NULL
             WHERE id = $3 AND claim_token = $4 AND status = 'sending'",
        )
        .bind(next_attempt_at)
        .bind(clip_error(error))
        .bind(ticket.id)
        .bind(&ticket.token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Gives a claimed message up (`failed`) and wipes its content. `error` as for
    /// [`Outbox::reschedule`]. False when the claim is no longer held.
    pub async fn give_up(self, ticket: &ClaimTicket, error: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let purpose: Option<String> = sqlx::query_scalar(&format!(
            "UPDATE outbox SET status = 'failed', finished_at = $1, last_error = $2, lease_until = NULL, claim_token = NULL, {WIPE}
             WHERE id = $3 AND claim_token = $4 AND status = 'sending' RETURNING purpose"
        ))
        .bind(now)
        .bind(clip_error(error))
        .bind(ticket.id)
        .bind(&ticket.token)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(purpose) = purpose else { return Ok(false) };
        let event = Event::new(&worker_access(&purpose), "outbox.failed", "outbox", ticket.id);
        audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Cancels one unfinished message and wipes its content. A claim in flight
    /// loses its ticket (its send may still happen). False if already finished.
    pub async fn cancel(self, access: &Access, id: i64, now: i64) -> Result<bool, StoreError> {
        self.cancel_where(access, "id = $2", id, "outbox", now).await.map(|n| n == 1)
    }

    /// Cancels every unfinished message about a customer (for erasure) and
    /// returns how many there were.
    pub async fn cancel_for_customer(self, access: &Access, customer_id: i64, now: i64) -> Result<u64, StoreError> {
        self.cancel_where(access, "customer_id = $2", customer_id, "customer", now).await
    }

    async fn cancel_where(
        self,
        access: &Access,
        condition: &str,
        value: i64,
        subject_kind: &'static str,
        now: i64,
    ) -> Result<u64, StoreError> {
        crate::permit::require(access, Resource::Messages, Action::Erase)?;
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let n = sqlx::query(&format!(
            "UPDATE outbox SET status = 'cancelled', finished_at = $1, lease_until = NULL, claim_token = NULL, {WIPE}
             WHERE {condition} AND status IN ('pending', 'sending')"
        ))
        .bind(now)
        .bind(value)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            let mut event = Event::new(access, "outbox.cancel", subject_kind, value).fields(PERSONAL_COLUMNS);
            self.store.keys.seal_source(&mut event, None);
            audit::append(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Cancels, inside the caller's transaction, the messages still waiting
    /// for the customers in `ids` (a list of numbers as SQL); returns the
    /// customers who had any. Used by erasure, so a crash cannot leave a
    /// message greeting someone who no longer exists here.
    pub(crate) async fn cancel_for_customers_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ids: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let waiting = format!("customer_id IN ({ids}) AND status IN ('pending', 'sending')");
        let affected: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT customer_id FROM outbox WHERE {waiting} ORDER BY customer_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        if !affected.is_empty() {
            sqlx::query(&format!(
                "UPDATE outbox SET status = 'cancelled', finished_at = $1, lease_until = NULL, claim_token = NULL, {WIPE} WHERE {waiting}"
            ))
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(affected)
    }

    /// The non-personal state of one message.
    pub async fn state(self, id: i64) -> Result<Option<MessageState>, StoreError> {
        let row = sqlx::query(
            "SELECT id, channel, kind, customer_id, status, attempts, retried_after_lease_expiry, created_at,
                    next_attempt_at, last_attempt_at, finished_at, last_error,
                    CAST(CASE WHEN recipient IS NULL AND subject IS NULL AND body IS NULL THEN 1 ELSE 0 END AS BIGINT)
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
            .bind(new_token())
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

async fn finish_failed(tx: &mut Transaction<'static, Any>, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "UPDATE outbox SET status = 'failed', finished_at = $1, last_error = $2, lease_until = NULL, claim_token = NULL, {WIPE}
         WHERE id = $3"
    ))
    .bind(now)
    .bind(clip_error(error))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
        let t = ClaimTicket { id: 7, token: "secret-token".into() };
        assert!(!format!("{t:?}").contains("secret"));
    }
}
