//! Importing invoices from billing software in the browser: a CSV or JSON
//! lines file is uploaded, tried first (a dry run reports per invoice what
//! would happen and why), then imported. Nothing is written when any invoice
//! of the file fails, as on the command line and in the API.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use custodian_store::{AccessPurpose, ImportSummary, LineReport, Outcome, SourceFormat, read_source};

use crate::extract::Staff;
use crate::pages::{page, store_error};
use crate::view::{self, Page};
use crate::{State, upload};

/// Reported lines shown on the page; the counts above them are complete.
const SHOWN: usize = 500;

struct ReportRow {
    line: u64,
    number: String,
    outcome: String,
    problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "books/import.html")]
struct ImportPage {
    page: Page,
    error: String,
    /// Set after a file was handled.
    summary: Option<ImportSummary>,
    dry_run: bool,
    rows: Vec<ReportRow>,
    more: usize,
}

fn form_page(state: &State, viewer: &Staff) -> ImportPage {
    let lang = viewer.lang;
    ImportPage {
        page: page(state, viewer, lang.pick("Facturen inlezen", "Import invoices")),
        error: String::new(),
        summary: None,
        dry_run: true,
        rows: vec![],
        more: 0,
    }
}

pub(crate) async fn import_form(AxState(state): AxState<State>, viewer: Staff) -> Response {
    view::render(form_page(&state, &viewer))
}

/// The uploaded file's name and content, and whether this is a dry run. The
/// guard has checked the form token and kept the body within
/// [`crate::access::UPLOAD_MAX`].
struct Upload {
    name: String,
    bytes: Bytes,
    dry_run: bool,
}

async fn read_upload(headers: &HeaderMap, body: Bytes) -> Option<Upload> {
    let parts = upload::parts(headers, body).await?;
    let file = parts.iter().find(|p| p.name == "file");
    Some(Upload {
        name: file.and_then(|f| f.file_name.clone()).unwrap_or_default(),
        bytes: file.map(|f| f.bytes.clone()).unwrap_or_default(),
        dry_run: upload::text(&parts, "mode") != Some("import"),
    })
}

/// Tries or imports the uploaded file and shows, per invoice, what happened.
pub(crate) async fn import(AxState(state): AxState<State>, viewer: Staff, headers: HeaderMap, body: Bytes) -> Response {
    let lang = viewer.lang;
    let refuse = |error: String| {
        let mut p = form_page(&state, &viewer);
        p.error = error;
        let mut r = view::render(p);
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        r
    };
    let Some(upload) = read_upload(&headers, body).await else {
        return refuse(lang.pick("Het formulier kon niet gelezen worden.", "The form could not be read.").into());
    };
    if upload.bytes.is_empty() {
        return refuse(lang.pick("Kies een bestand om in te lezen.", "Choose a file to import.").into());
    }
    let Some(format) = SourceFormat::of_path(std::path::Path::new(&upload.name)) else {
        return refuse(
            lang.pick(
                "Het bestand moet eindigen op .csv, .jsonl of .ndjson.",
                "The file's name must end in .csv, .jsonl or .ndjson.",
            )
            .into(),
        );
    };
    let source = read_source(format, std::io::Cursor::new(upload.bytes.to_vec()));
    let mut rows = vec![];
    let mut more = 0;
    let access = viewer.access(AccessPurpose::Billing);
    let result = state
        .store
        .import_invoices(&access, source, upload.dry_run, |report| {
            // A real import lists only what stopped it; a dry run lists everything.
            if upload.dry_run || report.outcome == Outcome::Error {
                match rows.len() < SHOWN {
                    true => rows.push(row(&report, lang)),
                    false => more += 1,
                }
            }
        })
        .await;
    let summary = match result {
        Ok(s) => s,
        Err(e) => return store_error(&viewer, e),
    };
    if !upload.dry_run {
        state.delivery.now();
    }
    let mut p = form_page(&state, &viewer);
    p.summary = Some(summary);
    p.dry_run = upload.dry_run;
    p.rows = rows;
    p.more = more;
    let mut r = view::render(p);
    if summary.errors > 0 {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

fn row(report: &LineReport, lang: custodian_domain::Lang) -> ReportRow {
    ReportRow {
        line: report.line,
        number: report.number.clone().unwrap_or_default(),
        outcome: match report.outcome {
            Outcome::Created => lang.pick("nieuw", "new"),
            Outcome::Unchanged => lang.pick("al aanwezig, gelijk", "already here, the same"),
            Outcome::Error => lang.pick("fout", "error"),
        }
        .into(),
        problems: report
            .problems
            .iter()
            .map(|p| format!("{} {} ({}): {}", lang.pick("regel", "line"), p.line, p.field, p.error.message(lang)))
            .collect(),
    }
}
