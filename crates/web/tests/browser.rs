//! End to end in a real browser: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver). The public pages leave no cookie and load nothing
//! from another origin; a customer logs in, is refused an invalid phone number
//! with nothing saved (the error summary focused and linking to the field), sees
//! who looked at their data, corrects the number, downloads their data and logs
//! out. The menu marks the current page.
//!
//! Every request the page made is read back from Chromium's performance log
//! (`Network.requestWillBeSent`), and the cookie jar of the whole browser is read
//! through the DevTools protocol, not only the current page's cookies.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/test` installs them);
//! without them the test fails, it never skips. Set `CUSTODIAN_BROWSER_SCREENSHOTS`
//! to a directory to keep the screenshots it takes.

#[path = "common/browser.rs"]
mod chrome;
mod common;

use chrome::{Browser, Driver, Scratch};
use common::Server;
use custodian_domain::inventory::Role;
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use fantoccini::Locator;
use serde_json::{Value, json};

#[tokio::test]
async fn a_customer_corrects_and_exports_their_data_in_a_real_browser() {
    chrome::require_chromium();
    // Dropped in reverse order: chromedriver and its browsers end before their files go.
    let scratch = Scratch::new();
    let driver = Driver::start(&scratch.0).await;
    for db in databases().await {
        let server = Server::start(&db).await;
        let mut browser = Browser::open(&driver, &scratch.0.join(db.name()), &server.url, db.name()).await;
        public_pages(&mut browser).await;
        customer_journey(&mut browser, &server, db.name()).await;
        browser.assert_same_origin_only("after the customer's visit").await;
        browser.close().await;
        server.stop().await;
        db.finish().await;
    }
}

/// A fresh browser visits the public pages: no cookie, nothing from elsewhere.
async fn public_pages(b: &mut Browser) {
    for path in ["/", "/login", "/privacy", "/activate"] {
        b.goto(path).await;
        b.wait_for(&format!("{path}: the page's heading"), "main h1").await;
        let lang = b.find("html").await.attr("lang").await.unwrap();
        assert_eq!(lang.as_deref(), Some("nl"), "{}: {path} is in Dutch for a Dutch browser", b.engine);
        let styled = b.find("body").await.css_value("margin").await.unwrap();
        assert!(!styled.is_empty(), "{}: {path} has computed styles", b.engine);
    }
    b.goto("/login").await;
    b.wait_for("the login form", "#login").await;
    b.screenshot("public-login").await;
    let cookies = b.client.get_all_cookies().await.unwrap();
    assert!(cookies.is_empty(), "{}: the public pages set cookies: {cookies:?}", b.engine);
    let all = b.browser_cookies().await;
    assert!(all.is_empty(), "{}: the browser holds cookies after the public pages: {all:?}", b.engine);
    let storage = b.client.execute("return localStorage.length + sessionStorage.length", vec![]).await.unwrap();
    assert_eq!(storage, json!(0), "{}: the public pages stored something in the browser", b.engine);
    b.assert_same_origin_only("after the public pages").await;
    for path in ["/", "/login", "/privacy", "/activate", "/style.css"] {
        let url = format!("{}{path}", b.origin);
        assert!(b.requests.contains(&url), "{}: the network log misses {url}: {:?}", b.engine, b.requests);
    }
}

