//! The register of requests from data subjects, customers or not (Art. 12,
//! 15–21): what was asked and by whom, how identity was checked, the deadline
//! and its extension, the records found about the person (`matching.rs`), the
//! answer and its one-time download link (`answer.rs`), and the end of the
//! requester's data a year after the request closed (`keeping.rs`).
//!
//! The requester's data is sealed under a data key of the request's own, so
//! destroying that key erases it; everything else in a row is codes and dates.

mod answer;
mod keeping;
mod matching;

use custodian_domain::model::{Fields, format_date, parse_date};
use custodian_domain::policy::{Action, Resource};
use custodian_domain::requests::{
    AnswerChannel, ExtensionReason, IdentityCheck, Outcome, RequestKind, SubjectRequest, check_answer, check_extension,
};
use serde::Serialize;
use sqlx::Row;
use time::Date;

use crate::audit::{Access, Event};
use crate::records;
use crate::{Store, StoreError, now_micros, permit};

pub use answer::{AnswerDocument, AnswerRow, AnswerSection, LINK_DAYS};
pub(crate) use keeping::erase_rows;
pub use matching::{Match, RecordKind};

const TABLE: &str = "subject_requests";

/// A request as the register lists it: no personal data.
#[derive(Debug, Clone, Serialize)]
pub struct RequestSummary {
    pub id: i64,
    pub kind: RequestKind,
    pub received_on: Date,
    /// The deadline that applies: extended or not.
    pub due_on: Date,
    pub extension: Option<ExtensionReason>,
    pub closed_on: Option<Date>,
    pub outcome: Option<Outcome>,
    pub answer_by: Option<AnswerChannel>,
    /// The requester's data is gone (a year after closing).
    pub erased: bool,
}

impl RequestSummary {
    pub fn is_open(&self) -> bool {
        self.closed_on.is_none()
    }
}

/// Where the download link of a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    None,
    Waiting { expires_at: i64 },
    Expired,
    Used { at: i64 },
}

/// One request in full, for the owner.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub summary: RequestSummary,
    pub identity_check: IdentityCheck,
    /// The requester's data (empty once erased).
    pub requester: Fields,
    /// The records confirmed to be about the person.
    pub records: Vec<Match>,
    pub answer_ready: bool,
    pub link: LinkState,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("subject request: {what}"))
}

const SUMMARY_COLUMNS: &str =
    "id, kind, received_on, due_on, extended_to, extension_reason, closed_on, outcome, answer_by, erased_at";

fn summary(r: &sqlx::any::AnyRow) -> Result<RequestSummary, StoreError> {
    let date = |i: usize| -> Result<Option<Date>, StoreError> {
        let text: Option<String> = r.try_get(i)?;
        text.map(|t| parse_date(&t).map_err(|_| corrupt("date"))).transpose()
    };
    let code = |i: usize| -> Result<Option<String>, StoreError> { Ok(r.try_get(i)?) };
    let received_on = date(2)?.ok_or_else(|| corrupt("no date"))?;
    Ok(RequestSummary {
        id: r.try_get(0)?,
        kind: RequestKind::parse(&r.try_get::<String, _>(1)?).map_err(|_| corrupt("kind"))?,
        received_on,
        due_on: date(4)?.or(date(3)?).ok_or_else(|| corrupt("no deadline"))?,
        extension: code(5)?.map(|c| ExtensionReason::parse(&c).map_err(|_| corrupt("reason"))).transpose()?,
        closed_on: date(6)?,
        outcome: code(7)?.map(|c| Outcome::parse(&c).map_err(|_| corrupt("outcome"))).transpose()?,
        answer_by: code(8)?.map(|c| AnswerChannel::parse(&c).map_err(|_| corrupt("channel"))).transpose()?,
        erased: r.try_get::<Option<i64>, _>(9)?.is_some(),
    })
}

