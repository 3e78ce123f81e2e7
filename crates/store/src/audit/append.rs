//! Appending entries to the chain inside the caller's writing transaction.

use std::fmt::Write as _;

use sqlx::{Any, Row, Transaction};

use super::Event;
use super::chain::{COLUMNS, Row_};
use crate::{StoreError, now_micros};

/// How `append` writes its rows on one engine.
#[derive(Clone, Copy)]
struct InsertShape {
    /// Rows per INSERT at most; a power of two (see [`insert_sizes`]).
    max_rows: usize,
    /// Anonymous `?` placeholders instead of `$N`. sqlx-sqlite looks up every
    /// parameter's name, which SQLite finds by a linear walk over the named
    /// parameters: with `$N` binding one statement costs time quadratic in its
    /// parameters, with `?` (no names) linear. PostgreSQL reads only `$N`.
    anonymous: bool,
}

impl InsertShape {
    /// Measured with 256 concurrent callers (groups of up to 256 entries): on
    /// SQLite with `?`, 64 to 256 rows per statement all give about 60,000
    /// entries/s (16 rows: 50,000); on PostgreSQL, where each statement is a round
    /// trip, 64 to 512 rows are alike within the noise. 256 x 13 parameters stays
    /// far below either engine's limit (32,766 and 65,535).
    fn of(tx: &Transaction<'static, Any>) -> InsertShape {
        if tx.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
            InsertShape { max_rows: 128, anonymous: true }
        } else {
            InsertShape { max_rows: 256, anonymous: false }
        }
    }

    fn sql(self, rows: usize) -> String {
        let mut sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ");
        sql.reserve(rows * 13 * 6);
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ",(" });
            for k in 1..=13 {
                if k > 1 {
                    sql.push(',');
                }
                if self.anonymous {
                    sql.push('?');
                } else {
                    let _ = write!(sql, "${}", row * 13 + k);
                }
            }
            sql.push(')');
        }
        sql
    }
}

/// Splits `n` rows into statements: as many of `max` rows as fit, then the rest
/// by its binary digits (e.g. 100 with max 64: 64, 32, 4). Each connection thus
/// prepares at most log2(max) + 1 distinct statements, whatever the group sizes,
/// instead of one per leftover size (which would churn the statement cache).
fn insert_sizes(n: usize, max: usize) -> impl Iterator<Item = usize> {
    debug_assert!(max.is_power_of_two());
    let full = std::iter::repeat_n(max, n / max);
    let rest = n % max;
    let bits = (0..usize::BITS).rev().map(|b| 1usize << b).filter(move |size| rest & size != 0);
    full.chain(bits)
}

/// Appends `events` to the chain inside `tx`. The caller opened `tx` with
/// [`crate::db::write_tx`], so the head row is locked.
pub(crate) async fn append(tx: &mut Transaction<'static, Any>, events: &[Event]) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(vec![]);
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let mut seq: i64 = head.try_get(0)?;
    let mut prev: Vec<u8> = head.try_get(1)?;
    let at = now_micros();

    struct Prepared<'e> {
        seq: i64,
        event: &'e Event,
        fields: String,
        source_key: &'e str,
        source: Option<&'e [u8]>,
        prev: Vec<u8>,
        hash: Vec<u8>,
    }
    let mut prepared = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let (source_key, source) = match &event.source {
            Some((name, sealed)) => (name.as_str(), Some(sealed.as_slice())),
            None => ("", None),
        };
        let fields = event.fields.join(",");
        let row = Row_ {
            seq,
            at,
            texts: [
                event.access.actor.kind.as_str(),
                &event.access.actor.id,
                event.action,
                event.subject_kind,
                &event.subject_id,
                &fields,
                event.access.purpose.as_str(),
                source_key,
            ]
            .map(str::as_bytes),
            source: source.unwrap_or_default(),
        };
        let hash = row.hash(&prev).to_vec();
        let prev = std::mem::replace(&mut prev, hash.clone());
        prepared.push(Prepared { seq, event, fields, source_key, source, prev, hash });
    }

    let shape = InsertShape::of(tx);
    let mut rest = prepared.as_slice();
    for size in insert_sizes(prepared.len(), shape.max_rows) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = shape.sql(size);
        let mut q = sqlx::query(&sql);
        for p in chunk {
            let e = p.event;
            q = q
                .bind(p.seq)
                .bind(at)
                .bind(e.access.actor.kind.as_str())
                .bind(e.access.actor.id.as_str())
                .bind(e.action)
                .bind(e.subject_kind)
                .bind(e.subject_id.as_str())
                .bind(p.fields.as_str())
                .bind(e.access.purpose.as_str())
                .bind(p.source_key)
                .bind(p.source)
                .bind(p.prev.as_slice())
                .bind(p.hash.as_slice());
        }
        q.execute(&mut **tx).await?;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(prev)
        .execute(&mut **tx)
        .await?;
    Ok(prepared.iter().map(|p| p.seq).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_inserted_in_few_statement_sizes() {
        let sizes = |n| insert_sizes(n, 64).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(64), [64]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(255), [64, 64, 64, 32, 16, 8, 4, 2, 1]);
        let shapes: std::collections::BTreeSet<usize> = (0..3000).flat_map(|n| insert_sizes(n, 64)).collect();
        assert_eq!(shapes.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 64]);
        assert!((0..3000).all(|n| insert_sizes(n, 128).sum::<usize>() == n));
    }
}
