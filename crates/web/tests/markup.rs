//! Every page's HTML as the server sends it, judged by the W3C's Nu Html
//! Checker (npm `vnu-jar`, run with Java): public pages, the portal, the
//! back-office, the books, forms answered with errors, and error pages. Any
//! error the checker reports fails the test, with the page and the message.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Client, Server};
use custodian_domain::inventory::Role;
use custodian_domain::model::{Delivery, InvoiceLine};
use custodian_store::{AccessPurpose, NewInvoice};
use custodian_testkit::databases;
use reqwest::StatusCode;

/// Pages gathered for the checker: a name and the HTML.
struct Pages {
    dir: tempfile::TempDir,
    files: Vec<(String, PathBuf)>,
}

impl Pages {
    fn new() -> Pages {
        Pages { dir: tempfile::tempdir().unwrap(), files: vec![] }
    }

    /// Keeps a page that must be HTML (any status: error pages count too).
    fn keep(&mut self, name: &str, page: &common::Page) {
        let kind = page.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(kind.starts_with("text/html"), "{name}: not HTML ({kind}, {})", page.status);
        let file = self.dir.path().join(format!("{}.html", self.files.len()));
        std::fs::write(&file, &page.body).unwrap();
        self.files.push((name.to_string(), file));
    }

    async fn get(&mut self, client: &Client, path: &str) -> common::Page {
        let page = client.get(path).await;
        self.keep(path, &page);
        page
    }
}

