//! The JSON API (`/api/v1`) for automation. Handlers make the same store calls
//! as the pages, so the role rules of the data inventory and the audit trail
//! apply unchanged; the caller is an API token (actor kind `api`) instead of a
//! session. Errors are JSON: `{"error": {"code", "message", "fields"?}}`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State as AxState};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_domain::Lang;
use custodian_domain::model::{CustomerData, CustomerKind, FieldError, FieldErrors, Fields, ServiceData, parse_date};
use custodian_domain::validate::{Email, Kvk};
use custodian_store::{
    Access, AccessPurpose, ImportProblem, Lookup, NewCreditNote, NewInvoice, Outcome, SourceFormat, StoreError,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::State;
use crate::extract::Caller;
use crate::refuse::json::{error, respond, server_error};

fn ok(body: impl serde::Serialize) -> Response {
    match serde_json::to_value(body) {
        Ok(v) => respond(StatusCode::OK, &v),
        Err(e) => server_error(Lang::En, &e),
    }
}

/// A refusal before the store is reached (bad body, missing purpose).
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, self.code, &self.message)
    }
}

fn invalid(lang: Lang, errors: &FieldErrors) -> Response {
    let fields: Vec<Value> = errors
        .0
        .iter()
        .map(|e| json!({ "field": e.field, "rule": e.error.rule, "message": e.error.message(lang) }))
        .collect();
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "error": {
            "code": "invalid",
            "message": lang.pick("Niet alle velden zijn geldig; er is niets opgeslagen.", "Not every field is valid; nothing was saved."),
            "fields": fields,
        }}),
    )
}

fn store_error(lang: Lang, e: StoreError) -> Response {
    match e {
        StoreError::Invalid(errors) => invalid(lang, &errors),
        StoreError::Denied(denial) => respond(
            StatusCode::FORBIDDEN,
            &json!({ "error": { "code": denial.code(), "message": denial.message(lang), "fields": denial.fields } }),
        ),
        StoreError::NotFound { .. } | StoreError::Erased(_) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            lang.pick("Dit bestaat niet (meer).", "This does not exist (any more)."),
        ),
        StoreError::Refused(r) => error(StatusCode::CONFLICT, r.code(), &r.message(lang)),
        other => server_error(lang, &other),
    }
}

/// Parses a JSON body. The message names where parsing stopped, never the
/// value found there (it may be personal data).
fn body<T: DeserializeOwned>(lang: Lang, bytes: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => {
                lang.pick("velden of typen kloppen niet", "fields or types do not match")
            }
            _ => lang.pick("geen geldige JSON", "not valid JSON"),
        };
        Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "bad_body",
            message: format!(
                "{} ({what}; {} {}, {} {})",
                lang.pick("De inhoud van het verzoek is onjuist", "The request body is wrong"),
                lang.pick("regel", "line"),
                e.line(),
                lang.pick("kolom", "column"),
                e.column()
            ),
        }
    })
}

fn access(caller: &Caller, purpose: AccessPurpose) -> Access {
    Access::new(caller.token.actor(), purpose).from(caller.ip)
}

#[derive(Deserialize)]
struct PurposeQuery {
    purpose: Option<String>,
}

/// The access of an audited read: the caller's token with the `?purpose=` it
/// gives, which must be one its role may give.
pub(crate) struct Read(Access, Lang);

impl FromRequestParts<State> for Read {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let Extension(caller) =
            Extension::<Caller>::from_request_parts(parts, state).await.map_err(|e| e.into_response())?;
        let q = Query::<PurposeQuery>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or(PurposeQuery { purpose: None });
        let allowed = custodian_domain::policy::purposes(caller.token.actor().principal());
        match q.purpose.as_deref().and_then(AccessPurpose::parse) {
            Some(p) if allowed.contains(&p) => Ok(Read(access(&caller, p), caller.lang)),
            _ => {
                let list = allowed.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
                let lang = caller.lang;
                Err(Refusal {
                    status: StatusCode::BAD_REQUEST,
                    code: "purpose_required",
                    message: format!("{}: {list}", lang.pick("Geef ?purpose= op, een van", "Give ?purpose=, one of")),
                }
                .into_response())
            }
        }
    }
}

/// Answers a store result as JSON, or its error.
fn reply<T: serde::Serialize>(lang: Lang, result: Result<T, StoreError>) -> Response {
    match result {
        Ok(v) => ok(v),
        Err(e) => store_error(lang, e),
    }
}

