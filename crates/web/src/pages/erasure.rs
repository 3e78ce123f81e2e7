//! Keeping and erasing one customer (owner): the legal hold, the customer's
//! erasure request, what blocks erasure and why, ending services, erasing
//! with a typed confirmation, and where the retention schedule stands.

use askama::Template;
use axum::extract::{Form, Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use custodian_domain::model::{format_date, parse_date};
use custodian_domain::retention::{Blocker, HoldReason};
use custodian_store::{AccessPurpose, ErasureReason, ErasureStanding, RequestOutcome, StoreError};

use crate::State;
use crate::extract::Staff;
use crate::pages::{FormFields, page, store_error, who};
use crate::view::{self, Page, when};

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// What blocks erasure, as the owner acts on it.
fn blocker_label(b: Blocker, lang: Lang) -> String {
    match (b, lang) {
        (Blocker::RunningServices { count: 1 }, Lang::Nl) => "Er loopt nog een dienst; beëindig die eerst.".into(),
        (Blocker::RunningServices { count }, Lang::Nl) => format!("Er lopen nog {count} diensten; beëindig die eerst."),
        (Blocker::RunningServices { count: 1 }, Lang::En) => "A service still runs; end it first.".into(),
        (Blocker::RunningServices { count }, Lang::En) => format!("{count} services still run; end them first."),
        (Blocker::UnpaidInvoices { count: 1 }, Lang::Nl) => {
            "Er staat een factuur open. Een verzoek wacht daarop; zelf wissen mag wel (de vordering vervalt dan)."
                .into()
        }
        (Blocker::UnpaidInvoices { count }, Lang::Nl) => format!(
            "Er staan {count} facturen open. Een verzoek wacht daarop; zelf wissen mag wel (de vordering vervalt dan)."
        ),
        (Blocker::UnpaidInvoices { count: 1 }, Lang::En) => {
            "An invoice is unpaid. A request waits for it; you may still erase (writing the debt off).".into()
        }
        (Blocker::UnpaidInvoices { count }, Lang::En) => {
            format!(
                "{count} invoices are unpaid. A request waits for them; you may still erase (writing the debt off)."
            )
        }
        (Blocker::LegalHold { reason }, _) => format!(
            "{}: {}. {}",
            lang.pick("Wettelijke bewaarplicht", "Legal hold"),
            reason.describe(lang),
            lang.pick("Hef die eerst op.", "Lift it first.")
        ),
    }
}

struct ServiceRow {
    id: i64,
    kind: String,
    started: String,
    ended: String,
    running: bool,
}

#[derive(Template)]
#[template(path = "staff/erasure.html")]
struct ErasurePage {
    page: Page,
    id: i64,
    standing: ErasureStanding,
    hold: String,
    requested: String,
    blockers: Vec<String>,
    /// Erasing now is refused (a service runs, or a hold is in place).
    erase_blocked: bool,
    services: Vec<ServiceRow>,
    reasons: Vec<(&'static str, &'static str)>,
    today: String,
    last_run: String,
    next_run: String,
    notice: String,
    error: String,
}

async fn show(state: &State, viewer: &Staff, id: i64, notice: String, error: String) -> Response {
    let lang = viewer.lang;
    let policy = &state.config.retention;
    let access = viewer.access(AccessPurpose::DataSubjectRequest);
    let standing = match state.store.erasure_standing(&access, policy, id, today()).await {
        Ok(s) => s,
        Err(e) => return store_error(viewer, e),
    };
    let schedule = match state.store.retention_schedule().await {
        Ok(s) => s,
        Err(e) => return store_error(viewer, e),
    };
    let last_run = match state.store.retention_last_report().await {
        Ok(Some((on, r))) => format!("{}: {}.", format_date(on), r.describe(lang)),
        Ok(None) => lang.pick("nog niet gedraaid", "not run yet").into(),
        Err(e) => return store_error(viewer, e),
    };
    let next_run = policy.next_due_run(today(), schedule).map(format_date).unwrap_or_else(|e| e.message(lang));
    let hold = standing
        .hold
        .map(|(r, at)| format!("{} ({} {})", r.describe(lang), lang.pick("sinds", "since"), when(at)))
        .unwrap_or_default();
    let requested = standing.requested_at.map(when).unwrap_or_default();
    let blockers = standing.blockers.iter().map(|b| blocker_label(*b, lang)).collect();
    let erase_blocked = standing.blockers.iter().any(|b| !matches!(b, Blocker::UnpaidInvoices { .. }));
    let services = standing
        .services
        .iter()
        .map(|s| ServiceRow {
            id: s.id,
            kind: who::service_label(&s.kind, lang).into(),
            started: s.started_on.clone(),
            ended: s.ended_on.clone().unwrap_or_default(),
            running: s.status != "ended",
        })
        .collect();
    let title =
        format!("{} {id}: {}", lang.pick("Klant", "Customer"), lang.pick("bewaren en wissen", "keeping and erasing"));
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut r = view::render(ErasurePage {
        page: page(state, viewer, &title),
        id,
        standing,
        hold,
        requested,
        blockers,
        erase_blocked,
        services,
        reasons: HoldReason::ALL.iter().map(|r| (r.as_str(), r.describe(lang))).collect(),
        today: format_date(today()),
        last_run,
        next_run,
        notice,
        error,
    });
    *r.status_mut() = status;
    r
}

pub(crate) async fn standing(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    show(&state, &viewer, id, String::new(), String::new()).await
}

/// The answer once a customer is erased: the page about them is gone.
fn erased(lang: Lang) -> Response {
    view::message(
        lang,
        lang.pick("Klant gewist", "Customer erased"),
        lang.pick(
            "De gegevens van deze klant zijn gewist en de sleutel is vernietigd. Facturen blijven bewaard zolang de wet vraagt.",
            "This customer's data is erased and its key destroyed. Invoices are kept as long as the law requires.",
        ),
    )
}

/// After a change: back to the page (POST/redirect/GET), or the refusal shown on it.
async fn after(state: &State, viewer: &Staff, id: i64, done: Result<(), StoreError>) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/staff/customers/{id}/erasure")).into_response(),
        Err(StoreError::Refused(refusal)) => show(state, viewer, id, String::new(), refusal.message(viewer.lang)).await,
        Err(e) => store_error(viewer, e),
    }
}

