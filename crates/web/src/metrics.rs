//! The server's metrics in Prometheus' text format, through the `prometheus`
//! crate: no metric is written by hand.
//!
//! Two kinds:
//! - **Requests**, counted as they are answered: per method, route template
//!   (never the path itself, which may hold a number; unmatched paths share
//!   one label) and status, with a latency histogram. They live in this
//!   server's [`Metrics`], not in a process-wide registry, so two servers in
//!   one process (the tests) count apart.
//! - **State**, read at each scrape from the database (customers, audit
//!   entries, outbox, jobs, erasures not yet backed up) and from the read
//!   cache: the same from every instance where the database holds it.
//!
//! Counts only: never personal data.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State as AxState};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::State;

pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answer times, in seconds: from half a millisecond (a page from memory) to
/// ten seconds (the order of the request timeout).
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The route of a path no route matched: one label for them all.
const UNMATCHED: &str = "unmatched";
const REQUEST_LABELS: [&str; 3] = ["method", "route", "status"];

/// This server's request metrics.
pub(crate) struct Metrics {
    requests: IntCounterVec,
    durations: HistogramVec,
}

impl Metrics {
    pub(crate) fn new() -> prometheus::Result<Metrics> {
        let requests = IntCounterVec::new(
            Opts::new("custodian_http_requests_total", "Requests answered, by method, route template and status."),
            &REQUEST_LABELS,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "custodian_http_request_duration_seconds",
                "Time from a request's arrival to its answer, by method, route template and status.",
            )
            .buckets(BUCKETS.to_vec()),
            &REQUEST_LABELS,
        )?;
        Ok(Metrics { requests, durations })
    }
}

/// Counts every answer, whoever gave it (a handler, a refusal, the
/// fallback), under the route template that matched.
pub(crate) async fn track(AxState(state): AxState<State>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let status = response.status();
    let labels = [method.as_str(), route, status.as_str()];
    let m = &state.metrics;
    m.requests.with_label_values(&labels).inc();
    m.durations.with_label_values(&labels).observe(started.elapsed().as_secs_f64());
    response
}

/// What a scrape read from the database and the read cache; a part that could
/// not be read is left out rather than shown as zero.
pub(crate) struct Snapshot {
    pub customers: custodian_store::StoreCounts,
    pub outbox: Option<custodian_store::OutboxCounts>,
    pub journal_unstored: Option<i64>,
    pub jobs: Vec<custodian_store::JobLease>,
    pub cache: Option<custodian_store::CacheStats>,
}

/// The metrics text of this server now.
pub(crate) fn encode(metrics: &Metrics, s: Snapshot) -> prometheus::Result<String> {
    let r = Registry::new();
    r.register(Box::new(gauge("custodian_up", "1 while the server answers.", 1)?))?;
    r.register(Box::new(metrics.requests.clone()))?;
    r.register(Box::new(metrics.durations.clone()))?;
    let c = s.customers;
    let by_status = [("active", c.active_customers), ("erased", c.erased_customers)];
    r.register(Box::new(gauges("custodian_customers", "Customers by status.", "status", by_status)?))?;
    r.register(Box::new(gauge("custodian_audit_entries", "Entries in the audit trail.", c.audit_entries)?))?;
    if let Some(o) = s.outbox {
        let states = [
            ("pending", o.pending),
            ("sending", o.sending),
            ("sent", o.sent),
            ("failed", o.failed),
            ("cancelled", o.cancelled),
        ];
        r.register(Box::new(gauges(
            "custodian_outbox_messages",
            "Messages in the outbox by state.",
            "state",
            states,
        )?))?;
        r.register(Box::new(gauge(
            "custodian_outbox_possible_duplicates",
            "Messages taken over after their sender stopped mid-send: they may have gone twice.",
            o.possible_duplicates,
        )?))?;
    }
    if let Some(n) = s.journal_unstored {
        r.register(Box::new(gauge(
            "custodian_journal_unstored",
            "Erasures not yet in the backup repository: a restore would bring them back until the journal reaches it.",
            n,
        )?))?;
    }
    if !s.jobs.is_empty() {
        jobs(&r, &s.jobs)?;
    }
    if let Some(c) = s.cache {
        r.register(Box::new(gauge(
            "custodian_read_cache_live",
            "1 while the read cache is in use.",
            i64::from(c.live),
        )?))?;
        let lookups = IntCounterVec::new(
            Opts::new("custodian_read_cache_lookups_total", "Read cache lookups by result."),
            &["result"],
        )?;
        lookups.with_label_values(&["hit"]).inc_by(c.hits);
        lookups.with_label_values(&["miss"]).inc_by(c.misses);
        r.register(Box::new(lookups))?;
    }
    let mut out = Vec::new();
    prometheus::TextEncoder::new().encode(&r.gather(), &mut out)?;
    String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
}

fn gauge(name: &str, help: &str, v: i64) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(name, help)?;
    g.set(v);
    Ok(g)
}

/// A gauge per value, labelled `key`.
fn gauges<'a>(
    name: &str,
    help: &str,
    key: &str,
    values: impl IntoIterator<Item = (&'a str, i64)>,
) -> prometheus::Result<IntGaugeVec> {
    let family = IntGaugeVec::new(Opts::new(name, help), &[key])?;
    for (label, v) in values {
        family.with_label_values(&[label]).set(v);
    }
    Ok(family)
}

/// The scheduled jobs as the database records them, the same from every
/// instance: runs so far, whether one is under way, and when the latest
/// finished or failed (Unix time; absent before the first).
fn jobs(r: &Registry, jobs: &[custodian_store::JobLease]) -> prometheus::Result<()> {
    let seconds = |micros: i64| micros / 1_000_000;
    let runs = IntCounterVec::new(
        Opts::new("custodian_job_runs_total", "Runs of each scheduled job, by all instances."),
        &["job"],
    )?;
    for j in jobs {
        runs.with_label_values(&[j.name.as_str()]).inc_by(j.runs.max(0) as u64);
    }
    r.register(Box::new(runs))?;
    let running = jobs.iter().map(|j| (j.name.as_str(), i64::from(j.running())));
    r.register(Box::new(gauges("custodian_job_running", "1 while a run of the job is under way.", "job", running)?))?;
    let succeeded: Vec<_> = jobs.iter().filter_map(|j| Some((j.name.as_str(), seconds(j.last_finished?)))).collect();
    if !succeeded.is_empty() {
        let help = "When the job's latest successful run ended (Unix time).";
        r.register(Box::new(gauges("custodian_job_last_success_seconds", help, "job", succeeded)?))?;
    }
    let failed: Vec<_> = jobs.iter().filter_map(|j| Some((j.name.as_str(), seconds(j.last_failed?)))).collect();
    if !failed.is_empty() {
        let help = "When the job's latest failed run ended (Unix time).";
        r.register(Box::new(gauges("custodian_job_last_failure_seconds", help, "job", failed)?))?;
    }
    Ok(())
}
