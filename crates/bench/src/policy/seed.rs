//! The administration both builds serve, made by the previous build the way
//! its users would: customers, invoices, services and statute acceptances on
//! its command line; the owner set up, with a second factor, and the portal
//! customers invited and activated through its web pages.

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use custodian_testkit::TestDb;
use hyper::header::HeaderValue;

use crate::http::{Connection, Expect, Probe, Server, hidden};
use crate::import::{clean_command, run_measured};
use crate::signin::{PASSWORD, cookie, expect, owner, session_token, with_cookie};

pub(super) use crate::signin::ATTEMPTS;
pub(super) const PORTAL_CUSTOMERS: u64 = 64;
pub(super) const OTHER_CUSTOMERS: u64 = 1000;
pub(super) const INVOICES: u32 = 3;

/// A customer signed in to the portal.
pub(super) struct Customer {
    pub id: i64,
    /// The session cookie (`name=value`).
    pub cookie: HeaderValue,
    /// The last invoice number: on the dashboard only once it rendered fully.
    pub invoice: String,
    /// The company name: on the owner's view of the customer.
    pub company: String,
}

pub(super) struct Seeded {
    pub owner: HeaderValue,
    /// `Bearer` and the secret of an owner's API token that reads customers.
    pub token: HeaderValue,
    pub customers: Vec<Customer>,
}

/// Runs one command of `bin` on `db` and insists that it succeeds.
fn command(bin: &Path, db: &TestDb, data_dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = clean_command(bin);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("CUSTODIAN_DATABASE_URL", &db.url)
        .env("CUSTODIAN_MASTER_KEY", db.key.to_hex().as_str());
    let run = run_measured(cmd)?;
    if !run.status.success() {
        bail!("`custodian {}` failed ({}): {}{}", args.join(" "), run.status, run.stdout, run.stderr);
    }
    Ok(run.stdout)
}

/// Imports every customer; returns the numbers of the portal customers.
fn import(bin: &Path, db: &TestDb, data_dir: &Path) -> anyhow::Result<Vec<i64>> {
    let input = data_dir.join("customers.jsonl");
    let mut out = BufWriter::new(std::fs::File::create(&input)?);
    for n in 1..=PORTAL_CUSTOMERS + OTHER_CUSTOMERS {
        let line = serde_json::json!({ "kind": "business", "fields": custodian_testkit::customer_fields(n) });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    drop(out);
    let said = command(bin, db, data_dir, &["customer", "import", &input.to_string_lossy()])?;
    // "imported N customers (numbers FIRST to LAST)"
    let first: i64 = said
        .split("numbers ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no customer numbers in the import's answer: {said}"))?;
    Ok((0..PORTAL_CUSTOMERS as i64).map(|i| first + i).collect())
}

/// Invoices, a service and a statute acceptance for portal customer `n`.
fn records(bin: &Path, db: &TestDb, data_dir: &Path, id: i64, n: u64) -> anyhow::Result<String> {
    let id = id.to_string();
    let mut number = String::new();
    for month in 1..=INVOICES {
        number = format!("2026-{n:03}-{month:02}");
        let (date, due) = (format!("2026-{month:02}-01"), format!("2026-{month:02}-28"));
        command(
            bin,
            db,
            data_dir,
            &[
                "invoice",
                "add",
                &id,
                "--number",
                &number,
                "--date",
                &date,
                "--due",
                &due,
                "--delivery",
                "post",
                "--line",
                "Webhosting Zilvermeeuw;1;595;21",
                "--line",
                "Domeinnaam zilvermeeuw.nl;1;1000;21",
            ],
        )?;
    }
    let service = ["service", "add", &id, "--set", "kind=hosting", "--set", "description=Pakket M"];
    command(bin, db, data_dir, &[&service[..], &["--set", "started_on=2025-01-01"]].concat())?;
    command(bin, db, data_dir, &["statute", &id, "--version", "2026-01", "--accepted-on", "2026-01-01"])?;
    Ok(number)
}

/// Invites customer `id` as the owner; returns the activation code the page
/// tells the owner to read out (nothing is mailed: no mail server is set).
async fn invite(addr: SocketAddr, owner: &HeaderValue, csrf: &str, id: i64) -> anyhow::Result<String> {
    let mut conn = Connection::open(addr).await?;
    let probe = Probe::post_form(&format!("/staff/customers/{id}/invite"), &[("csrf", csrf)], Expect::Ok);
    let answer = expect(&mut conn, &with_cookie(probe, owner)).await?;
    let page = String::from_utf8_lossy(&answer.body);
    page.split(" (")
        .find_map(|before| {
            let last = before.split_whitespace().last()?;
            (last.len() >= 6 && last.chars().all(|c| c.is_ascii_digit())).then(|| last.to_string())
        })
        .with_context(|| format!("no activation code on the invitation page: {}", answer.describe()))
}

/// Activates the account as a browser would; returns the session cookie.
async fn activate(addr: SocketAddr, login: &str, code: &str) -> anyhow::Result<HeaderValue> {
    let mut conn = Connection::open(addr).await?;
    let form = conn.send(&Probe::get("/activate")).await?;
    let csrf = hidden(&form.body, "csrf").with_context(|| format!("no activation form: {}", form.describe()))?;
    let fields = [("csrf", csrf.as_str()), ("login", login), ("code", code), ("password", PASSWORD)];
    let answer = expect(&mut conn, &Probe::post_form("/activate", &fields, Expect::SeeOther("/portal"))).await?;
    cookie(&answer)
}

/// Makes the administration on `db` with the build `bin`.
pub(super) async fn seed(bin: &Path, db: &TestDb, data_dir: &Path) -> anyhow::Result<Seeded> {
    let ids = import(bin, db, data_dir)?;
    let mut invoices = Vec::new();
    for (n, id) in (1..).zip(&ids) {
        invoices.push(records(bin, db, data_dir, *id, n)?);
    }
    let token = api_token(bin, db, data_dir)?;
    let key = db.key.to_hex();
    let server = Server::start(bin, &db.url, &key, data_dir, &[ATTEMPTS]).await?;
    let owner = owner(&server).await?;
    let csrf = session_token(server.addr, &owner, "/staff").await?;
    let mut customers = Vec::new();
    for ((n, id), invoice) in (1..).zip(ids).zip(invoices) {
        let code = invite(server.addr, &owner, &csrf, id).await?;
        let cookie = activate(server.addr, &format!("klant{n}@voorbeeld.nl"), &code).await?;
        customers.push(Customer { id, cookie, invoice, company: format!("Bedrijf {n} B.V.") });
    }
    Ok(Seeded { owner, token, customers })
}

/// An owner's token for reading customers, made on the command line; the
/// secret is the last line of what it prints.
fn api_token(bin: &Path, db: &TestDb, data_dir: &Path) -> anyhow::Result<HeaderValue> {
    let args = ["api-token", "create", "--name", "bench", "--role", "owner", "--scope", "customers:read"];
    let said = command(bin, db, data_dir, &args)?;
    let secret = said.lines().map(str::trim).rfind(|l| !l.is_empty()).context("no token secret printed")?;
    Ok(HeaderValue::from_str(&format!("Bearer {secret}"))?)
}
