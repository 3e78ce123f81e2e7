//! Pages people understand: names instead of internal codes, a read view
//! before a form, a private customer without company fields, confirmations
//! before what cannot be undone, and exports in formats others read.

mod common;

use common::{PASSWORD, Server};
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerData, CustomerKind, Fields};
use custodian_domain::validate::Email;
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use reqwest::StatusCode;

/// What a page must never show: codes, column names and requirement numbers.
const INTERNAL: &[&str] = &[
    "staff:",
    "operator:",
    "customer.read",
    "customer.create",
    ">business<",
    ">active<",
    "(M2)",
    "company_name,",
    "visit_city",
    "data_subject_request",
    " UTC",
];

fn assert_no_codes(body: &str, what: &str) {
    let main = body.split("<main").nth(1).unwrap_or(body);
    for code in INTERNAL {
        assert!(!main.contains(code), "{what} shows {code:?}: {main}");
    }
}

#[tokio::test]
async fn the_staff_customer_page_shows_names_and_no_internal_codes() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        // A member of staff with a name, who created a customer on their behalf
        // (M2) and looked at it.
        let anna_login = Email::parse("anna@hoster.nl").unwrap();
        let boss = Access::new(Actor::staff("1", Role::Owner), AccessPurpose::Administration);
        let (anna, _) =
            server.store.create_staff_account(&boss, Role::Staff, &anna_login, "Anna de Vries").await.unwrap();
        let as_anna = Access::new(Actor::staff(anna.id.to_string(), Role::Staff), AccessPurpose::Support);
        let id = server.store.create_customer(&as_anna, &custodian_testkit::customer(4), true).await.unwrap();
        server.store.read_customer(&as_anna, id).await.unwrap();
        server.store.read_customer(&common::operator(), id).await.unwrap();

        // The purpose is asked first, with nothing chosen.
        let ask = owner.get(&format!("/staff/customers/{id}")).await;
        assert_eq!(ask.status, StatusCode::OK, "{name}: {}", ask.body);
        assert!(ask.body.contains("<option value=\"\">"), "{name}: a purpose is preselected: {}", ask.body);
        assert!(!ask.body.contains(" selected"), "{name}: a purpose is preselected: {}", ask.body);

        // The read view: the name as title, everything in words, an explicit edit.
        let view = owner.post_form(&format!("/staff/customers/{id}"), &ask, &[("purpose", "support")]).await;
        assert_eq!(view.status, StatusCode::OK, "{name}: {}", view.body);
        assert!(view.body.contains("<h1>Bedrijf 4 B.V.</h1>"), "{name}: the title is the name: {}", view.body);
        for words in ["medewerker Anna de Vries", "de beheerder (opdrachtregel)", "gegevens ingezien", "zakelijk"] {
            assert!(view.body.contains(words), "{name}: the page lacks {words:?}: {}", view.body);
        }
        assert!(view.body.contains("vraag of probleem van de klant"), "{name}: the purpose in words");
        assert!(!view.body.contains("id=\"f-phone\""), "{name}: the read view is no form: {}", view.body);
        assert!(view.body.contains("name=\"edit\""), "{name}: there is an edit button");
        assert_no_codes(&view.body, name);

        let form =
            owner.post_form(&format!("/staff/customers/{id}"), &view, &[("purpose", "support"), ("edit", "yes")]).await;
        assert!(form.body.contains("id=\"f-phone\"") && form.body.contains("id=\"f-kvk\""), "{name}: {}", form.body);

        // A private customer is not asked for company details.
        let mut fields: Fields = custodian_testkit::customer_fields(6);
        for business in ["company_name", "kvk"] {
            fields.remove(business);
        }
        let private = CustomerData::from_fields(CustomerKind::Private, &fields).unwrap();
        let private = server.store.create_customer(&common::operator(), &private, false).await.unwrap();
        let form = owner
            .post_form(&format!("/staff/customers/{private}"), &view, &[("purpose", "support"), ("edit", "yes")])
            .await;
        assert!(form.body.contains("id=\"f-phone\""), "{name}: {}", form.body);
        for business in ["f-company_name", "f-btw", "f-kvk"] {
            assert!(!form.body.contains(business), "{name}: a private customer gets {business}");
        }
        assert!(form.body.contains("<h1>Contact Persoon6</h1>"), "{name}: {}", form.body);

        // The customer sees the same names under "who viewed my data".
        let (_, customer) = server.customer(7).await;
        let seen = customer.get("/portal/access").await;
        assert_no_codes(&seen.body, name);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn creating_and_erased_customers_say_so() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let new = owner.get("/staff/customers/new").await;
        let mut form: Vec<(&str, String)> = vec![("kind", "business".into())];
        let fields = custodian_testkit::customer_fields(11);
        for (k, v) in &fields {
            form.push((k.as_str(), v.clone()));
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let made = owner.post_form("/staff/customers/new", &new, &pairs).await;
        assert!(made.location().ends_with("?created=1"), "{name}: {}", made.body);
        let confirmed = owner.get(made.location()).await;
        assert!(confirmed.body.contains("De klant is aangemaakt."), "{name}: {}", confirmed.body);

        let id: i64 =
            made.location().trim_start_matches("/staff/customers/").trim_end_matches("?created=1").parse().unwrap();
        server
            .store
            .erase_customer(&common::operator(), id, custodian_store::ErasureReason::CustomerRequest)
            .await
            .unwrap();
        let erased = owner.get(&format!("/staff/customers/{id}")).await;
        assert!(erased.body.contains("Deze klant is verwijderd"), "{name}: {}", erased.body);
        assert!(!erased.body.contains("name=\"purpose\""), "{name}: no purpose asked for an erased customer");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_portal_exports_rfc3339_and_asks_the_password_before_erasing() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let (id, c) = server.customer(12).await;
        let json = c.get("/portal/export.json").await;
        let export: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        let generated = export["generated_at"].as_str().unwrap_or_else(|| panic!("{name}: {export}"));
        time::OffsetDateTime::parse(generated, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{name}: {generated}: {e}"));

        let page = c.get("/portal/export").await;
        assert!(page.body.contains("href=\"/portal/export.json\" download"), "{name}: {}", page.body);
        assert!(page.body.contains("class=\"letterhead\"") && page.body.contains("Bedrijf 12 B.V."), "{name}");

        let delete = c.get("/portal/delete").await;
        assert!(delete.body.contains("class=\"danger\""), "{name}: the button looks destructive");
        let wrong = c.post_form("/portal/delete", &delete, &[("confirm", "yes"), ("password", "niet goed")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {}", wrong.body);
        assert!(wrong.body.contains("wachtwoord klopt niet"), "{name}: {}", wrong.body);
        let still = server.store.read_customer(&common::operator(), id).await;
        assert!(still.is_ok(), "{name}: erased without the password");
        let done = c.post_form("/portal/delete", &delete, &[("confirm", "yes"), ("password", PASSWORD)]).await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        assert!(server.store.read_customer(&common::operator(), id).await.is_err(), "{name}: not erased");
        server.stop().await;
        db.finish().await;
    }
}
