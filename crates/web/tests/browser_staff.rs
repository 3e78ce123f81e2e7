//! The owner brings in the bookkeeper, as people would, in a real browser
//! (Debian's Chromium through chromedriver, see `common/browser.rs`):
//!
//! - the owner follows the setup link, chooses a password and turns on the
//!   second factor by reading the QR code on the page (a screenshot of it,
//!   decoded here, gives the key an authenticator app would get);
//! - on the Staff page the owner invites the bookkeeper with the DPA's reference
//!   and date; the login goes by e-mail and the activation code by SMS to the
//!   protocol doubles on loopback, never together (A11);
//! - the bookkeeper activates with what the two messages say, sets up their own
//!   second factor from the QR code, and opening a customer sees the billing
//!   identity and the bank details, but not the customer's phone number or
//!   department (M6, A4), and is offered billing as the only purpose;
//! - the bookkeeper's page shows no Staff page and no audit trail.

#[path = "common/browser.rs"]
mod chrome;
mod common;

use chrome::{Browser, Driver, Scratch};
use common::{PASSWORD, Server};
use custodian_domain::model::{CustomerData, CustomerKind};
use custodian_testkit::databases;
use custodian_testkit::doubles::SmtpMode;
use fantoccini::Locator;

const IBAN: &str = "NL91ABNA0417164300";
const BOOKKEEPER: &str = "boekhouder@cijfers.nl";
const BOOKKEEPER_PHONE: &str = "06 87654321";

#[tokio::test]
async fn the_owner_brings_in_a_bookkeeper_who_sees_billing_data_only() {
    chrome::require_chromium();
    let scratch = Scratch::new();
    let driver = Driver::start(&scratch.0).await;
    for db in databases().await {
        let engine = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::OffersStartTls).await;
        let customer = customer_with_bank_details(&server).await;

        // The owner sets up the installation and the second factor.
        let owner = Browser::open(&driver, &scratch.0.join(format!("owner-{engine}")), &server.url, engine).await;
        let setup = server.store.issue_setup_code().await.unwrap();
        owner.goto(&format!("/setup?code={}", setup.as_str())).await;
        owner.fill("#login", "eigenaar@hoster.nl").await;
        owner.fill("#name", "Eigenaar").await;
        owner.fill("#password", PASSWORD).await;
        owner.click("main form button[type=submit]").await;
        enrol_from_qr_code(&owner, "owner").await;

        // The owner invites the bookkeeper, with the DPA on record.
        owner.goto("/staff/accounts").await;
        owner.wait_for("the invitation form", "#f-role").await;
        owner.find("#f-role").await.select_by_value("bookkeeper").await.unwrap();
        owner.fill("#f-login", BOOKKEEPER).await;
        owner.fill("#f-name", "Bea Boekhouder").await;
        owner.fill("#f-phone", BOOKKEEPER_PHONE).await;
        owner.fill("#f-dpa_reference", "VWO-2026-07").await;
        // A date input takes what its picker gives, not typed keys.
        let set = "document.querySelector('#f-dpa_date').value = arguments[0]";
        owner.client.execute(set, vec![serde_json::json!("2026-11-30")]).await.unwrap();
        owner.click("form[action=\"/staff/accounts\"] button[type=submit]").await;
        owner.wait_for("the invitation's notice", ".notice").await;
        let listed = owner.text().await;
        assert!(listed.contains(BOOKKEEPER) && listed.contains("VWO-2026-07"), "{engine}: the list shows: {listed}");
        owner.screenshot("staff-accounts-invited").await;

        // Two messages, each with one half of what activates the account.
        let mail = outside.smtp.wait_for(1).await.remove(0);
        assert_eq!(mail.rcpt_to, [BOOKKEEPER], "{engine}");
        assert!(mail.tls, "{engine}: the login went over TLS");
        let sms = outside.sms.wait_for(1).await.remove(0);
        let msg = &sms.body["messages"]["msg"][0];
        assert_eq!(msg["to"][0]["number"].as_str(), Some("0031687654321"), "{engine}");
        let text = msg["body"]["content"].as_str().unwrap().to_string();
        assert!(!text.contains(BOOKKEEPER) && !text.contains("cijfers"), "{engine}: the SMS names the login: {text}");
        assert!(mail.text().contains(BOOKKEEPER), "{engine}: the e-mail gives the login: {}", mail.text());
        let code = text.split("activeringscode is").nth(1).and_then(|r| r.split_whitespace().next()).unwrap();
        let code = code.trim_end_matches('.');
        assert!(!mail.data.contains(code), "{engine}: the e-mail holds the activation code");

        // The bookkeeper activates and sets up their own second factor.
        let books = Browser::open(&driver, &scratch.0.join(format!("books-{engine}")), &server.url, engine).await;
        books.goto("/activate").await;
        books.fill("#login", BOOKKEEPER).await;
        books.fill("#code", code).await;
        books.fill("#password", "een ander lang wachtwoord voor de boeken").await;
        books.click("main form button[type=submit]").await;
        enrol_from_qr_code(&books, "bookkeeper").await;

        // Opening a customer: billing is the only reason on offer, bank details
        // and the billing identity are shown, contact details are not.
        books.goto(&format!("/staff/customers/{customer}")).await;
        books.wait_for("the purpose form", "#purpose").await;
        let options = books.client.find_all(Locator::Css("#purpose option")).await.unwrap();
        let mut offered = vec![];
        for o in options {
            offered.push(o.attr("value").await.unwrap().unwrap_or_default());
        }
        // Nothing is chosen beforehand: the reason is the bookkeeper's to give.
        assert_eq!(offered, ["", "billing"], "{engine}: the bookkeeper's purposes");
        books.find("#purpose").await.select_by_value("billing").await.unwrap();
        books.click("main form button[type=submit]").await;
        books.wait_for("the customer's record", "main dl, main table").await;
        let page = books.text().await;
        assert!(page.contains(IBAN) && page.contains("Bedrijf 41 B.V."), "{engine}: billing data shown: {page}");
        let phone = custodian_domain::validate::Phone::parse("072-5116617").unwrap();
        for hidden in [phone.as_str(), "072-5116617", "Inkoop"] {
            assert!(!page.contains(hidden), "{engine}: the bookkeeper sees {hidden}: {page}");
        }
        books.screenshot("bookkeeper-customer").await;
        let menu = books.find("header nav").await.text().await.unwrap();
        for owner_only in ["/staff/accounts", "/staff/audit"] {
            let links = books.client.find_all(Locator::Css(&format!("a[href=\"{owner_only}\"]"))).await.unwrap();
            assert!(links.is_empty(), "{engine}: the bookkeeper's menu links to {owner_only}: {menu}");
        }

        owner.close().await;
        books.close().await;
        server.stop().await;
        db.finish().await;
    }
}

