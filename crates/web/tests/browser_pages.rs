//! Every page at phone width in a real browser (Debian's Chromium through
//! chromedriver, see `common/browser.rs`), and the language switch:
//!
//! - the viewport is set to 390 × 844 CSS pixels (an iPhone 12–15); on every
//!   public, portal and back-office page the document is no wider than that
//!   (`document.documentElement.scrollWidth`, measured here, not judged by eye),
//!   and the menu takes at most two rows; axe-core (npm, injected through
//!   WebDriver) finds no WCAG 2.1 A or AA violation on any of them;
//! - on the public pages the switch puts the language in the address and the
//!   page's links keep it (no cookie); after login the customer's own
//!   preference applies, and a choice made with the switch is remembered from
//!   page to page.

#[path = "common/browser.rs"]
mod chrome;
mod common;

use chrome::{Browser, Driver, Scratch};
use common::{PASSWORD, Server};
use custodian_domain::inventory::Role;
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use serde_json::json;

const WIDTH: i64 = 390;

#[tokio::test]
async fn every_page_fits_a_phone_and_the_language_choice_is_remembered() {
    chrome::require_chromium();
    let scratch = Scratch::new();
    let driver = Driver::start(&scratch.0).await;
    for db in databases().await {
        let engine = db.name();
        let contact = custodian_web::CompanyContact {
            address: "Dijk 1, 1811 AB Alkmaar".into(),
            phone: "072 511 66 17".into(),
            email: "info@voorbeeld-hosting.nl".into(),
            statute_version: "2026-1".into(),
        };
        let config = custodian_web::WebConfig {
            attempts_per_minute: 10_000,
            company: "Voorbeeld Hosting".into(),
            contact,
            ..Default::default()
        };
        let server = Server::start_with(&db, config).await;

        let visitor = phone(&driver, &scratch, &server, &format!("public-{engine}"), engine).await;
        for path in ["/", "/login", "/privacy", "/activate", "/reset"] {
            fits(&visitor, path).await;
        }
        public_language_switch(&visitor).await;
        visitor.close().await;

        let customer = phone(&driver, &scratch, &server, &format!("customer-{engine}"), engine).await;
        let id = customer_pages(&customer, &server).await;
        customer.close().await;

        let owner = phone(&driver, &scratch, &server, &format!("owner-{engine}"), engine).await;
        owner_pages(&owner, &server, id).await;
        owner.close().await;

        server.stop().await;
        db.finish().await;
    }
}

