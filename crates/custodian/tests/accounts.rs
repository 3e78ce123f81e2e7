//! `custodian account …`, the real binary run as an operator would, on every
//! engine under test; the test reads the same database through the store to
//! activate accounts and to check the outbox and the audit trail.

use custodian_domain::password::NewPassword;
use custodian_domain::validate::Email;
use custodian_store::{AuthError, Store, StoreError};
use custodian_testkit::databases;

mod common;
use common::Cli;

const PASSWORD: &str = "paarse olifant fietst naar Zwolle";

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
}

fn password() -> NewPassword {
    NewPassword::parse(PASSWORD, &[]).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const PIET: &[&str] = &["account", "add", "--role", "staff", "--login", "piet@hoster.nl", "--name", "Piet Medewerker"];

#[tokio::test]
async fn accounts_are_added_with_their_basis_listed_and_managed_from_the_command_line() {
    for db in databases().await {
        let name = db.name();
        // Opening the store first makes the database, as `custodian init` would.
        let store = db.store().await;
        let cli = Cli::new(&db);
        // No basis, no account (A14, M6); every wrong option is named.
        let no_basis = cli.fails(PIET, 2);
        assert!(no_basis.contains("confidentiality statement"), "{name}: {no_basis}");
        let half = cli.fails(
            &[
                "account",
                "add",
                "--role",
                "bookkeeper",
                "--login",
                "telder@hoster.nl",
                "--name",
                "Telder",
                "--dpa-reference",
                "VWO-1",
            ],
            2,
        );
        assert!(half.contains("--dpa-date") && half.contains("required"), "{name}: {half}");
        let mut future = PIET.to_vec();
        future.extend(["--confidentiality-signed", "2999-01-01", "--phone", "12"]);
        let future = cli.fails(&future, 2);
        assert!(future.contains("--confidentiality-signed") && future.contains("(future)"), "{name}: {future}");
        assert!(future.contains("--phone"), "{name}: {future}");
        cli.fails(&["account", "add", "--role", "customer", "--login", "a@b.nl", "--name", "A"], 2);
        let empty = json(&cli.ok(&["account", "list", "--format", "json"]));
        assert_eq!(empty.as_array().unwrap().len(), 0, "{name}: nothing was made");

        // Without SMS the operator is given the code to read out, on record.
        let mut args = PIET.to_vec();
        args.extend(["--confidentiality-signed", "2026-01-05"]);
        let added = cli.ok(&args);
        assert!(added.contains("created") && added.contains("read it out"), "{name}: {added}");
        assert!(added.contains("no e-mail is set up"), "{name}: {added}");
        let code = added.lines().last().unwrap().trim().to_string();
        assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{name}: {added}");
        let login = Email::parse("piet@hoster.nl").unwrap();
        let piet = store.activate(&login, &code, &password(), None).await.unwrap();
        let disclosed = count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.code_disclosed' AND actor_id = 'cli'",
        )
        .await;
        assert_eq!(disclosed, 1, "{name}");

        let listed = cli.ok(&["account", "list"]);
        assert!(
            listed.contains("piet@hoster.nl")
                && listed.contains("Piet Medewerker")
                && listed.contains("confidentiality signed 2026-01-05")
                && listed.contains("active"),
            "{name}: {listed}"
        );
        let listed = json(&cli.ok(&["account", "list", "--format", "json"]));
        assert_eq!(listed[0]["id"], piet.id, "{name}");
        assert_eq!(listed[0]["role"], "staff", "{name}");
        assert_eq!(listed[0]["confidentiality_signed_on"], "2026-01-05", "{name}");
        assert_eq!(listed[0]["second_factor"], false, "{name}");
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'account.list'").await,
            3,
            "{name}: one entry per read"
        );

        // An account with a password is never invited again.
        let again = cli.fails(&args, 2);
        assert!(again.contains("never invited again"), "{name}: {again}");

        let id = piet.id.to_string();
        assert!(cli.ok(&["account", "disable", &id]).contains("disabled"), "{name}");
        let refused = store.login(&login, PASSWORD, None).await;
        assert!(matches!(refused, Err(StoreError::Auth(AuthError::BadCredentials))), "{name}: {refused:?}");
        cli.ok(&["account", "enable", &id]);
        let piet = store.login(&login, PASSWORD, None).await.unwrap();
        store.start_session(&piet, false).await.unwrap();
        let ended = cli.ok(&["account", "end-sessions", &id]);
        assert!(ended.contains("1 session(s) ended"), "{name}: {ended}");

        // A lost phone: the operator erases the second factor (as if enrolled here).
        sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2")
            .bind(vec![1u8; 40])
            .bind(piet.id)
            .execute(store.pool())
            .await
            .unwrap();
        store.start_session(&piet, true).await.unwrap();
        let reset = cli.ok(&["account", "reset-second-factor", &id]);
        assert!(reset.contains("second factor and recovery codes erased"), "{name}: {reset}");
        let sql = format!("SELECT COUNT(*) FROM users WHERE id = {id} AND totp_secret IS NULL");
        assert_eq!(count(&store, &sql).await, 1, "{name}: the secret is gone");
        let sql = format!("SELECT COUNT(*) FROM sessions WHERE user_id = {id}");
        assert_eq!(count(&store, &sql).await, 0, "{name}: and its sessions");
        let sql = "SELECT COUNT(*) FROM audit_log WHERE action = 'account.second_factor_reset'";
        assert_eq!(count(&store, sql).await, 1, "{name}: recorded");
        cli.fails(&["account", "reset-second-factor", "999"], 2);

        assert!(cli.ok(&["account", "remove", &id]).contains("removed"), "{name}");
        let listed = json(&cli.ok(&["account", "list", "--format", "json"]));
        assert_eq!(listed[0]["id"], piet.id, "{name}: the ID stays");
        assert_eq!(listed[0]["role"], "staff", "{name}: and the role");
        assert!(listed[0]["login"].is_null() && listed[0]["name"].is_null(), "{name}: {listed}");
        let gone = cli.fails(&["account", "remove", &id], 2);
        assert!(gone.contains("removed"), "{name}: {gone}");
        cli.fails(&["account", "disable", "999"], 2);
        // The login is free again.
        let readded = cli.ok(&args);
        assert!(readded.contains("created"), "{name}: {readded}");
        assert!(cli.ok(&["audit", "verify"]).contains("intact"), "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn with_email_and_sms_set_up_the_login_and_code_are_queued_apart() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let cli = Cli::new(&db).configured(
            "[smtp]\nhost = \"smtp.voorbeeld.nl\"\nfrom = \"Voorbeeld Hosting <noreply@voorbeeld.nl>\"\n\
             [sms]\nprovider = \"webhook\"\nurl = \"https://sms.voorbeeld.nl/send\"\n",
        );
        let added = cli.ok(&[
            "account",
            "add",
            "--role",
            "bookkeeper",
            "--login",
            "telder@hoster.nl",
            "--name",
            "Boekhoudkantoor Telder",
            "--phone",
            "06 12345678",
            "--dpa-reference",
            "VWO-2026-017",
            "--dpa-date",
            "2026-02-01",
        ]);
        assert!(added.contains("queued by e-mail") && added.contains("queued by SMS"), "{name}: {added}");
        assert!(!added.lines().any(|l| l.trim().len() == 8 && l.trim().bytes().all(|b| b.is_ascii_digit())), "{added}");
        let queued: Vec<(String, String, String)> =
            sqlx::query_as("SELECT channel, kind, status FROM outbox ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let expected = [("email", "login_name", "pending"), ("sms", "activation_code", "pending")]
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
        assert_eq!(queued, expected, "{name}");
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'account.code_disclosed'").await,
            0,
            "{name}: nobody saw the code"
        );
        let listed = cli.ok(&["account", "list"]);
        assert!(listed.contains("DPA VWO-2026-017 of 2026-02-01") && listed.contains("invited"), "{name}: {listed}");
        store.close().await;
        db.finish().await;
    }
}