/// A business customer with bank details, entered by the operator.
async fn customer_with_bank_details(server: &Server) -> i64 {
    let mut fields = custodian_testkit::customer_fields(41);
    fields.insert("iban".into(), IBAN.into());
    fields.insert("iban_holder".into(), "Bedrijf 41 B.V.".into());
    fields.insert("department".into(), "Inkoop".into());
    let data = CustomerData::from_fields(CustomerKind::Business, &fields).unwrap();
    server.store.create_customer(&common::operator(), &data, false).await.unwrap()
}

/// On the enrolment page: reads the QR code from a screenshot of it, as a phone
/// would, computes the app's code from the key it holds, turns the second
/// factor on, and passes the page of recovery codes.
async fn enrol_from_qr_code(b: &Browser, who: &str) {
    b.wait_path("/second-factor/enrol").await;
    let qr = b.wait_for("the QR code", "figure.qr svg").await;
    let png = qr.screenshot().await.unwrap();
    let url = decode_qr(&png);
    let secret = url.split("secret=").nth(1).and_then(|s| s.split('&').next()).unwrap_or_else(|| panic!("{url}"));
    let shown = b.find("#key").await.text().await.unwrap().replace(' ', "");
    assert_eq!(secret, shown, "{}: {who}: the QR code and the typed key differ", b.engine);
    b.fill("#code", &common::totp_code(secret, 0)).await;
    b.click("form[action=\"/second-factor/enrol\"] button[type=submit]").await;
    b.wait_for("the recovery codes", "ol.recovery-codes").await;
    let codes = b.client.find_all(Locator::Css("ol.recovery-codes li")).await.unwrap();
    assert_eq!(codes.len(), 10, "{}: {who}: ten recovery codes", b.engine);
    b.click("main a[href^=\"/\"]").await;
    b.wait_for("the back-office", "header nav").await;
}

/// The text of the QR code in a PNG screenshot (Chromium's rendering of the SVG).
fn decode_qr(png: &[u8]) -> String {
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(png).expect("the screenshot is a PNG");
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let grey: Vec<u8> =
        pixmap.pixels().iter().map(|p| ((p.red() as u32 + p.green() as u32 + p.blue() as u32) / 3) as u8).collect();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| grey[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the screenshot");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}
