//! The owner's register of requests from data subjects (Art. 12, 15–21),
//! customers or not: recording one, the deadline and its extension, the
//! records the blind indexes lead to, closing it. The answer and its
//! download link are in `answer.rs`.

mod answer;

pub(crate) use answer::{answer_page, download, download_form, make_link, prepare_answer};

use askama::Template;
use axum::extract::{Form, Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use custodian_domain::model::{FieldErrors, Fields, format_date, long_date};
use custodian_domain::requests::{
    AnswerChannel, ExtensionReason, IdentityCheck, Outcome, REQUEST_FIELDS, RequestKind, SubjectRequest,
};
use custodian_store::requests::{LinkState, Match, RecordKind, RequestRecord, RequestSummary};
use custodian_store::{AccessPurpose, StoreError};

use crate::State;
use crate::extract::Staff;
use crate::pages::{FormFields, actionable, page, store_error};
use crate::view::{self, ErrorLink, Page, when};

fn today() -> time::Date {
    crate::amsterdam::local(time::OffsetDateTime::now_utc()).date()
}

/// Every store call here is for a request of a data subject.
fn access(viewer: &Staff) -> custodian_store::Access {
    viewer.access(AccessPurpose::DataSubjectRequest)
}

/// A request as a row of the register or of the owner's home page.
pub(crate) struct RequestRow {
    pub id: i64,
    pub kind: &'static str,
    pub received: String,
    pub due: String,
    /// Days left until the deadline; negative when overdue.
    pub days_left: i64,
    pub extended: bool,
    pub closed: String,
    pub outcome: &'static str,
}

impl RequestRow {
    pub(crate) fn of(r: &RequestSummary, lang: Lang) -> RequestRow {
        RequestRow {
            id: r.id,
            kind: r.kind.label(lang),
            received: format_date(r.received_on),
            due: long_date(r.due_on, lang),
            days_left: (r.due_on - today()).whole_days(),
            extended: r.extension.is_some(),
            closed: r.closed_on.map(format_date).unwrap_or_default(),
            outcome: r.outcome.map(|o| o.label(r.kind, lang)).unwrap_or_default(),
        }
    }

    /// "3 days left", "due today", "2 days late".
    pub(crate) fn left(&self, lang: &Lang) -> String {
        let lang = *lang;
        match self.days_left {
            0 => lang.pick("vandaag", "today").into(),
            1 => lang.pick("nog 1 dag", "1 day left").into(),
            n if n > 1 => match lang {
                Lang::Nl => format!("nog {n} dagen"),
                Lang::En => format!("{n} days left"),
            },
            -1 => lang.pick("1 dag te laat", "1 day late").into(),
            n => format!("{} {}", -n, lang.pick("dagen te laat", "days late")),
        }
    }
}

/// Choices of a select: value and label.
type Choices = Vec<(&'static str, &'static str)>;

/// Choices with whether each is the one chosen.
type Chosen = Vec<(&'static str, &'static str, bool)>;

fn chosen<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
    picked: Option<&String>,
) -> Chosen {
    all.iter().map(|v| (code(*v), label(*v), picked.is_some_and(|p| p == code(*v)))).collect()
}

#[derive(Template)]
#[template(path = "staff/requests.html")]
struct Register {
    page: Page,
    open: Vec<RequestRow>,
    closed: Vec<RequestRow>,
    /// Received on, as typed or today.
    received_on: String,
    /// The text inputs: name, label, input type, required, value.
    inputs: Vec<(&'static str, &'static str, &'static str, bool, String)>,
    errors: Vec<ErrorLink>,
    kinds: Chosen,
    checks: Chosen,
}

fn register_page(
    state: &State,
    viewer: &Staff,
    list: &[RequestSummary],
    form: Fields,
    errors: Vec<ErrorLink>,
) -> Response {
    let lang = viewer.lang;
    let rows = list.iter().map(|r| RequestRow::of(r, lang));
    let (open, closed): (Vec<_>, Vec<_>) = rows.partition(|r| r.closed.is_empty());
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut r = view::render(Register {
        page: page(state, viewer, lang.pick("Verzoeken van betrokkenen", "Data subject requests")),
        open,
        closed,
        kinds: chosen(RequestKind::ALL, RequestKind::as_str, |k| k.label(lang), form.get("kind")),
        checks: chosen(IdentityCheck::ALL, IdentityCheck::as_str, |c| c.label(lang), form.get("identity_check")),
        received_on: form.get("received_on").cloned().unwrap_or_else(|| format_date(today())),
        inputs: [
            ("name", "text", true),
            ("email", "email", false),
            ("phone", "tel", false),
            ("address", "text", false),
            ("handle", "text", false),
            ("summary", "text", true),
        ]
        .into_iter()
        .map(|(name, kind, required)| {
            (name, input_label(name, lang), kind, required, form.get(name).cloned().unwrap_or_default())
        })
        .collect(),
        errors,
    });
    *r.status_mut() = status;
    r
}

/// The register: open requests by deadline, closed ones, and the form to
/// record a new one.
pub(crate) async fn register(AxState(state): AxState<State>, viewer: Staff) -> Response {
    match state.store.subject_requests(&access(&viewer)).await {
        Ok(list) => register_page(&state, &viewer, &list, Fields::new(), vec![]),
        Err(e) => store_error(&viewer, e),
    }
}

/// Field errors as links to their inputs, labelled for the owner.
fn error_links(errors: &FieldErrors, lang: Lang) -> Vec<ErrorLink> {
    errors
        .0
        .iter()
        .map(|e| {
            ErrorLink::to(
                &format!("r-{}", e.field),
                format!("{}: {}", field_label(&e.field, lang), e.error.message(lang)),
            )
        })
        .collect()
}

/// The form's labels, with what is expected where it helps.
fn input_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "address" => lang.pick(
            "Postadres (straat en nummer, postcode, plaats)",
            "Postal address (street and number, postal code, city)",
        ),
        "handle" => lang.pick("Handle die de persoon noemt", "Handle the person names"),
        "summary" => lang.pick("Wat vraagt de persoon? (één zin)", "What does the person ask? (one sentence)"),
        other => field_label(other, lang),
    }
}

