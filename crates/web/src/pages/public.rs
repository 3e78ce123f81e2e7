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
/// personal data. Other addresses get 403.
pub(crate) async fn metrics(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    if !viewer.ip.is_loopback() {
        return crate::refuse::page::forbidden(viewer.lang);
    }
    let mut out =
        String::from("# HELP custodian_up 1 while the server answers.\n# TYPE custodian_up gauge\ncustodian_up 1\n");
    match state.store.counts().await {
        Ok(c) => {
            out.push_str("# HELP custodian_customers Customers by status.\n# TYPE custodian_customers gauge\n");
            out.push_str(&format!("custodian_customers{{status=\"active\"}} {}\n", c.active_customers));
            out.push_str(&format!("custodian_customers{{status=\"erased\"}} {}\n", c.erased_customers));
            out.push_str(
                "# HELP custodian_audit_entries Entries in the audit trail.\n# TYPE custodian_audit_entries counter\n",
            );
            out.push_str(&format!("custodian_audit_entries {}\n", c.audit_entries));
        }
        Err(e) => return view::server_error(viewer.lang, &e),
    }
    if let Ok(o) = state.store.outbox().counts().await {
        out.push_str("# HELP custodian_outbox_messages Messages in the outbox by state.\n# TYPE custodian_outbox_messages gauge\n");
        for (label, n) in [
            ("pending", o.pending),
            ("sending", o.sending),
            ("sent", o.sent),
            ("failed", o.failed),
            ("cancelled", o.cancelled),
        ] {
            out.push_str(&format!("custodian_outbox_messages{{state=\"{label}\"}} {n}\n"));
        }
        out.push_str(
            "# HELP custodian_outbox_possible_duplicates Messages taken over after their sender stopped mid-send: they may have gone twice.\n# TYPE custodian_outbox_possible_duplicates gauge\n",
        );
        out.push_str(&format!("custodian_outbox_possible_duplicates {}\n", o.possible_duplicates));
    }
    if let Ok(n) = state.store.journal_unstored().await {
        out.push_str("# HELP custodian_journal_unstored Erasures not yet in the backup repository: a restore would bring them back until the journal reaches it.\n# TYPE custodian_journal_unstored gauge\n");
        out.push_str(&format!("custodian_journal_unstored {n}\n"));
    }
    if let Ok(jobs) = state.store.job_leases().await {
        job_metrics(&mut out, &jobs);
    }
    if let Some(c) = state.store.read_cache_stats() {
        out.push_str("# HELP custodian_read_cache_live 1 while the read cache is in use.\n# TYPE custodian_read_cache_live gauge\n");
        out.push_str(&format!("custodian_read_cache_live {}\n", u8::from(c.live)));
        out.push_str("# HELP custodian_read_cache_lookups_total Read cache lookups by result.\n# TYPE custodian_read_cache_lookups_total counter\n");
        out.push_str(&format!("custodian_read_cache_lookups_total{{result=\"hit\"}} {}\n", c.hits));
        out.push_str(&format!("custodian_read_cache_lookups_total{{result=\"miss\"}} {}\n", c.misses));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// The scheduled jobs as the database records them, the same from every
/// instance: runs so far, whether one is under way, and when the latest
/// finished or failed (seconds since the epoch; absent before the first).
fn job_metrics(out: &mut String, jobs: &[custodian_store::JobLease]) {
    use std::fmt::Write;
    let seconds = |micros: i64| micros / 1_000_000;
    out.push_str("# HELP custodian_job_runs_total Runs of each scheduled job, by all instances.\n# TYPE custodian_job_runs_total counter\n");
    for j in jobs {
        let _ = writeln!(out, "custodian_job_runs_total{{job=\"{}\"}} {}", j.name, j.runs);
    }
    out.push_str(
        "# HELP custodian_job_running 1 while a run of the job is under way.\n# TYPE custodian_job_running gauge\n",
    );
    for j in jobs {
        let _ = writeln!(out, "custodian_job_running{{job=\"{}\"}} {}", j.name, u8::from(j.running()));
    }
    out.push_str("# HELP custodian_job_last_success_seconds When the job's latest successful run ended (Unix time).\n# TYPE custodian_job_last_success_seconds gauge\n");
    for j in jobs {
        if let Some(t) = j.last_finished {
            let _ = writeln!(out, "custodian_job_last_success_seconds{{job=\"{}\"}} {}", j.name, seconds(t));
        }
    }
    out.push_str("# HELP custodian_job_last_failure_seconds When the job's latest failed run ended (Unix time).\n# TYPE custodian_job_last_failure_seconds gauge\n");
    for j in jobs {
        if let Some(t) = j.last_failed {
            let _ = writeln!(out, "custodian_job_last_failure_seconds{{job=\"{}\"}} {}", j.name, seconds(t));
        }
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
