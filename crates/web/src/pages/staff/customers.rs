//! Customers in the back-office: find, view (audited, with a purpose), create on
//! a customer's behalf (M2), correct, and record statute acceptance.

use askama::Template;
use axum::extract::{Form, Path, Query, State as AxState};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::model::{CustomerData, CustomerKind, FieldErrors, parse_date};
use custodian_domain::policy::{self, Action, Resource};
use custodian_domain::validate::{Email, Kvk};
use custodian_store::{AccessPurpose, Lookup, StoreError};

use super::purposes;
use crate::State;
use crate::extract::Staff;
use crate::pages::portal::only_customer_fields;
use crate::pages::{FormFields, action_label, actionable, page, portal, purpose_label, store_error, who, without_csrf};
use crate::view::{self, ErrorLink, FieldView, Page, field_views, when};

#[derive(Template)]
#[template(path = "staff/home.html")]
struct Home {
    page: Page,
    /// What was searched for, shown again in the form.
    q: String,
    by: String,
    purpose: String,
    searched: bool,
    /// Number and name of each customer found (the name read, audited).
    results: Vec<(i64, String)>,
    /// Customers found beyond those named.
    more: usize,
    error: String,
    purposes: Vec<(&'static str, &'static str)>,
    /// A page of the customer list: number, kind, status, created.
    list: Vec<(i64, &'static str, &'static str, String)>,
    /// The `after=` of the next page of the list, when there is one.
    next: Option<i64>,
    /// The list is not the first page.
    paged: bool,
    /// Open requests of data subjects with their deadlines (the owner's).
    requests: Vec<crate::pages::requests::RequestRow>,
    /// Erasures the backup repository does not have yet (the owner's).
    unstored: i64,
}

/// Customers per page of the list.
const PAGE: i64 = 50;

#[derive(serde::Deserialize)]
pub(crate) struct After {
    after: Option<i64>,
}

/// The search form and a page of the customer list (numbers, kind and status:
/// no personal data, so nothing is decrypted and no purpose is asked).
async fn home_page(state: &State, viewer: &Staff, after: i64, mut home: Home) -> Response {
    let lang = viewer.lang;
    let list = match state.store.list_customers(&super::listing_access(viewer), after, PAGE + 1).await {
        Ok(l) => l,
        Err(e) => return store_error(viewer, e),
    };
    home.next = match list.len() as i64 > PAGE {
        true => list.get(PAGE as usize - 1).map(|c| c.id),
        false => None,
    };
    home.paged = after > 0;
    if policy::allows(viewer.principal(), Resource::SubjectRequests, Action::Read) {
        let access = viewer.access(AccessPurpose::DataSubjectRequest);
        home.requests = match state.store.open_subject_requests(&access).await {
            Ok(open) => open.iter().map(|r| crate::pages::requests::RequestRow::of(r, lang)).collect(),
            Err(e) => return store_error(viewer, e),
        };
    }
    if policy::allows(viewer.principal(), Resource::Retention, Action::Read) {
        home.unstored = match state.store.journal_unstored().await {
            Ok(n) => n,
            Err(e) => return store_error(viewer, e),
        };
    }
    home.list = list
        .iter()
        .take(PAGE as usize)
        .map(|c| (c.id, who::kind_label(&c.kind, lang), who::status_label(&c.status, lang), when(c.created_at)))
        .collect();
    view::render(home)
}

fn empty_home(state: &State, viewer: &Staff) -> Home {
    Home {
        page: page(state, viewer, viewer.lang.pick("Klanten", "Customers")),
        q: String::new(),
        by: "name".into(),
        purpose: String::new(),
        searched: false,
        results: vec![],
        more: 0,
        error: String::new(),
        purposes: purposes(viewer),
        list: vec![],
        next: None,
        paged: false,
        requests: vec![],
        unstored: 0,
    }
}

pub(crate) async fn home(AxState(state): AxState<State>, viewer: Staff, Query(q): Query<After>) -> Response {
    let home = empty_home(&state, &viewer);
    home_page(&state, &viewer, q.after.unwrap_or(0).max(0), home).await
}

