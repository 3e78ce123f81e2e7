//! Invoices by post (A12): those to send by post wait in a print queue until
//! the bookkeeper has printed and posted them and says so. Marking one posted
//! is audited; the queue itself reads headers only.

use custodian_domain::model::format_date;
use custodian_domain::policy::{Action, Resource};
use sqlx::Row;

use super::{HEADER_COLUMNS, InvoiceRecord, header};
use crate::audit::{Access, Event};
use crate::{Refusal, Store, StoreError, now_micros, permit};

impl Store {
    /// Invoices and credit notes to send by post that are not marked posted,
    /// oldest first.
    pub async fn print_queue(&self, access: &Access) -> Result<Vec<InvoiceRecord>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Read)?;
        let sql = format!(
            "SELECT {HEADER_COLUMNS} FROM invoices WHERE delivery = 'post' AND posted_at IS NULL ORDER BY issued_on, id"
        );
        let today = time::OffsetDateTime::now_utc().date();
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(|r| header(r, today)).collect()
    }

    /// Marks invoice `number` as printed and posted now. Refused for an
    /// invoice that does not go by post or was marked before.
    pub async fn mark_posted(&self, access: &Access, number: &str) -> Result<(), StoreError> {
        permit::require(access, Resource::Invoices, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let row = sqlx::query("SELECT id, customer_id, delivery, posted_at FROM invoices WHERE number = $1")
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound { kind: "invoice", id: number.to_string() })?;
        let (id, customer_id): (i64, i64) = (row.try_get("id")?, row.try_get("customer_id")?);
        if row.try_get::<String, _>("delivery")? != "post" {
            return Err(Refusal::NotByPost.into());
        }
        if let Some(at) = row.try_get::<Option<i64>, _>("posted_at")? {
            let day = time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1_000_000))
                .map(|t| format_date(t.date()))
                .unwrap_or_default();
            return Err(Refusal::AlreadyPosted { on: day }.into());
        }
        sqlx::query("UPDATE invoices SET posted_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut event = Event::new(access, "invoice.posted", "customer", customer_id).fields(["posted_at"]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }
}
