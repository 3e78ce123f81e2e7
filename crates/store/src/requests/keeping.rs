//! How long the register keeps a requester's data: a year after the request
//! closed, to show how it was handled (Art. 5(2)); then the request's key is
//! destroyed and its sealed columns cleared. Kind, dates and outcome stay.

use custodian_domain::policy::{Action, Resource};
use time::Date;

use crate::audit::{Access, Event};
use crate::erasure::{id_list, journal};
use crate::{ErasureReason, Store, StoreError, now_micros, permit, records};

/// The last day a request closed on `on` minus a year may have closed and
/// still be kept: 29 February counts back to 28 February.
fn kept_since(on: Date) -> Date {
    on.replace_year(on.year() - 1).or_else(|_| Date::from_calendar_date(on.year() - 1, on.month(), 28)).unwrap_or(on)
}

impl Store {
    /// Erases the requester's data of every request closed more than a year
    /// before `on`, with a journal entry each (a restore erases them again).
    pub async fn erase_handled_requests(&self, access: &Access, on: Date) -> Result<u64, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Erase)?;
        let cutoff = custodian_domain::model::format_date(kept_since(on));
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let due: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, key_id FROM subject_requests WHERE closed_on < $1 AND key_id IS NOT NULL ORDER BY id",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
        let keys: Vec<i64> = due.iter().map(|(_, k)| *k).collect();
        erase_rows(&mut tx, &ids, &keys, ErasureReason::RetentionExpired).await?;
        let events: Vec<Event> = ids
            .iter()
            .map(|id| Event::new(access, "request.erase", "subject_request", id).fields(records::columns(super::TABLE)))
            .collect();
        crate::audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        self.keys.forget_all(&keys);
        Ok(ids.len() as u64)
    }
}

/// Clears the requests `ids` and destroys their keys `keys`, journaled.
pub(crate) async fn erase_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ids: &[i64],
    keys: &[i64],
    reason: ErasureReason,
) -> Result<(), StoreError> {
    let list = id_list(ids);
    let now = now_micros();
    let sealed = records::columns(super::TABLE).iter().map(|c| format!("{c} = NULL")).collect::<Vec<_>>().join(", ");
    sqlx::query(&format!(
        "UPDATE subject_requests SET key_id = NULL, link_hash = NULL, erased_at = $1, {sealed} WHERE id IN ({list})"
    ))
    .bind(now)
    .persistent(false)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!("DELETE FROM subject_request_records WHERE request_id IN ({list})"))
        .persistent(false)
        .execute(&mut **tx)
        .await?;
    if !keys.is_empty() {
        sqlx::query(&format!("DELETE FROM data_keys WHERE id IN ({})", id_list(keys)))
            .persistent(false)
            .execute(&mut **tx)
            .await?;
    }
    journal(tx, "subject_request", ids, now, reason).await
}

#[cfg(test)]
mod tests {
    use super::kept_since;
    use time::macros::date;

    #[test]
    fn a_year_back_from_a_leap_day_is_the_28th() {
        assert_eq!(kept_since(date!(2028 - 02 - 29)), date!(2027 - 02 - 28));
        assert_eq!(kept_since(date!(2027 - 06 - 01)), date!(2026 - 06 - 01));
    }
}
