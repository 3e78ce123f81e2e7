//! Access and CSRF enforcement, applied by the router to every route according
//! to its entry in the route table.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use subtle::ConstantTimeEq;

use crate::State;
use crate::access::{Access, Endpoint};
use crate::extract::{Caller, Viewer};
use crate::refuse::{json, page};
use custodian_domain::policy;

pub(crate) fn cookie_name(state: &State) -> &'static str {
    if state.config.tls { "__Host-custodian" } else { "custodian" }
}

/// Sets the session cookie on `resp` (`Some(token)`, after a correct password),
/// or clears it (`None`). The one place the cookie's attributes are written.
pub(crate) fn set_session_cookie(state: &State, resp: &mut Response, token: Option<&str>) {
    let secure = if state.config.tls { "; Secure" } else { "" };
    let (value, max_age) = match token {
        Some(t) => (t, custodian_store::auth::SESSION_MAX / 1_000_000),
        None => ("", 0),
    };
    let cookie =
        format!("{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}", cookie_name(state));
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
}

fn session_token(state: &State, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The language named in the URL (`?lang=`): the switch in the page header.
fn url_language(req: &Request<Body>) -> Option<Lang> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "lang").and_then(|(_, v)| Lang::parse(&v))
}

/// The client address: the socket peer, or the last `X-Forwarded-For` hop when
/// the peer is the configured trusted proxy.
pub(crate) fn client_ip(state: &State, req: &Request<Body>) -> IpAddr {
    let peer =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if state.config.trusted_proxy == Some(peer)
        && let Some(forwarded) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(ip) = forwarded.rsplit(',').next().and_then(|s| s.trim().parse().ok())
    {
        return ip;
    }
    peer
}

/// A state-changing request must come from our own pages: the browser says so
/// (`Sec-Fetch-Site`, and `Origin` or else `Referer` naming the public URL's
/// origin, never whatever the Host header claims), and the form carries the
/// right token.
fn same_origin(state: &State, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.to_str().unwrap_or(""));
    if fetch_site.is_some_and(|site| site != "same-origin" && site != "none") {
        return false;
    }
    let Some(public) = &state.public else {
        return false;
    };
    match headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("")) {
        // Our pages send `Referrer-Policy: no-referrer`, under which browsers
        // send `Origin: null` with their forms; those that do also send
        // `Sec-Fetch-Site`, which vouched above.
        Some("null") => fetch_site.is_some(),
        Some(origin) => public.is_origin_of(origin),
        None => match headers.get(header::REFERER) {
            Some(referer) => public.is_origin_of(referer.to_str().unwrap_or("")),
            // Neither header: not a browser (or a very old one); the token decides.
            None => true,
        },
    }
}

pub(crate) async fn enforce(
    state: axum::extract::State<State>,
    Endpoint { access, limited, upload, .. }: Endpoint,
    req: Request<Body>,
    next: Next,
) -> Response {
    let state = state.0;
    // The URL wins, then (below) the session's choice, then the browser's.
    let in_url = url_language(&req);
    let lang = in_url.unwrap_or_else(|| crate::view::browser_language(req.headers()));
    let ip = client_ip(&state, &req);
    if let Access::Api(scope, resource, action) = access {
        return enforce_api(&state, scope, (resource, action), lang, ip, req, next).await;
    }
    let is_post = req.method() == Method::POST;
    if is_post && !same_origin(&state, req.headers()) {
        return page::forbidden(lang);
    }
    // Every guess at a password, code or token counts against the address.
    if is_post
        && limited
        && let Err(wait) = state.limiter.attempt(ip)
    {
        return page::too_many(lang, wait);
    }
    let session = match access {
        Access::Public => None,
        _ => {
            let Some(token) = session_token(&state, req.headers()) else {
                return Redirect::to("/login").into_response();
            };
            match state.store.session(&token).await {
                Ok(Some(s)) => Some((s, token)),
                Ok(None) => return Redirect::to("/login").into_response(),
                Err(e) => return crate::view::server_error(lang, &e),
            }
        }
    };
    if let Some((s, _)) = &session {
        let account = &s.account;
        let allowed = match access {
            Access::Public | Access::Session => true,
            Access::Customer => !account.is_staff(),
            Access::Staff(resource, action) => {
                account.is_staff() && policy::allows(account.actor().principal(), resource, action)
            }
            // Answered by `enforce_api` before any cookie is read.
            Access::Api(..) => false,
        };
        if !allowed {
            return page::forbidden(lang);
        }
        if access != Access::Session && account.needs_second_factor() && !s.second_factor_done {
            return Redirect::to(if account.totp_enabled { "/second-factor" } else { "/second-factor/enrol" })
                .into_response();
        }
    }
    let signed_in = session.is_some();
    let lang = in_url.or_else(|| session.as_ref().and_then(|(s, _)| s.language)).unwrap_or(lang);
    let viewer = Viewer { lang, lang_in_url: in_url.is_some(), ip, session, path: req.uri().path().to_string() };
    let req = if is_post {
        let most = if upload { crate::access::UPLOAD_MAX } else { crate::access::FORM_MAX };
        match check_form_token(&state, &viewer, req, most).await {
            Ok(req) => req,
            Err(resp) => return resp,
        }
    } else {
        req
    };
    let mut req = req;
    req.extensions_mut().insert(viewer);
    let resp = next.run(req).await;
    if is_post && signed_in {
        // The next page this browser asks for must show what it just changed.
        state.store.settle_read_cache().await;
    }
    resp
}

