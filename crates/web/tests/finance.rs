//! Staff and bank details (A4): a staff form never shows, sends back or clears
//! a field staff may not read, and neither the form nor the API lets staff
//! write one. Black-box, on every engine under test.

mod common;

use common::{Page, Server, operator};
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerData, CustomerKind};
use custodian_store::Scope;
use custodian_testkit::databases;
use reqwest::StatusCode;
use serde_json::json;

const IBAN: &str = "NL39RABO0300065264";

/// A customer with bank details, made at the command line.
async fn customer_with_iban(server: &Server, n: u64) -> i64 {
    let mut fields = custodian_testkit::customer_fields(n);
    fields.insert("iban".into(), IBAN.into());
    fields.insert("iban_holder".into(), "Bedrijf B.V.".into());
    let data = CustomerData::from_fields(CustomerKind::Business, &fields).unwrap();
    server.store.create_customer(&operator(), &data, false).await.unwrap()
}

async fn stored(server: &Server, id: i64, column: &str) -> Option<String> {
    server.store.read_customer(&operator(), id).await.unwrap().fields.get(column).cloned()
}

/// Every `name="…" value="…"` input and selected option on a page, as a browser submits them.
fn submitted(page: &Page) -> Vec<(String, String)> {
    let mut out = vec![];
    let body = &page.body;
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(tag[start..start + len].replace("&#x2f;", "/").replace("&#x40;", "@").replace("&amp;", "&"))
    };
    for (i, _) in body.match_indices("<input ") {
        let tag = &body[i..i + body[i..].find('>').unwrap_or(0)];
        if let Some(name) = attr(tag, "name") {
            out.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    for (i, _) in body.match_indices("<select ") {
        let end = i + body[i..].find("</select>").unwrap_or(0);
        let select = &body[i..end];
        let Some(name) = attr(select, "name") else { continue };
        let chosen = select
            .match_indices("<option ")
            .map(|(j, _)| &select[j..j + select[j..].find('>').unwrap_or(0)])
            .find(|o| o.contains(" selected"))
            .and_then(|o| attr(o, "value"))
            .unwrap_or_default();
        out.push((name, chosen));
    }
    out
}

#[tokio::test]
async fn saving_the_staff_form_unchanged_keeps_the_bank_details() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        let id = customer_with_iban(&server, 1).await;
        let purpose = staff.get(&format!("/staff/customers/{id}")).await;
        let edit = [("purpose", "support"), ("edit", "yes")];
        let page = staff.post_form(&format!("/staff/customers/{id}"), &purpose, &edit).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("name=\"phone\""), "staff edit the profile");
        assert!(!page.body.contains("name=\"iban"), "{}: the form offers no field staff may not read", db.name());

        // Saving the form as it came changes nothing, and the IBAN stays.
        let form = submitted(&page);
        let saved = staff.post_raw(&format!("/staff/customers/{id}/edit"), &form, Some("same-origin")).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert_eq!(stored(&server, id, "iban").await.as_deref(), Some(IBAN), "{}", db.name());
        assert_eq!(stored(&server, id, "iban_holder").await.as_deref(), Some("Bedrijf B.V."));

        // A forged form with the bank fields is refused whole: the phone does not change either.
        let phone = stored(&server, id, "phone").await;
        let mut forged = form.clone();
        forged.retain(|(k, _)| k != "phone");
        forged.push(("phone".into(), "0612345678".into()));
        forged.push(("iban".into(), "NL91ABNA0417164300".into()));
        forged.push(("iban_holder".into(), String::new()));
        let refused = staff.post_raw(&format!("/staff/customers/{id}/edit"), &forged, Some("same-origin")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert!(refused.body.contains("iban"), "the refusal names the fields");
        assert_eq!(stored(&server, id, "iban").await.as_deref(), Some(IBAN));
        assert_eq!(stored(&server, id, "phone").await, phone);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_staff_token_cannot_write_bank_details_nor_learn_whether_a_guess_was_right() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let api = server.client();
        let token = |role: Role, name: &'static str| {
            let store = server.store.clone();
            async move {
                let scopes = [Scope::CustomersRead, Scope::CustomersWrite];
                store.create_api_token(&operator(), name, role, &scopes, None).await.unwrap().1.to_string()
            }
        };
        let staff = token(Role::Staff, "crm-sync").await;
        let owner = token(Role::Owner, "dpo-tools").await;
        let id = customer_with_iban(&server, 2).await;
        let path = format!("/api/v1/customers/{id}");

        // The guess is the stored IBAN itself: refused all the same, naming the fields.
        let guess = json!({ "fields": { "iban": IBAN, "iban_holder": "Mallory" } }).to_string();
        let r = api.api("patch", &path, Some(&staff), Some(&guess)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", db.name(), r.body);
        assert_eq!(r.json()["error"]["fields"], json!(["iban", "iban_holder"]));
        assert_eq!(stored(&server, id, "iban_holder").await.as_deref(), Some("Bedrijf B.V."));

        // A field staff may change goes through; `changed` names only it.
        let phone = json!({ "fields": { "phone": "0612345678" } }).to_string();
        let r = api.api("patch", &path, Some(&staff), Some(&phone)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["changed"], json!(["phone"]));

        // Creating a customer with bank details is refused for staff too.
        let new = json!({ "kind": "business", "fields": {
            "company_name": "Noordkaap B.V.", "contact_name": "Jan Noord", "visit_street": "Kade 1",
            "visit_postcode": "1781 AB", "visit_city": "Den Helder", "email": "jan@noordkaap.nl",
            "phone": "0223-123456", "kvk": "69599084", "iban": "NL91ABNA0417164300", "iban_holder": "Noordkaap B.V."
        }})
        .to_string();
        let r = api.api("post", "/api/v1/customers", Some(&staff), Some(&new)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.json()["error"]["fields"], json!(["iban", "iban_holder"]));

        // The owner may change them.
        let holder = json!({ "fields": { "iban_holder": "Bedrijf Twee B.V." } }).to_string();
        let r = api.api("patch", &path, Some(&owner), Some(&holder)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["changed"], json!(["iban_holder"]));
        server.stop().await;
        db.finish().await;
    }
}
