//! The `custodian` binary, run as a user would, on every engine under test.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use custodian_testkit::{TestDb, databases};

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

/// Runs the binary against one test database.
struct Cli {
    data_dir: PathBuf,
    db: Option<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl Cli {
    /// SQLite in a fresh data directory (initialised by the first command), or
    /// the given PostgreSQL database with its key in the environment.
    fn new(db: &TestDb) -> Cli {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let db =
            (db.engine == custodian_store::Engine::Postgres).then(|| (db.url.clone(), db.key.to_hex().to_string()));
        Cli { data_dir, db, _tmp: tmp }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .env("CUSTODIAN_LANGUAGE", "en")
            .env_remove("CUSTODIAN_DATABASE_URL");
        cmd.env_remove("CUSTODIAN_MASTER_KEY").env_remove("CUSTODIAN_CONFIG").env_remove("CUSTODIAN_DATA_DIR");
        if let Some((url, key)) = &self.db {
            cmd.env("CUSTODIAN_DATABASE_URL", url).env("CUSTODIAN_MASTER_KEY", key);
        }
        cmd.output().unwrap()
    }

    /// Runs and expects success; returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit code `code`; returns standard error.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    }
}

const CUSTOMER: &[&str] = &[
    "customer",
    "add",
    "--kind",
    "business",
    "--set",
    "company_name=Grutto Hosting B.V.",
    "--set",
    "contact_name=Anna Grutto",
    "--set",
    "visit_street=Weidestraat 3",
    "--set",
    "visit_postcode=1811ab",
    "--set",
    "visit_city=Alkmaar",
    "--set",
    "email=anna@grutto.nl",
    "--set",
    "phone=072-5116617",
    "--set",
    "kvk=12345678",
];

#[tokio::test]
async fn a_customer_lives_its_whole_life_through_the_cli() {
    for db in databases().await {
        let cli = Cli::new(&db);
        let id = cli.ok(CUSTOMER).trim().to_string();
        assert_eq!(cli.ok(&["customer", "find", "--email", "ANNA@grutto.nl"]).trim(), id);
        assert_eq!(cli.ok(&["customer", "find", "--name", "grutto"]).trim(), id);
        assert_eq!(cli.ok(&["customer", "find", "--kvk", "12.345.678"]).trim(), id);

        let shown = cli.ok(&["customer", "show", &id, "--purpose", "support"]);
        assert!(shown.contains("Grutto Hosting B.V.") && shown.contains("1811 AB"), "{shown}");
        assert!(cli.fails(&["customer", "show", &id], 2).contains("--purpose"));

        assert!(cli.ok(&["customer", "update", &id, "--set", "phone=06 12345678"]).contains("phone"));
        cli.ok(&[
            "service",
            "add",
            &id,
            "--set",
            "kind=hosting",
            "--set",
            "description=Pakket L",
            "--set",
            "started_on=2026-01-01",
        ]);
        cli.ok(&[
            "invoice",
            "add",
            &id,
            "--number",
            "2026-0007",
            "--date",
            "2026-02-01",
            "--line",
            "Pakket L;12;995;21",
        ]);
        cli.ok(&["statute", &id, "--version", "2026-01"]);
        let invoices = cli.ok(&["invoice", "list", &id]);
        assert!(invoices.contains("2026-0007") && invoices.contains("144.47"), "{invoices}");

        let export: serde_json::Value = serde_json::from_str(&cli.ok(&["customer", "export", &id])).unwrap();
        assert_eq!(export["customer"]["fields"]["phone"], "+31612345678");
        assert_eq!(export["services"][0]["description"], "Pakket L");
        assert_eq!(export["statute_acceptances"][0]["version"], "2026-01");

        // Erasure is refused while the service runs.
        assert!(cli.fails(&["customer", "erase", &id, "--reason", "customer_request"], 2).contains("running service"));
        let services = format!("UPDATE services SET status = 'ended' WHERE customer_id = {id}");
        sql(&db, &cli, &services).await;
        assert_eq!(cli.ok(&["customer", "erase", &id, "--reason", "customer_request"]).trim(), "erased");
        assert!(cli.fails(&["customer", "show", &id, "--purpose", "support"], 2).contains("erased"));
        assert!(cli.ok(&["customer", "find", "--name", "grutto"]).trim().is_empty());
        let audit = cli.ok(&["audit", "show", "--subject", &id]);
        for action in ["customer.create", "customer.read", "customer.update", "customer.export", "customer.erase"] {
            assert!(audit.contains(action), "{action} missing from {audit}");
        }
        assert!(cli.ok(&["audit", "verify"]).contains("intact"));
        db.finish().await;
    }
}

/// Runs raw SQL against the CLI's database (for setup and tampering).
async fn sql(db: &TestDb, cli: &Cli, statement: &str) {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let url = match &cli.db {
        Some((url, _)) => url.clone(),
        None => format!("sqlite://{}", cli.data_dir.join("custodian.db").display()),
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    conn.execute(statement).await.unwrap_or_else(|e| panic!("{}: {statement}: {e}", db.name()));
    conn.close().await.unwrap();
}

#[tokio::test]
async fn bad_input_names_the_field_and_rule_and_writes_nothing() {
    for db in databases().await {
        let cli = Cli::new(&db);
        let mut args: Vec<&str> = CUSTOMER.to_vec();
        args.extend(["--set", "iban=NL00ABNA0417164300", "--set", "visit_postcode=0123 AB", "--set", "shoe=44"]);
        let err = cli.fails(&args, 2);
        assert!(err.contains("iban:") && err.contains("(checksum)"), "{err}");
        assert!(err.contains("visit_postcode:") && err.contains("(leading_zero)"), "{err}");
        assert!(err.contains("shoe:") && err.contains("(unknown_field)"), "{err}");
        assert!(err.contains("iban_holder:"), "{err}");
        assert!(!err.contains("NL00ABNA"), "errors never echo values: {err}");
        assert!(
            cli.fails(&["customer", "add", "--kind", "business", "--set", "company_name"], 2).contains("FIELD=VALUE")
        );
        assert!(cli.ok(&["customer", "list"]).trim().is_empty(), "{}: something was written", db.name());
        assert!(cli.ok(&["audit", "verify"]).contains("0 entries"));

        let id = cli.ok(CUSTOMER).trim().to_string();
        let err =
            cli.fails(&["customer", "update", &id, "--set", "email=not-an-address", "--set", "visit_city=Utrecht"], 2);
        assert!(err.contains("email:") && !err.contains("not-an-address"), "{err}");
        assert!(cli.ok(&["customer", "show", &id, "--purpose", "support"]).contains("Alkmaar"), "nothing saved");
        assert!(cli.fails(&["customer", "show", "999", "--purpose", "support"], 2).contains("does not exist"));
        assert!(
            cli.fails(&["invoice", "add", &id, "--number", "1", "--date", "2026-13-01", "--line", "x;1;1;21"], 2)
                .contains("date:")
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn tampering_is_reported_by_audit_verify() {
    for db in databases().await {
        let cli = Cli::new(&db);
        let id = cli.ok(CUSTOMER).trim().to_string();
        for _ in 0..3 {
            cli.ok(&["customer", "show", &id, "--purpose", "support"]);
        }
        assert!(cli.ok(&["audit", "verify"]).contains("4 entries"));
        sql(&db, &cli, "UPDATE audit_log SET action = 'customer.nothing' WHERE seq = 3").await;
        let out = cli.run(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("audit entry 3 was altered"), "{text}");
        db.finish().await;
    }
}

#[tokio::test]
async fn import_streams_json_lines_and_stops_at_a_bad_line() {
    for db in databases().await {
        let cli = Cli::new(&db);
        let file = cli.data_dir.parent().unwrap().join("customers.jsonl");
        let mut lines: Vec<String> = (0..25)
            .map(|n| {
                serde_json::json!({"kind": "business", "fields": custodian_testkit::customer_fields(n)}).to_string()
            })
            .collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        assert!(cli.ok(&["customer", "import", file.to_str().unwrap(), "--batch", "10"]).contains("imported 25"));
        assert_eq!(cli.ok(&["customer", "list"]).lines().count(), 25);

        lines.truncate(3);
        lines.push(r#"{"kind": "business", "fields": {"company_name": "X", "email": "bad"}}"#.into());
        std::fs::write(&file, lines.join("\n")).unwrap();
        let err = cli.fails(&["customer", "import", file.to_str().unwrap()], 2);
        assert!(err.contains("line 4") && err.contains("email:"), "{err}");
        assert_eq!(cli.ok(&["customer", "list"]).lines().count(), 25, "the failing batch was not written");
        db.finish().await;
    }
}

#[test]
fn validate_prints_the_normalised_form_or_the_reason() {
    let cli = Cli::new(&custodian_testkit::sqlite());
    for (kind, input, normal) in [
        ("iban", "nl91 abna 0417 1643 00", "NL91ABNA0417164300"),
        ("btw", "nl.0000.99998.b57", "NL000099998B57"),
        ("btw", "NL123456782B01", "NL123456782B01"),
        ("kvk", "1234 5678", "12345678"),
        ("postcode", "1234ab", "1234 AB"),
        ("phone", "072-5116617", "+31725116617"),
        ("phone", "06 12345678", "+31612345678"),
        ("email", "Info@Bücher.DE", "Info@bücher.de"),
    ] {
        assert_eq!(cli.ok(&["validate", kind, input]).trim(), normal, "{kind} {input}");
    }
    for (kind, input, rule) in [
        ("iban", "NL92ABNA0417164300", "checksum"),
        ("btw", "NL123456783B01", "checksum"),
        ("kvk", "1234567", "length"),
        ("postcode", "1234 SA", "letters_unused"),
        ("phone", "12", "invalid_number"),
        ("email", "a@@b.nl", "multiple_at"),
    ] {
        let err = cli.fails(&["validate", kind, input], 2);
        assert!(err.contains(&format!("({rule})")), "{kind} {input}: {err}");
    }
    assert!(!cli.data_dir.exists(), "validate touches no data");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_key_file_is_private_and_rotation_survives_a_crash() {
    let cli = Cli::new(&custodian_testkit::sqlite());
    assert!(cli.ok(&["init"]).contains("fingerprint"));
    let key = cli.data_dir.join("master.key");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&cli.data_dir), 0o700);
    let id = cli.ok(CUSTOMER).trim().to_string();

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(cli.fails(&["customer", "list"], 1).contains("chmod 600"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let old = std::fs::read_to_string(&key).unwrap();
    assert!(cli.ok(&["keys", "rotate"]).contains("re-wrapped 1 data keys"));
    let new = std::fs::read_to_string(&key).unwrap();
    assert_ne!(old, new);
    assert!(cli.ok(&["customer", "show", &id, "--purpose", "support"]).contains("Grutto"));

    // A crash after the database re-wrapped but before the file was renamed:
    // the new key sits in master.key.next, the old one in master.key.
    let next = cli.data_dir.join("master.key.next");
    std::fs::write(&next, &new).unwrap();
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key, &old).unwrap();
    assert!(cli.ok(&["customer", "show", &id, "--purpose", "support"]).contains("Grutto"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), new, "the rotation was completed");
    assert!(!next.exists());

    // A crash before the database changed: the stray new key is discarded.
    std::fs::write(&next, &old).unwrap();
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600)).unwrap();
    cli.ok(&["customer", "list"]);
    assert!(!next.exists());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), new);

    // A lost key file is never silently replaced.
    std::fs::remove_file(&key).unwrap();
    assert!(cli.fails(&["customer", "list"], 1).contains("no master key"));
    assert!(!key.exists());
}

#[test]
fn configuration_errors_name_the_key() {
    let cli = Cli::new(&custodian_testkit::sqlite());
    std::fs::create_dir_all(&cli.data_dir).unwrap();
    std::fs::write(cli.data_dir.join("custodian.toml"), "databse_url = \"sqlite://x\"\n").unwrap();
    let err = cli.fails(&["customer", "list"], 2);
    assert!(err.contains("databse_url"), "{err}");
    std::fs::write(cli.data_dir.join("custodian.toml"), "db_max_connections = 4\nlanguage = \"en\"\n").unwrap();
    let shown = cli.ok(&["config"]);
    assert!(shown.contains("db_max_connections   4") && shown.contains("CUSTODIAN_DATABASE_URL"), "{shown}");

    // Every setting is shown with its effective value, never a secret.
    std::fs::write(
        cli.data_dir.join("custodian.toml"),
        "listen = \"127.0.0.1:9090\"\ntrusted_proxy = \"10.0.0.1\"\n[smtp]\nhost = \"smtp.example.net\"\n\
         from = \"noreply@example.net\"\npassword = \"smtp-s3cret\"\n[registries.sidn]\nhost = \"drs.example.nl\"\n\
         login = \"123\"\npassword = \"epp-s3cret\"\ntlds = [\"nl\"]\n",
    )
    .unwrap();
    let shown = cli.ok(&["config"]);
    for line in [
        "listen               127.0.0.1:9090",
        "public_url           http://127.0.0.1:9090",
        "trusted_proxy        10.0.0.1",
        "[smtp]               smtp.example.net default port implicit_tls",
        "[registries.sidn]    drs.example.nl:700 tlds nl",
        "CUSTODIAN_SMTP_PASSWORD",
        "CUSTODIAN_REGISTRY_<NAME>_PASSWORD",
    ] {
        assert!(shown.contains(line), "{line}: {shown}");
    }
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn inventory_prints_as_table_and_json() {
    let cli = Cli::new(&custodian_testkit::sqlite());
    let table = cli.ok(&["inventory"]);
    assert!(table.contains("customers.iban") && table.contains("owner,bookkeeper,subject"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&cli.ok(&["inventory", "--format", "json"])).unwrap();
    let fields = json["fields"].as_array().unwrap();
    assert_eq!(fields.len(), custodian_domain::inventory::FIELDS.len());
    assert!(fields.iter().any(|f| f["column"] == "handle" && f["blind_index"] == "handle_bidx"));
}

#[tokio::test]
async fn api_tokens_are_made_listed_and_revoked_without_keeping_the_secret() {
    for db in databases().await {
        let cli = Cli::new(&db);
        let made = cli.ok(&[
            "api-token",
            "create",
            "--name",
            "crm-sync",
            "--role",
            "staff",
            "--scope",
            "customers:read",
            "--scope",
            "customers:write",
        ]);
        let secret = made.lines().nth(1).unwrap().trim().to_string();
        assert!(secret.starts_with("cst_") && secret.len() == 68, "{made}");
        let listed = cli.ok(&["api-token", "list"]);
        assert!(listed.contains("crm-sync") && listed.contains("customers:read customers:write"), "{listed}");
        assert!(!listed.contains(&secret[4..]), "the secret is shown once only");
        let json: serde_json::Value =
            serde_json::from_str(&cli.ok(&["api-token", "list", "--format", "json"])).unwrap();
        assert_eq!(json[0]["role"], "staff");
        assert!(json[0]["expires_at"].is_i64(), "tokens expire after a year by default");

        let bad = cli.fails(
            &["api-token", "create", "--name", "Jan de Vries", "--role", "staff", "--scope", "customers:read"],
            2,
        );
        assert!(bad.contains("name") && bad.contains("technical label"), "{bad}");
        cli.fails(&["api-token", "create", "--name", "x", "--role", "customer", "--scope", "customers:read"], 2);
        cli.fails(&["api-token", "create", "--name", "x", "--role", "staff", "--scope", "everything"], 2);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&cli.ok(&["api-token", "list", "--format", "json"]))
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let id = json[0]["id"].as_i64().unwrap().to_string();
        assert!(cli.ok(&["api-token", "revoke", &id]).contains("revoked"));
        assert!(cli.ok(&["api-token", "list"]).contains("revoked"));
        cli.fails(&["api-token", "revoke", "999"], 2);
        let audit = cli.ok(&["audit", "verify"]);
        assert!(audit.contains("intact"), "{audit}");
        db.finish().await;
    }
}

/// Handles and domains over the command line, against the loopback EPP registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_and_domains_reach_the_registry_from_the_command_line() {
    use custodian_testkit::epp::{EppOptions, EppServer};
    for db in databases().await {
        let registry = EppServer::start(EppOptions::default()).await;
        let cli = Cli::new(&db);
        std::fs::create_dir_all(&cli.data_dir).unwrap();
        std::fs::set_permissions(&cli.data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let o = &registry.options;
        std::fs::write(
            cli.data_dir.join("custodian.toml"),
            format!(
                "[registries.partner]\nhost = \"localhost\"\nport = {}\nlogin = \"{}\"\ntlds = [\"*\"]\nca_file = \"{}\"\n\n[registry_worker]\nretry_first_delay_secs = 0\n",
                registry.port,
                o.login,
                registry.cert.ca_file.display()
            ),
        )
        .unwrap();
        let run = |args: &[&str]| {
            let mut cmd = Command::new(BIN);
            cmd.arg("--data-dir").arg(&cli.data_dir).args(args).env("CUSTODIAN_LANGUAGE", "en");
            cmd.env("CUSTODIAN_REGISTRY_PARTNER_PASSWORD", &o.password).env_remove("CUSTODIAN_DATABASE_URL");
            cmd.env_remove("CUSTODIAN_MASTER_KEY").env_remove("CUSTODIAN_CONFIG").env_remove("CUSTODIAN_DATA_DIR");
            if let Some((url, key)) = &cli.db {
                cmd.env("CUSTODIAN_DATABASE_URL", url).env("CUSTODIAN_MASTER_KEY", key);
            }
            cmd.output().unwrap()
        };
        let ok = |args: &[&str]| {
            let out = run(args);
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let customer = ok(CUSTOMER).trim().to_string();
        let holder = [
            "--set",
            "name=Kwartel Beheer",
            "--set",
            "addr_street=Polderweg 9",
            "--set",
            "addr_postcode=1811 AB",
            "--set",
            "addr_city=Alkmaar",
            "--set",
            "phone=072-5116617",
            "--set",
            "email=kwartel@grutto.nl",
        ];
        let mut add = vec!["handle", "add", customer.as_str(), "--registry", "partner"];
        add.extend(holder);
        let handle = ok(&add).trim().to_string();
        let bad = run(&["handle", "add", &customer, "--registry", "partner", "--set", "name=X", "--set", "phone=12"]);
        assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
        let unknown = run(&["handle", "add", &customer, "--registry", "elders", "--set", "name=X"]);
        assert_eq!(unknown.status.code(), Some(2));
        for name in ["kwartel.nl", "kwartel.eu"] {
            ok(&["domain", "register", &customer, name, "--registrant", &handle, "--tech", &handle]);
        }
        let synced = ok(&["registry", "sync"]);
        assert!(synced.contains("done 3") && synced.contains("failed 0"), "{synced}");
        assert_eq!(registry.state().domains.len(), 2);
        let list = ok(&["handle", "list", &customer]);
        assert!(list.contains("CST") && list.contains("active") && list.contains("kwartel.eu kwartel.nl"), "{list}");
        ok(&["handle", "update", &handle, "--set", "addr_street=Polderweg 11"]);
        ok(&["registry", "sync"]);
        let at_registry = registry.state().contacts.values().next().unwrap().street.clone();
        assert_eq!(at_registry, ["Polderweg 11"]);
        assert!(ok(&["handle", "show", &handle]).contains("Polderweg 11"));
        assert_eq!(ok(&["registry", "reconcile", "partner"]).trim(), "no differences with partner");
        let in_use = run(&["handle", "delete", &handle]);
        assert!(!in_use.status.success());
        assert!(String::from_utf8_lossy(&in_use.stderr).contains("still used by 2 domain"));
        // The inventory says where the registry's holder data lives (A8).
        assert!(ok(&["inventory"]).contains("contacts.* at partner (*): here, encrypted, and at the registry"));
        let ops = ok(&["registry", "ops"]);
        assert!(ops.contains("contact_update") && ops.contains("1000"), "{ops}");
        drop(registry);
        db.finish().await;
    }
}