/// A browser whose viewport is a phone's.
async fn phone(driver: &Driver, scratch: &Scratch, server: &Server, dir: &str, engine: &'static str) -> Browser {
    let b = Browser::open(driver, &scratch.0.join(dir), &server.url, engine).await;
    let metrics = json!({ "width": WIDTH, "height": 844, "deviceScaleFactor": 1, "mobile": true });
    b.session_post("goog/cdp/execute", json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": metrics })).await;
    b
}

/// Loads `path` and checks the page is no wider than the phone.
async fn fits(b: &Browser, path: &str) {
    b.goto(path).await;
    b.wait_for(&format!("{path}: the heading"), "main h1").await;
    check_width(b, path).await;
}

/// The page shown is no wider than the phone, and its menu takes two rows at most.
async fn check_width(b: &Browser, what: &str) {
    let measured = b
        .client
        .execute(
            "const nav = document.querySelector('header nav');
             const link = nav && nav.querySelector('a');
             return [document.documentElement.scrollWidth, document.documentElement.clientWidth,
                     nav ? nav.getBoundingClientRect().height : 0,
                     link ? link.getBoundingClientRect().height : 1];",
            vec![],
        )
        .await
        .unwrap();
    let number = |i: usize| measured[i].as_f64().unwrap_or_else(|| panic!("{measured}"));
    let (scroll, client, nav, link) = (number(0), number(1), number(2), number(3));
    assert_eq!(client as i64, WIDTH, "{}: {what}: the viewport is a phone's", b.engine);
    assert!(scroll as i64 <= WIDTH, "{}: {what} is {scroll} px wide on a {WIDTH} px screen", b.engine);
    assert!(nav < 3.0 * link, "{}: {what}: the menu takes three rows or more ({nav} px, a link {link} px)", b.engine);
    accessible(b, what).await;
    let png = b.client.screenshot().await.unwrap();
    let name = format!("phone{}", what.replace(['/', '?', '=', ' ', '\''], "-"));
    b.keep_png(&name, &png, (WIDTH as u32, 400));
}

/// axe-core's WCAG 2.1 A and AA rules, run in the browser on the page shown:
/// no violations.
async fn accessible(b: &Browser, what: &str) {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let axe = AXE.get_or_init(|| {
        let file = common::checkers().join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    });
    b.client.execute(&format!("{axe}\nreturn true;"), vec![]).await.unwrap();
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then(r => done({ passed: r.passes.length, violations: r.violations.map(v => v.id + ': '
                 + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')) }))
               .catch(e => done({ passed: 0, violations: ['axe failed: ' + e] }));",
            vec![],
        )
        .await
        .unwrap();
    let violations: Vec<String> = serde_json::from_value(found["violations"].clone()).unwrap();
    assert!(violations.is_empty(), "{}: {what}: WCAG 2.1 A/AA violations: {violations:#?}", b.engine);
    // Rules that found nothing wrong: the check ran on a page with something to check.
    assert!(found["passed"].as_u64().unwrap_or(0) > 5, "{}: {what}: axe checked almost nothing: {found}", b.engine);
}

async fn html_lang(b: &Browser) -> String {
    b.find("html").await.attr("lang").await.unwrap().unwrap_or_default()
}

/// The public pages: the switch puts `?lang=en` in the address, and the links
/// of the page keep it; no cookie is set for it.
async fn public_language_switch(b: &Browser) {
    b.goto("/login").await;
    assert_eq!(html_lang(b).await, "nl", "{}: Dutch by default", b.engine);
    b.click("header a.lang").await;
    b.wait_for("the English page", "html[lang=en]").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.query(), Some("lang=en"), "{}: the choice is in the address", b.engine);
    // The privacy link in the menu keeps the choice.
    b.click("header nav a[href=\"/privacy?lang=en\"]").await;
    b.wait_path("/privacy").await;
    assert_eq!(html_lang(b).await, "en", "{}: the next page is English too", b.engine);
    let cookies = b.client.get_all_cookies().await.unwrap();
    assert!(cookies.is_empty(), "{}: choosing a language set cookies: {cookies:?}", b.engine);
}

/// The customer's pages at phone width, after logging in; returns the customer's number.
async fn customer_pages(b: &Browser, server: &Server) -> i64 {
    let (id, _) = server.customer(5).await;
    let login = custodian_testkit::customer_fields(5)["email"].clone();
    // The customer prefers English: it applies from the login on.
    let own = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
    let language: custodian_domain::model::Fields = [("language".to_string(), "en".to_string())].into();
    server.store.update_customer(&own, id, &language).await.unwrap();
    // Someone looked, so "who viewed my data" has a table.
    let staff = Access::new(Actor::staff("1", Role::Staff), AccessPurpose::Support);
    server.store.read_customer(&staff, id).await.unwrap();

    b.goto("/login").await;
    assert_eq!(html_lang(b).await, "nl", "{}: the login page follows the browser", b.engine);
    b.fill("#login", &login).await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/portal").await;
    assert_eq!(html_lang(b).await, "en", "{}: the customer's preference applies after login", b.engine);
    check_width(b, "/portal").await;

    // The switch: Dutch from now on, on every page.
    b.click("header form[action=\"/language\"] button").await;
    b.wait_for("the Dutch page", "html[lang=nl]").await;
    b.wait_path("/portal").await;
    for path in ["/portal/edit", "/portal/access", "/portal/handles", "/portal/export", "/portal/delete"] {
        fits(b, path).await;
        assert_eq!(html_lang(b).await, "nl", "{}: {path}: the choice is remembered", b.engine);
    }
    // The statute offered on the dashboard is accepted there.
    b.goto("/portal").await;
    b.click("main form[action=\"/portal/statute\"] button").await;
    b.wait_for("the recorded acceptance", "section[aria-labelledby=h-statute] li").await;
    let text = b.text().await;
    assert!(text.contains("versie 2026-1"), "{}: the acceptance is listed: {text}", b.engine);
    assert!(b.client.find(fantoccini::Locator::Css("form[action=\"/portal/statute\"]")).await.is_err());
    id
}

/// A request for access from someone whose e-mail a customer's handle holds.
fn subject_request() -> custodian_domain::requests::SubjectRequest {
    let form: custodian_domain::model::Fields = [
        ("kind", "access"),
        ("received_on", "2026-12-01"),
        ("identity_check", "known_email"),
        ("name", "Piet Kievit"),
        ("email", "piet@kievit.nl"),
        ("address", "Dijk 1, 1811 AB Alkmaar"),
        ("summary", "Wil weten welke gegevens over hem zijn vastgelegd"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    custodian_domain::requests::SubjectRequest::from_fields(&form, time::OffsetDateTime::now_utc().date()).unwrap()
}

/// The owner's back-office pages at phone width, after setting up the installation.
async fn owner_pages(b: &Browser, server: &Server, customer: i64) {
    let setup = server.store.issue_setup_code().await.unwrap();
    b.goto(&format!("/setup?code={}", setup.as_str())).await;
    b.fill("#login", "eigenaar@hoster.nl").await;
    b.fill("#name", "Anna de Eigenaar").await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/second-factor/enrol").await;
    check_width(b, "/second-factor/enrol").await;
    let source = b.client.source().await.unwrap();
    let secret = source.split("secret=").nth(1).and_then(|s| s.split(['&', '"', '<']).next()).unwrap().to_string();
    b.fill("#code", &common::totp_code(&secret, 0)).await;
    b.click("form[action=\"/second-factor/enrol\"] button[type=submit]").await;
    b.wait_for("the recovery codes", "ol.recovery-codes").await;
    check_width(b, "recovery codes").await;

    // A request of a domain contact, with its answer gathered and a link made.
    let dsr = Access::new(Actor::operator(), AccessPurpose::DataSubjectRequest);
    let request = server.store.record_subject_request(&dsr, &subject_request()).await.unwrap();
    let found = server.store.find_request_records(&dsr, request).await.unwrap();
    let chosen: Vec<_> = found.iter().map(|m| (m.kind, m.id)).collect();
    server.store.confirm_request_records(&dsr, request, &chosen).await.unwrap();
    server.store.prepare_request_answer(&dsr, request).await.unwrap();
    let secret = server.store.make_request_link(&dsr, request).await.unwrap();

    for path in [
        "/staff",
        "/staff/requests",
        &format!("/staff/requests/{request}"),
        &format!("/staff/requests/{request}/answer"),
        &format!("/request/download?key={}", secret.as_str()),
        "/staff/customers/new",
        "/staff/registry",
        "/staff/audit",
        "/staff/retention",
        "/staff/api-tokens",
        "/staff/accounts",
        "/books",
        "/books/post",
        "/books/import",
    ] {
        fits(b, path).await;
    }
    // An invoice of the customer's, as the owner keeps the books.
    let today = time::OffsetDateTime::now_utc().date();
    let new = custodian_store::NewInvoice {
        number: "2026-0500".into(),
        issued_on: today,
        due_on: today,
        delivery: custodian_domain::model::Delivery::Post,
        lines: vec![custodian_domain::model::InvoiceLine::parse("Webhosting Pro, jaarabonnement;1;11900;21").unwrap()],
    };
    let billing = Access::new(Actor::operator(), AccessPurpose::Billing);
    let invoice = server.store.add_invoice(&billing, customer, new).await.unwrap();
    fits(b, &format!("/books/invoices/{invoice}")).await;
    // A customer: the purpose has no default; the page carries the name.
    fits(b, &format!("/staff/customers/{customer}")).await;
    let chosen = b.find("#purpose").await.prop("value").await.unwrap();
    assert_eq!(chosen.as_deref(), Some(""), "{}: no purpose is chosen for the viewer", b.engine);
    b.find("#purpose").await.select_by_value("support").await.unwrap();
    b.click("main form button[type=submit]").await;
    b.wait_for("the customer's page", "dl.pairs").await;
    check_width(b, "the customer's page").await;
    let heading = b.find("main h1").await.text().await.unwrap();
    assert_eq!(heading, "Bedrijf 5 B.V.", "{}: the customer's name is the title", b.engine);
    b.click("main form input[name=edit] ~ button").await;
    b.wait_for("the form", "#f-phone").await;
    check_width(b, "the customer's form").await;
}
