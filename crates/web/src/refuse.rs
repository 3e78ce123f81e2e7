//! Refusals, as pages and as JSON: a leaf module that the guard, the pages and
//! the API all answer with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_domain::Lang;

/// Refusals of the pages.
pub(crate) mod page {
    use super::*;

    pub(crate) fn forbidden(lang: Lang) -> Response {
        (
            StatusCode::FORBIDDEN,
            crate::view::message(
                lang,
                lang.pick("Geen toegang", "Forbidden"),
                lang.pick("U heeft geen toegang tot deze pagina.", "You do not have access to this page."),
            ),
        )
            .into_response()
    }

    /// Answers 429 with the seconds to wait.
    pub(crate) fn too_many(lang: Lang, retry_after: u64) -> Response {
        let mut r = crate::view::message(
            lang,
            lang.pick("Te veel pogingen", "Too many attempts"),
            lang.pick("Wacht even en probeer het dan opnieuw.", "Please wait a moment and try again."),
        );
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// Refusals of the JSON API: `{"error": {"code", "message"}}`.
pub(crate) mod json {
    use super::*;
    use serde_json::{Value, json};

    pub(crate) fn respond(status: StatusCode, body: &Value) -> Response {
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    }

    pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
        respond(status, &json!({ "error": { "code": code, "message": message } }))
    }

    pub(crate) fn unauthorised(lang: Lang) -> Response {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            lang.pick(
                "Geef een geldig API-token mee: Authorization: Bearer cst_…",
                "Send a valid API token: Authorization: Bearer cst_…",
            ),
        );
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"custodian\""));
        r
    }

    pub(crate) fn too_many(lang: Lang, retry_after: u64) -> Response {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            lang.pick("Te veel ongeldige tokens; wacht even.", "Too many invalid tokens; wait a moment."),
        );
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }

    /// Every error under `/api/` is the API's JSON error object: a rejection
    /// made before a handler ran (a path value that is not a number, an
    /// unknown path, a method the path does not take, a body too large) is
    /// rewritten, its status and headers (`Allow` on 405) kept. The message
    /// is the status's, never the rejected input.
    pub(crate) async fn api_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
        let api = req.uri().path().starts_with("/api/");
        let lang = crate::view::browser_language(req.headers());
        let resp = next.run(req).await;
        let status = resp.status();
        let is_json = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
            return resp;
        }
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => (
                "bad_request",
                lang.pick(
                    "Een waarde in het pad of de query is niet wat dit adres verwacht (bijvoorbeeld een nummer).",
                    "A value in the path or query is not what this endpoint takes (a number, say).",
                ),
            ),
            StatusCode::NOT_FOUND => {
                ("not_found", lang.pick("Dit adres bestaat niet in de API.", "The API has no such endpoint."))
            }
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                lang.pick(
                    "Dit adres neemt deze methode niet; de header Allow noemt wat het wel neemt.",
                    "This endpoint does not take this method; the Allow header names those it does.",
                ),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "too_large",
                lang.pick("De body is te groot voor dit adres.", "The body is too large for this endpoint."),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                lang.pick("Stuur de body als application/json.", "Send the body as application/json."),
            ),
            StatusCode::REQUEST_TIMEOUT => {
                ("timeout", lang.pick("Het verzoek duurde te lang.", "The request took too long."))
            }
            s if s.is_client_error() => {
                ("bad_request", lang.pick("Het verzoek is niet geldig.", "The request is not valid."))
            }
            _ => (
                "internal",
                lang.pick("Er ging iets mis; probeer het later opnieuw.", "Something went wrong; try again later."),
            ),
        };
        let (mut parts, _) = resp.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = json!({ "error": { "code": code, "message": message } }).to_string();
        Response::from_parts(parts, axum::body::Body::from(body))
    }

    /// A failure we did not expect: logged (errors never hold personal data) and
    /// answered without details.
    pub(crate) fn server_error(lang: Lang, e: &dyn crate::view::Failure) -> Response {
        if e.database_unavailable() {
            tracing::warn!(error = %e, "database out of reach");
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                lang.pick(
                    "De gegevens zijn even niet bereikbaar; er is niets veranderd. Probeer het over een halve minuut opnieuw.",
                    "The data cannot be reached right now; nothing was changed. Try again in half a minute.",
                ),
            );
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(crate::view::RETRY_AFTER_SECS));
            return r;
        }
        tracing::error!(error = %e, "API request failed");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            lang.pick("Er ging iets mis; probeer het later opnieuw.", "Something went wrong; try again later."),
        )
    }
}
