//! Pages anyone may see. They set no cookie and load nothing from elsewhere (A2).

use askama::Template;
use axum::Extension;
use axum::extract::State as AxState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_domain::inventory::{self, Field};

use crate::State;
use crate::extract::Viewer;
use crate::pages::page;
use crate::view::{self, Nav, Page};

/// The front page: where to log in and where the privacy statement is.
pub(crate) async fn home(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    let lang = viewer.lang;
    let page = page(&state, &viewer, lang.pick("Klantportaal", "Customer portal"));
    let login = format!("/login{}", page.q());
    view::render(view::MessagePage {
        page,
        text: lang
            .pick(
                "Hier bekijkt, verbetert, downloadt en verwijdert u de gegevens die wij over u bewaren.",
                "Here you view, correct, download and delete the data we keep about you.",
            )
            .into(),
        link: Some((login, lang.pick("Inloggen", "Log in").into())),
    })
}

/// How long the probes wait for the database: a load balancer's probe gets
/// its answer within a second, also while the database is out of reach.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// Liveness: 200 while the database answers one trivial statement in time, 503 otherwise.
pub(crate) async fn healthz(AxState(state): AxState<State>) -> Response {
    match database_answers(&state).await {
        true => (StatusCode::OK, "ok").into_response(),
        false => unavailable("database unavailable\n".into()),
    }
}

/// Readiness, for load balancers: the database answers (its migrations were
/// applied before the server started listening), and the read cache's state.
pub(crate) async fn readyz(AxState(state): AxState<State>) -> Response {
    let database = database_answers(&state).await;
    let cache = match state.store.read_cache_stats() {
        None => "off",
        Some(s) if s.live => "live",
        // On PostgreSQL until its listener hears: reads go to the database meanwhile.
        Some(_) => "waiting for its listener",
    };
    let body = format!(
        "database: {}\nmigrations: applied\nread cache: {cache}\n",
        if database { "ok" } else { "unreachable" }
    );
    match database {
        true => (StatusCode::OK, body).into_response(),
        false => unavailable(body),
    }
}

fn unavailable(body: String) -> Response {
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    r.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static(view::RETRY_AFTER_SECS));
    r
}

async fn database_answers(state: &State) -> bool {
    matches!(tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await, Ok(Ok(())))
}

/// Prometheus metrics, for the monitoring on this machine only: counts, never
/// personal data (see `metrics`). Other addresses get 403.
pub(crate) async fn metrics(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    if !viewer.ip.is_loopback() {
        return crate::refuse::page::forbidden(viewer.lang);
    }
    let customers = match state.store.counts().await {
        Ok(c) => c,
        Err(e) => return view::server_error(viewer.lang, &e),
    };
    let snapshot = crate::metrics::Snapshot {
        customers,
        outbox: state.store.outbox().counts().await.ok(),
        journal_unstored: state.store.journal_unstored().await.ok(),
        jobs: state.store.job_leases().await.unwrap_or_default(),
        cache: state.store.read_cache_stats(),
    };
    match crate::metrics::encode(&state.metrics, snapshot) {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

pub(crate) async fn not_found() -> Response {
    let lang = custodian_domain::Lang::Nl;
    let mut r = view::message(lang, "Niet gevonden / Not found", "Deze pagina bestaat niet. This page does not exist.");
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct Privacy {
    page: Page,
    rows: Vec<[&'static str; 4]>,
    recipients: Vec<String>,
}

/// The privacy statement's data table, generated from the inventory that the
/// code enforces.
pub(crate) async fn privacy(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    let mut page = page(&state, &viewer, viewer.lang.pick("Privacyverklaring", "Privacy statement"));
    page.nav = Nav::Public;
    let lang = viewer.lang;
    let fields: Vec<&Field> = inventory::FIELDS.iter().collect();
    let rows = fields
        .iter()
        .map(|f| [f.label(lang), f.purpose.describe(lang), f.basis.describe(lang), f.retention.describe(lang)])
        .collect();
    let recipients = fields.iter().map(|f| f.recipients_described(lang)).collect();
    view::render(Privacy { page, rows, recipients })
}
