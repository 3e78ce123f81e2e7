//! The retention plan: what the next run erases and deletes, and why.

use askama::Template;
use axum::extract::State as AxState;
use axum::response::Response;
use custodian_domain::model::{format_date, parse_date};
use custodian_store::StoreError;

use crate::State;
use crate::extract::Staff;
use crate::pages::{page, store_error};
use crate::view::{self, Page};

#[derive(serde::Deserialize)]
pub(crate) struct OnQuery {
    on: Option<String>,
}

/// One customer in the plan, as shown.
struct ErasureRow {
    customer: i64,
    cause: &'static str,
    ended: String,
    due: String,
    blockers: String,
}

#[derive(Template)]
#[template(path = "staff/retention.html")]
struct RetentionPlan {
    page: Page,
    on: String,
    error: String,
    last_run: String,
    next_run: String,
    erasures: Vec<ErasureRow>,
    erasures_total: usize,
    blocked: Vec<ErasureRow>,
    blocked_total: usize,
    handles: Vec<(i64, i64, String, String)>,
    handles_total: usize,
    invoice_years: Vec<(i32, u64, String)>,
    invoices_total: usize,
    cutoffs: String,
}

/// Rows of each list shown on the page; the counts above them are complete.
const SHOWN: usize = 1000;

/// The retention plan for a day (today unless `?on=` gives one): what the run
/// erases and deletes and why, the same plan `custodian retention plan` prints.
pub(crate) async fn retention(
    AxState(state): AxState<State>,
    viewer: Staff,
    axum::extract::Query(q): axum::extract::Query<OnQuery>,
) -> Response {
    let lang = viewer.lang;
    let policy = &state.config.retention;
    let today = time::OffsetDateTime::now_utc().date();
    let title = lang.pick("Bewaartermijnen", "Retention");
    let refuse = |on: String, error: String| {
        let mut r = view::render(RetentionPlan {
            page: page(&state, &viewer, title),
            on,
            error,
            last_run: String::new(),
            next_run: String::new(),
            erasures: vec![],
            erasures_total: 0,
            blocked: vec![],
            blocked_total: 0,
            handles: vec![],
            handles_total: 0,
            invoice_years: vec![],
            invoices_total: 0,
            cutoffs: String::new(),
        });
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        r
    };
    let asked = q.on.unwrap_or_default();
    let on = match asked.trim() {
        "" => today,
        text => match parse_date(text) {
            Ok(d) => d,
            Err(e) => return refuse(asked.clone(), e.message(lang).to_string()),
        },
    };
    let plan = match state.store.retention_plan(policy, on).await {
        Ok(p) => p,
        Err(StoreError::Invalid(e)) => return refuse(asked, e.0.iter().map(|f| f.error.message(lang)).collect()),
        Err(e) => return store_error(&viewer, e),
    };
    let schedule = match state.store.retention_schedule().await {
        Ok(s) => s,
        Err(e) => return store_error(&viewer, e),
    };
    let day = |d: Option<time::Date>| d.map(format_date).unwrap_or_else(|| "—".into());
    let next_run = policy.next_due_run(today, schedule).map(format_date).unwrap_or_else(|e| e.message(lang));
    let row = |e: &custodian_store::PlannedErasure| ErasureRow {
        customer: e.customer_id,
        cause: match e.cause {
            custodian_store::Cause::Request => lang.pick("verzoek van de klant", "the customer's request"),
            custodian_store::Cause::RetentionExpired => lang.pick("bewaartermijn voorbij", "retention ended"),
        },
        ended: day(e.relationship_ended_on),
        due: format_date(e.due_on),
        blockers: e.blockers.iter().map(|b| b.summary(lang)).collect::<Vec<_>>().join("; "),
    };
    let cutoffs = format!("{}.", plan.cutoffs(lang));
    view::render(RetentionPlan {
        page: page(&state, &viewer, title),
        on: format_date(on),
        error: String::new(),
        last_run: day(schedule.last_run),
        next_run,
        erasures: plan.erasures.iter().take(SHOWN).map(row).collect(),
        erasures_total: plan.erasures.len(),
        blocked: plan.blocked.iter().take(SHOWN).map(row).collect(),
        blocked_total: plan.blocked.len(),
        handles: plan
            .handles
            .iter()
            .take(SHOWN)
            .map(|h| (h.contact_id, h.customer_id, format_date(h.last_used_on), format_date(h.due_on)))
            .collect(),
        handles_total: plan.handles.len(),
        invoice_years: plan.invoice_years.iter().map(|y| (y.year, y.invoices, format_date(y.kept_until))).collect(),
        invoices_total: plan.invoice_ids.len(),
        cutoffs,
    })
}
