//! Credentials through the real server: who may learn an activation code, what
//! an invitation may touch, failure counters, second-factor enrolment and
//! recovery. SQLite always, PostgreSQL when configured.

mod common;

use common::{Client, PASSWORD, Page, Server, operator};
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerData, CustomerKind};
use custodian_store::Store;
use custodian_testkit::databases;
use custodian_testkit::doubles::SmtpMode;
use reqwest::StatusCode;

/// Sample customer `n`, with or without a phone number, with or without e-mail consent.
fn customer(n: u64, phone: bool, consent: bool) -> CustomerData {
    let mut f = custodian_testkit::customer_fields(n);
    if !phone {
        f.remove("phone");
    }
    f.insert("email_consent".into(), if consent { "yes" } else { "no" }.into());
    CustomerData::from_fields(CustomerKind::Business, &f).unwrap()
}

fn login_of(n: u64) -> String {
    custodian_testkit::customer_fields(n)["email"].clone()
}

/// Presses "invite" in the back-office (any page of the session carries its token).
async fn invite(staff: &Client, id: i64) -> Page {
    let home = staff.get("/staff").await;
    staff.post_form(&format!("/staff/customers/{id}/invite"), &home, &[]).await
}

/// The word after `marker`, without trailing punctuation.
fn after(text: &str, marker: &str) -> String {
    let rest = text.split(marker).nth(1).unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    match marker.ends_with('>') {
        // Markup: everything up to the next tag (a grouped code has spaces).
        true => rest.split('<').next().unwrap().to_string(),
        false => rest.split_whitespace().next().unwrap().trim_end_matches('.').to_string(),
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
}

async fn activate(server: &Server, login: &str, code: &str) -> Page {
    let c = server.client();
    let page = c.get("/activate").await;
    c.post_form("/activate", &page, &[("login", login), ("code", code), ("password", PASSWORD)]).await
}

#[tokio::test]
async fn staff_cannot_learn_a_code_and_the_owner_reading_one_out_is_audited() {
    for db in databases().await {
        let name = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::TlsFromTheStart).await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        // No phone: the code cannot go by SMS.
        let id = server.store.create_customer(&operator(), &customer(1, false, true), false).await.unwrap();
        let refused = invite(&staff, id).await;
        assert_eq!(refused.status, StatusCode::OK, "{name}: {}", refused.body);
        assert!(refused.body.contains("Alleen de eigenaar"), "{name}: {}", refused.body);
        assert!(!refused.body.contains("class=\"code\""), "{name}: staff were shown a code");
        let sql =
            "SELECT COUNT(*) FROM one_time_codes c JOIN users u ON u.id = c.user_id WHERE u.customer_id IS NOT NULL";
        let codes = count(&server.store, sql).await;
        assert_eq!(codes, 0, "{name}: no code was made for staff to see");

        let owner = server.owner().await;
        let shown = invite(&owner, id).await;
        assert_eq!(shown.status, StatusCode::OK, "{name}: {}", shown.body);
        assert_eq!(shown.headers.get("cache-control").unwrap(), "no-store", "{name}");
        // The code stands out, in groups of four as it is read out; the menu stays.
        let code = after(&shown.body, "<strong class=\"code\">");
        assert!(shown.body.contains("href=\"/staff/accounts\""), "{name}: the owner's menu is kept");
        let activated = activate(&server, &login_of(1), &code).await;
        assert_eq!(activated.location(), "/portal", "{name}: {}", activated.body);

        // The customer sees who was shown their code, and is told by e-mail.
        let customer = server.client();
        let form = customer.get("/login").await;
        customer.post_form("/login", &form, &[("login", &login_of(1)), ("password", PASSWORD)]).await;
        let log = customer.get("/portal/access").await;
        assert!(log.body.contains("activeringscode ingezien"), "{name}: {}", log.body);
        let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM outbox WHERE customer_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(server.store.pool())
            .await
            .unwrap();
        assert_eq!(kinds, ["login_name", "portal_notice.account"], "{name}: login name, then the activation notice");
        let mails = outside.smtp.wait_for(2).await;
        assert_eq!(mails[1].rcpt_to, [login_of(1)], "{name}");

        // An active account is never re-invited: that would reset its password.
        let again = invite(&owner, id).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{name}: {}", again.body);
        assert!(again.body.contains("al een actief account"), "{name}: {}", again.body);
        let refused = invite(&staff, id).await;
        assert!(refused.body.contains("Alleen de eigenaar"), "{name}: staff cannot read one out");
        let form = customer.get("/login").await;
        let r = server.client().post_form("/login", &form, &[("login", &login_of(1)), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/portal", "{name}: the customer's password still works");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn known_and_unknown_logins_answer_alike_and_the_holder_is_told_of_a_lock() {
    for db in databases().await {
        let name = db.name();
        let (server, _outside) = Server::start_messaging(&db, SmtpMode::TlsFromTheStart).await;
        let id = server.store.create_customer(&operator(), &customer(5, true, true), false).await.unwrap();
        let (_, login, code) = server.store.invite_customer(&operator(), id).await.unwrap();
        assert_eq!(activate(&server, login.as_str(), &code).await.location(), "/portal", "{name}");
        let statuses = |login: String| {
            let c = server.client();
            async move {
                let mut out = vec![];
                for _ in 0..6 {
                    let form = c.get("/login").await;
                    out.push(c.post_form("/login", &form, &[("login", &login), ("password", "fout")]).await.status);
                }
                out
            }
        };
        let known = statuses(login.to_string()).await;
        let mut expected = vec![StatusCode::UNAUTHORIZED; 5];
        expected.push(StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(known, expected, "{name}");
        assert_eq!(statuses("niemand@voorbeeld.nl".into()).await, known, "{name}: an unknown login answers the same");

        // The lock notice is queued in the background.
        let mut kinds: Vec<String> = vec![];
        for _ in 0..100 {
            kinds = sqlx::query_scalar("SELECT kind FROM outbox WHERE customer_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(server.store.pool())
                .await
                .unwrap();
            if kinds.len() >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(kinds, ["portal_notice.account", "portal_notice.account"], "{name}: activation, then the lock");
        server.stop().await;
        db.finish().await;
    }
}
