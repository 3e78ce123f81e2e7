//! The producer's side of the outbox: messages queued (e-mail only with a
//! consent or a named exemption), and cancelled before they go.

use custodian_domain::policy::{Action, Principal, Resource};

use sqlx::{Any, Transaction};

use super::{
    ATTACHMENT_MAX_BYTES, BODY_MAX_BYTES, Channel, NewMessage, Outbox, Outgoing, PERSONAL_COLUMNS, SUBJECT_MAX_CHARS,
    WIPE, invalid, seal, seal_bytes, valid_attachment_name, valid_kind,
};
use crate::StoreError;
use crate::audit::{self, Access, Event};
use crate::lease::CLEAR;

impl Outbox<'_> {
    /// Queues a message and returns its outbox ID. The message is due at `now`.
    /// A customer may only queue messages about themselves.
    pub async fn enqueue(self, access: &Access, message: NewMessage, now: i64) -> Result<i64, StoreError> {
        let mut tx = crate::db::write_tx(&self.store.pool).await?;
        let id = self.enqueue_in(&mut tx, access, message, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// [`Outbox::enqueue`] inside the caller's transaction, so that a message
    /// and the change that sends it are written together or not at all.
    pub(crate) async fn enqueue_in(
        self,
        tx: &mut Transaction<'static, Any>,
        access: &Access,
        message: NewMessage,
        now: i64,
    ) -> Result<i64, StoreError> {
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
        let (to, consent, subject, text, attachment) = match &message.content {
            Outgoing::Email { to, consent, subject, text, attachment } => {
                (to.ascii(), Some(consent.as_str()), Some(subject.as_str()), text.as_str(), attachment.as_ref())
            }
            Outgoing::Sms { to, text } => (to.as_str().to_string(), None, None, text.as_str(), None),
        };
        if text.trim().is_empty() || text.len() > BODY_MAX_BYTES {
            return Err(invalid(format!("an outbox message body holds 1 to {BODY_MAX_BYTES} bytes")));
        }
        if let Some(s) = subject
            && (s.trim().is_empty() || s.chars().count() > SUBJECT_MAX_CHARS || s.chars().any(char::is_control))
        {
            return Err(invalid(format!("an e-mail subject holds 1 to {SUBJECT_MAX_CHARS} characters on one line")));
        }
        if let Some(a) = attachment {
            if !valid_attachment_name(&a.name, a.content_type) {
                return Err(invalid("an attachment's file name is letters, digits, '-' and '_' with its extension"));
            }
            if a.bytes.is_empty() || a.bytes.len() > ATTACHMENT_MAX_BYTES {
                return Err(invalid(format!("an attachment holds 1 to {ATTACHMENT_MAX_BYTES} bytes")));
            }
        }
        let store = self.store;
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
        .fetch_one(&mut **tx)
        .await?;
        let sealed_subject = subject.map(|s| seal(store, id, "subject", s));
        sqlx::query(
            "UPDATE outbox SET recipient = $1, subject = $2, body = $3, attachment_name = $4, attachment = $5 WHERE id = $6",
        )
        .bind(seal(store, id, "recipient", &to))
        .bind(sealed_subject)
        .bind(seal(store, id, "body", text))
        .bind(attachment.map(|a| a.name.clone()))
        .bind(attachment.map(|a| seal_bytes(store, id, "attachment", &a.bytes)))
        .bind(id)
        .execute(&mut **tx)
        .await?;
        let fields: Vec<&str> = PERSONAL_COLUMNS
            .into_iter()
            .filter(|c| match *c {
                "subject" => channel == Channel::Email,
                "attachment" => attachment.is_some(),
                _ => true,
            })
            .collect();
        let mut event = Event::new(access, "outbox.enqueue", "outbox", id).fields(fields);
        store.keys.seal_source(&mut event, None);
        audit::append(tx, &[event]).await?;
        Ok(id)
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
            "UPDATE outbox SET status = 'cancelled', finished_at = $1, {CLEAR}, {WIPE}
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
                "UPDATE outbox SET status = 'cancelled', finished_at = $1, {CLEAR}, {WIPE} WHERE {waiting}"
            ))
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(affected)
    }
}