/// API routes: a live bearer token whose role the route allows and which holds
/// the route's scope. Every unknown token counts against the client address.
async fn enforce_api(
    state: &State,
    scope: custodian_store::Scope,
    (resource, action): (policy::Resource, policy::Action),
    lang: Lang,
    ip: IpAddr,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let secret = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = match secret {
        Some(s) => match state.store.api_token(s).await {
            Ok(t) => t,
            Err(e) => return json::server_error(lang, &e),
        },
        None => None,
    };
    let Some(token) = token else {
        if let Err(wait) = state.limiter.attempt(ip) {
            return json::too_many(lang, wait);
        }
        return json::unauthorised(lang);
    };
    let refusal = if !policy::allows(token.actor().principal(), resource, action) {
        Some(format!(
            "{} ({})",
            lang.pick("De rol van dit token mag dit niet", "The role of this token may not do this"),
            token.role.as_str()
        ))
    } else if !token.allows(scope) {
        Some(format!(
            "{}: {}",
            lang.pick("Dit token mist de bevoegdheid", "This token lacks the scope"),
            scope.as_str()
        ))
    } else {
        None
    };
    if let Some(message) = refusal {
        return json::error(StatusCode::FORBIDDEN, "forbidden", &message);
    }
    let changes = !req.method().is_safe();
    req.extensions_mut().insert(Caller { lang, ip, token });
    let resp = next.run(req).await;
    if changes {
        state.store.settle_read_cache().await;
    }
    resp
}

/// Checks the `csrf` field of a form (of at most `most` bytes; a multipart
/// form's too): the session's token, or on public forms a token minted by
/// [`public_form_token`].
async fn check_form_token(
    state: &State,
    viewer: &Viewer,
    req: Request<Body>,
    most: usize,
) -> Result<Request<Body>, Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, most)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
    let given = match crate::upload::is_multipart(&parts.headers) {
        true => crate::upload::parts(&parts.headers, bytes.clone())
            .await
            .and_then(|p| crate::upload::text(&p, "csrf").map(str::to_string))
            .unwrap_or_default(),
        false => {
            form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned()).unwrap_or_default()
        }
    };
    let ok = match &viewer.session {
        Some((s, _)) => bool::from(given.as_bytes().ct_eq(s.csrf.as_bytes())),
        None => valid_public_token(state, &given),
    };
    if !ok {
        return Err(page::forbidden(viewer.lang));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Public forms (login, setup, activation) carry a token that proves the form
/// came from us recently, without any cookie: a MAC over its expiry time.
pub(crate) fn public_form_token(state: &State) -> String {
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let mac = hex::encode(state.store.mac("public-form", &expires.to_string()));
    format!("{expires}.{mac}")
}

fn valid_public_token(state: &State, token: &str) -> bool {
    let Some((expires, mac)) = token.split_once('.') else { return false };
    let Ok(exp) = expires.parse::<i64>() else { return false };
    let expected = hex::encode(state.store.mac("public-form", expires));
    exp > time::OffsetDateTime::now_utc().unix_timestamp() && bool::from(mac.as_bytes().ct_eq(expected.as_bytes()))
}
