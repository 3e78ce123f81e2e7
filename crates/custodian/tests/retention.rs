//! Retention through the real binary: the calendar and retention commands, and
//! a run killed with SIGKILL at random moments that, rerun, ends in exactly the
//! state of an uninterrupted run on a copy of the same database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use custodian_domain::model::{Delivery, Fields, InvoiceLine, ServiceData, parse_date};
use custodian_store::{Access, AccessPurpose, Actor, Key, NewInvoice, Store};
use rand::Rng;
use sqlx::{Connection, Row};

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn micros(date: &str) -> i64 {
    parse_date(date).unwrap().midnight().assume_utc().unix_timestamp() * 1_000_000
}

/// The binary on the SQLite database in `dir`, with `key` and nothing from the caller's environment.
fn command(dir: &Path, key: &Key, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("CUSTODIAN_LANGUAGE", "en")
        .env("CUSTODIAN_MASTER_KEY", key.to_hex().as_str());
    for name in ["CUSTODIAN_DATABASE_URL", "CUSTODIAN_CONFIG", "CUSTODIAN_DATA_DIR", "CUSTODIAN_MASTER_KEY_FILE"] {
        cmd.env_remove(name);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn run(dir: &Path, key: &Key, args: &[&str]) -> Output {
    command(dir, key, args).output().unwrap()
}

fn ok(dir: &Path, key: &Key, args: &[&str]) -> String {
    let out = run(dir, key, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(dir: &Path, key: &Key, args: &[&str], code: i32) -> String {
    let out = run(dir, key, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

fn url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("custodian.db").display())
}

#[test]
fn the_calendar_commands_print_the_days_and_refuse_other_centuries() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::generate();
    assert_eq!(ok(tmp.path(), &key, &["calendar", "first-working-day", "--year", "2022"]).trim(), "2022-01-03");
    assert_eq!(ok(tmp.path(), &key, &["calendar", "first-working-day", "--year", "2027"]).trim(), "2027-01-04");
    let holidays = ok(tmp.path(), &key, &["calendar", "holidays", "--year", "2025"]);
    assert!(
        holidays.contains("2025-04-26  King's Day") && holidays.contains("2025-05-05  Liberation Day"),
        "{holidays}"
    );
    assert_eq!(holidays.lines().count(), 10, "{holidays}");
    for year in ["1899", "2201", "-5"] {
        let e = fails(tmp.path(), &key, &["calendar", "holidays", "--year", year], 2);
        assert!(e.contains(year) && e.contains("1900") && e.contains("2200"), "{e}");
    }
    // The law's holidays: Liberation Day, not Good Friday.
    let holidays = ok(tmp.path(), &key, &["calendar", "holidays", "--year", "2026"]);
    assert!(holidays.contains("2026-05-05  Liberation Day") && !holidays.contains("04-03"), "{holidays}");
    // A [calendar] section is no longer a setting, and is said to be so.
    std::fs::write(tmp.path().join("custodian.toml"), "[calendar]\ngood_friday = true\n").unwrap();
    let e = fails(tmp.path(), &key, &["calendar", "holidays", "--year", "2026"], 2);
    assert!(e.contains("[calendar] is no longer a setting"), "{e}");
    std::fs::remove_file(tmp.path().join("custodian.toml")).unwrap();
    let nl = command(tmp.path(), &key, &["calendar", "holidays", "--year", "2300"])
        .env("CUSTODIAN_LANGUAGE", "nl")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&nl.stderr).contains("valt buiten de werkdagenkalender"));
    let shown = ok(tmp.path(), &key, &["config"]);
    assert!(shown.contains("invoice_years 7") && !shown.contains("[calendar]"), "{shown}");
    // Nothing was created for a calendar question.
    assert!(!tmp.path().join("custodian.db").exists());
}

#[tokio::test]
async fn retention_commands_plan_run_hold_and_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = Key::generate();
    let store = Store::open(&url(dir), 4, key.clone()).await.unwrap();
    let former = store.create_customer(&owner(), &custodian_testkit::customer(1), false).await.unwrap();
    let held = store.create_customer(&owner(), &custodian_testkit::customer(2), false).await.unwrap();
    let asking = store.create_customer(&owner(), &custodian_testkit::customer(3), false).await.unwrap();
    sqlx::query("UPDATE customers SET created_at = $1").bind(micros("2020-01-01")).execute(store.pool()).await.unwrap();
    let service =
        ServiceData::from_fields(&fields(&[("kind", "hosting"), ("description", "S"), ("started_on", "2026-01-01")]))
            .unwrap();
    let service = store.add_service(&owner(), asking, &service).await.unwrap();
    store
        .add_invoice(
            &owner(),
            asking,
            NewInvoice {
                number: "2026-0003".into(),
                issued_on: parse_date("2026-02-01").unwrap(),
                due_on: parse_date("2026-03-01").unwrap(),
                delivery: Delivery::Post,
                lines: vec![InvoiceLine::parse("Pakket;1;995;21").unwrap()],
            },
        )
        .await
        .unwrap();
    store.close().await;

    ok(dir, &key, &["customer", "hold", &held.to_string(), "--reason", "legal_dispute"]);
    assert!(
        fails(dir, &key, &["customer", "hold", &held.to_string(), "--reason", "because"], 2).contains("legal_dispute")
    );
    let plan = ok(dir, &key, &["retention", "plan", "--on", "2026-01-02"]);
    assert!(plan.contains("Customers to erase (1)") && plan.contains("Due, but kept for now (1)"), "{plan}");
    assert!(plan.contains("a dispute or court case"), "{plan}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(dir, &key, &["retention", "plan", "--on", "2026-01-02", "--format", "json"])).unwrap();
    assert_eq!(json["erasures"][0]["customer_id"], former);
    assert_eq!(json["erasures"][0]["relationship_ended_on"], "2021-01-01");
    assert_eq!(json["blocked"][0]["blockers"][0]["kind"], "legal_hold");
    assert!(fails(dir, &key, &["retention", "plan", "--on", "2026-13-01"], 2).contains("YYYY-MM-DD"));
    assert!(fails(dir, &key, &["retention", "run", "--on", "2099-01-02"], 2).contains("after today"));

    // The customer's request waits for the service and the unpaid invoice.
    let waiting = ok(dir, &key, &["customer", "request-erasure", &asking.to_string()]);
    assert!(waiting.contains("running_services") && waiting.contains("unpaid_invoices"), "{waiting}");
    ok(dir, &key, &["service", "end", &service.to_string(), "--on", "2026-06-30"]);
    ok(dir, &key, &["invoice", "paid", "2026-0003", "--on", "2026-03-01"]);
    assert!(fails(dir, &key, &["invoice", "paid", "2026-0404"], 2).contains("does not exist"));

    let report = ok(dir, &key, &["retention", "run", "--on", "2026-01-02"]);
    assert!(report.contains("1 customers erased (retention ended), 1 erased on request"), "{report}");
    ok(dir, &key, &["customer", "release", &held.to_string()]);
    let after = ok(dir, &key, &["retention", "plan", "--on", "2026-01-02"]);
    assert!(after.contains("Customers to erase (1)"), "the released customer is due again: {after}");
    let next = ok(dir, &key, &["retention", "next-run"]);
    assert_eq!(next.lines().next(), Some("2027-01-04"), "{next}");
    let audit = ok(dir, &key, &["audit", "show", "--subject", &held.to_string()]);
    assert!(audit.contains("customer.legal_hold") && audit.contains("customer.legal_hold_lifted"), "{audit}");
    assert!(ok(dir, &key, &["audit", "verify"]).contains("intact"));
}

/// Customers with every kind of history; some due on 2 January 2026, some not.
async fn populate(store: &Store, customers: u64) {
    let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
    for n in 1..=customers {
        let id = store.create_customer(&owner(), &custodian_testkit::customer(n), false).await.unwrap();
        let invoice = |k: u64, date: &str| {
            let issued = parse_date(date).unwrap();
            let number = format!("F{n}-{k}");
            let new = NewInvoice {
                number: number.clone(),
                issued_on: issued,
                due_on: issued,
                delivery: Delivery::Post,
                lines: vec![InvoiceLine::parse("Pakket;1;995;21").unwrap()],
            };
            let (store, billing) = (store.clone(), billing.clone());
            async move {
                store.add_invoice(&billing, id, new).await.unwrap();
                store.mark_invoice_paid(&billing, &number, issued).await.unwrap();
            }
        };
        match n % 4 {
            0 => invoice(1, "2024-03-01").await,
            1 => {
                invoice(1, "2018-06-01").await;
                invoice(2, "2025-12-01").await;
            }
            2 => {}
            _ => invoice(1, "2025-10-01").await,
        }
        if n % 2 == 0 {
            let contact = custodian_testkit::contact(&format!("HDL{n:04}"));
            store.add_contact(&owner(), id, Some("sidn"), &contact).await.unwrap();
        }
        if n % 13 == 0 {
            let s = ServiceData::from_fields(&fields(&[
                ("kind", "hosting"),
                ("description", "S"),
                ("started_on", "2020-01-01"),
            ]))
            .unwrap();
            store.add_service(&owner(), id, &s).await.unwrap();
        }
        if n % 10 == 3 {
            sqlx::query("INSERT INTO erasure_requests (customer_id, requested_at, requested_by) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(micros("2025-11-01"))
                .bind(format!("customer:{id}"))
                .execute(store.pool())
                .await
                .unwrap();
        }
    }
    sqlx::query("UPDATE customers SET created_at = $1").bind(micros("2018-01-01")).execute(store.pool()).await.unwrap();
    sqlx::query("UPDATE contacts SET created_at = $1").bind(micros("2020-01-01")).execute(store.pool()).await.unwrap();
}

/// Everything a run can change, as sorted lines; the audit trail as a multiset
/// of its entries without times (a rerun writes the same entries later), and
/// without the entry each completed run adds for itself.
async fn snapshot(dir: &Path) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url(dir)).await.unwrap();
    let mut lines = vec![];
    for (label, sql) in [
        ("customer", "SELECT id || ':' || status || ':' || COALESCE(key_id, 0) || ':' || COALESCE(length(company_name), 0) FROM customers"),
        ("contact", "SELECT CAST(id AS TEXT) FROM contacts"),
        ("service", "SELECT CAST(id AS TEXT) FROM services"),
        ("invoice", "SELECT CAST(id AS TEXT) FROM invoices"),
        ("line", "SELECT CAST(id AS TEXT) FROM invoice_lines"),
        ("key", "SELECT CAST(id AS TEXT) FROM data_keys"),
        ("request", "SELECT CAST(customer_id AS TEXT) FROM erasure_requests"),
        ("user", "SELECT CAST(id AS TEXT) FROM users"),
        ("journal", "SELECT subject_kind || ':' || subject_id || ':' || reason FROM erasure_journal"),
        ("meta", "SELECT value FROM meta WHERE name = 'retention_last_run'"),
        (
            "audit",
            "SELECT actor_kind || ':' || actor_id || ':' || action || ':' || subject_kind || ':' || subject_id || ':' || fields || ':' || purpose
             FROM audit_log WHERE action <> 'retention.run'",
        ),
    ] {
        for r in sqlx::query(sql).fetch_all(&mut conn).await.unwrap() {
            lines.push(format!("{label} {}", r.get::<String, _>(0)));
        }
    }
    conn.close().await.unwrap();
    lines.sort();
    lines
}

