//! Leased work items: the one claim protocol of the message outbox and the
//! registry operation queue.
//!
//! A queue table has `id`, `status` (`pending`, `sending`, then finished states
//! of its own), `attempts`, `next_attempt_at`, `lease_until` and `claim_token`.
//! A claim, inside a writing transaction (so two workers or instances never
//! take the same item), moves a due item to `sending` with one more attempt, a
//! lease (an expiry time) and a random token. Due are pending items whose time
//! has come, and items whose worker's lease expired: it may have died mid-send,
//! so the queue's own code decides what a takeover means. Only the holder of
//! the current token can settle the item, releasing it for a later attempt or
//! finishing it; a worker whose lease was taken over finds its token gone.

use std::fmt;

use rand::RngCore;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Transaction};

use crate::StoreError;

/// The assignments that end a lease.
pub(crate) const CLEAR: &str = "lease_until = NULL, claim_token = NULL";

/// Proof of holding a claim: the item and the claim's random token.
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

/// A table of leased items.
#[derive(Clone, Copy)]
pub(crate) struct Queue {
    pub(crate) table: &'static str,
    /// More assignments a claim makes (`$1` is the time of the claim); the
    /// columns' old values are the ones before the claim.
    pub(crate) on_claim: &'static str,
}

impl Queue {
    /// The condition for an item a claim at `now` (a parameter like `$1`) may
    /// take; `prefix` qualifies the columns (`o.`, or empty).
    pub(crate) fn due(prefix: &str, now: &str) -> String {
        format!(
            "(({prefix}status = 'pending' AND {prefix}next_attempt_at <= {now}) OR ({prefix}status = 'sending' AND {prefix}lease_until <= {now}))"
        )
    }

    /// Claims item `id`, found due by the caller's select in this transaction,
    /// until `now + lease_micros`, and reads back the columns `returning`.
    /// `None` when it is no longer due.
    pub(crate) async fn take(
        self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
        now: i64,
        lease_micros: i64,
        returning: &str,
    ) -> Result<Option<(ClaimTicket, AnyRow)>, StoreError> {
        let also = if self.on_claim.is_empty() { String::new() } else { format!(", {}", self.on_claim) };
        let sql = format!(
            "UPDATE {} SET status = 'sending', attempts = attempts + 1, lease_until = $2, claim_token = $3{also}
             WHERE id = $4 AND {} RETURNING {returning}",
            self.table,
            Queue::due("", "$1"),
        );
        let token = new_token();
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(now.saturating_add(lease_micros))
            .bind(&token)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(row.map(|r| (ClaimTicket { id, token }, r)))
    }

    /// Gives a held claim back for another attempt at `$3`; `set` assigns more
    /// columns from `$4` on. Bind the values with [`held`].
    pub(crate) fn release_sql(self, set: &str) -> String {
        self.settle("status = 'pending', next_attempt_at = $3", set)
    }

    /// Ends a held claim in status `$3` at time `$4` (`finished_at`); `set`
    /// assigns more columns from `$5` on. Bind the values with [`held`].
    pub(crate) fn finish_sql(self, set: &str) -> String {
        self.settle("status = $3, finished_at = $4", set)
    }

    /// An update of the item a ticket holds, which changes nothing when the
    /// claim is no longer held (taken over after expiry, or cancelled).
    fn settle(self, status: &str, set: &str) -> String {
        let set = if set.is_empty() { String::new() } else { format!(", {set}") };
        format!(
            "UPDATE {} SET {status}{set}, {CLEAR} WHERE id = $1 AND claim_token = $2 AND status = 'sending'",
            self.table
        )
    }
}

/// `sql` from [`Queue::release_sql`] or [`Queue::finish_sql`] with the ticket bound.
pub(crate) fn held<'q>(sql: &'q str, ticket: &'q ClaimTicket) -> Query<'q, Any, AnyArguments<'q>> {
    sqlx::query(sql).bind(ticket.id).bind(ticket.token.as_str())
}

/// The wait after failed attempt number `attempt` (1-based), in seconds: the
/// first delay, doubled per further attempt, capped at `max_secs`.
pub fn retry_delay_secs(first_secs: u64, max_secs: u64, attempt: i64) -> u64 {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 32)).unwrap_or(32);
    first_secs.saturating_mul(1u64 << doublings).min(max_secs)
}

/// 128 random bits, hex-encoded.
pub(crate) fn new_token() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settling_needs_the_current_claim() {
        let q = Queue { table: "outbox", on_claim: "" };
        assert_eq!(
            q.release_sql("last_error = $4"),
            "UPDATE outbox SET status = 'pending', next_attempt_at = $3, last_error = $4, lease_until = NULL, claim_token = NULL WHERE id = $1 AND claim_token = $2 AND status = 'sending'"
        );
        assert!(q.finish_sql("").starts_with("UPDATE outbox SET status = $3, finished_at = $4, lease_until = NULL"));
        let t = ClaimTicket { id: 7, token: "secret-token".into() };
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn retries_back_off_doubling_up_to_the_cap() {
        let secs: Vec<u64> = (1..=8).map(|a| retry_delay_secs(30, 3600, a)).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600]);
        assert_eq!(retry_delay_secs(30, 3600, 0), 30);
        assert_eq!(retry_delay_secs(30, 3600, i64::MAX), 3600);
        assert_eq!(retry_delay_secs(u64::MAX, u64::MAX, 40), u64::MAX);
    }
}
