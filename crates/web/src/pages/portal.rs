//! The customer's own pages: see, correct, download and delete their data, and
//! see who else looked at it (M3, GDPR art. 15–17 and 20).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State as AxState};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use custodian_domain::inventory;
use custodian_domain::model::FieldErrors;
use custodian_store::{AccessPurpose, Entry, Export, RequestOutcome, StoreError};

use crate::State;
use crate::extract::{Customer, Viewer};
use crate::pages::{FormFields, page, store_error, who, without_csrf};
use crate::view::{self, ErrorLink, FieldView, Page, euros, field_views, when};

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct Dashboard {
    page: Page,
    export: Arc<Export>,
    /// The customer's name for the printout's heading.
    name: String,
    profile: Vec<FieldView>,
    /// Each handle's details, labelled.
    contacts: Vec<Vec<FieldView>>,
    /// Kind, description, state, since: in words.
    services: Vec<[String; 4]>,
    /// The statute version customers accept now, when not yet accepted by this one.
    statute_offer: String,
    invoices: Vec<InvoiceView>,
    statutes: Vec<String>,
    /// The printable page's access log (the dashboard links to it instead).
    entries: Vec<AccessRow>,
    saved: bool,
    printable: bool,
    generated: String,
}

/// An invoice as shown; `billing` and `lines` are filled on the printable page.
struct InvoiceView {
    id: i64,
    number: String,
    /// Open, overdue, paid, credited, or a credit note: in words.
    state: &'static str,
    date: String,
    amount: String,
    delivery: String,
    billing: Vec<FieldView>,
    /// Description, quantity, unit price, VAT rate.
    lines: Vec<(String, i64, String, String)>,
}

/// One access-log row: when, who, what, why, which data.
type AccessRow = (String, String, String, String, String);

async fn dashboard_page(state: &State, viewer: &Viewer, export: Arc<Export>, saved: bool, printable: bool) -> Response {
    let lang = viewer.lang;
    let profile = view::shown_fields("customers", lang, &export.customer.fields);
    let invoices = export
        .invoices
        .iter()
        .flatten()
        .map(|i| InvoiceView {
            id: i.id,
            number: i.number.clone(),
            state: crate::pages::books::state_label(i.state, lang),
            date: i.issued_on.clone(),
            amount: euros(i.total_cents, lang),
            delivery: who::delivery_label(&i.delivery, lang).into(),
            billing: view::shown_fields("invoices", lang, &i.billing),
            lines: i
                .lines
                .iter()
                .map(|l| {
                    let rate = format!("{}%", l.vat_rate_bp as f64 / 100.0);
                    (l.description.clone(), l.quantity, euros(l.unit_price_cents, lang), rate)
                })
                .collect(),
        })
        .collect();
    let statutes = export
        .statute_acceptances
        .iter()
        .map(|s| format!("{} {} {}", lang.pick("versie", "version"), s.version, when(s.accepted_at)))
        .collect();
    let title =
        if printable { lang.pick("Al mijn gegevens", "All my data") } else { lang.pick("Mijn gegevens", "My data") };
    let contacts = export.contacts.iter().map(|c| view::shown_fields("contacts", lang, &c.fields)).collect();
    let services = export
        .services
        .iter()
        .map(|s| {
            let kind = who::service_label(&s.kind, lang);
            [
                match s.for_third_party {
                    true => format!("{kind} ({})", lang.pick("voor een derde", "for a third party")),
                    false => kind.to_string(),
                },
                s.description.clone().unwrap_or_default(),
                who::status_label(&s.status, lang).to_string(),
                s.started_on.clone(),
            ]
        })
        .collect();
    let current = &state.config.contact.statute_version;
    let statute_offer = match current.is_empty() || export.statute_acceptances.iter().any(|s| &s.version == current) {
        true => String::new(),
        false => current.clone(),
    };
    let name = customer_name(&export.customer.fields);
    let generated = when(export.generated_at);
    let entries = access_rows(state, export.access_log.as_deref().unwrap_or_default(), lang).await;
    view::render(Dashboard {
        page: page(state, viewer, title),
        export,
        name,
        profile,
        contacts,
        services,
        statute_offer,
        invoices,
        statutes,
        entries,
        saved,
        printable,
        generated,
    })
}

/// The name a customer goes by: the company's, else the contact's.
pub(crate) fn customer_name(fields: &custodian_domain::model::Fields) -> String {
    ["company_name", "contact_name"]
        .iter()
        .find_map(|k| fields.get(*k).filter(|v| !v.trim().is_empty()))
        .cloned()
        .unwrap_or_default()
}

