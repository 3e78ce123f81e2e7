//! An invoice as a file: the PDF (for the bookkeeper and for the customer it
//! is addressed to) and the UBL e-invoice (for the bookkeeper). Reading one
//! opens the billing snapshot, so it is audited like any read of invoices,
//! except when customers fetch their own.

use axum::extract::{Path, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_domain::Lang;
use custodian_store::{Access, AccessPurpose, ActorKind, StoreError};

use crate::State;
use crate::documents;
use crate::extract::{Customer, Staff, Viewer};
use crate::pages::store_error;
use crate::view;

#[derive(Clone, Copy)]
enum Kind {
    Pdf,
    Ubl,
}

/// The PDF of invoice `id`, for the owner and the bookkeeper.
pub(crate) async fn books_pdf(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let access = viewer.access(AccessPurpose::Billing);
    file(&state, &viewer, &access, id, Kind::Pdf).await
}

/// The UBL 2.1 (NLCIUS) file of invoice `id`, for the owner and the bookkeeper.
pub(crate) async fn books_ubl(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let access = viewer.access(AccessPurpose::Billing);
    file(&state, &viewer, &access, id, Kind::Ubl).await
}

/// The PDF of one of the signed-in customer's own invoices; another's is not found.
pub(crate) async fn portal_pdf(AxState(state): AxState<State>, viewer: Customer, Path(id): Path<i64>) -> Response {
    let (access, _) = viewer.own();
    file(&state, &viewer, &access, id, Kind::Pdf).await
}

async fn file(state: &State, viewer: &Viewer, access: &Access, id: i64, kind: Kind) -> Response {
    let lang = viewer.lang;
    let record = match state.store.read_invoice(access, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(lang),
        // Another customer's invoice: as if there were none.
        Err(StoreError::Denied(_)) if access.actor.kind() == ActorKind::Customer => return not_found(lang),
        Err(e) => return store_error(viewer, e),
    };
    let config = &state.config;
    let seller = documents::seller(&config.company, &config.contact, &config.invoicing);
    // The customer's invoice in the viewer's language: what they read it in.
    let Some(document) = documents::invoice(&record, seller, lang) else {
        return view::server_error(lang, &format!("invoice {id} has an unreadable date"));
    };
    let made = match kind {
        Kind::Pdf => custodian_document::pdf(&document).map(|b| (b, "application/pdf", "pdf")),
        Kind::Ubl => custodian_document::ubl(&document).map(|x| (x.into_bytes(), "application/xml", "xml")),
    };
    match made {
        Ok((bytes, content_type, extension)) => {
            download(bytes, content_type, &documents::file_name(&record.number, extension))
        }
        Err(e) => cannot_make(lang, &e),
    }
}

/// Every invoice in the print queue as one PDF, to print in one go; each
/// starts on a sheet of its own. Reading them is audited as any read of an
/// invoice. Dated in the file name, so runs on different days do not mix.
pub(crate) async fn books_print_run(AxState(state): AxState<State>, viewer: Staff) -> Response {
    let lang = viewer.lang;
    let access = viewer.access(AccessPurpose::Billing);
    let queue = match state.store.print_queue(&access).await {
        Ok(q) => q,
        Err(e) => return store_error(&viewer, e),
    };
    if queue.is_empty() {
        let said = lang.pick("Er wacht niets om te versturen.", "Nothing is waiting to be posted.");
        return view::message(lang, lang.pick("Te versturen per post", "To send by post"), said);
    }
    let config = &state.config;
    let mut invoices = Vec::with_capacity(queue.len());
    for header in &queue {
        let record = match state.store.read_invoice(&access, header.id).await {
            Ok(Some(r)) => r,
            // Gone since the queue was read (retention): not printed.
            Ok(None) => continue,
            Err(e) => return store_error(&viewer, e),
        };
        let seller = documents::seller(&config.company, &config.contact, &config.invoicing);
        match documents::invoice(&record, seller, lang) {
            Some(d) => invoices.push(d),
            None => return view::server_error(lang, &format!("invoice {} has an unreadable date", record.id)),
        }
    }
    let title = lang.pick("Te versturen per post", "To send by post");
    match custodian_document::pdf_batch(title, &invoices) {
        Ok(bytes) => {
            let today = custodian_domain::model::format_date(time::OffsetDateTime::now_utc().date());
            let name = documents::file_name(&format!("{}-{today}", lang.pick("post", "post")), "pdf");
            download(bytes, "application/pdf", &name)
        }
        Err(e) => cannot_make(lang, &e),
    }
}

/// A file to save, under `name` (already safe in a header).
fn download(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Why no document could be made: the company's own details are incomplete
/// (the owner fills in `[invoicing]`), or what an invoice holds does not do.
fn cannot_make(lang: Lang, e: &custodian_document::DocumentError) -> Response {
    let mut r = view::message(
        lang,
        lang.pick("Geen factuur te maken", "No invoice can be made"),
        &format!(
            "{} {}",
            e.message(lang),
            lang.pick(
                "De beheerder vult de bedrijfsgegevens voor facturen in onder [invoicing] in de configuratie.",
                "The administrator fills in the company's invoicing details under [invoicing] in the configuration."
            )
        ),
    );
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

fn not_found(lang: Lang) -> Response {
    let mut r = view::message(
        lang,
        lang.pick("Niet gevonden", "Not found"),
        lang.pick("Deze factuur bestaat niet (meer).", "This invoice does not exist (any more)."),
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}