impl Store {
    /// Records a request; its deadline follows from the day it came in.
    pub async fn record_subject_request(&self, access: &Access, request: &SubjectRequest) -> Result<i64, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Write)?;
        let fields = request.requester_fields();
        permit::require_writes(access, TABLE, fields.keys())?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (key_id, key) = self.keys.new_data_key(&mut tx).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subject_requests (kind, key_id, received_on, due_on, identity_check, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(request.kind.as_str())
        .bind(key_id)
        .bind(format_date(request.received_on))
        .bind(format_date(request.due_on()))
        .bind(request.identity_check.as_str())
        .bind(access.actor.reference())
        .bind(now_micros())
        .fetch_one(&mut *tx)
        .await?;
        let cols = records::columns(TABLE);
        let sql =
            format!("UPDATE subject_requests SET {} WHERE id = ${}", records::assignments(1, &cols), cols.len() + 1);
        let mut q = sqlx::query(&sql);
        for v in records::seal(&key, TABLE, id, &fields) {
            q = q.bind(v);
        }
        q.bind(id).execute(&mut *tx).await?;
        let mut event = Event::new(access, "request.record", "subject_request", id).fields(fields.keys());
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The register: open requests first, soonest deadline first, then the
    /// closed ones, newest first. Reads no personal data.
    pub async fn subject_requests(&self, access: &Access) -> Result<Vec<RequestSummary>, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Read)?;
        let rows = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM subject_requests
             ORDER BY CASE WHEN closed_on IS NULL THEN 0 ELSE 1 END, COALESCE(extended_to, due_on), id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut list = rows.iter().map(summary).collect::<Result<Vec<_>, _>>()?;
        // Closed ones newest first; SQL ordered them by deadline.
        let open = list.iter().take_while(|r| r.is_open()).count();
        list[open..].sort_by(|a, b| b.closed_on.cmp(&a.closed_on).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    /// The open requests, soonest deadline first (the owner's home page).
    pub async fn open_subject_requests(&self, access: &Access) -> Result<Vec<RequestSummary>, StoreError> {
        Ok(self.subject_requests(access).await?.into_iter().take_while(RequestSummary::is_open).collect())
    }

    /// One request with the requester's data; audited as a read.
    pub async fn subject_request(&self, access: &Access, id: i64) -> Result<RequestRecord, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Read)?;
        let cols = records::columns(TABLE);
        let row = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS}, identity_check, key_id, link_hash, link_expires_at, link_used_at, {} FROM subject_requests WHERE id = $1",
            cols.join(", ")
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { kind: "request", id: id.to_string() })?;
        let summary = summary(&row)?;
        let identity_check =
            IdentityCheck::parse(&row.try_get::<String, _>("identity_check")?).map_err(|_| corrupt("check"))?;
        let key_id: Option<i64> = row.try_get("key_id")?;
        let readable = permit::readable(access);
        let (requester, answer_ready) = match key_id {
            Some(k) => {
                let key = self.keys.data_key(&self.pool, k).await?;
                let answer: Option<Vec<u8>> = row.try_get("answer")?;
                (records::open(&key, TABLE, id, &row, |f| f.column != "answer" && readable(f))?, answer.is_some())
            }
            None => (Fields::new(), false),
        };
        let has_link = row.try_get::<Option<Vec<u8>>, _>("link_hash")?.is_some();
        let link = match (has_link, row.try_get::<Option<i64>, _>("link_used_at")?, row.try_get("link_expires_at")?) {
            (_, Some(at), _) => LinkState::Used { at },
            (true, None, Some(expires_at)) if expires_at > now_micros() => LinkState::Waiting { expires_at },
            (true, None, Some(_)) => LinkState::Expired,
            _ => LinkState::None,
        };
        let records = self.request_records(id).await?;
        let mut event = Event::new(access, "request.read", "subject_request", id).fields(requester.keys());
        self.keys.seal_source(&mut event, None);
        self.record(event).await?;
        Ok(RequestRecord { summary, identity_check, requester, records, answer_ready, link })
    }

    /// Extends the deadline by two months with one of the reasons the law
    /// allows; only within the first month, and once.
    pub async fn extend_subject_request(
        &self,
        access: &Access,
        id: i64,
        reason: ExtensionReason,
        today: Date,
    ) -> Result<Date, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let current = self.open_request(&mut tx, id).await?;
        let to = check_extension(current.received_on, current.extension.is_some(), today)
            .map_err(|e| StoreError::Invalid(custodian_domain::model::FieldErrors::single("extension_reason", e)))?;
        sqlx::query("UPDATE subject_requests SET extended_to = $1, extension_reason = $2 WHERE id = $3")
            .bind(format_date(to))
            .bind(reason.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut event = Event::new(access, "request.extend", "subject_request", id).fields([reason.as_str()]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(to)
    }

    /// Closes a request with its outcome and how the answer went out. An
    /// access request answered with data needs its answer prepared first,
    /// and by link only once the link was made. The prepared answer and the
    /// link go; the register keeps the rest.
    pub async fn close_subject_request(
        &self,
        access: &Access,
        id: i64,
        outcome: Outcome,
        by: AnswerChannel,
        today: Date,
    ) -> Result<(), StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let current = self.open_request(&mut tx, id).await?;
        check_answer(current.kind, outcome, by)
            .map_err(|e| StoreError::Invalid(custodian_domain::model::FieldErrors::single("answer_by", e)))?;
        let (answer, link): (Option<Vec<u8>>, Option<Vec<u8>>) =
            sqlx::query_as("SELECT answer, link_hash FROM subject_requests WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if current.kind == RequestKind::Access && outcome == Outcome::Done {
            if answer.is_none() {
                return Err(StoreError::Refused(crate::Refusal::RequestAnswerMissing));
            }
            if by == AnswerChannel::Link && link.is_none() {
                return Err(StoreError::Refused(crate::Refusal::RequestLinkMissing));
            }
        }
        sqlx::query(
            "UPDATE subject_requests SET closed_on = $1, closed_by = $2, outcome = $3, answer_by = $4, status = 'closed',
             answer = NULL, link_hash = NULL WHERE id = $5",
        )
        .bind(format_date(today))
        .bind(access.actor.reference())
        .bind(outcome.as_str())
        .bind(by.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut event =
            Event::new(access, "request.close", "subject_request", id).fields([outcome.as_str(), by.as_str()]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The request `id` if it is still open, inside a writing transaction.
    async fn open_request(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
    ) -> Result<RequestSummary, StoreError> {
        let row = sqlx::query(&format!("SELECT {SUMMARY_COLUMNS} FROM subject_requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound { kind: "request", id: id.to_string() })?;
        let current = summary(&row)?;
        if !current.is_open() {
            return Err(StoreError::Refused(crate::Refusal::RequestClosed));
        }
        Ok(current)
    }
}
