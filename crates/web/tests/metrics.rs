//! `/metrics` as Prometheus' own linter reads it (`promtool check metrics`,
//! from Debian's `prometheus` package, which `scripts/test` installs), with
//! every answer counted under its route template, never under its path.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::Server;
use custodian_testkit::databases;
use reqwest::StatusCode;

/// The value of the sample `series` (name and labels, as written), if shown.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian's prometheus package; scripts/test installs it)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_promtool_finds_nothing_to_lint() {
    for db in databases().await {
        let engine = db.name();
        let server = Server::start(&db).await;
        let (id, customer) = server.customer(3).await;
        for _ in 0..3 {
            assert_eq!(customer.get("/portal").await.status, StatusCode::OK);
        }
        let c = server.client();
        assert_eq!(c.get("/nergens-48151623").await.status, StatusCode::NOT_FOUND);
        let staff_page = c.get(&format!("/staff/customers/{id}")).await.status;
        let page = c.get("/metrics").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"),
            "{engine}: {:?}",
            page.headers["content-type"]
        );
        let text = &page.body;

        let portal = r#"{method="GET",route="/portal",status="200"}"#;
        let count = sample(text, &format!("custodian_http_requests_total{portal}"));
        assert_eq!(count, Some(3.0), "{engine}: three dashboards:\n{text}");
        let observed = sample(text, &format!("custodian_http_request_duration_seconds_count{portal}"));
        assert_eq!(observed, Some(3.0), "{engine}: each answer timed once");
        let fast =
            r#"custodian_http_request_duration_seconds_bucket{method="GET",route="/portal",status="200",le="10"}"#;
        assert_eq!(sample(text, fast), Some(3.0), "{engine}: within the largest bucket:\n{text}");
        let unmatched = r#"custodian_http_requests_total{method="GET",route="unmatched",status="404"}"#;
        assert_eq!(sample(text, unmatched), Some(1.0), "{engine}: unknown paths share one label:\n{text}");
        let template = format!(
            r#"custodian_http_requests_total{{method="GET",route="/staff/customers/{{id}}",status="{}"}}"#,
            staff_page.as_u16()
        );
        assert_eq!(sample(text, &template), Some(1.0), "{engine}: {template} in\n{text}");
        assert!(!text.contains("48151623"), "{engine}: a path is never a label");
        assert!(!text.contains(&format!("/staff/customers/{id}\"")), "{engine}: an id is never a label");
        assert_eq!(sample(text, "custodian_up"), Some(1.0), "{engine}");
        assert_eq!(sample(text, r#"custodian_customers{status="active"}"#), Some(1.0), "{engine}");

        let (clean, said) = promtool(text);
        assert!(clean && said.trim().is_empty(), "{engine}: promtool check metrics: {said}\n{text}");
        server.stop().await;
        db.finish().await;
    }
}

/// The linter itself: the hand-written metrics text this replaced had a
/// counter without `_total` and a metric without HELP, and promtool says so.
#[test]
fn promtool_flags_what_it_is_meant_to_flag() {
    let (_, said) = promtool("# TYPE custodian_audit_entries counter\ncustodian_audit_entries 5\n");
    assert!(said.contains("custodian_audit_entries"), "{said}");
    assert!(said.contains("_total") && said.contains("no help text"), "{said}");
}
