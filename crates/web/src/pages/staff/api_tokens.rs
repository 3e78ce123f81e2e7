//! API tokens: list, create (the secret shown once) and revoke.

use askama::Template;
use axum::extract::{Form, Path, State as AxState};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::inventory::Role;
use custodian_store::{AccessPurpose, StoreError};

use crate::State;
use crate::extract::Staff;
use crate::pages::{page, store_error};
use crate::view::{self, Page, when};

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
                role: t.role.label(lang),
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

/// Revokes a token for good, once the box confirming it is ticked.
pub(crate) async fn revoke_api_token(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !form.iter().any(|(k, v)| k == "confirm" && v == "yes") {
        let lang = viewer.lang;
        let error = lang.pick(
            "Vink de bevestiging aan om het token in te trekken; dat kan niet ongedaan worden gemaakt.",
            "Tick the confirmation to revoke the token; this cannot be undone.",
        );
        let mut r = api_tokens_page(&state, &viewer, String::new(), error.into()).await;
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    match state.store.revoke_api_token(&viewer.access(AccessPurpose::Administration), id).await {
        Ok(()) => Redirect::to("/staff/api-tokens").into_response(),
        Err(e) => store_error(&viewer, e),
    }
}