pub(crate) async fn openapi(AxState(state): AxState<State>) -> Response {
    let mut r = (StatusCode::OK, state.openapi.clone()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCustomer {
    kind: String,
    #[serde(default)]
    on_behalf: bool,
    fields: Fields,
}

pub(crate) async fn create_customer(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let new: NewCustomer = match body(lang, &bytes) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let data = match CustomerKind::parse(&new.kind)
        .map_err(|e| FieldErrors::single("kind", e))
        .and_then(|kind| CustomerData::from_fields(kind, &new.fields))
    {
        Ok(d) => d,
        Err(errors) => return invalid(lang, &errors),
    };
    match state.store.create_customer(&access(&caller, AccessPurpose::Administration), &data, new.on_behalf).await {
        Ok(id) => {
            let mut r = respond(StatusCode::CREATED, &json!({ "id": id }));
            if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/customers/{id}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Err(e) => store_error(lang, e),
    }
}

/// One way to look a customer up; exactly one is given.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Search {
    Number(i64),
    Email(String),
    Kvk(String),
    Name(String),
}

/// Finds customer numbers without decrypting any record. The query travels in
/// the body, so no e-mail address or name ends up in a URL or access log.
pub(crate) async fn search(AxState(state): AxState<State>, Read(access, lang): Read, bytes: Bytes) -> Response {
    let search: Search = match body(lang, &bytes) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let lookup = match search {
        Search::Number(n) => return ok(json!({ "customers": [n] })),
        Search::Email(e) => Email::parse(&e).map(Lookup::Email).map_err(|e| FieldErrors::single("email", e)),
        Search::Kvk(k) => Kvk::parse(&k).map(Lookup::Kvk).map_err(|e| FieldErrors::single("kvk", e)),
        Search::Name(w) => Ok(Lookup::NameWord(w)),
    };
    let lookup = match lookup {
        Ok(l) => l,
        Err(errors) => return invalid(lang, &errors),
    };
    match state.store.find_customers(&access, &lookup).await {
        Ok(ids) => ok(json!({ "customers": ids })),
        Err(e) => store_error(lang, e),
    }
}

pub(crate) async fn read_customer(
    AxState(state): AxState<State>,
    Read(access, lang): Read,
    Path(id): Path<i64>,
) -> Response {
    reply(lang, state.store.read_customer(&access, id).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Changes {
    fields: Fields,
}

pub(crate) async fn update_customer(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    bytes: Bytes,
) -> Response {
    let changes: Changes = match body(caller.lang, &bytes) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match state.store.update_customer(&access(&caller, AccessPurpose::Administration), id, &changes.fields).await {
        Ok(changed) => ok(json!({ "changed": changed })),
        Err(e) => store_error(caller.lang, e),
    }
}

pub(crate) async fn export(AxState(state): AxState<State>, Read(access, lang): Read, Path(id): Path<i64>) -> Response {
    reply(lang, state.store.export_customer(&access, id).await)
}

pub(crate) async fn invoices(
    AxState(state): AxState<State>,
    Read(access, lang): Read,
    Path(id): Path<i64>,
) -> Response {
    reply(lang, state.store.read_invoices(&access, id).await.map(|list| json!({ "invoices": list })))
}

pub(crate) async fn access_log(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    match state.store.access_log(&access(&caller, AccessPurpose::Administration), id).await {
        Ok(entries) => ok(json!({ "entries": entries })),
        Err(e) => store_error(caller.lang, e),
    }
}

pub(crate) async fn verify_audit(AxState(state): AxState<State>, Extension(caller): Extension<Caller>) -> Response {
    match state.store.audit_verify().await {
        Ok(v) => ok(json!({ "intact": v.problem.is_none(), "entries": v.entries, "problem": v.problem })),
        Err(e) => server_error(caller.lang, &e),
    }
}

/// Problems found in a body's invoice data, as the 422 of [`invalid`].
fn problems(lang: Lang, problems: Vec<ImportProblem>) -> Response {
    invalid(lang, &FieldErrors(problems.into_iter().map(|p| FieldError { field: p.field, error: p.error }).collect()))
}

/// A 201 with the new row's number and where to find it.
fn created(body: Value, location: Option<String>) -> Response {
    let mut r = respond(StatusCode::CREATED, &body);
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A date field of a body, or today when absent.
fn day_or_today(field: &str, value: Option<&str>) -> Result<time::Date, FieldErrors> {
    match value {
        Some(d) => parse_date(d).map_err(|e| FieldErrors::single(field, e)),
        None => Ok(time::OffsetDateTime::now_utc().date()),
    }
}

pub(crate) async fn create_service(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let changes: Changes = match body(lang, &bytes) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let data = match ServiceData::from_fields(&changes.fields) {
        Ok(d) => d,
        Err(errors) => return invalid(lang, &errors),
    };
    match state.store.add_service(&access(&caller, AccessPurpose::Administration), id, &data).await {
        Ok(service) => created(json!({ "id": service }), None),
        Err(e) => store_error(lang, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndService {
    service: i64,
    on: Option<String>,
}

pub(crate) async fn end_service(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let end: EndService = match body(lang, &bytes) {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    let on = match day_or_today("on", end.on.as_deref()) {
        Ok(d) => d,
        Err(errors) => return invalid(lang, &errors),
    };
    let access = access(&caller, AccessPurpose::Administration);
    reply(
        lang,
        state.store.end_customer_service(&access, id, end.service, on).await.map(|ended| json!({ "ended": ended })),
    )
}

/// A new invoice: the JSON form of the import, without `customer` (the
/// path's) and `payments` (recorded afterwards).
pub(crate) async fn create_invoice(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let mut object: serde_json::Map<String, Value> = match body(lang, &bytes) {
        Ok(o) => o,
        Err(r) => return r.into_response(),
    };
    let mut refused: Vec<ImportProblem> = ["customer", "payments"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .map(|k| ImportProblem {
            line: 1,
            field: k.to_string(),
            error: custodian_domain::validate::Invalid::new(
                "import",
                "unknown_field",
                "Onbekend veld.",
                "Unknown field.",
            ),
        })
        .collect();
    object.insert("customer".into(), json!(id));
    let invoice = match custodian_store::invoice_from_json(1, &object) {
        Ok(i) if refused.is_empty() => i,
        Ok(_) => return problems(lang, refused),
        Err(rejected) => {
            refused.extend(rejected.problems);
            return problems(lang, refused);
        }
    };
    let new = NewInvoice {
        number: invoice.number.clone(),
        issued_on: invoice.issued_on,
        due_on: invoice.due_on,
        delivery: invoice.delivery,
        lines: invoice.lines,
    };
    match state.store.add_invoice(&access(&caller, AccessPurpose::Billing), id, new).await {
        Ok(created_id) => {
            state.delivery.now();
            created(
                json!({ "id": created_id, "number": invoice.number }),
                Some(format!("/api/v1/customers/{id}/invoices")),
            )
        }
        Err(e) => store_error(lang, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPayment {
    invoice: String,
    amount_cents: i64,
    paid_on: Option<String>,
}

pub(crate) async fn record_payment(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let payment: NewPayment = match body(lang, &bytes) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let on = match day_or_today("paid_on", payment.paid_on.as_deref()) {
        Ok(d) => d,
        Err(errors) => return invalid(lang, &errors),
    };
    let access = access(&caller, AccessPurpose::Billing);
    reply(lang, state.store.record_payment(&access, &payment.invoice, payment.amount_cents, on).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditBody {
    invoice: String,
    number: Option<String>,
    issued_on: Option<String>,
    lines: Option<Value>,
}

pub(crate) async fn credit_invoice(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let credit: CreditBody = match body(lang, &bytes) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let mut found = vec![];
    let lines = credit.lines.as_ref().map(|v| custodian_store::json_lines(&mut found, 1, Some(v)));
    let issued_on = match day_or_today("issued_on", credit.issued_on.as_deref()) {
        Ok(d) => Some(d),
        Err(errors) => {
            found.extend(errors.0.into_iter().map(|e| ImportProblem { line: 1, field: e.field, error: e.error }));
            None
        }
    };
    let (Some(issued_on), true) = (issued_on, found.is_empty()) else {
        return problems(lang, found);
    };
    let new = NewCreditNote { number: credit.number, issued_on, lines };
    match state.store.credit_invoice(&access(&caller, AccessPurpose::Billing), &credit.invoice, new).await {
        Ok(note) => {
            state.delivery.now();
            created(json!(note), None)
        }
        Err(e) => store_error(lang, e),
    }
}

#[derive(Deserialize)]
struct ImportQuery {
    dry_run: Option<bool>,
}

/// Imports a body of JSON lines. Every invoice's outcome is listed in a dry
/// run; otherwise only the ones that stop the import (then 422, nothing saved).
pub(crate) async fn import_invoices(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    uri: axum::http::Uri,
    bytes: Bytes,
) -> Response {
    let lang = caller.lang;
    let dry_run = match Query::<ImportQuery>::try_from_uri(&uri) {
        Ok(q) => q.0.dry_run.unwrap_or(false),
        Err(_) => {
            return Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "bad_query",
                message: lang.pick("dry_run is true of false.", "dry_run is true or false.").into(),
            }
            .into_response();
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "empty",
            message: lang.pick("Er staat geen factuur in.", "The body holds no invoice.").into(),
        }
        .into_response();
    }
    let source = custodian_store::read_source(SourceFormat::JsonLines, std::io::Cursor::new(bytes.to_vec()));
    let mut lines = vec![];
    let result = state
        .store
        .import_invoices(&access(&caller, AccessPurpose::Billing), source, dry_run, |report| {
            if dry_run || report.outcome == Outcome::Error {
                lines.push(report.to_json(lang));
            }
        })
        .await;
    if !dry_run {
        state.delivery.now();
    }
    match result {
        Ok(summary) if summary.errors > 0 => respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": {
                    "code": "import_invalid",
                    "message": lang.pick(
                        "Niet elke factuur kan worden ingelezen; er is niets opgeslagen.",
                        "Not every invoice can be imported; nothing was saved.",
                    ),
                },
                "dry_run": dry_run, "summary": summary, "lines": lines,
            }),
        ),
        Ok(summary) => ok(json!({ "dry_run": dry_run, "summary": summary, "lines": lines })),
        Err(e) => store_error(lang, e),
    }
}
