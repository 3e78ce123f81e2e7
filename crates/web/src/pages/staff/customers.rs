//! Customers in the back-office: find, view (audited, with a purpose), create on
//! a customer's behalf (M2), correct, and record statute acceptance.

use askama::Template;
use axum::extract::{Form, Path, State as AxState};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::model::{CustomerData, CustomerKind, FieldErrors, parse_date};
use custodian_domain::policy::{self, Action, Resource};
use custodian_domain::validate::{Email, Kvk};
use custodian_store::{AccessPurpose, Lookup, StoreError};

use super::purposes;
use crate::State;
use crate::extract::Staff;
use crate::pages::portal::only_customer_fields;
use crate::pages::{FormFields, page, store_error, without_csrf};
use crate::view::{self, ErrorLink, FieldView, Page, field_views, when};

#[derive(Template)]
#[template(path = "staff/home.html")]
struct Home {
    page: Page,
    searched: bool,
    results: Vec<i64>,
    error: String,
    purposes: Vec<(&'static str, &'static str)>,
}

pub(crate) async fn home(AxState(state): AxState<State>, viewer: Staff) -> Response {
    let page = page(&state, &viewer, viewer.lang.pick("Klanten", "Customers"));
    view::render(Home { page, searched: false, results: vec![], error: String::new(), purposes: purposes(&viewer) })
}

/// Searches without decrypting any record: number, or a blind index.
pub(crate) async fn search(AxState(state): AxState<State>, viewer: Staff, Form(form): Form<FormFields>) -> Response {
    let lang = viewer.lang;
    let q = form.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let purpose = form.get("purpose").and_then(|p| AccessPurpose::parse(p));
    let Some(access) =
        purpose.filter(|p| purposes(&viewer).iter().any(|(k, _)| *k == p.as_str())).map(|p| viewer.access(p))
    else {
        let error = lang.pick("Kies waarom u zoekt.", "Choose why you are searching.").to_string();
        let page = page(&state, &viewer, lang.pick("Klanten", "Customers"));
        return view::render(Home { page, searched: false, results: vec![], error, purposes: purposes(&viewer) });
    };
    let lookup = match form.get("by").map(String::as_str) {
        Some("number") => match q.parse::<i64>() {
            Ok(n) => Ok(vec![n]),
            Err(_) => Err(lang
                .pick("Een klantnummer bestaat uit cijfers.", "A customer number consists of digits.")
                .to_string()),
        },
        Some("email") => match Email::parse(&q) {
            Ok(e) => state.store.find_customers(&access, &Lookup::Email(e)).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.message(lang).to_string()),
        },
        Some("kvk") => match Kvk::parse(&q) {
            Ok(k) => state.store.find_customers(&access, &Lookup::Kvk(k)).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.message(lang).to_string()),
        },
        _ => state.store.find_customers(&access, &Lookup::NameWord(q)).await.map_err(|e| e.to_string()),
    };
    let page = page(&state, &viewer, lang.pick("Klanten", "Customers"));
    match lookup {
        Ok(results) => {
            view::render(Home { page, searched: true, results, error: String::new(), purposes: purposes(&viewer) })
        }
        Err(error) => view::render(Home { page, searched: false, results: vec![], error, purposes: purposes(&viewer) }),
    }
}

#[derive(Template)]
#[template(path = "staff/purpose.html")]
struct Purpose {
    page: Page,
    id: i64,
    purposes: Vec<(&'static str, &'static str)>,
}

pub(crate) async fn purpose_form(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let title = format!("{} {id}", viewer.lang.pick("Klant", "Customer"));
    view::render(Purpose { page: page(&state, &viewer, &title), id, purposes: purposes(&viewer) })
}

#[derive(Template)]
#[template(path = "staff/customer.html")]
struct CustomerPage {
    page: Page,
    id: i64,
    kind: String,
    status: String,
    entered_by: Option<String>,
    withheld: String,
    fields: Vec<FieldView>,
    can_edit: bool,
    notice: String,
    audit: Vec<(String, String, String, String)>,
}

async fn show(state: &State, viewer: &Staff, id: i64, purpose: AccessPurpose, notice: String) -> Response {
    let lang = viewer.lang;
    let record = match state.store.read_customer(&viewer.access(purpose), id).await {
        Ok(r) => r,
        Err(e) => return store_error(viewer, e),
    };
    let who = viewer.principal();
    let can_edit = custodian_domain::inventory::fields_of("customers").any(|f| f.allows(who, Action::Write));
    let audit = match policy::allows(who, Resource::AccessLog, Action::Read) {
        true => match state.store.access_log(&viewer.access(purpose), id).await {
            Ok(log) => log
                .into_iter()
                .rev()
                .map(|e| (when(e.at), format!("{}:{}", e.actor_kind, e.actor_id), e.action, e.purpose))
                .collect(),
            Err(e) => return store_error(viewer, e),
        },
        false => vec![],
    };
    view::render(CustomerPage {
        page: page(state, viewer, &format!("{} {id}", lang.pick("Klant", "Customer"))),
        id,
        kind: record.kind.as_str().into(),
        status: record.status.clone(),
        entered_by: record.entered_by.clone(),
        withheld: record.withheld.join(", "),
        fields: match can_edit {
            true => field_views("customers", lang, &record.fields, None, who),
            false => view::shown_fields("customers", lang, &record.fields),
        },
        can_edit,
        notice,
        audit,
    })
}

