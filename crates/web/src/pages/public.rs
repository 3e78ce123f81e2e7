//! Pages anyone may see. They set no cookie and load nothing from elsewhere (A2).

use askama::Template;
use axum::Extension;
use axum::extract::State as AxState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_domain::inventory::{self, Field};

use crate::State;
use crate::guard::Viewer;
use crate::pages::page;
use crate::view::{self, Nav, Page};

/// The front page: where to log in and where the privacy statement is.
pub(crate) async fn home(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    let lang = viewer.lang;
    view::render(view::MessagePage {
        page: page(&state, &viewer, lang.pick("Klantportaal", "Customer portal")),
        text: lang
            .pick(
                "Hier bekijkt, verbetert, downloadt en verwijdert u de gegevens die wij over u bewaren.",
                "Here you view, correct, download and delete the data we keep about you.",
            )
            .into(),
        link: Some(("/login".into(), lang.pick("Inloggen", "Log in").into())),
    })
}

pub(crate) async fn healthz(AxState(state): AxState<State>) -> Response {
    match sqlx_ping(&state).await {
        true => (StatusCode::OK, "ok").into_response(),
        false => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

async fn sqlx_ping(state: &State) -> bool {
    state.store.list_customers(0, 1).await.is_ok()
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
