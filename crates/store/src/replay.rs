//! After a restore: the erasure journal replayed, and the mark that keeps a
//! half-restored database from being used.

use serde::Serialize;
use sqlx::AnyPool;

use crate::audit::{Access, AccessPurpose, Actor, Event};
use crate::erasure::id_list;
use crate::{ErasureReason, JournalEntry, Store, StoreError, records};

/// The `meta` row a restore writes before it fills a database and removes
/// as its last step; a database that has it is refused.
pub const RESTORE_MARKER: &str = "restore_incomplete";

pub(crate) async fn refuse_unfinished_restore(pool: &AnyPool) -> Result<(), StoreError> {
    let marked: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE name = $1").bind(RESTORE_MARKER).fetch_optional(pool).await?;
    match marked {
        Some(_) => Err(StoreError::Refused(crate::Refusal::UnfinishedRestore)),
        None => Ok(()),
    }
}

/// What a journal replay erased again.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    pub customers: u64,
    pub handles: u64,
    pub invoices: u64,
    /// Requests of data subjects whose requester's data was erased.
    #[serde(default)]
    pub requests: u64,
}

impl Store {
    /// Erases again whatever `entries` (a journal, possibly newer than this
    /// database) records as erased and this database still holds. The law
    /// decided when the first erasure happened, so blockers do not count here.
    /// Each erasure is journaled and audited as `journal_replay`; entries that
    /// are already gone change nothing, so replaying twice is harmless.
    pub async fn replay_erasure_journal(&self, entries: &[JournalEntry]) -> Result<ReplayReport, StoreError> {
        let access = Access::new(Actor::job("journal_replay"), AccessPurpose::Retention);
        let ids = |kind: &str| -> Result<Vec<i64>, StoreError> {
            let mut ids = entries
                .iter()
                .filter(|e| e.subject_kind == kind)
                .map(|e| {
                    e.subject_id
                        .parse::<i64>()
                        .map_err(|_| StoreError::Corrupt(format!("journal entry {} has no number", e.seq)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        };
        let mut report = ReplayReport::default();
        for chunk in ids("customer")?.chunks(500) {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let active: Vec<i64> = sqlx::query_scalar(&format!(
                "SELECT id FROM customers WHERE id IN ({}) AND status = 'active' AND key_id IS NOT NULL ORDER BY id",
                id_list(chunk)
            ))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
            let keys = self.erase_rows(&mut tx, &access, &active, ErasureReason::JournalReplay).await?;
            tx.commit().await?;
            self.keys.forget_all(&keys);
            report.customers += active.len() as u64;
        }
        for chunk in ids("contact")?.chunks(500) {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let still: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT id, customer_id FROM contacts WHERE id IN ({}) ORDER BY id",
                id_list(chunk)
            ))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
            let gone: Vec<i64> = still.iter().map(|(id, _)| *id).collect();
            if !gone.is_empty() {
                // With any domain of the snapshot that still names them: a handle
                // is only deleted once its domains have left us.
                crate::registry::remove_contacts(&mut tx, &gone, ErasureReason::JournalReplay).await?;
                let cols = records::columns("contacts");
                let events: Vec<Event> = still
                    .iter()
                    .map(|(_, c)| Event::new(&access, "contact.delete", "customer", c).fields(&cols))
                    .collect();
                crate::audit::append(&mut tx, &events).await?;
            }
            tx.commit().await?;
            report.handles += gone.len() as u64;
        }
        for chunk in ids("invoice")?.chunks(500) {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let still: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
                "SELECT id, customer_id, key_id FROM invoices WHERE id IN ({}) ORDER BY id",
                id_list(chunk)
            ))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
            let keys = if still.is_empty() {
                vec![]
            } else {
                crate::retention::delete_invoices(&mut tx, &access, &still, ErasureReason::JournalReplay).await?
            };
            tx.commit().await?;
            self.keys.forget_all(&keys);
            report.invoices += still.len() as u64;
        }
        for chunk in ids("subject_request")?.chunks(500) {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let still: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT id, key_id FROM subject_requests WHERE id IN ({}) AND key_id IS NOT NULL ORDER BY id",
                id_list(chunk)
            ))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
            if !still.is_empty() {
                let (ids, keys): (Vec<i64>, Vec<i64>) = still.into_iter().unzip();
                crate::requests::erase_rows(&mut tx, &ids, &keys, ErasureReason::JournalReplay).await?;
                let events: Vec<Event> = ids
                    .iter()
                    .map(|id| {
                        Event::new(&access, "request.erase", "subject_request", id)
                            .fields(records::columns("subject_requests"))
                    })
                    .collect();
                crate::audit::append(&mut tx, &events).await?;
                tx.commit().await?;
                self.keys.forget_all(&keys);
                report.requests += ids.len() as u64;
            }
        }
        let mut tx = crate::db::write_tx(&self.pool).await?;
        carry_over(&mut tx, entries).await?;
        for (kind, table) in [
            ("customer", "customers"),
            ("contact", "contacts"),
            ("invoice", "invoices"),
            ("subject_request", "subject_requests"),
        ] {
            self.number_past_journal(&mut tx, kind, table).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Makes the next row of `table` take a number above every `kind` the
    /// journal names: a number once erased is never given to someone else,
    /// whom a later replay of that entry would erase.
    async fn number_past_journal(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        kind: &str,
        table: &str,
    ) -> Result<(), StoreError> {
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(CAST(subject_id AS BIGINT)) FROM erasure_journal WHERE subject_kind = $1")
                .bind(kind)
                .fetch_one(&mut **tx)
                .await?;
        let Some(max) = max else { return Ok(()) };
        let statements: &[&str] = match self.engine {
            crate::Engine::Sqlite => &[
                "INSERT INTO sqlite_sequence (name, seq) SELECT $1, 0
                 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
                "UPDATE sqlite_sequence SET seq = $2 WHERE name = $1 AND seq < $2",
            ],
            crate::Engine::Postgres => &["SELECT setval(pg_get_serial_sequence($1, 'id'), GREATEST($2,
                 COALESCE(pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass), 0)))"],
        };
        for sql in statements {
            sqlx::query(sql).bind(table).bind(max).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// Copies into this database's journal the entries of `entries` about
/// subjects it has no entry for (erased after the snapshot, never in it), so
/// the record of every erasure survives the restore.
async fn carry_over(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    entries: &[JournalEntry],
) -> Result<(), StoreError> {
    let known: std::collections::HashSet<(String, String)> =
        sqlx::query_as("SELECT subject_kind, subject_id FROM erasure_journal")
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    let mut missing: Vec<&JournalEntry> =
        entries.iter().filter(|e| !known.contains(&(e.subject_kind.clone(), e.subject_id.clone()))).collect();
    missing.sort_by_key(|e| e.seq);
    missing.dedup_by(|a, b| a.subject_kind == b.subject_kind && a.subject_id == b.subject_id);
    for e in missing {
        sqlx::query(
            "INSERT INTO erasure_journal (subject_kind, subject_id, erased_at, reason) VALUES ($1, $2, $3, $4)",
        )
        .bind(&e.subject_kind)
        .bind(&e.subject_id)
        .bind(e.erased_at)
        .bind(&e.reason)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
