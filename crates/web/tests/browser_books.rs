//! The books end to end in a real browser (Debian's Chromium through
//! chromedriver, see `common/browser.rs`), with e-mail going to the SMTP
//! double on loopback as `custodian serve` sends it:
//!
//! - the owner sets up the installation and imports a CSV file of two
//!   invoices on the books page, choosing the file in the file input, a dry
//!   run first: one invoice by post, one by e-mail;
//! - the one by post waits in the print queue; its PDF is printed from
//!   there (`pdftotext` reads it) and marking it posted takes it out;
//! - the one by e-mail reaches the customer over TLS with its PDF attached;
//! - the customer signs in to the portal and sees both, with their state and PDF;
//! - on another customer's erasure page the owner places a legal hold and
//!   records the customer's erasure request: the page names the hold as what
//!   stands in the way, and the retention job does not erase;
//! - the audit browser, filtered to the first customer, shows what happened
//!   to their invoices and who did it, by name, and nothing of the other.

#[path = "common/browser.rs"]
mod chrome;
mod common;

use chrome::{Browser, Driver, Scratch};
use common::{PASSWORD, Server, pdf_text};
use custodian_domain::model::{CustomerData, CustomerKind};
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use custodian_testkit::doubles::SmtpMode;

#[tokio::test]
async fn an_imported_invoice_goes_by_post_and_by_email_and_a_hold_blocks_erasure() {
    chrome::require_chromium();
    let scratch = Scratch::new();
    let driver = Driver::start(&scratch.0).await;
    for db in databases().await {
        let engine = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::OffersStartTls).await;
        let mut fields = custodian_testkit::customer_fields(7);
        fields.insert("email_consent".into(), "yes".into());
        let data = CustomerData::from_fields(CustomerKind::Business, &fields).unwrap();
        let (customer, _) = server.customer_with(&data).await;
        // Activating the account told its holder so (an account notice).
        let earlier = outside.smtp.wait_for(1).await.len();
        let other = server.store.create_customer(&common::operator(), &custodian_testkit::customer(8), false).await;
        let other = other.unwrap();

        let owner = Browser::open(&driver, &scratch.0.join(format!("owner-{engine}")), &server.url, engine).await;
        set_up(&owner, &server).await;

        // The import: a dry run changes nothing, then the file is read in.
        let csv = scratch.0.join(format!("facturen-{engine}.csv"));
        std::fs::write(
            &csv,
            format!(
                "customer,number,issued_on,due_on,delivery,description,quantity,unit_price_cents,vat_rate\n\
                 {customer},2026-0701,2026-11-01,2026-12-01,post,Domeinnaam voorbeeld.nl,1,1000,21\n\
                 {customer},2026-0702,2026-11-02,2026-12-02,email,Webhosting Pro,2,4950,21\n"
            ),
        )
        .unwrap();
        for mode in ["dry_run", "import"] {
            owner.goto("/books/import").await;
            owner.find("#file").await.send_keys(&csv.display().to_string()).await.unwrap();
            owner.click(&format!("button[name=mode][value={mode}]")).await;
            owner.wait_for("the import's report", "main p.notice").await;
        }
        let said = owner.text().await;
        assert!(said.contains("2 nieuw"), "{engine}: {said}");

        // By post: in the print queue, printed, then marked posted.
        owner.goto("/books/post").await;
        let queue = owner.text().await;
        assert!(queue.contains("2026-0701") && !queue.contains("2026-0702"), "{engine}: {queue}");
        let href = owner.find("main a[href$=\"/pdf\"]").await.attr("href").await.unwrap().unwrap();
        let (status, _, pdf) = owner_download(&owner, &href).await;
        assert_eq!(status, 200, "{engine}");
        let printed = pdf_text(&pdf);
        assert!(printed.contains("2026-0701") && printed.contains("Bedrijf 7 B.V."), "{engine}: {printed}");
        owner.click("main form[action$=\"/posted\"] button").await;
        owner.wait_for("the empty queue", "main p").await;
        let queue = owner.text().await;
        assert!(!queue.contains("2026-0701"), "{engine}: marked posted, it left the queue: {queue}");

        // By e-mail: one message to the customer, over TLS, with the PDF.
        let mail = outside.smtp.wait_for(earlier + 1).await.remove(earlier);
        assert_eq!(mail.rcpt_to, ["klant7@voorbeeld.nl"], "{engine}");
        assert!(mail.tls, "{engine}");
        assert!(mail.data.contains("application/pdf") && mail.data.contains("2026-0702.pdf"), "{engine}");

        // The customer sees both in the portal, with their PDFs.
        let portal = Browser::open(&driver, &scratch.0.join(format!("customer-{engine}")), &server.url, engine).await;
        portal.goto("/login").await;
        portal.fill("#login", "klant7@voorbeeld.nl").await;
        portal.fill("#password", PASSWORD).await;
        portal.click("main form button[type=submit]").await;
        portal.wait_path("/portal").await;
        let dashboard = portal.text().await;
        for number in ["2026-0701", "2026-0702"] {
            assert!(dashboard.contains(number), "{engine}: the portal lists {number}: {dashboard}");
        }
        let links = portal.client.find_all(fantoccini::Locator::Css("a[href^=\"/portal/invoices/\"]")).await.unwrap();
        assert_eq!(links.len(), 2, "{engine}: a PDF per invoice");
        portal.close().await;

        // A legal hold stands in the way of the other customer's erasure request.
        owner.goto(&format!("/staff/customers/{other}/erasure")).await;
        let option = owner.find("#reason option:nth-child(2)").await;
        let (reason, label) = (option.attr("value").await.unwrap().unwrap(), option.text().await.unwrap());
        owner.find("#reason").await.select_by_value(&reason).await.unwrap();
        owner.click(&format!("form[action=\"/staff/customers/{other}/hold\"] button")).await;
        owner.wait_for("the hold", &format!("form[action=\"/staff/customers/{other}/hold/lift\"]")).await;
        owner.click(&format!("form[action=\"/staff/customers/{other}/erasure-request\"] input[name=confirm]")).await;
        owner.click(&format!("form[action=\"/staff/customers/{other}/erasure-request\"] button")).await;
        owner
            .wait_for("the request", &format!("form[action=\"/staff/customers/{other}/erasure-request/withdraw\"]"))
            .await;
        let page = owner.text().await;
        // The first thing named as standing in the way is the hold, with its reason.
        let named = format!("Wat het wissen tegenhoudt\nWettelijke bewaarplicht: {label}");
        assert!(page.contains(&named), "{engine}: the hold is named: {page}");
        let job = Access::new(Actor::job("retention"), AccessPurpose::Retention);
        let today = time::OffsetDateTime::now_utc().date();
        let policy = custodian_domain::retention::RetentionPolicy::default();
        let done = server.store.carry_out_erasure_requests(&job, &policy, today).await.unwrap();
        assert_eq!(done.erased_on_request, 0, "{engine}: the hold keeps the customer");
        let status: String = sqlx::query_scalar("SELECT status FROM customers WHERE id = $1")
            .bind(other)
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        assert_eq!(status, "active", "{engine}");

        // The audit browser, filtered to the first customer's trail: what
        // happened to their invoices, by whom (by name), and nothing of the
        // other customer's hold.
        owner.goto("/staff/audit").await;
        let purpose = owner.find("#purpose option:nth-child(2)").await.attr("value").await.unwrap().unwrap();
        owner.find("#purpose").await.select_by_value(&purpose).await.unwrap();
        owner.fill("#customer", &customer.to_string()).await;
        owner.click("form[action=\"/staff/audit\"] button[type=submit]").await;
        owner.wait_for("the filtered trail", "main table tbody tr").await;
        let rows = owner.client.find_all(fantoccini::Locator::Css("main table tbody tr")).await.unwrap();
        let mut trail = Vec::new();
        for row in rows {
            trail.push(row.text().await.unwrap());
        }
        let all = trail.join("\n");
        assert!(all.contains("factuur per e-mail verstuurd"), "{engine}: {all}");
        assert!(
            trail.iter().any(|r| r.contains("factuur per post verstuurd") && r.contains("Anna de Eigenaar")),
            "{engine}: the posting, by the owner's name: {all}"
        );
        assert!(!all.contains("bewaarplicht"), "{engine}: another customer's hold: {all}");
        let cells = owner.client.find_all(fantoccini::Locator::Css("main table tbody td:nth-child(5)")).await.unwrap();
        assert_eq!(cells.len(), trail.len(), "{engine}");
        for cell in cells {
            assert_eq!(cell.text().await.unwrap(), format!("klant {customer}"), "{engine}: only this customer: {all}");
        }

        owner.close().await;
        server.stop().await;
        db.finish().await;
    }
}

