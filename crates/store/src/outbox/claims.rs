//! The worker's side of the outbox: due messages claimed under a lease (see
//! `crate::lease`), and each claim settled: sent, tried again later, or given up.

use sqlx::{Any, Row, Transaction};

use super::{
    Channel, ClaimRequest, ClaimTicket, Claimed, Content, MessageStatus, Outbox, PERSONAL_COLUMNS, WIPE, clip_error,
    open, open_attachment, worker_access,
};
use crate::StoreError;
use crate::audit::{self, Event};
use crate::lease::{self, CLEAR, Queue};

/// The outbox as a leased queue. A claim also stamps the attempt's time and
/// counts a takeover of an expired lease: the send may have happened, so the
/// retry is a possible duplicate, recorded, never silent.
const QUEUE: Queue = Queue {
    table: "outbox",
    on_claim:
        "retried_after_lease_expiry = retried_after_lease_expiry + CASE WHEN status = 'sending' THEN 1 ELSE 0 END,
               last_attempt_at = $1, next_attempt_at = $1",
};

impl Outbox<'_> {
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
            "SELECT id, status, attempts, purpose FROM outbox WHERE channel IN ({}) AND {}
             ORDER BY next_attempt_at, id LIMIT $2",
            channels.join(", "),
            Queue::due("", "$1"),
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
            let returning = "channel, kind, attempts, retried_after_lease_expiry, recipient, subject, body, attachment_name, attachment";
            let Some((ticket, r)) = QUEUE.take(&mut tx, id, req.now, req.lease_micros, returning).await? else {
                continue;
            };
            let channel: String = r.try_get(0)?;
            let opened = (|| -> Result<Content, StoreError> {
                let to = open(store, id, "recipient", r.try_get(4)?)?;
                let text = open(store, id, "body", r.try_get(6)?)?;
                Ok(match Channel::parse(&channel) {
                    Some(Channel::Email) => Content::Email {
                        to,
                        subject: open(store, id, "subject", r.try_get(5)?)?,
                        text,
                        attachment: open_attachment(store, id, r.try_get(7)?, r.try_get(8)?)?,
                    },
                    Some(Channel::Sms) => Content::Sms { to, text },
                    None => return Err(StoreError::Corrupt(format!("unknown outbox channel {channel:?}"))),
                })
            })();
            let content = match opened {
                Ok(c) => c,
                Err(StoreError::Db(e)) => return Err(StoreError::Db(e)),
                Err(_) => {
                    let error = "given up: the sealed content does not open (altered or moved)";
                    finish_failed(&mut tx, id, error, req.now).await?;
                    events.push(Event::new(&worker_access(&purpose), "outbox.failed", "outbox", id));
                    continue;
                }
            };
            claimed.push(Claimed {
                ticket,
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
        self.finish(ticket, MessageStatus::Sent, now, None).await
    }

    /// Releases a claim after a failed attempt: the message is due again at
    /// `next_attempt_at`. `error` must hold no personal data (the caller scrubs
    /// it); it is cut to 500 characters. False when the claim is no longer held.
    pub async fn reschedule(self, ticket: &ClaimTicket, next_attempt_at: i64, error: &str) -> Result<bool, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let sql = QUEUE.release_sql("last_error = $4");
        let n = lease::held(&sql, ticket)
            .bind(next_attempt_at)
            .bind(clip_error(error))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Gives a claimed message up (`failed`) and wipes its content. `error` as for
    /// [`Outbox::reschedule`]. False when the claim is no longer held.
    pub async fn give_up(self, ticket: &ClaimTicket, error: &str, now: i64) -> Result<bool, StoreError> {
        self.finish(ticket, MessageStatus::Failed, now, Some(error)).await
    }

    /// Ends a held claim as `sent` or `failed`, wipes the content and records
    /// it under the purpose the message was queued with.
    async fn finish(
        self,
        ticket: &ClaimTicket,
        status: MessageStatus,
        now: i64,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let set = if error.is_some() { format!("last_error = $5, {WIPE}") } else { WIPE.to_string() };
        let sql = format!("{} RETURNING purpose", QUEUE.finish_sql(&set));
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let mut update = lease::held(&sql, ticket).bind(status.as_str()).bind(now);
        if let Some(e) = error {
            update = update.bind(clip_error(e));
        }
        let Some(row) = update.fetch_optional(&mut *tx).await? else { return Ok(false) };
        let purpose: String = row.try_get(0)?;
        let event = match status {
            MessageStatus::Sent => {
                Event::new(&worker_access(&purpose), "outbox.sent", "outbox", ticket.id).fields(PERSONAL_COLUMNS)
            }
            _ => Event::new(&worker_access(&purpose), "outbox.failed", "outbox", ticket.id),
        };
        audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Gives up a message this claim found unsendable, without a ticket.
async fn finish_failed(tx: &mut Transaction<'static, Any>, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "UPDATE outbox SET status = 'failed', finished_at = $1, last_error = $2, {CLEAR}, {WIPE} WHERE id = $3"
    ))
    .bind(now)
    .bind(clip_error(error))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
