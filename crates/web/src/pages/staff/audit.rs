//! The audit trail's chain check.

use askama::Template;
use axum::extract::State as AxState;
use axum::response::Response;

use crate::State;
use crate::extract::Staff;
use crate::pages::page;
use crate::view::{self, Page};

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct Audit {
    page: Page,
    intact: bool,
    result: String,
}

pub(crate) async fn audit(AxState(state): AxState<State>, viewer: Staff) -> Response {
    let lang = viewer.lang;
    match state.store.audit_verify().await {
        Ok(v) => {
            let result = match &v.problem {
                None => format!(
                    "{} {} {}",
                    lang.pick("Het auditlog is intact:", "The audit trail is intact:"),
                    v.entries,
                    lang.pick("regels.", "entries.")
                ),
                Some(p) => {
                    format!("{} {p}", lang.pick("Het auditlog is aangetast:", "The audit trail was tampered with:"))
                }
            };
            view::render(Audit {
                page: page(&state, &viewer, lang.pick("Auditlog", "Audit trail")),
                intact: v.problem.is_none(),
                result,
            })
        }
        Err(e) => view::server_error(lang, &e),
    }
}