/// The entries a customer sees under "who looked at my data": everyone's but
/// their own, newest first, with actions, purposes and fields in words.
async fn access_rows(state: &State, log: &[Entry], lang: Lang) -> Vec<AccessRow> {
    let names = who::staff_names(state, log, None).await;
    log.iter()
        .rev()
        .filter(|e| e.actor_kind != "customer")
        .map(|e| {
            let action = crate::pages::action_label(&e.action, lang).to_string();
            let purpose = AccessPurpose::parse(&e.purpose)
                .map(|p| crate::pages::purpose_label(p, lang).to_string())
                .unwrap_or_default();
            let actor = who::actor_label(&e.actor_kind, &e.actor_id, &names, lang);
            (when(e.at), actor, action, purpose, who::fields_label(&e.fields, lang))
        })
        .collect()
}

/// The dashboard; "saved" shows once after a change (kept with the session,
/// so a reload does not show it again).
pub(crate) async fn dashboard(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let (access, id) = viewer.own();
    let saved = viewer.session().notice.as_deref() == Some(SAVED);
    if saved && let Err(e) = state.store.set_session_notice(viewer.token(), None).await {
        return store_error(&viewer, e);
    }
    match state.store.customer_overview(&access, id).await {
        Ok(export) => dashboard_page(&state, &viewer, export, saved, false).await,
        Err(e) => store_error(&viewer, e),
    }
}

/// The session notice that says the customer's changes were saved.
const SAVED: &str = "saved";

pub(crate) async fn export_page(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let (access, id) = viewer.own();
    match state.store.export_customer(&access, id).await {
        Ok(export) => dashboard_page(&state, &viewer, Arc::new(export), false, true).await,
        Err(e) => store_error(&viewer, e),
    }
}

