//! The owner's "Medewerkers / Staff" page, end to end: the real server (with a
//! notifier and its outbox worker sending to the testkit's SMTP and SMS
//! doubles where messages matter), browsers as clients. SQLite always,
//! PostgreSQL when configured.

mod common;

use common::{Client, PASSWORD, Page, Server, operator};
use custodian_domain::inventory::Role;
use custodian_testkit::databases;
use custodian_testkit::doubles::SmtpMode;
use reqwest::StatusCode;

const BOOKS: &str = "boekhouder@telder.nl";

/// The word after `marker` in `text`, without trailing punctuation.
fn after(text: &str, marker: &str) -> String {
    let rest = text.split(marker).nth(1).unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    rest.split_whitespace().next().unwrap().trim_end_matches(['.', ',']).to_string()
}

/// Posts the invitation form from the owner's page.
async fn invite(owner: &Client, fields: &[(&str, &str)]) -> Page {
    let page = owner.get("/staff/accounts").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    owner.post_form("/staff/accounts", &page, fields).await
}

/// Activates with the login and code and enrols the second factor.
async fn activate(server: &Server, login: &str, code: &str) -> Client {
    let c = server.client();
    let form = c.get("/activate").await;
    let r = c.post_form("/activate", &form, &[("login", login), ("code", code), ("password", PASSWORD)]).await;
    assert_eq!(r.location(), "/second-factor/enrol", "{}", r.body);
    c.enrol().await;
    c
}

/// The table row (its cells) that contains `needle`.
fn row_with(page: &Page, needle: &str) -> String {
    let row = page.body.split("<tr>").find(|r| r.contains(needle)).unwrap_or_else(|| panic!("no row with {needle:?}"));
    row.split("</tr>").next().unwrap().to_string()
}

/// The ID of the account with `login`, as the owner's list gives it.
async fn account_id(server: &Server, login: &str) -> i64 {
    let list = server.store.staff_accounts(&operator()).await.unwrap();
    list.iter().find(|a| a.login.as_deref() == Some(login)).map(|a| a.id).expect("the account is listed")
}