#[tokio::test]
async fn every_page_is_valid_html() {
    let vnu = common::checkers().join("node_modules/vnu-jar/build/dist/vnu.jar");
    let mut pages = Pages::new();
    for db in databases().await {
        let contact = custodian_web::CompanyContact {
            address: "Dijk 1, 1811 AB Alkmaar".into(),
            phone: "072 511 66 17".into(),
            email: "info@voorbeeld-hosting.nl".into(),
            statute_version: "2026-1".into(),
        };
        let config = custodian_web::WebConfig {
            attempts_per_minute: 10_000,
            company: common::COMPANY.into(),
            contact,
            ..Default::default()
        };
        let server = Server::start_with(&db, config).await;
        let anonymous = server.client();
        for path in ["/", "/login", "/privacy", "/activate", "/reset", "/no-such-page", "/privacy?lang=en"] {
            pages.get(&anonymous, path).await;
        }
        let setup = server.store.issue_setup_code().await.unwrap();
        pages.get(&anonymous, &format!("/setup?code={}", setup.as_str())).await;
        // A form answered with its errors.
        let login = anonymous.get("/login").await;
        let wrong =
            anonymous.post_form("/login", &login, &[("login", "niemand@voorbeeld.nl"), ("password", "x")]).await;
        pages.keep("/login with a wrong password", &wrong);

        let owner = server.owner().await;
        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let (customer, portal) = server.customer(1).await;
        let operator = common::operator();
        let target = custodian_store::registry::Target { registry: "partner", passthrough: false };
        let handle =
            server.store.create_handle(&operator, customer, target, &custodian_testkit::contact("NU1")).await.unwrap();
        let today = time::OffsetDateTime::now_utc().date();
        let billing = custodian_store::Access::new(custodian_store::Actor::operator(), AccessPurpose::Billing);
        let invoice = server
            .store
            .add_invoice(
                &billing,
                customer,
                NewInvoice {
                    number: "NU-1".into(),
                    issued_on: today,
                    due_on: today,
                    delivery: Delivery::Post,
                    lines: vec![InvoiceLine::parse("Hosting & mail <basis>;1;1000;21").unwrap()],
                },
            )
            .await
            .unwrap();

        for path in [
            "/portal".to_string(),
            "/portal/edit".into(),
            "/portal/access".into(),
            "/portal/handles".into(),
            format!("/portal/handles/{handle}"),
            format!("/portal/handles/{handle}/delete"),
            "/portal/export".into(),
            "/portal/delete".into(),
            "/second-factor/enrol".into(),
        ] {
            let page = pages.get(&portal, &path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        }
        let edit = portal.get("/portal/edit").await;
        let refused = portal.post_form("/portal/edit", &edit, &[("email", "geen adres"), ("phone", "")]).await;
        pages.keep("/portal/edit with errors", &refused);

        let dsr = custodian_store::Access::new(custodian_store::Actor::operator(), AccessPurpose::DataSubjectRequest);
        let form: custodian_domain::model::Fields = [
            ("kind", "access"),
            ("received_on", "2026-12-01"),
            ("identity_check", "known_email"),
            ("name", "Piet Kievit"),
            ("email", "piet@kievit.nl"),
            ("summary", "Wil inzage"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let request = custodian_domain::requests::SubjectRequest::from_fields(&form, today).unwrap();
        let request = server.store.record_subject_request(&dsr, &request).await.unwrap();
        let found = server.store.find_request_records(&dsr, request).await.unwrap();
        let chosen: Vec<_> = found.iter().map(|m| (m.kind, m.id)).collect();
        server.store.confirm_request_records(&dsr, request, &chosen).await.unwrap();
        server.store.prepare_request_answer(&dsr, request).await.unwrap();
        let secret = server.store.make_request_link(&dsr, request).await.unwrap();
        let offer = pages.get(&anonymous, &format!("/request/download?key={}", secret.as_str())).await;
        assert_eq!(offer.status, StatusCode::OK, "{}", offer.body);
        let file = anonymous.post_form("/request/download", &offer, &[("key", secret.as_str())]).await;
        pages.keep("the downloaded answer", &file);
        let spent = anonymous.post_form("/request/download", &offer, &[("key", secret.as_str())]).await;
        pages.keep("a spent download link", &spent);
        let register = owner.get("/staff/requests").await;
        let refused = owner.post_form("/staff/requests", &register, &[("kind", "access")]).await;
        pages.keep("/staff/requests with errors", &refused);
        let shown = owner.get(&format!("/staff/requests/{request}")).await;
        let searched = owner.post_form(&format!("/staff/requests/{request}/find"), &shown, &[]).await;
        pages.keep("a request with what was found", &searched);
        let link = owner.post_form(&format!("/staff/requests/{request}/link"), &shown, &[]).await;
        pages.keep("a download link shown once", &link);

        for path in [
            "/staff".to_string(),
            "/staff/requests".into(),
            format!("/staff/requests/{request}"),
            format!("/staff/requests/{request}/answer"),
            "/staff/customers/new".into(),
            format!("/staff/customers/{customer}"),
            format!("/staff/customers/{customer}/erasure"),
            "/staff/registry".into(),
            "/staff/audit".into(),
            format!("/staff/audit?purpose=security_incident&customer={customer}"),
            "/staff/retention".into(),
            "/staff/api-tokens".into(),
            "/staff/accounts".into(),
            "/books".into(),
            "/books?standing=all".into(),
            format!("/books/invoices/{invoice}"),
            "/books/post".into(),
            "/books/import".into(),
        ] {
            let page = pages.get(&owner, &path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        }
        let form = owner.get(&format!("/staff/customers/{customer}")).await;
        let shown =
            owner.post_form(&format!("/staff/customers/{customer}"), &form, &[("purpose", "administration")]).await;
        pages.keep("the staff customer page", &shown);
        let editing = owner
            .post_form(
                &format!("/staff/customers/{customer}"),
                &form,
                &[("purpose", "administration"), ("edit", "yes")],
            )
            .await;
        pages.keep("the staff customer form", &editing);
        let home = owner.get("/staff").await;
        let found =
            owner.post_form("/staff/search", &home, &[("by", "name"), ("q", "Bedrijf"), ("purpose", "support")]).await;
        pages.keep("search results", &found);
        let new = owner.get("/staff/customers/new").await;
        let refused = owner.post_form("/staff/customers/new", &new, &[("kind", "business")]).await;
        pages.keep("/staff/customers/new with errors", &refused);
        pages.get(&books, "/books").await;
        let import = books.get("/books/import").await;
        let csv = format!(
            "customer,number,issued_on,description,quantity,unit_price_cents,vat_rate\n{customer},NU-2,2026-11-01,Opslag,1,500,21\n"
        );
        let tried = books.post_file("/books/import", &import, &[("mode", "dry_run")], ("a.csv", csv.as_bytes())).await;
        pages.keep("/books/import, a dry run", &tried);
        server.stop().await;
        db.finish().await;
    }

    let out = Command::new("java")
        .arg("-jar")
        .arg(&vnu)
        .args(["--errors-only", "--format", "json"])
        .args(pages.files.iter().map(|(_, f)| f))
        .output()
        .expect("java (Debian: default-jre-headless) runs the Nu Html Checker");
    let report: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("the checker's report is not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let problems: Vec<String> = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let file = m["url"].as_str().unwrap_or("").trim_start_matches("file:");
            let name = pages.files.iter().find(|(_, f)| f.to_str() == Some(file)).map(|(n, _)| n.as_str());
            format!("{} line {}: {}", name.unwrap_or(file), m["lastLine"], m["message"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} problems in {} pages:\n{}",
        problems.len(),
        pages.files.len(),
        problems.join("\n")
    );
    assert!(pages.files.len() > 40, "every page was checked on each engine");
}