fn field_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "kind" => lang.pick("Soort verzoek", "Kind of request"),
        "received_on" => lang.pick("Ontvangen op", "Received on"),
        "identity_check" => lang.pick("Identiteit vastgesteld door", "Identity checked by"),
        "extension_reason" => lang.pick("Verlenging", "Extension"),
        "answer_by" => lang.pick("Antwoord", "Answer"),
        other => custodian_domain::inventory::field("subject_requests", other).map(|f| f.label(lang)).unwrap_or("?"),
    }
}

/// Records a request (by letter, phone or e-mail) with how identity was checked.
pub(crate) async fn record(AxState(state): AxState<State>, viewer: Staff, Form(form): Form<FormFields>) -> Response {
    let lang = viewer.lang;
    let input: Fields = form
        .iter()
        .filter(|(k, _)| REQUEST_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let refused = |errors: Vec<ErrorLink>| async {
        match state.store.subject_requests(&access(&viewer)).await {
            Ok(list) => register_page(&state, &viewer, &list, input.clone(), errors),
            Err(e) => store_error(&viewer, e),
        }
    };
    let request = match SubjectRequest::from_fields(&input, today()) {
        Ok(r) => r,
        Err(errors) => return refused(error_links(&errors, lang)).await,
    };
    match state.store.record_subject_request(&access(&viewer), &request).await {
        Ok(id) => Redirect::to(&format!("/staff/requests/{id}")).into_response(),
        Err(e) => match actionable(&e, lang) {
            Some(message) => refused(vec![ErrorLink::form(message)]).await,
            None => store_error(&viewer, e),
        },
    }
}

/// A found or confirmed record, as the request page lists it.
struct RecordRow {
    key: String,
    what: String,
    customer: Option<i64>,
    matched_on: String,
    confirmed: bool,
}

#[derive(Template)]
#[template(path = "staff/request.html")]
struct RequestPage {
    page: Page,
    id: i64,
    row: RequestRow,
    left: String,
    open: bool,
    access_request: bool,
    identity: &'static str,
    extension: &'static str,
    requester: Vec<(&'static str, String)>,
    found: Vec<RecordRow>,
    searched: bool,
    answer_ready: bool,
    link: String,
    reasons: Choices,
    outcomes: Choices,
    channels: Choices,
    may_extend: bool,
    error: String,
    notice: String,
}

fn record_row(m: &Match, confirmed: bool, lang: Lang) -> RecordRow {
    let what = match (m.kind, m.customer_id) {
        (RecordKind::Customer, _) => format!("{} {}", lang.pick("Klant", "Customer"), m.id),
        (RecordKind::Contact, Some(c)) => format!(
            "{} {} {} {c}",
            lang.pick("Domeincontact (handle)", "Domain contact (handle)"),
            m.id,
            lang.pick("van klant", "of customer")
        ),
        (RecordKind::Contact, None) => {
            format!("{} {}", lang.pick("Domeincontact (handle)", "Domain contact (handle)"), m.id)
        }
    };
    let on = m
        .matched_on
        .iter()
        .map(|o| match o.as_str() {
            "email" => lang.pick("e-mailadres", "e-mail address"),
            "handle" => lang.pick("handle", "handle"),
            _ => lang.pick("alle woorden van de naam", "every word of the name"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    RecordRow { key: format!("{}-{}", m.kind.as_str(), m.id), what, customer: m.customer_id, matched_on: on, confirmed }
}

async fn show_page(
    state: &State,
    viewer: &Staff,
    id: i64,
    found: Option<Vec<Match>>,
    notice: String,
    error: String,
) -> Response {
    let lang = viewer.lang;
    let record: RequestRecord = match state.store.subject_request(&access(viewer), id).await {
        Ok(r) => r,
        Err(e) => return store_error(viewer, e),
    };
    let s = &record.summary;
    let row = RequestRow::of(s, lang);
    let searched = found.is_some();
    let mut rows: Vec<RecordRow> = record.records.iter().map(|m| record_row(m, true, lang)).collect();
    for m in found.iter().flatten() {
        if !record.records.iter().any(|r| r.kind == m.kind && r.id == m.id) {
            rows.push(record_row(m, false, lang));
        }
    }
    let requester = ["name", "email", "phone", "address", "handle", "summary"]
        .into_iter()
        .filter_map(|c| record.requester.get(c).map(|v| (field_label(c, lang), v.clone())))
        .collect();
    let link = match record.link {
        LinkState::None => String::new(),
        LinkState::Waiting { expires_at } => {
            format!("{} {}", lang.pick("Downloadlink werkt tot", "Download link works until"), when(expires_at))
        }
        LinkState::Expired => lang.pick("De downloadlink is verlopen.", "The download link has expired.").into(),
        LinkState::Used { at } => format!("{} {}", lang.pick("Gedownload op", "Downloaded on"), when(at)),
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut r = view::render(RequestPage {
        page: page(state, viewer, &format!("{} {id}", lang.pick("Verzoek", "Request"))),
        id,
        left: row.left(&lang),
        row,
        open: s.is_open(),
        access_request: s.kind == RequestKind::Access,
        identity: record.identity_check.label(lang),
        extension: s.extension.map(|e| e.label(lang)).unwrap_or_default(),
        requester,
        found: rows,
        searched,
        answer_ready: record.answer_ready,
        link,
        reasons: ExtensionReason::ALL.iter().map(|r| (r.as_str(), r.label(lang))).collect(),
        outcomes: Outcome::ALL.iter().map(|o| (o.as_str(), o.label(s.kind, lang))).collect(),
        channels: AnswerChannel::ALL.iter().map(|c| (c.as_str(), c.label(lang))).collect(),
        may_extend: s.is_open()
            && s.extension.is_none()
            && today() <= custodian_domain::requests::first_deadline(s.received_on),
        error,
        notice,
    });
    *r.status_mut() = status;
    r
}

pub(crate) async fn show(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    show_page(&state, &viewer, id, None, String::new(), String::new()).await
}

/// Runs the lookups and shows what they found beside what was confirmed.
pub(crate) async fn find(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    match state.store.find_request_records(&access(&viewer), id).await {
        Ok(found) => show_page(&state, &viewer, id, Some(found), String::new(), String::new()).await,
        Err(e) => after(&state, &viewer, id, Err(e)).await,
    }
}

/// Confirms the ticked records as the ones about the person.
pub(crate) async fn confirm(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    let chosen: Vec<(RecordKind, i64)> = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == "record")
        .filter_map(|(_, v)| {
            let (kind, n) = v.split_once('-')?;
            Some((RecordKind::parse(kind)?, n.parse().ok()?))
        })
        .collect();
    after(&state, &viewer, id, state.store.confirm_request_records(&access(&viewer), id, &chosen).await).await
}

pub(crate) async fn extend(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let Some(reason) = form.get("reason").and_then(|r| ExtensionReason::parse(r).ok()) else {
        let error = viewer.lang.pick("Kies de reden van de verlenging.", "Choose the reason for the extension.");
        return show_page(&state, &viewer, id, None, String::new(), error.into()).await;
    };
    after(
        &state,
        &viewer,
        id,
        state.store.extend_subject_request(&access(&viewer), id, reason, today()).await.map(drop),
    )
    .await
}

pub(crate) async fn close(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let outcome = form.get("outcome").and_then(|o| Outcome::parse(o).ok());
    let by = form.get("answer_by").and_then(|b| AnswerChannel::parse(b).ok());
    let (Some(outcome), Some(by)) = (outcome, by) else {
        let error = lang.pick(
            "Kies de uitkomst en hoe het antwoord verstuurd is.",
            "Choose the outcome and how the answer went out.",
        );
        return show_page(&state, &viewer, id, None, String::new(), error.into()).await;
    };
    after(&state, &viewer, id, state.store.close_subject_request(&access(&viewer), id, outcome, by, today()).await)
        .await
}

/// Back to the request after a change, or its page with what was refused.
async fn after(state: &State, viewer: &Staff, id: i64, done: Result<(), StoreError>) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/staff/requests/{id}")).into_response(),
        Err(e) => match actionable(&e, viewer.lang) {
            Some(message) => show_page(state, viewer, id, None, String::new(), message).await,
            None => store_error(viewer, e),
        },
    }
}