#[tokio::test]
async fn the_owner_invites_the_bookkeeper_who_gets_the_login_by_email_and_the_code_by_sms() {
    for db in databases().await {
        let name = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::OffersStartTls).await;
        let owner = server.owner().await;
        let home = owner.get("/staff").await;
        assert!(home.body.contains("href=\"/staff/accounts\""), "{name}: the owner's menu links the page");

        // Wrong fields come back together, with what was typed; nothing is made.
        let wrong = invite(
            &owner,
            &[
                ("role", "bookkeeper"),
                ("login", "geen-adres"),
                ("name", ""),
                ("phone", "06 12345678"),
                ("dpa_reference", "VWO-2026-017"),
                ("dpa_date", "2999-01-01"),
            ],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {}", wrong.body);
        for target in ["#f-login", "#f-name", "#f-dpa_date"] {
            assert!(wrong.body.contains(&format!("href=\"{target}\"")), "{name}: {target} in {}", wrong.body);
        }
        assert!(wrong.body.contains("value=\"VWO-2026-017\""), "{name}: the form keeps what was typed");
        assert!(wrong.body.contains("in de toekomst"), "{name}: {}", wrong.body);
        // Without the DPA the bookkeeper gets no account (M6).
        let no_dpa =
            invite(&owner, &[("role", "bookkeeper"), ("login", BOOKS), ("name", "Telder"), ("phone", "06 12345678")])
                .await;
        assert_eq!(no_dpa.status, StatusCode::CONFLICT, "{name}: {}", no_dpa.body);
        assert!(
            no_dpa.body.contains("href=\"#f-dpa_reference\"")
                && no_dpa.body.contains("verwerkersovereenkomst is vastgelegd"),
            "{name}: {}",
            no_dpa.body
        );
        assert_eq!(server.store.staff_accounts(&operator()).await.unwrap().len(), 1, "{name}: only the owner");
        assert_eq!(server.store.outbox().counts().await.unwrap().pending, 0, "{name}: nothing queued");

        let done = invite(
            &owner,
            &[
                ("role", "bookkeeper"),
                ("login", BOOKS),
                ("name", "Boekhoudkantoor Telder"),
                ("phone", "06 12345678"),
                ("dpa_reference", "VWO-2026-017"),
                ("dpa_date", "2026-02-01"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        assert!(done.body.contains("per e-mail verstuurd") && done.body.contains("per sms verstuurd"), "{name}");
        assert_eq!(done.headers.get("cache-control").unwrap(), "no-store", "{name}");

        let mail = outside.smtp.wait_for(1).await.remove(0);
        assert!(mail.tls, "{name}");
        assert_eq!(mail.rcpt_to, [BOOKS], "{name}");
        let login = after(&mail.text(), "Uw inlognaam:");
        assert_eq!(login, BOOKS, "{name}: {}", mail.text());
        let sms = outside.sms.wait_for(1).await.remove(0);
        let msg = &sms.body["messages"]["msg"][0];
        assert_eq!(msg["to"][0]["number"].as_str(), Some("0031612345678"), "{name}");
        let text = msg["body"]["content"].as_str().unwrap().to_string();
        let code = after(&text, "uw activeringscode is");
        assert!(code.len() >= 6 && code.bytes().all(|b| b.is_ascii_digit()), "{name}: {text}");
        // A11: the login never travels with the code, nor is the code shown.
        for part in [BOOKS, "boekhouder", "telder.nl"] {
            assert!(!text.contains(part), "{name}: the SMS holds {part:?}: {text}");
        }
        assert!(!format!("{}\n{}", mail.data, mail.text()).contains(&code), "{name}: the code is in the e-mail");
        assert!(!done.body.contains(&code), "{name}: the code went by SMS, so it is not shown");

        let books = activate(&server, &login, &code).await;
        let staff_home = books.get("/staff").await;
        assert_eq!(staff_home.status, StatusCode::OK, "{name}: the bookkeeper is in");
        assert!(!staff_home.body.contains("href=\"/staff/accounts\""), "{name}: no menu link for the bookkeeper");
        assert_eq!(books.get("/staff/accounts").await.status, StatusCode::FORBIDDEN, "{name}");

        // The owner sees the account with its basis, last login and second factor.
        let list = owner.get("/staff/accounts").await;
        let row = row_with(&list, BOOKS);
        for expected in [
            "boekhouder",
            "Boekhoudkantoor Telder",
            "verwerkersovereenkomst VWO-2026-017 van 2026-02-01",
            "ingesteld",
            "actief",
        ] {
            assert!(row.contains(expected), "{name}: {expected:?} in {row}");
        }
        assert!(!row.contains("nooit") && !row.contains("niet ingesteld"), "{name}: {row}");

        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        assert_eq!(staff.get("/staff/accounts").await.status, StatusCode::FORBIDDEN, "{name}: staff get 403");
        let staff_page = staff.get("/staff").await;
        let refused = staff
            .post_form("/staff/accounts", &staff_page, &[("role", "staff"), ("login", "x@hoster.nl"), ("name", "X")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{name}");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn without_sms_the_owner_reads_the_code_out_and_that_is_recorded() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let done = invite(
            &owner,
            &[
                ("role", "staff"),
                ("login", "piet@hoster.nl"),
                ("name", "Piet"),
                ("confidentiality_signed_on", "2026-01-05"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        assert!(done.body.contains("telefonisch voor"), "{name}: {}", done.body);
        assert!(done.body.contains("zelf door"), "{name}: no e-mail, so the owner hands over the login");
        assert_eq!(done.headers.get("cache-control").unwrap(), "no-store", "{name}");
        let code =
            after(&done.body, "Activeringscode: <strong><code>").trim_end_matches("</code></strong></p>").to_string();
        assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{name}: {code}");
        let disclosed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.code_disclosed' AND actor_id = '1'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!(disclosed, 1, "{name}: the owner was shown the code, on record");
        let piet = activate(&server, "piet@hoster.nl", &code).await;
        assert_eq!(piet.get("/staff").await.status, StatusCode::OK, "{name}");
        let row = owner.get("/staff/accounts").await;
        assert!(row.body.contains("geheimhoudingsverklaring getekend op 2026-01-05"), "{name}: {}", row.body);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_owner_disables_logs_out_and_removes_accounts_but_never_the_last_owner() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let first = server.staff(Role::Staff, "eerste@hoster.nl").await;
        let second = server.staff(Role::Staff, "tweede@hoster.nl").await;
        let first_id = account_id(&server, "eerste@hoster.nl").await;
        let second_id = account_id(&server, "tweede@hoster.nl").await;

        let page = owner.get("/staff/accounts").await;
        let disabled = owner.post_form(&format!("/staff/accounts/{first_id}/disable"), &page, &[]).await;
        assert_eq!(disabled.location(), "/staff/accounts?done=disabled", "{name}: {}", disabled.body);
        assert!(first.get("/staff").await.denied(), "{name}: the disabled account's session ended");
        let shown = owner.get("/staff/accounts?done=disabled").await;
        assert!(shown.body.contains("uitgeschakeld sinds"), "{name}");
        assert!(shown.body.contains(&format!("action=\"/staff/accounts/{first_id}/enable\"")), "{name}");
        let enabled = owner.post_form(&format!("/staff/accounts/{first_id}/enable"), &page, &[]).await;
        assert_eq!(enabled.location(), "/staff/accounts?done=enabled", "{name}");
        let c = server.client();
        let login = c.get("/login").await;
        let back = c.post_form("/login", &login, &[("login", "eerste@hoster.nl"), ("password", PASSWORD)]).await;
        assert_eq!(back.location(), "/second-factor", "{name}: enabled, the password works again");

        assert_eq!(second.get("/staff").await.status, StatusCode::OK, "{name}");
        let ended = owner.post_form(&format!("/staff/accounts/{second_id}/end-sessions"), &page, &[]).await;
        assert_eq!(ended.location(), "/staff/accounts?done=sessions", "{name}");
        assert!(second.get("/staff").await.denied(), "{name}: logged out everywhere");

        // Removing asks for confirmation first.
        let unconfirmed = owner.post_form(&format!("/staff/accounts/{second_id}/remove"), &page, &[]).await;
        assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(unconfirmed.body.contains(&format!("href=\"#confirm-{second_id}\"")), "{name}: {}", unconfirmed.body);
        assert!(unconfirmed.body.contains("tweede@hoster.nl"), "{name}: still there");
        let removed =
            owner.post_form(&format!("/staff/accounts/{second_id}/remove"), &page, &[("confirm", "yes")]).await;
        assert_eq!(removed.location(), "/staff/accounts?done=removed", "{name}");
        let after_removal = owner.get("/staff/accounts?done=removed").await;
        assert!(!after_removal.body.contains("tweede@hoster.nl"), "{name}: the login is wiped");
        let row = row_with(&after_removal, &format!("\">{second_id}</td>"));
        assert!(row.contains("medewerker") && row.contains("verwijderd op"), "{name}: {row}");
        assert!(!row.contains("<form"), "{name}: nothing more to do with a removed account");

        // The owner is the last owner.
        let own = owner.post_form("/staff/accounts/1/disable", &page, &[]).await;
        assert_eq!(own.status, StatusCode::CONFLICT, "{name}: {}", own.body);
        assert!(own.body.contains("laatste eigenaar"), "{name}: {}", own.body);
        let own = owner.post_form("/staff/accounts/1/remove", &page, &[("confirm", "yes")]).await;
        assert_eq!(own.status, StatusCode::CONFLICT, "{name}");
        assert_eq!(owner.get("/staff").await.status, StatusCode::OK, "{name}: the owner is still in");
        let english = owner.get("/staff/accounts?lang=en").await;
        assert!(english.body.contains("Log out everywhere") && english.body.contains("Basis"), "{name}");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_owner_resets_a_lost_second_factor_and_the_holder_enrols_again() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let staff = server.staff(Role::Staff, "telefoon-kwijt@hoster.nl").await;
        let id = account_id(&server, "telefoon-kwijt@hoster.nl").await;

        let page = owner.get("/staff/accounts").await;
        let action = format!("action=\"/staff/accounts/{id}/reset-second-factor\"");
        assert!(
            row_with(&page, "telefoon-kwijt@hoster.nl").contains(&action),
            "{name}: offered for an enrolled account"
        );
        // Staff may not reset anyone's factor, not even their own.
        let own_page = staff.get("/staff").await;
        let refused = staff.post_form(&format!("/staff/accounts/{id}/reset-second-factor"), &own_page, &[]).await;
        assert!(refused.denied(), "{name}: staff reset a second factor: {}", refused.status);

        let reset = owner.post_form(&format!("/staff/accounts/{id}/reset-second-factor"), &page, &[]).await;
        assert_eq!(reset.location(), "/staff/accounts?done=second-factor", "{name}: {}", reset.body);
        assert!(staff.get("/staff").await.denied(), "{name}: the holder's sessions ended");
        let after = owner.get("/staff/accounts?done=second-factor").await;
        let row = row_with(&after, "telefoon-kwijt@hoster.nl");
        assert!(row.contains("niet ingesteld") && !row.contains(&action), "{name}: {row}");

        // The password still works; the next step is a new enrolment.
        let c = server.client();
        let login = c.get("/login").await;
        let r = c.post_form("/login", &login, &[("login", "telefoon-kwijt@hoster.nl"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/second-factor/enrol", "{name}");
        c.enrol().await;
        assert_eq!(c.get("/staff").await.status, StatusCode::OK, "{name}: enrolled again");
        server.stop().await;
        db.finish().await;
    }
}