async fn customer_journey(b: &mut Browser, server: &Server, engine: &str) {
    let n = 3;
    let (id, _activated) = server.customer(n).await;
    let data = custodian_testkit::customer_fields(n);
    let (login, company) = (&data["email"], &data["company_name"]);
    let phone_before = stored_phone(server, id).await;

    // Log in through the form, as a person would.
    b.goto("/login").await;
    b.fill("#login", login).await;
    b.fill("#password", common::PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/portal").await;
    b.wait_for("the logout button", "header form[action=\"/logout\"] button").await;
    let page = b.text().await;
    assert!(page.contains(company.as_str()) && page.contains(&phone_before), "{engine}: the dashboard shows: {page}");
    let session = b.client.get_named_cookie("custodian").await.expect("the login set the session cookie");
    assert_eq!(session.http_only(), Some(true), "{engine}: the session cookie is HttpOnly");
    assert_eq!(session.same_site().map(|s| s.to_string()).as_deref(), Some("Strict"), "{engine}: SameSite");
    assert_eq!(session.path(), Some("/"));

    // An invalid phone number: the error next to the field, nothing saved.
    b.click_link("/portal/edit").await;
    b.wait_path("/portal/edit").await;
    // The menu marks where we are, and shows it.
    let here = b.find("header nav a[aria-current=page]").await;
    assert_eq!(here.attr("href").await.unwrap().as_deref(), Some("/portal/edit"), "{engine}: aria-current");
    let bold = here.css_value("font-weight").await.unwrap();
    let plain = b.find("header nav a[href=\"/portal\"]").await.css_value("font-weight").await.unwrap();
    assert_eq!((bold.as_str(), plain.as_str()), ("700", "400"), "{engine}: the current page stands out");
    b.fill("#f-phone", "0612").await;
    b.click("main form button[type=submit]").await;
    let error = b.wait_for("the phone number's error", "#e-phone").await;
    let message = error.text().await.unwrap();
    assert!(!message.trim().is_empty() && !message.contains("0612"), "{engine}: the error says {message:?}");
    let field = b.find("#f-phone").await;
    assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"), "{engine}: aria-invalid");
    assert_eq!(field.attr("aria-describedby").await.unwrap().as_deref(), Some("e-phone"), "{engine}: described");
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some("0612"), "{engine}: the input is kept");
    // The error summary: announced, focused on load (no script needed), and its
    // line leads to the field.
    let summary = b.find("main .error-summary[role=alert]").await;
    assert!(!summary.text().await.unwrap().is_empty(), "{engine}: the page says nothing was saved");
    let focused = b.client.execute("return document.activeElement.className", vec![]).await.unwrap();
    assert_eq!(focused, json!("error-summary"), "{engine}: the summary has the focus");
    b.screenshot("portal-edit-invalid").await;
    b.click("main .error-summary a[href=\"#f-phone\"]").await;
    let target = b.client.execute("return document.querySelector(':target').id", vec![]).await.unwrap();
    assert_eq!(target, json!("f-phone"), "{engine}: the summary's link leads to the phone field");
    b.screenshot_of("portal-edit-invalid-phone", ".field.invalid").await;
    assert_eq!(stored_phone(server, id).await, phone_before, "{engine}: the invalid phone number was saved");
    b.click_link("/portal").await;
    b.wait_path("/portal").await;
    b.wait_for("the dashboard", "main .cards").await;
    let page = b.text().await;
    assert!(page.contains(&phone_before), "{engine}: after the refusal the old number is still shown: {page}");

    // Who looked: a table with a header per column.
    let staff = Access::new(Actor::staff("1", Role::Staff), AccessPurpose::Support);
    server.store.read_customer(&staff, id).await.unwrap();
    b.click_link("/portal/access").await;
    b.wait_path("/portal/access").await;
    b.wait_for("the access log", "main table").await;
    let headers = b.client.find_all(Locator::Css("main table thead th[scope=col]")).await.unwrap();
    assert_eq!(headers.len(), 5, "{engine}: the access log has a header per column");
    b.screenshot("portal-access").await;

    // Corrected: saved, normalised, and confirmed.
    b.click_link("/portal/edit").await;
    b.wait_path("/portal/edit").await;
    b.fill("#f-phone", "06 12345678").await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/portal").await;
    b.wait_for("the saved notice", "main p.notice[role=status]").await;
    let page = b.text().await;
    assert!(page.contains("+31612345678") && !page.contains(&phone_before), "{engine}: after saving: {page}");
    assert_eq!(stored_phone(server, id).await, "+31612345678");
    b.screenshot("portal-saved").await;

    // The printable export, then the JSON download from the dashboard's link.
    b.click_link("/portal/export").await;
    b.wait_path("/portal/export").await;
    b.wait_for("the export", "main .cards").await;
    let page = b.text().await;
    for shown in [company.as_str(), login.as_str(), "+31612345678", &id.to_string()] {
        assert!(page.contains(shown), "{engine}: the printable export lacks {shown}: {page}");
    }
    b.screenshot("portal-export").await;
    b.click_link("/portal").await;
    b.wait_path("/portal").await;
    b.click_link("/portal/export.json").await;
    let file = b.downloaded(&format!("custodian-export-{id}.json")).await;
    let export: Value = serde_json::from_slice(&file).expect("the download is JSON");
    assert_eq!(export["customer"]["fields"]["phone"], "+31612345678", "{engine}: {export}");
    assert_eq!(export["customer"]["fields"]["company_name"], company.as_str(), "{engine}: {export}");

    // Logging out ends the session and removes the cookie.
    b.click("header form[action=\"/logout\"] button").await;
    b.wait_path("/logout").await;
    b.wait_for("the logged-out page", "main h1").await;
    b.screenshot("logged-out").await;
    let cookies = b.client.get_all_cookies().await.unwrap();
    assert!(cookies.is_empty(), "{engine}: cookies left after logging out: {cookies:?}");
    let all = b.browser_cookies().await;
    assert!(all.is_empty(), "{engine}: the browser still holds cookies after logging out: {all:?}");
    b.goto("/portal").await;
    b.wait_path("/login").await;
    b.wait_for("the login form", "#login").await;
    assert!(server.store.session(session.value()).await.unwrap().is_none(), "{engine}: the session still exists");
}

/// The customer's phone number as stored (read as the customer, so unaudited).
async fn stored_phone(server: &Server, id: i64) -> String {
    let access = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
    let record = server.store.read_customer(&access, id).await.unwrap();
    record.fields.get("phone").cloned().unwrap_or_default()
}
