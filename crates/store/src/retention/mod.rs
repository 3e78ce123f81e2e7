//! Retention (M9, M12, A2, A6): the plan of what is due on a day and why, and
//! the run that carries out exactly that plan.
//!
//! The plan reads in pages and changes nothing. The run computes the plan, then
//! works through it in batches of [`RetentionPolicy::batch`]; each batch is one
//! transaction that first evaluates its items again under the write lock (a new
//! invoice, a running service or a legal hold that arrived since stops an
//! erasure), then erases or deletes them with their audit and journal entries.
//! A run killed at any point leaves whole batches only, and running again
//! finishes the same work: the rules give every item a due date, and whatever is
//! due on the day and still there is done.
//!
//! What keeps a customer from erasure that people control (requests, legal
//! holds, running services) is in `keeping.rs`; the schedule of runs and
//! the notices before an erasure in `schedule.rs`.
//!
//! Order matters for that: customers first, then unused handles, then invoices.
//! Deleting invoices never changes whether a customer is due (see
//! [`customer_page`]), so a run interrupted in the invoice pass ends where an
//! uninterrupted run ends.

use std::collections::{BTreeMap, HashSet};

use custodian_domain::model::{FieldErrors, format_date, parse_date};
use custodian_domain::policy::{Action, Resource};
use custodian_domain::retention::{Blocker, RetentionPolicy};
use custodian_domain::validate::Invalid;
use serde::{Serialize, Serializer};
use sqlx::{Any, Row, Transaction};
use time::Date;

use crate::audit::{Access, AccessPurpose, Event};
use crate::erasure::{blockers_of, id_list, journal};
use crate::permit;
use crate::{ErasureReason, Store, StoreError, now_micros, records};

mod keeping;
mod schedule;

/// Rows read per page while planning.
const PAGE: i64 = 5000;

/// Whether a domain uses contact `c`, or the registry still has work on it.
const HANDLE_IN_USE: &str = "(EXISTS (SELECT 1 FROM domains d WHERE d.status <> 'gone'
      AND (d.registrant_id = c.id OR d.admin_id = c.id OR d.tech_id = c.id))
    OR c.status IN ('pending', 'deleting'))";

const LAST_RUN: &str = "retention_last_run";
const SCHEDULE_FROM: &str = "retention_schedule_from";
/// The last run's day and report, as JSON that sorts by day (`{"on":"YYYY-MM-DD",…`).
const LAST_REPORT: &str = "retention_last_report";

/// Why a customer is erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The customer asked (M9: "or sooner when the customer asks").
    Request,
    /// The relationship ended and its retention passed (M9).
    RetentionExpired,
}

fn day<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*d))
}

fn opt_day<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_date(*d)),
        None => s.serialize_none(),
    }
}

/// One customer due for erasure on the plan's day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedErasure {
    pub customer_id: i64,
    pub cause: Cause,
    /// The last day of the relationship; `None` while it still runs (a request).
    #[serde(serialize_with = "opt_day")]
    pub relationship_ended_on: Option<Date>,
    /// When the erasure became due: the scheduled day, or the day of the request.
    #[serde(serialize_with = "day")]
    pub due_on: Date,
    /// What keeps it from happening; empty when the run carries it out.
    pub blockers: Vec<Blocker>,
}

/// A handle (registry contact) that no domain uses, due for deletion (M12).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedHandle {
    pub contact_id: i64,
    pub customer_id: i64,
    #[serde(serialize_with = "day")]
    pub last_used_on: Date,
    #[serde(serialize_with = "day")]
    pub due_on: Date,
}

/// The invoices of one year whose retention has passed (A6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceYear {
    pub year: i32,
    pub invoices: u64,
    #[serde(serialize_with = "day")]
    pub kept_until: Date,
}

/// What a retention run on `on` erases and deletes, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    #[serde(serialize_with = "day")]
    pub on: Date,
    /// Relationships that ended before this day are due for erasure.
    #[serde(serialize_with = "day")]
    pub relationships_ended_before: Date,
    /// Unused handles last used before this day are due.
    #[serde(serialize_with = "day")]
    pub handles_last_used_before: Date,
    /// Invoices dated before this day are due.
    #[serde(serialize_with = "day")]
    pub invoices_dated_before: Date,
    /// Customers the run erases.
    pub erasures: Vec<PlannedErasure>,
    /// Customers due, but kept for now, with the reason.
    pub blocked: Vec<PlannedErasure>,
    pub handles: Vec<PlannedHandle>,
    pub invoice_years: Vec<InvoiceYear>,
    /// The invoices the run deletes.
    pub invoice_ids: Vec<i64>,
}