pub(crate) async fn view(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let purpose = form.get("purpose").and_then(|p| AccessPurpose::parse(p));
    let allowed = purposes(&viewer);
    match purpose {
        Some(p) if allowed.iter().any(|(v, _)| *v == p.as_str()) => show(&state, &viewer, id, p, String::new()).await,
        _ => {
            let lang = viewer.lang;
            let mut r = view::message(
                lang,
                lang.pick("Kies een doel", "Choose a purpose"),
                lang.pick(
                    "Kies uit de lijst waarom u deze klant bekijkt.",
                    "Choose from the list why you are viewing this customer.",
                ),
            );
            *r.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            r
        }
    }
}

pub(crate) async fn edit(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let changes = only_customer_fields(without_csrf(form));
    let lang = viewer.lang;
    match state.store.update_customer(&viewer.access(AccessPurpose::Administration), id, &changes).await {
        Ok(changed) => {
            let notice = format!("{}: {}", lang.pick("Gewijzigd", "Changed"), changed.join(", "));
            show(&state, &viewer, id, AccessPurpose::Administration, notice).await
        }
        Err(StoreError::Invalid(errors)) => {
            let title = format!("{} {id}", lang.pick("Klant", "Customer"));
            crate::pages::portal::invalid_form(
                &state,
                &viewer,
                &title,
                format!("/staff/customers/{id}/edit"),
                &changes,
                &errors,
            )
        }
        Err(e) => store_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "staff/new.html")]
struct New {
    page: Page,
    kind: String,
    fields: Vec<FieldView>,
    errors: Vec<ErrorLink>,
}

pub(crate) async fn new_form(AxState(state): AxState<State>, viewer: Staff) -> Response {
    view::render(New {
        page: page(&state, &viewer, viewer.lang.pick("Nieuwe klant", "New customer")),
        kind: "business".into(),
        fields: field_views("customers", viewer.lang, &FormFields::new(), None, viewer.principal()),
        errors: vec![],
    })
}

pub(crate) async fn create(AxState(state): AxState<State>, viewer: Staff, Form(form): Form<FormFields>) -> Response {
    let lang = viewer.lang;
    let kind_raw = form.get("kind").cloned().unwrap_or_default();
    let on_behalf = form.get("on_behalf").map(String::as_str) == Some("yes");
    let fields = only_customer_fields(without_csrf(form));
    let parsed = CustomerKind::parse(&kind_raw)
        .map_err(|e| FieldErrors::single("kind", e))
        .and_then(|kind| CustomerData::from_fields(kind, &fields));
    let data = match parsed {
        Ok(d) => d,
        Err(errors) => {
            let fields = field_views("customers", lang, &fields, Some(&errors), viewer.principal());
            let mut summary = view::error_summary(&fields);
            if let Some(e) = errors.for_field("kind") {
                summary.insert(0, ErrorLink::to("kind", e.message(lang)));
            }
            let mut r = view::render(New {
                page: page(&state, &viewer, lang.pick("Nieuwe klant", "New customer")),
                kind: kind_raw,
                fields,
                errors: summary,
            });
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
    };
    match state.store.create_customer(&viewer.access(AccessPurpose::Administration), &data, on_behalf).await {
        Ok(id) => Redirect::to(&format!("/staff/customers/{id}")).into_response(),
        Err(e) => store_error(&viewer, e),
    }
}

pub(crate) async fn statute(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let date = match parse_date(form.get("accepted_on").map(String::as_str).unwrap_or_default()) {
        Ok(d) => d,
        Err(e) => return show(&state, &viewer, id, AccessPurpose::Administration, e.message(lang).to_string()).await,
    };
    let at = date.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let version = form.get("version").cloned().unwrap_or_default();
    match state.store.record_statute_acceptance(&viewer.access(AccessPurpose::Administration), id, &version, at).await {
        Ok(()) => {
            show(&state, &viewer, id, AccessPurpose::Administration, lang.pick("Vastgelegd.", "Recorded.").into()).await
        }
        Err(StoreError::Invalid(e)) => show(&state, &viewer, id, AccessPurpose::Administration, e.render(lang)).await,
        Err(e) => store_error(&viewer, e),
    }
}
