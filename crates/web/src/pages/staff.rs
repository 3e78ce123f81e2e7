//! The back-office: find, view (audited, with a purpose), create on a customer's
//! behalf (M2), correct, record statute acceptance, and give portal access.

use askama::Template;
use axum::extract::{Form, Path, State as AxState};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerData, CustomerKind, FieldErrors, format_date, parse_date};
use custodian_domain::policy::{self, Action, Resource};
use custodian_domain::validate::{Email, Kvk};
use custodian_store::{AccessPurpose, Lookup, StoreError};

use crate::State;
use crate::extract::{Staff, Viewer};
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

/// The purposes the viewer's role may give for viewing, labelled in their language.
fn purposes(viewer: &Viewer) -> Vec<(&'static str, &'static str)> {
    let lang = viewer.lang;
    custodian_domain::policy::purposes(viewer.session().account.actor().principal())
        .iter()
        .map(|p| {
            let label = crate::pages::purpose_label(*p, lang);
            (p.as_str(), label)
        })
        .collect()
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
    /// The viewer oversees retention: link to keeping and erasing.
    can_care: bool,
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
        can_care: policy::allows(who, Resource::Retention, Action::Read),
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

/// Creates the customer's portal account. The login name goes by e-mail (with
/// consent, A9) and the activation code by SMS (A11); where a channel is
/// missing the page says what to do instead. Login and code together are the
/// account, so the code is never shown when it can go by SMS, and otherwise
/// only to the owner, audited, to read out by phone.
pub(crate) async fn invite(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let lang = viewer.lang;
    let access = viewer.access(AccessPurpose::Administration);
    // Staff may not see every field (not the IBAN), so read the few needed here.
    let fields = match state.store.read_customer(&access, id).await {
        Ok(r) => r.fields,
        Err(e) => return store_error(&viewer, e),
    };
    let field = |name: &str| fields.get(name).map(String::as_str);
    let consent = field("email_consent") == Some("yes");
    let language = field("language").and_then(custodian_domain::Lang::parse).unwrap_or_default();
    let phone = field("phone").and_then(|p| custodian_domain::validate::Phone::parse(p).ok());
    let name = field("contact_name").and_then(|n| custodian_notify::PersonName::parse(n).ok());
    let sms = match (&state.config.notifier, state.config.sms, phone) {
        (Some(n), true, Some(phone)) => Some((n, phone)),
        _ => None,
    };
    if sms.is_none() && custodian_store::auth::may_disclose_code(&access).is_err() {
        // Not a 403: the route is the staff's, this customer just needs the owner.
        return view::message(
            lang,
            lang.pick("Portaaltoegang", "Portal access"),
            lang.pick(
                "Deze klant kan de activeringscode niet per sms krijgen (geen mobiel nummer, of sms is niet ingesteld). Alleen de eigenaar mag een code voorlezen: vraag de eigenaar deze klant uit te nodigen.",
                "This customer cannot get the activation code by text message (no mobile number, or SMS is not set up). Only the owner may read out a code: ask the owner to invite this customer.",
            ),
        );
    }
    let (login, code) = match state.store.invite_customer(&access, id).await {
        Ok((_, login, code)) => (login, code),
        Err(StoreError::Auth(custodian_store::AuthError::AccountActive)) => {
            let mut r = view::message(
                lang,
                lang.pick("Portaaltoegang", "Portal access"),
                lang.pick(
                    "Deze klant heeft al een actief account; een nieuwe uitnodiging zou het wachtwoord vervangen. Laat de klant een nieuw wachtwoord aanvragen via /reset.",
                    "This customer already has an active account; use a password reset (the customer asks for one at /reset).",
                ),
            );
            *r.status_mut() = axum::http::StatusCode::CONFLICT;
            return r;
        }
        Err(e) => return store_error(&viewer, e),
    };
    let mut lines = vec![];
    let mailed = match (&state.config.notifier, consent, custodian_notify::LoginName::parse(login.as_str())) {
        (Some(n), true, Ok(login_name)) => {
            let message = custodian_notify::EmailMessage::LoginName { name, login: login_name };
            n.email(&access, &login, custodian_notify::EmailConsent::Given, Some(id), language, &message).await.is_ok()
        }
        _ => false,
    };
    lines.push(if mailed {
        lang.pick("De inlognaam is per e-mail verstuurd.", "The login name was sent by e-mail.")
    } else {
        lang.pick(
            "De klant heeft geen toestemming voor e-mail gegeven (of e-mail is niet ingesteld): stuur de inlognaam (het e-mailadres van de klant) per post.",
            "The customer has not agreed to e-mail (or e-mail is not set up): send the login name (the customer's e-mail address) by post.",
        )
    }
    .to_string());
    match sms {
        Some((n, phone)) => {
            let texted = match custodian_notify::ActivationCode::parse(code.as_str()) {
                Ok(code) => n
                    .sms(&access, &phone, Some(id), language, &custodian_notify::SmsMessage::ActivationCode { code })
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            lines.push(
                if texted {
                    lang.pick(
                        "De activeringscode is per sms verstuurd.",
                        "The activation code was sent by text message.",
                    )
                } else {
                    lang.pick(
                        "De sms met de activeringscode kon niet in de wachtrij; nodig de klant opnieuw uit.",
                        "The text message with the activation code could not be queued; invite the customer again.",
                    )
                }
                .to_string(),
            );
        }
        None => {
            if let Err(e) = state.store.disclose_activation_code(&access, id).await {
                return store_error(&viewer, e);
            }
            lines.push(format!(
                "{} {} {}",
                lang.pick(
                    "Lees deze activeringscode telefonisch voor aan de klant:",
                    "Read this activation code to the customer by phone:"
                ),
                code.as_str(),
                lang.pick("(72 uur geldig, werkt één keer).", "(valid for 72 hours, works once)."),
            ));
        }
    }
    let mut r = view::message(lang, lang.pick("Portaaltoegang", "Portal access"), &lines.join(" "));
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

/// A token as listed on the page.
struct TokenRow {
    id: i64,
    name: String,
    role: &'static str,
    scopes: String,
    last_used: String,
    status: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "staff/api_tokens.html")]
struct ApiTokens {
    page: Page,
    tokens: Vec<TokenRow>,
    scopes: Vec<&'static str>,
    secret: String,
    error: String,
}

async fn api_tokens_page(state: &State, viewer: &Staff, secret: String, error: String) -> Response {
    let lang = viewer.lang;
    let tokens = match state.store.api_tokens(&viewer.access(AccessPurpose::Administration)).await {
        Ok(t) => t,
        Err(e) => return store_error(viewer, e),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let tokens = tokens
        .into_iter()
        .map(|t| {
            let status = match (t.revoked_at, t.expires_at) {
                (Some(at), _) => format!("{} {}", lang.pick("ingetrokken", "revoked"), when(at)),
                (None, Some(at)) if at <= now => format!("{} {}", lang.pick("verlopen", "expired"), when(at)),
                (None, Some(at)) => format!("{} {}", lang.pick("geldig tot", "valid until"), when(at)),
                (None, None) => lang.pick("geldig tot intrekken", "valid until revoked").to_string(),
            };
            TokenRow {
                id: t.id,
                name: t.name.clone(),
                role: t.role.as_str(),
                scopes: t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                last_used: t.last_used_at.map(when).unwrap_or_else(|| "—".into()),
                live: t.is_live(now),
                status,
            }
        })
        .collect();
    let mut r = view::render(ApiTokens {
        page: page(state, viewer, lang.pick("API-tokens", "API tokens")),
        tokens,
        scopes: custodian_store::Scope::ALL.iter().map(|s| s.as_str()).collect(),
        secret,
        error,
    });
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

pub(crate) async fn api_tokens(AxState(state): AxState<State>, viewer: Staff) -> Response {
    api_tokens_page(&state, &viewer, String::new(), String::new()).await
}

/// Creates a token from the form (repeated `scope` checkboxes, so a list of
/// pairs rather than a map) and shows its secret once.
pub(crate) async fn create_api_token(
    AxState(state): AxState<State>,
    viewer: Staff,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let lang = viewer.lang;
    let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("");
    let role = Role::parse(value("role")).unwrap_or(Role::Subject);
    let scopes: Vec<_> =
        form.iter().filter(|(k, _)| k == "scope").filter_map(|(_, v)| custodian_store::Scope::parse(v)).collect();
    let expires_at = match value("days") {
        "" => None,
        days => match days.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => {
                Some((time::OffsetDateTime::now_utc().unix_timestamp() + d * 86_400) * 1_000_000)
            }
            _ => {
                let error = lang.pick("Geldigheid: 1 tot 3650 dagen, of leeg.", "Validity: 1 to 3650 days, or empty.");
                return api_tokens_page(&state, &viewer, String::new(), error.into()).await;
            }
        },
    };
    let access = viewer.access(AccessPurpose::Administration);
    match state.store.create_api_token(&access, value("name"), role, &scopes, expires_at).await {
        Ok((_, secret)) => api_tokens_page(&state, &viewer, secret.to_string(), String::new()).await,
        Err(StoreError::Invalid(errors)) => {
            let error = errors.0.iter().map(|e| e.error.message(lang)).collect::<Vec<_>>().join(" ");
            let mut r = api_tokens_page(&state, &viewer, String::new(), error).await;
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
        Err(e) => store_error(&viewer, e),
    }
}

pub(crate) async fn revoke_api_token(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    match state.store.revoke_api_token(&viewer.access(AccessPurpose::Administration), id).await {
        Ok(()) => Redirect::to("/staff/api-tokens").into_response(),
        Err(e) => store_error(&viewer, e),
    }
}

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
        blockers: e.blockers.iter().map(|b| b.message(lang)).collect::<Vec<_>>().join(" "),
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