/// Searches without decrypting any record: number, or a blind index.
pub(crate) async fn search(AxState(state): AxState<State>, viewer: Staff, Form(form): Form<FormFields>) -> Response {
    let lang = viewer.lang;
    let q = form.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let by = form.get("by").cloned().unwrap_or_default();
    let mut home = empty_home(&state, &viewer);
    home.q = q.clone();
    home.by = by.clone();
    home.purpose = form.get("purpose").cloned().unwrap_or_default();
    let purpose = form.get("purpose").and_then(|p| AccessPurpose::parse(p));
    let Some(access) =
        purpose.filter(|p| purposes(&viewer).iter().any(|(k, _)| *k == p.as_str())).map(|p| viewer.access(p))
    else {
        home.error = lang.pick("Kies waarom u zoekt.", "Choose why you are searching.").to_string();
        return home_page(&state, &viewer, 0, home).await;
    };
    // What was typed is checked first; its problem is said on the page.
    let lookup = match by.as_str() {
        "number" => match q.parse::<i64>() {
            Ok(n) => Ok(Ok(vec![n])),
            Err(_) => Err(lang
                .pick("Een klantnummer bestaat uit cijfers.", "A customer number consists of digits.")
                .to_string()),
        },
        "email" => match Email::parse(&q) {
            Ok(e) => Ok(state.store.find_customers(&access, &Lookup::Email(e)).await),
            Err(e) => Err(e.message(lang).to_string()),
        },
        "kvk" => match Kvk::parse(&q) {
            Ok(k) => Ok(state.store.find_customers(&access, &Lookup::Kvk(k)).await),
            Err(e) => Err(e.message(lang).to_string()),
        },
        _ => Ok(state.store.find_customers(&access, &Lookup::NameWord(q)).await),
    };
    let lookup = match lookup {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => match actionable(&e, lang) {
            Some(message) => Err(message),
            None => return store_error(&viewer, e),
        },
        Err(message) => Err(message),
    };
    match lookup {
        Ok(found) => match state.store.customer_names(&access, &found).await {
            Ok(named) => {
                home.searched = true;
                home.more = found.len().saturating_sub(custodian_store::NAMED_RESULTS);
                home.results = named;
            }
            Err(e) => return store_error(&viewer, e),
        },
        Err(error) => home.error = error,
    }
    home_page(&state, &viewer, 0, home).await
}

#[derive(Template)]
#[template(path = "staff/purpose.html")]
struct Purpose {
    page: Page,
    id: i64,
    purposes: Vec<(&'static str, &'static str)>,
    notice: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct Created {
    created: Option<String>,
}

/// Asks why the customer is viewed, first saying when there is nothing left
/// to view (an erased customer) and confirming a customer just created.
pub(crate) async fn purpose_form(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Query(q): Query<Created>,
) -> Response {
    let lang = viewer.lang;
    let title = format!("{} {id}", lang.pick("Klant", "Customer"));
    let summary = match state.store.list_customers(&super::listing_access(&viewer), id.saturating_sub(1), 1).await {
        Ok(list) => list.into_iter().find(|c| c.id == id),
        Err(e) => return store_error(&viewer, e),
    };
    match summary {
        None => return store_error(&viewer, StoreError::NotFound { kind: "customer", id: id.to_string() }),
        Some(c) if c.status == "erased" => {
            let text = lang.pick(
                "Deze klant is verwijderd: er zijn geen persoonsgegevens meer om in te zien. Alleen facturen blijven, zolang de wet dat vraagt.",
                "This customer was erased: there is no personal data left to view. Only invoices remain, as long as the law requires.",
            );
            return crate::pages::message(&state, &viewer, &title, text, None);
        }
        Some(_) => {}
    }
    let notice = match q.created {
        Some(_) => lang.pick("De klant is aangemaakt.", "The customer was created.").to_string(),
        None => String::new(),
    };
    view::render(Purpose { page: page(&state, &viewer, &title), id, purposes: purposes(&viewer), notice })
}

#[derive(Template)]
#[template(path = "staff/customer.html")]
struct CustomerPage {
    page: Page,
    id: i64,
    /// The purpose this view was opened with: the edit button passes it on.
    purpose: &'static str,
    kind: &'static str,
    status: &'static str,
    entered_by: String,
    withheld: String,
    fields: Vec<FieldView>,
    /// The form instead of the read view.
    editing: bool,
    can_edit: bool,
    notice: String,
    error: String,
    /// Services and invoices, as far as the viewer's role sees them.
    related: super::services::Related,
    /// The start date a new service is offered.
    today: String,
    /// When, who, what, why: in words.
    audit: Vec<[String; 4]>,
    /// The viewer oversees retention: link to keeping and erasing.
    can_care: bool,
    /// The trail shown is cut at [`RECENT`] entries: there may be more.
    trail_cut: bool,
}

/// How much of the customer's trail the page shows; the audit browser has all of it.
const RECENT: u32 = 20;

/// Fields that only a business has: a private customer is not asked for them.
const BUSINESS_ONLY: &[&str] = &["company_name", "department", "btw", "kvk"];

/// What the customer page says besides the customer: a notice, an error, or the edit form.
#[derive(Default)]
pub(super) struct Shown {
    pub notice: String,
    pub error: String,
    pub editing: bool,
}

impl Shown {
    pub fn notice(notice: String) -> Shown {
        Shown { notice, ..Shown::default() }
    }

