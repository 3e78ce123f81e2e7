//! The answer to an access request: gathered by the owner, printed for the
//! post, or handed over once through a download link. The link's page asks
//! for a click before anything is used, so a mail client that opens links
//! to check them does not spend it.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use custodian_domain::Lang;
use custodian_domain::inventory;
use custodian_store::StoreError;
use custodian_store::requests::{AnswerDocument, LINK_DAYS};

use super::{access, after};
use crate::State;
use crate::extract::{Staff, Viewer};
use crate::guard::public_form_token;
use crate::pages::{FormFields, page, store_error};
use crate::view::{self, Page, when};

/// One field of the answer, with what the law asks to be told about it.
pub(crate) struct AnswerLine {
    label: &'static str,
    value: String,
    purpose: &'static str,
    basis: &'static str,
    retention: &'static str,
    recipients: String,
}

pub(crate) struct AnswerPart {
    title: String,
    /// Art. 14: entered by a customer of ours, not by the person.
    third_party: bool,
    lines: Vec<AnswerLine>,
}

/// The document as parts in `lang`, each field explained from the inventory.
fn parts(document: &AnswerDocument, lang: Lang) -> Vec<AnswerPart> {
    document
        .sections
        .iter()
        .map(|s| {
            let what = match s.table.as_str() {
                "customers" => lang.pick("Klantgegevens, klantnummer", "Customer record, number"),
                "contacts" => lang.pick("Domeincontact (handle), nummer", "Domain contact (handle), number"),
                "services" => lang.pick("Dienst, nummer", "Service, number"),
                "invoices" => lang.pick("Factuur", "Invoice"),
                _ => lang.pick("Gegevens", "Data"),
            };
            let lines = s
                .rows
                .iter()
                .filter_map(|r| {
                    let f = inventory::field(&s.table, &r.column)?;
                    Some(AnswerLine {
                        label: f.label(lang),
                        value: r.value.clone(),
                        purpose: f.purpose.describe(lang),
                        basis: f.basis.describe(lang),
                        retention: f.retention.describe(lang),
                        recipients: f.recipients_described(lang),
                    })
                })
                .collect();
            AnswerPart { title: format!("{what} {}", s.reference), third_party: s.entered_by_customer, lines }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "staff/request_answer.html")]
struct AnswerView {
    page: Page,
    id: i64,
    generated: String,
    received_on: String,
    parts: Vec<AnswerPart>,
}

/// Gathers the answer from the confirmed records (each read audited).
pub(crate) async fn prepare_answer(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let done = state.store.prepare_request_answer(&access(&viewer), id).await.map(drop);
    after(&state, &viewer, id, done).await
}

/// The answer as a page to print and send by post.
pub(crate) async fn answer_page(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let lang = viewer.lang;
    let document = match state.store.request_answer(&access(&viewer), id).await {
        Ok(Some(d)) => d,
        Ok(None) => return store_error(&viewer, StoreError::Refused(custodian_store::Refusal::RequestAnswerMissing)),
        Err(e) => return store_error(&viewer, e),
    };
    view::render(AnswerView {
        page: page(&state, &viewer, &format!("{} {id}", lang.pick("Antwoord op verzoek", "Answer to request"))),
        id,
        generated: when(document.generated_at),
        received_on: document.received_on.clone(),
        parts: parts(&document, lang),
    })
}

#[derive(Template)]
#[template(path = "staff/request_link.html")]
struct LinkShown {
    page: Page,
    id: i64,
    link: String,
    days: i64,
}

/// Makes the one-time link and shows it once, to pass on to the person.
pub(crate) async fn make_link(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let lang = viewer.lang;
    match state.store.make_request_link(&access(&viewer), id).await {
        Ok(secret) => {
            let link = format!("{}/request/download?key={}", state.config.public_url, secret.as_str());
            let mut r = view::render(LinkShown {
                page: page(&state, &viewer, lang.pick("Downloadlink", "Download link")),
                id,
                link,
                days: LINK_DAYS,
            });
            // Shown once: never from a cache.
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => after(&state, &viewer, id, Err(e)).await,
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct KeyQuery {
    key: Option<String>,
}

#[derive(Template)]
#[template(path = "request_download.html")]
struct DownloadForm {
    page: Page,
    key: String,
    works: bool,
    form_token: String,
}

/// The page the link opens: a button, so that opening the link spends nothing.
/// A link that does not work is gone (410), whether it never existed, was used
/// or expired: the answer tells nothing about which.
pub(crate) async fn download_form(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<KeyQuery>,
) -> Response {
    let key = q.key.unwrap_or_default();
    let works = match key.is_empty() {
        true => false,
        false => match state.store.request_link_works(&key).await {
            Ok(w) => w,
            Err(e) => return view::server_error(viewer.lang, &e),
        },
    };
    let mut r = view::render(DownloadForm {
        page: page(&state, &viewer, viewer.lang.pick("Uw gegevens downloaden", "Download your data")),
        key,
        works,
        form_token: public_form_token(&state),
    });
    if !works {
        *r.status_mut() = StatusCode::GONE;
    }
    r
}

#[derive(Template)]
#[template(path = "request_answer_file.html")]
struct AnswerFile {
    page: Page,
    generated: String,
    received_on: String,
    parts: Vec<AnswerPart>,
}

/// Hands the answer over once, as an HTML file to keep or print.
pub(crate) async fn download(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let key = form.get("key").cloned().unwrap_or_default();
    let document = match state.store.redeem_request_link(&key).await {
        Ok(d) => d,
        Err(StoreError::Refused(r)) => {
            let mut page = view::message(lang, lang.pick("Link werkt niet", "Link does not work"), &r.message(lang));
            *page.status_mut() = StatusCode::GONE;
            return page;
        }
        Err(e) => return view::server_error(lang, &e),
    };
    let file = AnswerFile {
        page: page(&state, &viewer, lang.pick("Uw gegevens", "Your data")),
        generated: when(document.generated_at),
        received_on: document.received_on.clone(),
        parts: parts(&document, lang),
    };
    let name = format!("attachment; filename=\"{}-{}.html\"", lang.pick("uw-gegevens", "your-data"), document.request);
    let mut r = view::render(file);
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