/// The machine-readable export (portability), downloaded through the portal only.
pub(crate) async fn export_json(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let (access, id) = viewer.own();
    let export = match state.store.export_customer(&access, id).await {
        Ok(e) => e,
        Err(e) => return store_error(&viewer, e),
    };
    let mut export = match serde_json::to_value(&export) {
        Ok(v) => v,
        Err(e) => return view::server_error(viewer.lang, &e),
    };
    rfc3339_times(&mut export);
    match serde_json::to_vec_pretty(&export) {
        Ok(body) => {
            let mut r = body.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"custodian-export-{id}.json\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => view::server_error(viewer.lang, &e),
    }
}

/// Turns the export's times (`at` and `…_at`, microseconds since 1970) into
/// RFC 3339 text, which people and programs read without knowing our unit.
fn rfc3339_times(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let is_time = key == "at" || key.ends_with("_at");
                match v.as_i64().filter(|_| is_time).and_then(rfc3339) {
                    Some(text) => *v = Value::String(text),
                    None => rfc3339_times(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rfc3339_times),
        _ => {}
    }
}

fn rfc3339(micros: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

#[derive(Template)]
#[template(path = "portal/edit.html")]
pub(crate) struct Edit {
    pub page: Page,
    pub action: String,
    pub fields: Vec<FieldView>,
    pub errors: Vec<ErrorLink>,
}

pub(crate) async fn edit_form(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let (access, id) = viewer.own();
    match state.store.read_customer(&access, id).await {
        Ok(record) => view::render(Edit {
            page: page(&state, &viewer, viewer.lang.pick("Gegevens wijzigen", "Edit your details")),
            action: "/portal/edit".into(),
            fields: field_views("customers", viewer.lang, &record.fields, None, viewer.principal()),
            errors: vec![],
        }),
        Err(e) => store_error(&viewer, e),
    }
}

/// Re-shows a form with the submitted values and every error next to its field.
pub(crate) fn invalid_form(
    state: &State,
    viewer: &Viewer,
    title: &str,
    action: String,
    form: &FormFields,
    errors: &FieldErrors,
) -> Response {
    let fields = field_views("customers", viewer.lang, form, Some(errors), viewer.principal());
    let errors = view::error_summary(&fields);
    let mut r = view::render(Edit { page: page(state, viewer, title), action, fields, errors });
    *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    r
}

pub(crate) async fn edit(AxState(state): AxState<State>, viewer: Customer, Form(form): Form<FormFields>) -> Response {
    let (access, id) = viewer.own();
    let changes = only_customer_fields(without_csrf(form));
    match state.store.update_customer(&access, id, &changes).await {
        Ok(_) => match state.store.set_session_notice(viewer.token(), Some(SAVED)).await {
            Ok(()) => Redirect::to("/portal").into_response(),
            Err(e) => store_error(&viewer, e),
        },
        Err(StoreError::Invalid(errors)) => {
            let title = viewer.lang.pick("Gegevens wijzigen", "Edit your details");
            invalid_form(&state, &viewer, title, "/portal/edit".into(), &changes, &errors)
        }
        Err(e) => store_error(&viewer, e),
    }
}

/// Keeps only known customer fields; anything else a browser sends is ignored.
pub(crate) fn only_customer_fields(form: FormFields) -> FormFields {
    form.into_iter().filter(|(k, _)| inventory::field("customers", k).is_some()).collect()
}

#[derive(Template)]
#[template(path = "portal/access.html")]
struct AccessLog {
    page: Page,
    entries: Vec<AccessRow>,
}

pub(crate) async fn access_log(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let (access, id) = viewer.own();
    let lang = viewer.lang;
    match state.store.access_log(&access, id).await {
        Ok(log) => view::render(AccessLog {
            page: page(&state, &viewer, lang.pick("Wie keek mee", "Who viewed my data")),
            entries: access_rows(&state, &log, lang).await,
        }),
        Err(e) => store_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "portal/delete.html")]
struct Delete {
    page: Page,
    error: String,
    /// An erasure request is waiting.
    requested: bool,
    /// What keeps the erasure from happening now, explained.
    blockers: Vec<String>,
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The deletion page: what goes, what stays, and what (if anything) stands in
/// the way right now.
pub(crate) async fn delete_form(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let (_, id) = viewer.own();
    let blockers = match state.store.erasure_blockers(&state.config.retention, id, today()).await {
        Ok(b) => b.iter().map(|b| b.message(viewer.lang)).collect(),
        Err(e) => return store_error(&viewer, e),
    };
    let requested = match state.store.erasure_request(id).await {
        Ok(r) => r.is_some(),
        Err(e) => return store_error(&viewer, e),
    };
    let page = page(&state, &viewer, viewer.lang.pick("Mijn gegevens verwijderen", "Delete my data"));
    view::render(Delete { page, error: String::new(), requested, blockers })
}

/// Records the request and erases at once when nothing blocks it (M9: sooner
/// when the customer asks); otherwise says what blocks it. The retention job
/// carries the request out as soon as the blockers are gone.
pub(crate) async fn delete(AxState(state): AxState<State>, viewer: Customer, Form(form): Form<FormFields>) -> Response {
    let lang = viewer.lang;
    let title = lang.pick("Mijn gegevens verwijderen", "Delete my data");
    let refuse = |error: &str| {
        let error = error.into();
        let mut r =
            view::render(Delete { page: page(&state, &viewer, title), error, requested: false, blockers: vec![] });
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        r
    };
    if form.get("confirm").map(String::as_str) != Some("yes") {
        return refuse(lang.pick("Vink de bevestiging aan.", "Tick the confirmation box."));
    }
    // Whoever finds a logged-in browser must not be able to erase its owner.
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    let account = &viewer.session().account;
    let login = match state.store.account_login(account).await {
        Ok(login) => login,
        Err(e) => return store_error(&viewer, e),
    };
    match state.store.login(&login, password, Some(viewer.ip)).await {
        Ok(checked) if checked.id == account.id => {}
        Ok(_) | Err(StoreError::Auth(_)) => {
            return refuse(lang.pick("Het wachtwoord klopt niet.", "The password is not correct."));
        }
        Err(e) => return store_error(&viewer, e),
    }
    let (access, id) = viewer.own();
    match state.store.request_erasure(&access, &state.config.retention, id, today()).await {
        Ok(RequestOutcome::Erased) => {
            let mut r = view::message(
                lang,
                lang.pick("Uw gegevens zijn verwijderd", "Your data has been deleted"),
                lang.pick(
                    "Uw klantgegevens en uw account bestaan niet meer. Facturen blijven zeven jaar bewaard zoals de wet vraagt.",
                    "Your customer data and your account no longer exist. Invoices are kept for seven years as the law requires.",
                ),
            );
            crate::guard::set_session_cookie(&state, &mut r, None);
            r
        }
        Ok(RequestOutcome::Waiting(blockers)) => {
            let blockers = blockers.iter().map(|b| b.message(lang)).collect();
            let page = page(&state, &viewer, title);
            let mut r = view::render(Delete { page, error: String::new(), requested: true, blockers });
            *r.status_mut() = axum::http::StatusCode::ACCEPTED;
            r
        }
        Err(e) => store_error(&viewer, e),
    }
}

/// Records that the customer accepted the current statute / data processing
/// agreement, with its version and the time (A1).
pub(crate) async fn accept_statute(AxState(state): AxState<State>, viewer: Customer) -> Response {
    let version = &state.config.contact.statute_version;
    // No version is offered: nothing to accept, back to the dashboard.
    if version.is_empty() {
        return Redirect::to("/portal").into_response();
    }
    let (access, id) = viewer.own();
    let now = time::OffsetDateTime::now_utc();
    let at = i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
    match state.store.record_statute_acceptance(&access, id, version, at).await {
        Ok(()) => Redirect::to("/portal").into_response(),
        Err(e) => store_error(&viewer, e),
    }
}
