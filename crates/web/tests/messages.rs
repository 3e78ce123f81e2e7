//! Invitation and password reset end to end: the real server with a notifier
//! and its outbox worker, sending to an SMTP server that requires TLS and to a
//! stand-in of CM.com's SMS API (from `custodian_testkit::doubles`). What the
//! customer receives is what the customer then uses. SQLite always, PostgreSQL
//! when configured.

mod common;

use common::{COMPANY, Client, Outside, PASSWORD, Page, Server, hidden};
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerData, CustomerKind, Fields};
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use custodian_testkit::doubles::{Received, SmtpMode};
use reqwest::StatusCode;

const IBAN: &str = "NL91ABNA0417164300";

/// Everything about the customer a message must not carry (A10): phone in the
/// forms people and our store write it, addresses, bank and registry numbers.
const NOT_IN_MESSAGES: &[&str] =
    &["612345678", "06 12345678", "Klantbedrijf", "Kerkstraat", "1811 KH", "Alkmaar", IBAN, "ABNA", "24681357"];

/// A business customer's form fields; `email_consent` and `phone` as given.
fn fields(email: &str, consent: bool, phone: Option<&str>) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("company_name", "Klantbedrijf B.V.".to_string()),
        ("contact_name", "Jan de Vries".to_string()),
        ("visit_street", "Kerkstraat 12".to_string()),
        ("visit_postcode", "1811 KH".to_string()),
        ("visit_city", "Alkmaar".to_string()),
        ("email", email.to_string()),
        ("email_consent", if consent { "yes" } else { "no" }.to_string()),
        ("language", "nl".to_string()),
        ("kvk", "24681357".to_string()),
    ];
    if let Some(p) = phone {
        f.push(("phone", p.to_string()));
    }
    f
}

/// Staff enter a customer through the back-office form (bank details are not
/// theirs to enter, A4); returns its number.
async fn create_customer(staff: &Client, fields: &[(&str, String)]) -> i64 {
    let form = staff.get("/staff/customers/new").await;
    let mut values: Vec<(&str, &str)> = vec![("kind", "business"), ("on_behalf", "yes")];
    values.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    let created = staff.post_form("/staff/customers/new", &form, &values).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    created.location().split('?').next().unwrap().rsplit('/').next().unwrap().parse().unwrap()
}