impl Plan {
    /// The plan's three cut-off days in a sentence, in `lang`.
    pub fn cutoffs(&self, lang: custodian_domain::Lang) -> String {
        format!(
            "{} {}; {} {}; {} {}",
            lang.pick("klantrelaties geëindigd vóór", "relationships ended before"),
            format_date(self.relationships_ended_before),
            lang.pick("ongebruikte handles laatst gebruikt vóór", "unused handles last used before"),
            format_date(self.handles_last_used_before),
            lang.pick("facturen gedateerd vóór", "invoices dated before"),
            format_date(self.invoices_dated_before),
        )
    }
}

/// What a run did. `skipped` counts planned items that changed in between (a
/// new invoice, a service, a hold, or another instance got there first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunReport {
    pub erased_on_request: u64,
    pub erased_retention_expired: u64,
    pub handles_deleted: u64,
    pub invoices_deleted: u64,
    /// Requests of data subjects whose requester's data went (a year after closing).
    #[serde(default)]
    pub requests_erased: u64,
    pub skipped: u64,
}

impl RunReport {
    /// Whether the run erased or deleted anything (the journal then grew).
    pub fn erased_anything(&self) -> bool {
        self.erased_on_request
            + self.erased_retention_expired
            + self.handles_deleted
            + self.invoices_deleted
            + self.requests_erased
            > 0
    }

    /// What the run did, in a sentence for people.
    pub fn describe(&self, lang: custodian_domain::Lang) -> String {
        format!(
            "{} {}, {} {}, {} {}, {} {}, {} {}, {} {}",
            self.erased_retention_expired,
            lang.pick("klanten gewist (bewaartermijn voorbij)", "customers erased (retention ended)"),
            self.erased_on_request,
            lang.pick("op verzoek gewist", "erased on request"),
            self.handles_deleted,
            lang.pick("handles verwijderd", "handles deleted"),
            self.invoices_deleted,
            lang.pick("facturen verwijderd", "invoices deleted"),
            self.requests_erased,
            lang.pick("afgehandelde verzoeken gewist", "handled requests erased"),
            self.skipped,
            lang.pick("overgeslagen (intussen gewijzigd)", "skipped (changed meanwhile)"),
        )
    }
}

/// What became of an erasure request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Nothing stood in the way: the customer is erased.
    Erased,
    /// Recorded; carried out as soon as these are gone.
    Waiting(Vec<Blocker>),
}

/// The rules applied to one day.
struct Day<'p> {
    policy: &'p RetentionPolicy,
    on: Date,
    ended_before: Date,
    handles_before: Date,
    kept_from: Date,
    kept_from_text: String,
}

fn out_of_calendar(e: custodian_domain::calendar::YearOutOfRange) -> StoreError {
    StoreError::Invalid(FieldErrors::single(
        "on",
        Invalid::new(
            "date",
            "calendar_range",
            e.message(custodian_domain::Lang::Nl),
            e.message(custodian_domain::Lang::En),
        ),
    ))
}

impl<'p> Day<'p> {
    fn new(policy: &'p RetentionPolicy, on: Date) -> Result<Day<'p>, StoreError> {
        let kept_from = policy.invoices_kept_from(on).map_err(out_of_calendar)?;
        Ok(Day {
            policy,
            on,
            ended_before: policy.erasure_cutoff(on).map_err(out_of_calendar)?,
            handles_before: policy.handle_cutoff(on).map_err(out_of_calendar)?,
            kept_from,
            kept_from_text: format_date(kept_from),
        })
    }
}

fn date_of_micros(us: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000))
        .map(|t| t.date())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH.date())
}

fn micros_of(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp() * 1_000_000
}

fn stored_date(text: &str) -> Result<Date, StoreError> {
    parse_date(text).map_err(|_| StoreError::Corrupt("a stored date is not YYYY-MM-DD".into()))
}