    pub fn error(error: String) -> Shown {
        Shown { error, ..Shown::default() }
    }
}

pub(super) async fn show(state: &State, viewer: &Staff, id: i64, purpose: AccessPurpose, shown: Shown) -> Response {
    let Shown { notice, error, editing } = shown;
    let lang = viewer.lang;
    let record = match state.store.read_customer(&viewer.access(purpose), id).await {
        Ok(r) => r,
        Err(e) => return store_error(viewer, e),
    };
    let who = viewer.principal();
    let can_edit = custodian_domain::inventory::fields_of("customers").any(|f| f.allows(who, Action::Write));
    let log = match policy::allows(who, Resource::AccessLog, Action::Read) {
        true => match state.store.recent_access_log(&viewer.access(purpose), id, RECENT).await {
            Ok(log) => log,
            Err(e) => return store_error(viewer, e),
        },
        false => vec![],
    };
    // Whoever entered the customer and whoever is in the trail, named in one lookup.
    let entered = record.entered_by.as_deref().and_then(|e| e.split_once(':'));
    let names = who::staff_names(state, &log, entered).await;
    let audit: Vec<[String; 4]> = log
        .iter()
        .rev()
        .map(|e| {
            let why = AccessPurpose::parse(&e.purpose).map(|p| purpose_label(p, lang)).unwrap_or_default();
            [
                when(e.at),
                who::company_actor_label(&e.actor_kind, &e.actor_id, &names, lang),
                action_label(&e.action, lang).to_string(),
                why.to_string(),
            ]
        })
        .collect();
    let private = record.kind == CustomerKind::Private;
    let trail_cut = audit.len() >= RECENT as usize;
    let fields = match editing && can_edit {
        true => field_views("customers", lang, &record.fields, None, who),
        false => view::shown_fields("customers", lang, &record.fields),
    };
    let fields = fields.into_iter().filter(|f| !(private && BUSINESS_ONLY.contains(&f.name))).collect();
    let entered_by = match entered {
        Some((kind, actor)) => who::actor_label(kind, actor, &names, lang),
        None => String::new(),
    };
    let name = portal::customer_name(&record.fields);
    let title = match name.is_empty() {
        true => format!("{} {id}", lang.pick("Klant", "Customer")),
        false => name,
    };
    let withheld: Vec<String> = record.withheld.iter().map(|c| c.to_string()).collect();
    let related = match super::services::related(state, viewer, id, purpose).await {
        Ok(r) => r,
        Err(e) => return store_error(viewer, e),
    };
    let refused = !error.is_empty();
    let mut r = view::render(CustomerPage {
        page: page(state, viewer, &title),
        id,
        purpose: purpose.as_str(),
        kind: who::kind_label(record.kind.as_str(), lang),
        status: who::status_label(&record.status, lang),
        entered_by,
        withheld: who::fields_label(&withheld, lang),
        fields,
        editing: editing && can_edit,
        can_edit,
        notice,
        error,
        related,
        today: custodian_domain::model::format_date(time::OffsetDateTime::now_utc().date()),
        audit,
        can_care: policy::allows(who, Resource::Retention, Action::Read),
        trail_cut,
    });
    if refused {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
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
        Some(p) if allowed.iter().any(|(v, _)| *v == p.as_str()) => {
            let editing = form.get("edit").map(String::as_str) == Some("yes");
            let shown = Shown { editing, ..Shown::default() };
            show(&state, &viewer, id, p, shown).await
        }
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
            let changed: Vec<String> = changed.iter().map(|c| c.to_string()).collect();
            let notice = format!("{}: {}", lang.pick("Gewijzigd", "Changed"), who::fields_label(&changed, lang));
            show(&state, &viewer, id, AccessPurpose::Administration, Shown::notice(notice)).await
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
        Ok(id) => Redirect::to(&format!("/staff/customers/{id}?created=1")).into_response(),
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
        Err(e) => {
            let shown = Shown::error(e.message(lang).to_string());
            return show(&state, &viewer, id, AccessPurpose::Administration, shown).await;
        }
    };
    let at = date.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let version = form.get("version").cloned().unwrap_or_default();
    match state.store.record_statute_acceptance(&viewer.access(AccessPurpose::Administration), id, &version, at).await {
        Ok(()) => {
            let notice = lang.pick("Vastgelegd.", "Recorded.").into();
            show(&state, &viewer, id, AccessPurpose::Administration, Shown::notice(notice)).await
        }
        Err(StoreError::Invalid(e)) => {
            show(&state, &viewer, id, AccessPurpose::Administration, Shown::error(e.render(lang))).await
        }
        Err(e) => store_error(&viewer, e),
    }
}