/// The owner follows the setup link, chooses a password and turns on the
/// second factor with the key the page shows.
async fn set_up(b: &Browser, server: &Server) {
    let setup = server.store.issue_setup_code().await.unwrap();
    b.goto(&format!("/setup?code={}", setup.as_str())).await;
    b.fill("#login", "eigenaar@hoster.nl").await;
    b.fill("#name", "Anna de Eigenaar").await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/second-factor/enrol").await;
    let source = b.client.source().await.unwrap();
    let secret = source.split("secret=").nth(1).and_then(|s| s.split(['&', '"', '<']).next()).unwrap().to_string();
    b.fill("#code", &common::totp_code(&secret, 0)).await;
    b.click("form[action=\"/second-factor/enrol\"] button[type=submit]").await;
    b.wait_for("the recovery codes", "ol.recovery-codes").await;
}

/// A file the page links to, fetched with the browser's session.
async fn owner_download(b: &Browser, href: &str) -> (u16, String, Vec<u8>) {
    let cookies = b.browser_cookies().await;
    let cookie = cookies
        .iter()
        .map(|c| format!("{}={}", c["name"].as_str().unwrap_or_default(), c["value"].as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ");
    let answer =
        reqwest::Client::new().get(format!("{}{href}", b.origin)).header("Cookie", cookie).send().await.unwrap();
    let status = answer.status().as_u16();
    let kind = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, kind, answer.bytes().await.unwrap().to_vec())
}