/// The active customers matching `filter` (SQL on `c`, with `limit`), and what
/// the rules say of each on `day.on`: the due ones with their blockers, plus
/// the last customer number read (for paging).
///
/// The relationship clock starts at the last invoice, or at the account's
/// creation when there is none (A2). Deleting invoices cannot make a customer
/// less due: an invoice is deleted only years after the relationship it could
/// extend ended; and unpaid invoices block only while they are kept.
async fn customer_page(
    conn: &mut sqlx::AnyConnection,
    day: &Day<'_>,
    filter: &str,
) -> Result<(Vec<PlannedErasure>, Option<i64>), StoreError> {
    let sql = format!(
        "SELECT c.id, c.created_at,
           (SELECT MAX(i.issued_on) FROM invoices i WHERE i.customer_id = c.id),
           (SELECT r.requested_at FROM erasure_requests r WHERE r.customer_id = c.id)
         FROM customers c WHERE c.status = 'active' AND {filter}"
    );
    let rows = sqlx::query(&sql).persistent(false).fetch_all(&mut *conn).await?;
    let mut due = vec![];
    let mut last = None;
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        last = Some(id);
        let created: i64 = r.try_get(1)?;
        let last_invoice: Option<String> = r.try_get(2)?;
        let requested_at: Option<i64> = r.try_get(3)?;
        let start = match last_invoice {
            Some(text) => stored_date(&text)?,
            None => date_of_micros(created),
        };
        let ended_on = day.policy.relationship_ends(start);
        let expired = ended_on < day.ended_before;
        let (cause, due_on) = match requested_at {
            Some(at) => (Cause::Request, date_of_micros(at)),
            None if expired => (Cause::RetentionExpired, day.policy.erasure_due(ended_on).map_err(out_of_calendar)?),
            None => continue,
        };
        let relationship_ended_on = (ended_on < day.on).then_some(ended_on);
        due.push(PlannedErasure { customer_id: id, cause, relationship_ended_on, due_on, blockers: vec![] });
    }
    let ids: Vec<i64> = due.iter().map(|e| e.customer_id).collect();
    let mut blockers = blockers_of(&mut *conn, &ids, &day.kept_from_text).await?;
    for e in &mut due {
        e.blockers = blockers.remove(&e.customer_id).unwrap_or_default();
    }
    Ok((due, last))
}

/// The unused handles matching `filter` (SQL on `c`) that are due on `day.on`.
async fn handle_page<'e, E>(
    executor: E,
    day: &Day<'_>,
    filter: &str,
) -> Result<(Vec<PlannedHandle>, Option<i64>), StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT c.id, c.customer_id, COALESCE(c.last_used_at, c.created_at) FROM contacts c
         JOIN customers k ON k.id = c.customer_id AND k.status = 'active'
         WHERE COALESCE(c.last_used_at, c.created_at) < $1 AND NOT ({HANDLE_IN_USE}) AND {filter}"
    );
    let rows = sqlx::query(&sql).bind(micros_of(day.handles_before)).persistent(false).fetch_all(executor).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let last_used_on = date_of_micros(r.try_get(2)?);
        out.push(PlannedHandle {
            contact_id: r.try_get(0)?,
            customer_id: r.try_get(1)?,
            last_used_on,
            due_on: day.policy.handle_due(last_used_on).map_err(out_of_calendar)?,
        });
    }
    let last = out.last().map(|h| h.contact_id);
    Ok((out, last))
}

/// Deletes invoices `(id, customer, key)` with their lines and keys, journaled
/// and audited; returns the destroyed keys, to drop from memory after commit.
pub(crate) async fn delete_invoices(
    tx: &mut Transaction<'static, Any>,
    access: &Access,
    invoices: &[(i64, i64, i64)],
    reason: ErasureReason,
) -> Result<Vec<i64>, StoreError> {
    let gone: Vec<i64> = invoices.iter().map(|(id, _, _)| *id).collect();
    let keys: Vec<i64> = invoices.iter().map(|(_, _, key)| *key).collect();
    let list = id_list(&gone);
    for sql in [
        format!("DELETE FROM invoice_lines WHERE invoice_id IN ({list})"),
        format!("DELETE FROM invoice_payments WHERE invoice_id IN ({list})"),
        format!("DELETE FROM invoices WHERE id IN ({list})"),
        format!("DELETE FROM data_keys WHERE id IN ({})", id_list(&keys)),
    ] {
        sqlx::query(&sql).persistent(false).execute(&mut **tx).await?;
    }
    journal(tx, "invoice", &gone, now_micros(), reason).await?;
    let fields: Vec<&str> = records::columns("invoices").into_iter().chain(["description"]).collect();
    let events: Vec<Event> = invoices
        .iter()
        .map(|(_, customer, _)| Event::new(access, "invoice.delete", "customer", customer).fields(&fields))
        .collect();
    crate::audit::append(tx, &events).await?;
    Ok(keys)
}