async fn journal_len(dir: &Path) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(&url(dir)).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erasure_journal").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test]
async fn a_run_killed_at_random_moments_ends_where_an_uninterrupted_run_ends() {
    const RUN: &[&str] = &["retention", "run", "--on", "2026-01-02"];
    let tmp = tempfile::tempdir().unwrap();
    let seed: PathBuf = tmp.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    let key = Key::generate();
    let store = Store::open(&url(&seed), 4, key.clone()).await.unwrap();
    populate(&store, 240).await;
    store.close().await;
    // Small batches: many transactions to be killed between (and inside).
    std::fs::write(seed.join("custodian.toml"), "[retention]\nbatch = 3\n").unwrap();
    let before = snapshot(&seed).await;

    let (straight, killed) = (tmp.path().join("straight"), tmp.path().join("killed"));
    copy_dir(&seed, &straight);

    let started = Instant::now();
    let report = ok(&straight, &key, RUN);
    let took = started.elapsed();
    let expected = snapshot(&straight).await;
    assert_ne!(expected, before, "the run changed something: {report}");
    let total = journal_len(&straight).await;
    assert!(total > 100, "{report}");

    // SIGKILL at a random moment, on a fresh copy until one lands mid-run (the
    // start of a run is planning, where a kill leaves nothing to see); then
    // more kills on that copy, each restarting the run.
    let mut rng = rand::thread_rng();
    let mut kill = |dir: &Path| {
        let mut child = command(dir, &key, RUN).spawn().unwrap();
        std::thread::sleep(took.mul_f64(rng.gen_range(0.05..0.95)));
        let running = child.try_wait().unwrap().is_none();
        if running {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        running
    };
    let mut partial = false;
    for _ in 0..30 {
        let _ = std::fs::remove_dir_all(&killed);
        copy_dir(&seed, &killed);
        kill(&killed);
        let done = journal_len(&killed).await;
        if done > 0 && done < total {
            partial = true;
            break;
        }
    }
    assert!(partial, "no kill landed mid-run in 30 tries; a run takes {took:?}");
    let mut kills = 1;
    for _ in 0..5 {
        if journal_len(&killed).await == total {
            break;
        }
        kills += usize::from(kill(&killed));
    }
    let rerun = ok(&killed, &key, RUN);
    assert_eq!(snapshot(&killed).await, expected, "after {kills} kills and a rerun ({rerun})");
    assert!(ok(&killed, &key, &["audit", "verify"]).contains("intact"));
    // The uninterrupted run's report matches its plan on a fresh copy.
    let check = tmp.path().join("check");
    copy_dir(&seed, &check);
    let plan: serde_json::Value =
        serde_json::from_str(&ok(&check, &key, &["retention", "plan", "--on", "2026-01-02", "--format", "json"]))
            .unwrap();
    let planned = plan["erasures"].as_array().unwrap().len()
        + plan["handles"].as_array().unwrap().len()
        + plan["invoice_ids"].as_array().unwrap().len();
    assert_eq!(planned as i64, total, "the run did exactly the plan: {report}");
}