fn confirmed(form: &FormFields) -> bool {
    form.get("confirm").map(String::as_str) == Some("yes")
}

pub(crate) async fn place_hold(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let Some(reason) = form.get("reason").and_then(|r| HoldReason::parse(r)) else {
        let error = lang.pick("Kies de reden van de bewaarplicht.", "Choose the reason for the hold.").into();
        return show(&state, &viewer, id, String::new(), error).await;
    };
    let access = viewer.access(AccessPurpose::LegalObligation);
    after(&state, &viewer, id, state.store.place_legal_hold(&access, id, reason).await).await
}

pub(crate) async fn lift_hold(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    if !confirmed(&form) {
        let error = viewer.lang.pick("Vink aan dat de bewaarplicht voorbij is.", "Tick that the hold is over.").into();
        return show(&state, &viewer, id, String::new(), error).await;
    }
    let access = viewer.access(AccessPurpose::LegalObligation);
    after(&state, &viewer, id, state.store.lift_legal_hold(&access, id).await.map(drop)).await
}

/// Records the customer's request (made by phone or letter); erases at once
/// when nothing blocks it, as a request from the portal does.
pub(crate) async fn record_request(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    if !confirmed(&form) {
        let error = lang
            .pick("Vink aan dat de klant om verwijdering vroeg.", "Tick that the customer asked for erasure.")
            .into();
        return show(&state, &viewer, id, String::new(), error).await;
    }
    let access = viewer.access(AccessPurpose::DataSubjectRequest);
    match state.store.request_erasure(&access, &state.config.retention, id, today()).await {
        Ok(RequestOutcome::Erased) => erased(lang),
        Ok(RequestOutcome::Waiting(_)) => after(&state, &viewer, id, Ok(())).await,
        Err(e) => after(&state, &viewer, id, Err(e)).await,
    }
}

pub(crate) async fn withdraw_request(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let access = viewer.access(AccessPurpose::DataSubjectRequest);
    after(&state, &viewer, id, state.store.withdraw_erasure_request(&access, id).await.map(drop)).await
}

/// Erases now, after the customer number is typed as confirmation.
pub(crate) async fn erase(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    if form.get("confirm_number").map(|n| n.trim()) != Some(id.to_string().as_str()) {
        let error = lang
            .pick(
                "Typ het klantnummer over om het wissen te bevestigen.",
                "Type the customer number to confirm the erasure.",
            )
            .into();
        return show(&state, &viewer, id, String::new(), error).await;
    }
    let access = viewer.access(AccessPurpose::DataSubjectRequest);
    match state.store.erase_customer(&access, id, ErasureReason::CustomerRequest).await {
        Ok(_) => erased(lang),
        Err(e) => after(&state, &viewer, id, Err(e)).await,
    }
}

/// Ends a running service on the day given (today when left empty).
pub(crate) async fn end_service(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path((id, service)): Path<(i64, i64)>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let on = match form.get("ended_on").map(|d| d.trim()).unwrap_or("") {
        "" => today(),
        text => match parse_date(text) {
            Ok(d) => d,
            Err(e) => return show(&state, &viewer, id, String::new(), e.message(lang).to_string()).await,
        },
    };
    let access = viewer.access(AccessPurpose::Administration);
    after(&state, &viewer, id, state.store.end_customer_service(&access, id, service, on).await.map(drop)).await
}