fn page_after(column: &str, after: i64) -> String {
    format!("{column} > {after} ORDER BY {column} LIMIT {PAGE}")
}

impl Store {
    /// What a retention run on `on` would do, changing nothing.
    pub async fn retention_plan(&self, policy: &RetentionPolicy, on: Date) -> Result<Plan, StoreError> {
        let day = Day::new(policy, on)?;
        let (erasures, blocked) = self.customers_due(&day).await?;
        let erased: HashSet<i64> = erasures.iter().map(|e| e.customer_id).collect();

        // A handle of a customer erased in the same run goes with the customer.
        let mut handles = vec![];
        let mut after = 0;
        loop {
            let (page, last) = handle_page(&self.pool, &day, &page_after("c.id", after)).await?;
            handles.extend(page.into_iter().filter(|h| !erased.contains(&h.customer_id)));
            match last {
                Some(l) => after = l,
                None => break,
            }
        }

        let mut invoice_ids = vec![];
        let mut years: BTreeMap<i32, u64> = BTreeMap::new();
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
                "SELECT id, issued_on FROM invoices WHERE issued_on < $1 AND {}",
                page_after("id", after)
            ))
            .bind(day.kept_from_text.as_str())
            .fetch_all(&self.pool)
            .await?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            for (id, issued_on) in rows {
                invoice_ids.push(id);
                *years.entry(stored_date(&issued_on)?.year()).or_default() += 1;
            }
        }
        let invoice_years = years
            .into_iter()
            .map(|(year, invoices)| {
                let first = Date::from_calendar_date(year, time::Month::January, 1).unwrap_or(day.kept_from);
                Ok(InvoiceYear {
                    year,
                    invoices,
                    kept_until: policy.invoice_kept_until(first).map_err(out_of_calendar)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;

        Ok(Plan {
            on,
            relationships_ended_before: day.ended_before,
            handles_last_used_before: day.handles_before,
            invoices_dated_before: day.kept_from,
            erasures,
            blocked,
            handles,
            invoice_years,
            invoice_ids,
        })
    }

    /// The customers due for erasure on the day: those the run erases, and
    /// those something blocks.
    async fn customers_due(&self, day: &Day<'_>) -> Result<(Vec<PlannedErasure>, Vec<PlannedErasure>), StoreError> {
        let (mut erasures, mut blocked) = (vec![], vec![]);
        let mut after = 0;
        let mut conn = self.pool.acquire().await?;
        loop {
            let (page, last) = customer_page(&mut conn, day, &page_after("c.id", after)).await?;
            for e in page {
                if e.blockers.is_empty() { erasures.push(e) } else { blocked.push(e) }
            }
            match last {
                Some(l) => after = l,
                None => break,
            }
        }
        Ok((erasures, blocked))
    }

    /// Carries out the plan for `on`, batch by batch; see the module comment.
    /// Records `on` as the last completed run when it is the latest so far.
    pub async fn retention_run(
        &self,
        access: &Access,
        policy: &RetentionPolicy,
        on: Date,
    ) -> Result<RunReport, StoreError> {
        permit::require(access, Resource::Retention, Action::Write)?;
        let day = Day::new(policy, on)?;
        let plan = self.retention_plan(policy, on).await?;
        let batch = policy.batch.max(1) as usize;
        let mut report = RunReport::default();

        let ids: Vec<i64> = plan.erasures.iter().map(|e| e.customer_id).collect();
        for chunk in ids.chunks(batch) {
            self.erase_due(access, &day, chunk, &mut report).await?;
        }

        for chunk in plan.handles.chunks(batch) {
            let ids: Vec<i64> = chunk.iter().map(|h| h.contact_id).collect();
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let (still, _) = handle_page(&mut *tx, &day, &format!("c.id IN ({}) ORDER BY c.id", id_list(&ids))).await?;
            report.skipped += (chunk.len() - still.len()) as u64;
            if !still.is_empty() {
                let gone: Vec<i64> = still.iter().map(|h| h.contact_id).collect();
                // At the registry first (queued), then here; never-sent ones at once.
                self.release_handles(&mut tx, &gone, ErasureReason::RetentionExpired).await?;
                let cols = records::columns("contacts");
                let events: Vec<Event> = still
                    .iter()
                    .map(|h| Event::new(access, "contact.delete", "customer", h.customer_id).fields(&cols))
                    .collect();
                crate::audit::append(&mut tx, &events).await?;
                report.handles_deleted += still.len() as u64;
            }
            tx.commit().await?;
        }

        for chunk in plan.invoice_ids.chunks(batch) {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let still: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
                "SELECT id, customer_id, key_id FROM invoices WHERE id IN ({}) AND issued_on < $1 ORDER BY id",
                id_list(chunk)
            ))
            .bind(day.kept_from_text.as_str())
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
            report.skipped += (chunk.len() - still.len()) as u64;
            if !still.is_empty() {
                let keys = delete_invoices(&mut tx, access, &still, ErasureReason::RetentionExpired).await?;
                tx.commit().await?;
                self.keys.forget_all(&keys);
                report.invoices_deleted += still.len() as u64;
            }
        }

        report.requests_erased = self.erase_handled_requests(access, on).await?;

        let mut tx = crate::db::write_tx(&self.pool).await?;
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE meta.value < excluded.value",
        )
        .bind(LAST_RUN)
        .bind(format_date(on))
        .execute(&mut *tx)
        .await?;
        // What the run did, for the owner's pages; the newest run's report wins.
        let summary = serde_json::json!({ "on": format_date(on), "report": &report }).to_string();
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE meta.value < excluded.value",
        )
        .bind(LAST_REPORT)
        .bind(summary)
        .execute(&mut *tx)
        .await?;
        let event = Event::new(access, "retention.run", "retention", format_date(on));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Erases those of the customers `ids` that are still due and unblocked on
    /// the day, in one transaction, and counts what happened.
    async fn erase_due(
        &self,
        access: &Access,
        day: &Day<'_>,
        ids: &[i64],
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (fresh, _) = customer_page(&mut tx, day, &format!("c.id IN ({}) ORDER BY c.id", id_list(ids))).await?;
        let ready = |cause| -> Vec<i64> {
            fresh.iter().filter(|e| e.cause == cause && e.blockers.is_empty()).map(|e| e.customer_id).collect()
        };
        let (requested, expired) = (ready(Cause::Request), ready(Cause::RetentionExpired));
        report.skipped += (ids.len() - requested.len() - expired.len()) as u64;
        let on_request = Access { purpose: AccessPurpose::DataSubjectRequest, ..access.clone() };
        let mut keys = self.erase_rows(&mut tx, &on_request, &requested, ErasureReason::CustomerRequest).await?;
        keys.extend(self.erase_rows(&mut tx, access, &expired, ErasureReason::RetentionExpired).await?);
        tx.commit().await?;
        self.keys.forget_all(&keys);
        report.erased_on_request += requested.len() as u64;
        report.erased_retention_expired += expired.len() as u64;
        Ok(())
    }

    /// Carries out the pending erasure requests that nothing blocks any more
    /// (M9: sooner when the customer asks). Run often; cheap when none wait.
    pub async fn carry_out_erasure_requests(
        &self,
        access: &Access,
        policy: &RetentionPolicy,
        on: Date,
    ) -> Result<RunReport, StoreError> {
        permit::require(access, Resource::Retention, Action::Write)?;
        let day = Day::new(policy, on)?;
        let mut report = RunReport::default();
        let mut after = 0i64;
        loop {
            let ids: Vec<i64> = sqlx::query_scalar(&format!(
                "SELECT customer_id FROM erasure_requests WHERE {}",
                page_after("customer_id", after)
            ))
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = ids.last() else { break };
            after = *last;
            let filter = format!("c.id IN ({}) ORDER BY c.id", id_list(&ids));
            let (page, _) = customer_page(&mut *self.pool.acquire().await?, &day, &filter).await?;
            let ready: Vec<i64> = page.iter().filter(|e| e.blockers.is_empty()).map(|e| e.customer_id).collect();
            for chunk in ready.chunks(policy.batch.max(1) as usize) {
                self.erase_due(access, &day, chunk, &mut report).await?;
            }
        }
        Ok(report)
    }
}