/// Presses "invite" on the customer's page in the back-office.
async fn invite(staff: &Client, id: i64) -> Page {
    let purpose = staff.get(&format!("/staff/customers/{id}")).await;
    let shown = staff.post_form(&format!("/staff/customers/{id}"), &purpose, &[("purpose", "administration")]).await;
    assert!(shown.body.contains(&format!("/staff/customers/{id}/invite")), "{}", shown.body);
    let page = staff.post_form(&format!("/staff/customers/{id}/invite"), &shown, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page
}

/// Every message ever queued, in whatever state: the notifier queues while the
/// request runs, so after the answer this number is final for that request.
async fn queued(server: &Server) -> i64 {
    let c = server.store.outbox().counts().await.unwrap();
    c.pending + c.sending + c.sent + c.failed + c.cancelled
}

/// The texts of the SMS messages the CM stand-in received: (number, text).
fn texts(outside: &Outside) -> Vec<(String, String)> {
    outside
        .sms
        .recorded()
        .iter()
        .map(|r| {
            let msg = &r.body["messages"]["msg"][0];
            (msg["to"][0]["number"].as_str().unwrap().to_string(), msg["body"]["content"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The word after `marker` in `text`, without trailing punctuation.
fn after(text: &str, marker: &str) -> String {
    let rest = text.split(marker).nth(1).unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    rest.split_whitespace().next().unwrap().trim_end_matches('.').to_string()
}

fn assert_nothing_personal(what: &str, message: &str) {
    for item in NOT_IN_MESSAGES {
        assert!(!message.contains(item), "{what} holds {item:?}: {message}");
    }
}

/// The e-mail as sent, headers and raw body, and its decoded text.
fn mail_text(mail: &Received) -> String {
    format!("{}\n{}", mail.data, mail.text())
}

async fn activate(server: &Server, login: &str, code: &str) -> Client {
    let c = server.client();
    let page = c.get("/activate").await;
    let r = c.post_form("/activate", &page, &[("login", login), ("code", code), ("password", PASSWORD)]).await;
    assert_eq!(r.location(), "/portal", "{}", r.body);
    c
}

#[tokio::test]
async fn invitation_sends_the_login_by_email_and_the_code_by_sms_never_together() {
    for db in databases().await {
        let name = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::OffersStartTls).await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        let email = "jan.devries@klantbedrijf.nl";
        let id = create_customer(&staff, &fields(email, true, Some("06 12345678"))).await;
        let page = invite(&staff, id).await;
        assert_eq!(queued(&server).await, 2, "{name}: one e-mail and one SMS queued");

        let mails = outside.smtp.wait_for(1).await;
        let sms = outside.sms.wait_for(1).await;
        assert_eq!((mails.len(), sms.len()), (1, 1), "{name}");
        let mail = &mails[0];
        assert!(mail.tls, "{name}: the e-mail went over STARTTLS");
        assert_eq!(mail.rcpt_to, [email], "{name}");
        let mail_all = mail_text(mail);
        let login = after(&mail.text(), "Uw inlognaam:");
        assert_eq!(login, email, "{name}: {mail_all}");
        assert!(mail.text().contains("Beste Jan de Vries,"), "{name}: {mail_all}");

        let (number, text) = texts(&outside).remove(0);
        assert_eq!(number, "0031612345678", "{name}");
        assert!(text.starts_with(&format!("{COMPANY}: ")), "{name}: {text}");
        let code = after(&text, "uw activeringscode is");
        assert!(code.len() >= 6 && code.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}: {text}");
        // A11: the two halves of the key never travel together.
        assert!(!mail_all.contains(&code), "{name}: the activation code is in the e-mail: {mail_all}");
        for part in [email, "jan.devries", "klantbedrijf.nl"] {
            assert!(!text.contains(part), "{name}: the SMS holds {part:?}: {text}");
        }
        // A10: nothing personal beyond the name.
        assert_nothing_personal("the e-mail", &mail_all);
        assert_nothing_personal("the SMS", &text);
        // Both went out, so staff see neither secret.
        assert!(page.body.contains("per e-mail verstuurd") && page.body.contains("per sms verstuurd"), "{}", page.body);
        assert!(!page.body.contains(&code) && !page.body.contains(email), "{name}: {}", page.body);

        let customer = activate(&server, &login, &code).await;
        let portal = customer.get("/portal").await;
        assert_eq!(portal.status, StatusCode::OK, "{name}");
        assert!(portal.body.contains("Klantbedrijf B.V."), "{name}");
        // The code worked once.
        let again = server.client();
        let form = again.get("/activate").await;
        let r =
            again.post_form("/activate", &form, &[("login", &login), ("code", &code), ("password", PASSWORD)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");

        // The activation is told by e-mail; nothing else went.
        let mails = outside.smtp.wait_for(2).await;
        assert!(mails[1].text().contains("Er is iets gewijzigd in uw account"), "{name}: {}", mails[1].text());
        assert_eq!((outside.smtp.received().len(), outside.sms.recorded().len()), (2, 1), "{name}");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn without_email_consent_nothing_is_mailed_and_staff_are_told_what_to_do() {
    for db in databases().await {
        let name = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::TlsFromTheStart).await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;

        // A mobile number: the code goes by SMS, the login name by post.
        let with_phone = create_customer(&staff, &fields("mobiel@klantbedrijf.nl", false, Some("06 12345678"))).await;
        let page = invite(&staff, with_phone).await;
        assert_eq!(queued(&server).await, 1, "{name}: only the SMS is queued");
        assert!(page.body.contains("per post"), "{name}: {}", page.body);
        assert!(page.body.contains("per sms verstuurd"), "{name}: {}", page.body);
        outside.sms.wait_for(1).await;
        let code = after(&texts(&outside)[0].1, "uw activeringscode is");
        assert!(!page.body.contains(&code), "{name}: the code went by SMS, so it is not shown");

        // No phone either: only the owner may read a code out by phone, and
        // staff are told so.
        let without = create_customer(&staff, &fields("vast@klantbedrijf.nl", false, None)).await;
        let home = staff.get("/staff").await;
        let refused = staff.post_form(&format!("/staff/customers/{without}/invite"), &home, &[]).await;
        assert_eq!(refused.status, StatusCode::OK, "{name}: {}", refused.body);
        assert!(refused.body.contains("eigenaar"), "{name}: {}", refused.body);
        let owner = server.owner().await;
        let page = invite(&owner, without).await;
        assert_eq!(queued(&server).await, 1, "{name}: nothing more queued");
        assert!(page.body.contains("per post") && page.body.contains("telefonisch voor"), "{name}: {}", page.body);
        assert_eq!(page.headers.get("cache-control").unwrap(), "no-store", "{name}");
        // The code stands out, in groups of four as it is read out.
        let shown = page.body.split("<strong class=\"code\">").nth(1).and_then(|s| s.split('<').next()).unwrap();
        activate(&server, "vast@klantbedrijf.nl", shown).await;

        // A reset for a customer without consent sends nothing either.
        let c = server.client();
        let form = c.get("/reset").await;
        c.post_form("/reset", &form, &[("login", "vast@klantbedrijf.nl")]).await;
        assert_eq!(queued(&server).await, 1, "{name}: no reset e-mail without consent");

        assert!(outside.smtp.received().is_empty(), "{name}: no e-mail was sent");
        assert_eq!(outside.smtp.log().connections, 0, "{name}: the SMTP server was not even contacted");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn password_reset_mails_a_single_use_link_over_tls() {
    for db in databases().await {
        let name = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::TlsFromTheStart).await;
        let email = "jan.devries@klantbedrijf.nl";
        let operator = Access::new(Actor::operator(), AccessPurpose::Administration);
        let data: Fields = fields(email, true, Some("06 12345678")).into_iter().map(|(k, v)| (k.into(), v)).collect();
        let data = CustomerData::from_fields(CustomerKind::Business, &data).unwrap();
        let id = server.store.create_customer(&operator, &data, false).await.unwrap();
        let (_, _, code) = server.store.invite_customer(&operator, id).await.unwrap();
        activate(&server, email, code.as_str()).await;
        assert_eq!(queued(&server).await, 1, "{name}: the store's invitation sends nothing, the activation is told");
        outside.smtp.wait_for(1).await;

        let c = server.client();
        let form = c.get("/reset").await;
        let asked = c.post_form("/reset", &form, &[("login", email)]).await;
        assert_eq!(asked.status, StatusCode::OK, "{name}");
        assert_eq!(queued(&server).await, 2, "{name}");
        let mail = outside.smtp.wait_for(2).await.remove(1);
        assert!(mail.tls, "{name}: the e-mail went over implicit TLS");
        assert_eq!(mail.rcpt_to, [email], "{name}");
        let text = mail.text();
        let link = text.split_whitespace().find(|w| w.starts_with("http")).unwrap().to_string();
        let path = link.strip_prefix(&server.url).unwrap_or_else(|| panic!("{name}: not our link: {link}"));
        assert!(path.starts_with("/reset/new?token="), "{name}: {link}");
        assert_nothing_personal("the reset e-mail", &mail_text(&mail));

        // Follow the link from the mail and choose a new password.
        let new_password = "groene kikker springt over Deventer";
        let choose = c.get(path).await;
        assert_eq!(choose.status, StatusCode::OK, "{name}");
        let token = hidden(&choose.body, "token").unwrap();
        let done = c.post_form("/reset/new", &choose, &[("token", &token), ("password", new_password)]).await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        assert!(done.body.contains("Wachtwoord gewijzigd"), "{name}: {}", done.body);
        // The link works once.
        let twice = c.post_form("/reset/new", &choose, &[("token", &token), ("password", new_password)]).await;
        assert_eq!(twice.status, StatusCode::UNAUTHORIZED, "{name}");

        let login = |password: &'static str| {
            let c = server.client();
            async move {
                let form = c.get("/login").await;
                c.post_form("/login", &form, &[("login", email), ("password", password)]).await
            }
        };
        assert_eq!(login(new_password).await.location(), "/portal", "{name}: the new password works");
        assert_eq!(login(PASSWORD).await.status, StatusCode::UNAUTHORIZED, "{name}: the old one does not");

        // An unknown login: the same answer, and nothing is sent.
        let form = c.get("/reset").await;
        let unknown = c.post_form("/reset", &form, &[("login", "niemand@klantbedrijf.nl")]).await;
        assert_eq!((unknown.status, &unknown.body), (asked.status, &asked.body), "{name}");
        assert_eq!(queued(&server).await, 2, "{name}: nothing queued for an unknown login");

        for m in outside.smtp.received() {
            let all = mail_text(&m);
            assert!(!all.contains(PASSWORD) && !all.contains(new_password), "{name}: a password in {all}");
        }
        assert_eq!(outside.smtp.received().len(), 2, "{name}");
        server.stop().await;
        db.finish().await;
    }
}
