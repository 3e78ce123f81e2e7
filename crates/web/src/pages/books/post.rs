//! The print queue (A12): invoices and credit notes to send by post, each
//! with its PDF (the address shows in a window envelope), marked posted once
//! they are in the mail.

use askama::Template;
use axum::extract::{Path, State as AxState};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_store::{AccessPurpose, StoreError};

use super::Row;
use crate::State;
use crate::extract::Staff;
use crate::pages::{page, store_error};
use crate::view::{self, Page};

#[derive(Template)]
#[template(path = "books/post.html")]
struct QueuePage {
    page: Page,
    rows: Vec<Row>,
    error: String,
}

async fn show(state: &State, viewer: &Staff, error: String) -> Response {
    let lang = viewer.lang;
    let queue = match state.store.print_queue(&viewer.access(AccessPurpose::Billing)).await {
        Ok(q) => q,
        Err(e) => return store_error(viewer, e),
    };
    let refused = !error.is_empty();
    let mut r = view::render(QueuePage {
        page: page(state, viewer, lang.pick("Te versturen per post", "To send by post")),
        rows: queue.iter().map(|i| Row::of(i, lang)).collect(),
        error,
    });
    if refused {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

pub(crate) async fn print_queue(AxState(state): AxState<State>, viewer: Staff) -> Response {
    show(&state, &viewer, String::new()).await
}

/// Marks the invoice posted: it leaves the queue, and the trail says who posted it when.
pub(crate) async fn mark_posted(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let access = viewer.access(AccessPurpose::Billing);
    let number = match state.store.invoice_number(&access, id).await {
        Ok(Some(n)) => n,
        Ok(None) => return show(&state, &viewer, not_found(&viewer)).await,
        Err(e) => return store_error(&viewer, e),
    };
    match state.store.mark_posted(&access, &number).await {
        Ok(()) => Redirect::to("/books/post").into_response(),
        Err(StoreError::Refused(r)) => show(&state, &viewer, r.message(viewer.lang)).await,
        Err(e) => store_error(&viewer, e),
    }
}

fn not_found(viewer: &Staff) -> String {
    viewer.lang.pick("Deze factuur bestaat niet (meer).", "This invoice does not exist (any more).").into()
}
