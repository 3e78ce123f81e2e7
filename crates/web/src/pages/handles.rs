//! "My handles" (M11, M12, A8): a customer's domain contacts and domains. List
//! them, see which domains use each, make one, change one (the change goes to
//! the registry), delete an unused one, and register a domain with existing
//! handles. Staff see the registry operations and retry failed ones.

use askama::Template;
use axum::extract::{Form, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use custodian_domain::model::{CONTACT_FIELDS, ContactData, FieldErrors, Fields};
use custodian_store::registry::{HandleSummary, OpState, Target};
use custodian_store::{Access, AccessPurpose, StoreError};

use crate::State;
use crate::extract::{Customer, Staff, Viewer};
use crate::pages::{FormFields, page, store_error, who, without_csrf};
use crate::view::{self, ErrorLink, FieldView, field_views, when};

struct HandleRow {
    id: i64,
    handle: String,
    status: String,
    domains: String,
    unused: bool,
}

#[derive(Template)]
#[template(path = "portal/handles.html")]
struct Handles {
    page: crate::view::Page,
    rows: Vec<HandleRow>,
    domains: Vec<(String, String)>,
    /// Handles a domain can use: (contact id, label).
    usable: Vec<(i64, String)>,
    fields: Vec<FieldView>,
    errors: Vec<ErrorLink>,
    registries: Vec<String>,
    notice: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

fn status_label(status: &str, lang: Lang) -> String {
    match status {
        "pending" => lang.pick("wordt aangemaakt bij de registry", "being created at the registry"),
        "active" => lang.pick("actief", "active"),
        "deleting" => lang.pick("wordt verwijderd bij de registry", "being deleted at the registry"),
        "failed" => lang
            .pick("geweigerd door de registry; wij nemen contact op", "refused by the registry; we will contact you"),
        "local" => lang.pick("alleen bij ons", "kept here only"),
        "gone" => lang.pick("verhuisd naar een andere registrar", "moved to another registrar"),
        other => other,
    }
    .to_string()
}

/// A handle as people know it: the holder's name, with the registry's ID once
/// it has one.
fn handle_label(h: &HandleSummary, name: Option<&str>, lang: Lang) -> String {
    match (name.filter(|n| !n.is_empty()), &h.handle) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (Some(name), None) => name.to_string(),
        (None, Some(id)) => id.clone(),
        (None, None) => lang.pick("nieuwe handle", "new handle").to_string(),
    }
}

/// The holder's name of each handle kept here (passthrough handles keep no
/// name here: they show the registry's ID).
async fn holder_names(state: &State, access: &Access, handles: &[HandleSummary]) -> Vec<Option<String>> {
    let mut names = Vec::with_capacity(handles.len());
    for h in handles {
        let name = match h.passthrough {
            true => None,
            false => state.store.contact_fields(access, h.contact_id).await.ok().and_then(|f| f.get("name").cloned()),
        };
        names.push(name);
    }
    names
}

async fn list_page(
    state: &State,
    viewer: &Customer,
    form: &Fields,
    errors: Option<&FieldErrors>,
    notice: String,
) -> Response {
    let lang = viewer.lang;
    let (access, id) = viewer.own();
    let handles = match state.store.handles_of(&access, id).await {
        Ok(h) => h,
        Err(e) => return store_error(viewer, e),
    };
    let domains = match state.store.domains_of(&access, id).await {
        Ok(d) => d.into_iter().map(|d| (d.name, status_label(&d.status, lang))).collect(),
        Err(e) => return store_error(viewer, e),
    };
    let names = holder_names(state, &access, &handles).await;
    let usable = handles
        .iter()
        .zip(&names)
        .filter(|(h, _)| matches!(h.status.as_str(), "pending" | "active"))
        .map(|(h, name)| (h.contact_id, handle_label(h, name.as_deref(), lang)))
        .collect();
    let rows = handles
        .iter()
        .zip(&names)
        .map(|(h, name)| HandleRow {
            id: h.contact_id,
            handle: handle_label(h, name.as_deref(), lang),
            status: status_label(&h.status, lang),
            domains: h.domains.join(", "),
            unused: h.domains.is_empty() && h.status != "deleting",
        })
        .collect();
    let fields = field_views("contacts", lang, form, errors, viewer.principal());
    let errors = view::error_summary(&fields);
    let invalid = !errors.is_empty();
    let mut r = view::render(Handles {
        page: page(state, viewer, lang.pick("Mijn handles", "My handles")),
        rows,
        domains,
        usable,
        fields,
        errors,
        registries: registries(state),
        notice,
    });
    if invalid {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

fn registries(state: &State) -> Vec<String> {
    state.config.registry.as_ref().map(|w| w.config().0.keys().cloned().collect()).unwrap_or_default()
}

fn notice(done: Option<&str>, lang: Lang) -> String {
    match done {
        Some("created") => lang.pick(
            "De handle is aangemaakt en wordt naar de registry gestuurd.",
            "The handle was created and is being sent to the registry.",
        ),
        Some("changed") => lang.pick(
            "De wijziging is opgeslagen en wordt naar de registry gestuurd.",
            "The change is saved and is being sent to the registry.",
        ),
        Some("deleted") => lang.pick(
            "De handle wordt verwijderd, eerst bij de registry.",
            "The handle is being deleted, at the registry first.",
        ),
        Some("registered") => lang.pick("De domeinnaam wordt geregistreerd.", "The domain name is being registered."),
        _ => "",
    }
    .to_string()
}

pub(crate) async fn list(AxState(state): AxState<State>, viewer: Customer, Query(q): Query<Done>) -> Response {
    let notice = notice(q.done.as_deref(), viewer.lang);
    list_page(&state, &viewer, &Fields::new(), None, notice).await
}

fn contact_fields(form: FormFields) -> Fields {
    without_csrf(form)
        .into_iter()
        .filter(|(k, v)| CONTACT_FIELDS.contains(&k.as_str()) && !v.trim().is_empty())
        .collect()
}

/// The registry a new handle goes to: the one chosen, or the only one there is.
fn chosen_registry(state: &State, form: &FormFields) -> Option<(String, bool)> {
    let worker = state.config.registry.as_ref()?;
    let names: Vec<&String> = worker.config().0.keys().collect();
    let name = match form.get("registry") {
        Some(r) => names.into_iter().find(|n| *n == r)?,
        None if names.len() == 1 => names[0],
        None => return None,
    };
    Some((name.clone(), worker.config().passthrough(name)))
}

pub(crate) async fn create(AxState(state): AxState<State>, viewer: Customer, Form(form): Form<FormFields>) -> Response {
    let target = match (state.config.registry.is_some(), chosen_registry(&state, &form)) {
        (true, None) => return unavailable(&state, &viewer),
        (_, target) => target,
    };
    let fields = contact_fields(form);
    let data = match ContactData::from_fields(&fields) {
        Ok(d) => d,
        Err(e) => return list_page(&state, &viewer, &fields, Some(&e), String::new()).await,
    };
    let (access, id) = viewer.own();
    // Without a registry the contact is kept here only, until one is set up.
    let made = match &target {
        Some((registry, passthrough)) => {
            let target = Target { registry, passthrough: *passthrough };
            state.store.create_handle(&access, id, target, &data).await.map(|_| ())
        }
        None => state.store.add_contact(&access, id, None, &data).await.map(|_| ()),
    };
    match made {
        Ok(_) => Redirect::to("/portal/handles?done=created").into_response(),
        Err(e) => store_error(&viewer, e),
    }
}

fn unavailable(state: &State, viewer: &Viewer) -> Response {
    let lang = viewer.lang;
    let page = page(state, viewer, lang.pick("Niet beschikbaar", "Not available"));
    let text = format!(
        "{} {}",
        lang.pick(
            "Handles kunnen hier nu niet worden aangemaakt; neem contact met ons op.",
            "Handles cannot be made here at the moment; please contact us.",
        ),
        page.reach_us()
    );
    let mut r = view::render(view::MessagePage { page, text, link: None });
    *r.status_mut() = StatusCode::CONFLICT;
    r
}

#[derive(Template)]
#[template(path = "portal/handle.html")]
struct HandlePage {
    page: crate::view::Page,
    id: i64,
    status: String,
    domains: Vec<String>,
    fields: Vec<FieldView>,
    errors: Vec<ErrorLink>,
    passthrough: bool,
}

/// The holder data of a handle: from here, or in passthrough mode fetched
/// from the registry (and audited as such).
async fn holder_data(state: &State, viewer: &Viewer, access: &Access, h: &HandleSummary) -> Result<Fields, Response> {
    if !h.passthrough {
        return state.store.contact_fields(access, h.contact_id).await.map_err(|e| store_error(viewer, e));
    }
    let (Some(worker), Some(registry), Some(handle)) = (&state.config.registry, &h.registry, &h.handle) else {
        return Ok(Fields::new());
    };
    let Some(reg) = worker.registry(registry) else { return Ok(Fields::new()) };
    match reg.contact_info(handle, &reg.cltrid("view")).await {
        Ok(remote) => {
            state.store.audit_registry_fetch(access, h.contact_id).await.map_err(|e| store_error(viewer, e))?;
            Ok(remote.data.to_fields())
        }
        Err(e) => {
            tracing::warn!(error = %e, "fetching a passthrough handle failed");
            Ok(Fields::new())
        }
    }
}

async fn find(state: &State, viewer: &Customer, contact: i64) -> Result<(Access, HandleSummary), Response> {
    let (access, id) = viewer.own();
    let handles = state.store.handles_of(&access, id).await.map_err(|e| store_error(viewer, e))?;
    match handles.into_iter().find(|h| h.contact_id == contact) {
        Some(h) => Ok((access, h)),
        None => Err(store_error(viewer, StoreError::NotFound { kind: "handle", id: contact.to_string() })),
    }
}

async fn detail_page(
    state: &State,
    viewer: &Customer,
    contact: i64,
    submitted: Option<(&Fields, &FieldErrors)>,
) -> Response {
    let (access, h) = match find(state, viewer, contact).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let values = match submitted {
        Some((f, _)) => f.clone(),
        None => match holder_data(state, viewer, &access, &h).await {
            Ok(f) => f,
            Err(r) => return r,
        },
    };
    let fields: Vec<FieldView> =
        field_views("contacts", viewer.lang, &values, submitted.map(|s| s.1), viewer.principal())
            .into_iter()
            .filter(|f| f.name != "handle")
            .collect();
    let errors = view::error_summary(&fields);
    let invalid = !errors.is_empty();
    let title = format!(
        "{} {}",
        viewer.lang.pick("Handle", "Handle"),
        handle_label(&h, values.get("name").map(String::as_str), viewer.lang)
    );
    let mut r = view::render(HandlePage {
        page: page(state, viewer, &title),
        id: h.contact_id,
        status: status_label(&h.status, viewer.lang),
        domains: h.domains,
        fields,
        errors,
        passthrough: h.passthrough,
    });
    if invalid {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

pub(crate) async fn show(AxState(state): AxState<State>, viewer: Customer, Path(id): Path<i64>) -> Response {
    detail_page(&state, &viewer, id, None).await
}

#[derive(Template)]
#[template(path = "portal/handle_delete.html")]
struct ConfirmDelete {
    page: crate::view::Page,
    id: i64,
    label: String,
}

/// Asks before a handle is deleted: deleting cannot be undone.
pub(crate) async fn confirm_delete(AxState(state): AxState<State>, viewer: Customer, Path(id): Path<i64>) -> Response {
    let (access, h) = match find(&state, &viewer, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = holder_names(&state, &access, std::slice::from_ref(&h)).await.pop().flatten();
    let label = handle_label(&h, name.as_deref(), viewer.lang);
    let title = viewer.lang.pick("Handle verwijderen", "Delete handle");
    view::render(ConfirmDelete { page: page(&state, &viewer, title), id, label })
}

pub(crate) async fn update(
    AxState(state): AxState<State>,
    viewer: Customer,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let fields = contact_fields(form);
    let data = match ContactData::from_fields(&fields) {
        Ok(d) => d,
        Err(e) => return detail_page(&state, &viewer, id, Some((&fields, &e))).await,
    };
    let access = match find(&state, &viewer, id).await {
        Ok((a, _)) => a,
        Err(r) => return r,
    };
    match state.store.update_handle(&access, id, &data).await {
        Ok(()) => Redirect::to("/portal/handles?done=changed").into_response(),
        Err(e) => store_error(&viewer, e),
    }
}

pub(crate) async fn delete(AxState(state): AxState<State>, viewer: Customer, Path(id): Path<i64>) -> Response {
    let access = match find(&state, &viewer, id).await {
        Ok((a, _)) => a,
        Err(r) => return r,
    };
    match state.store.delete_handle(&access, id).await {
        Ok(()) => Redirect::to("/portal/handles?done=deleted").into_response(),
        Err(StoreError::Refused(custodian_store::Refusal::HandleInUse { .. })) => {
            let lang = viewer.lang;
            let mut r = view::message(
                lang,
                lang.pick("Handle in gebruik", "Handle in use"),
                lang.pick(
                    "Deze handle wordt nog door een domeinnaam gebruikt. Koppel die domeinnaam eerst aan een andere handle.",
                    "A domain name still uses this handle. Give that domain name another handle first.",
                ),
            );
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        Err(e) => store_error(&viewer, e),
    }
}

/// Registers a domain with existing handles of the customer.
pub(crate) async fn register_domain(
    AxState(state): AxState<State>,
    viewer: Customer,
    Form(form): Form<FormFields>,
) -> Response {
    let Some(worker) = state.config.registry.as_ref() else { return unavailable(&state, &viewer) };
    let handle = |k: &str| form.get(k).and_then(|v| v.parse::<i64>().ok());
    let name = match custodian_store::registry::parse_domain_name(form.get("domain").map(String::as_str).unwrap_or(""))
    {
        Ok(n) => n,
        Err(e) => return invalid(&viewer, e),
    };
    let Some(registry) = worker.config().route(&name) else {
        let e = FieldErrors::single(
            "domain",
            custodian_domain::validate::Invalid::new(
                "domain",
                "tld",
                "Deze extensie kunnen wij niet registreren.",
                "We cannot register this extension.",
            ),
        );
        return invalid(&viewer, StoreError::Invalid(e));
    };
    let Some(registrant) = handle("registrant") else {
        let e = custodian_domain::validate::Invalid::new(
            "registrant",
            "required",
            "Kies de handle van de houder.",
            "Choose the registrant's handle.",
        );
        return invalid(&viewer, StoreError::Invalid(FieldErrors::single("registrant", e)));
    };
    let (access, id) = viewer.own();
    match state.store.register_domain(&access, id, &name, registry, registrant, handle("admin"), handle("tech")).await {
        Ok(_) => Redirect::to("/portal/handles?done=registered").into_response(),
        Err(e) => invalid(&viewer, e),
    }
}

/// A domain registration that cannot go ahead, said in the user's language.
fn invalid(viewer: &Viewer, e: StoreError) -> Response {
    let lang = viewer.lang;
    let text = match &e {
        StoreError::Invalid(f) => f.0.iter().map(|x| x.error.message(lang).to_string()).collect::<Vec<_>>().join(" "),
        StoreError::Refused(r) => r.message(lang),
        StoreError::Denied(_) | StoreError::NotFound { .. } => lang
            .pick(
                "Deze domeinnaam kan niet met deze handles worden geregistreerd: kies actieve handles van uzelf, of de naam is hier al geregistreerd.",
                "This domain name cannot be registered with these handles: choose active handles of your own, or the name is already registered here.",
            )
            .to_string(),
        _ => return store_error(viewer, e),
    };
    let mut r = view::message(lang, lang.pick("Niet geregistreerd", "Not registered"), &text);
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

// ------------------------------------------------------------------- staff

#[derive(Template)]
#[template(path = "staff/registry.html")]
struct Operations {
    page: crate::view::Page,
    /// Each operation with when it was made, and its kind and state in words.
    ops: Vec<(OpState, String, &'static str, &'static str)>,
}

/// Pending and failed registry operations first, then the latest done ones.
pub(crate) async fn operations(AxState(state): AxState<State>, viewer: Staff) -> Response {
    let mut all = vec![];
    for status in ["failed", "pending", "sending", "done"] {
        match state.store.registry_ops().list(Some(status), 100).await {
            Ok(mut o) => all.append(&mut o),
            Err(e) => return store_error(&viewer, e),
        }
    }
    let lang = viewer.lang;
    let ops = all
        .into_iter()
        .map(|o| {
            let (kind, status) = (who::operation_label(&o.kind, lang), who::status_label(&o.status, lang));
            (o.clone(), when(o.created_at), kind, status)
        })
        .collect();
    view::render(Operations {
        page: page(&state, &viewer, viewer.lang.pick("Registry-opdrachten", "Registry operations")),
        ops,
    })
}

pub(crate) async fn retry(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let account = &viewer.session().account;
    let access = Access::new(account.actor(), AccessPurpose::Registry).from(viewer.ip);
    let now = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
    match state.store.registry_ops().retry(&access, id, now).await {
        Ok(()) => Redirect::to("/staff/registry").into_response(),
        Err(e) => store_error(&viewer, e),
    }
}
