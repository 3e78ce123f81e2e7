//! The JSON API: tokens, scopes, the same role rules and audit as the pages,
//! field-level errors that change nothing, and the OpenAPI document. Black-box,
//! on every engine under test.

mod common;

use common::{Server, operator};
use custodian_domain::inventory::{self, Role};
use custodian_store::Scope;
use custodian_testkit::databases;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn token(server: &Server, name: &str, role: Role, scopes: &[Scope]) -> String {
    server.store.create_api_token(&operator(), name, role, scopes, None).await.unwrap().1.to_string()
}

fn new_customer(email: &str, phone: &str) -> String {
    json!({
        "kind": "business",
        "on_behalf": true,
        "fields": {
            "company_name": "Zuidenwind Hosting B.V.",
            "contact_name": "Fenna Zuidenwind",
            "visit_street": "Dijkweg 12",
            "visit_postcode": "1791 AB",
            "visit_city": "Den Burg",
            "email": email,
            "phone": phone,
            "kvk": "69599084",
            "iban": "NL91ABNA0417164300",
            "iban_holder": "Zuidenwind Hosting B.V.",
        }
    })
    .to_string()
}

/// The fields of `table` that `role` may not read, per the inventory.
fn withheld_for(role: Role) -> Vec<Value> {
    inventory::fields_of("customers").filter(|f| !f.may_read(role)).map(|f| json!(f.column)).collect()
}

#[tokio::test]
async fn tokens_act_with_their_role_and_scopes_and_every_read_is_audited() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let api = server.client();
        let writer = token(&server, "crm-sync", Role::Staff, &[Scope::CustomersRead, Scope::CustomersWrite]).await;
        let reader = token(&server, "reporting", Role::Staff, &[Scope::CustomersRead]).await;
        let books = token(&server, "boekhouding", Role::Bookkeeper, &[Scope::CustomersRead, Scope::InvoicesRead]).await;
        let owner = token(&server, "dpo-tools", Role::Owner, &Scope::ALL).await;
        let name = db.name();

        // Without a valid token nothing opens, and a session cookie does not count.
        let none = api.api("post", "/api/v1/customers/search", None, Some(r#"{"number": 1}"#)).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.headers.get("www-authenticate").unwrap(), "Bearer realm=\"custodian\"");
        assert_eq!(none.json()["error"]["code"], "unauthorised");
        let forged = format!("cst_{}", "0".repeat(64));
        assert_eq!(api.api("get", "/api/v1/audit/verify", Some(&forged), None).await.status, StatusCode::UNAUTHORIZED);
        let (_, portal_user) = server.customer(1).await;
        let by_cookie = portal_user.api("get", "/api/v1/customers/1?purpose=support", None, None).await;
        assert_eq!(by_cookie.status, StatusCode::UNAUTHORIZED, "{name}: a session opens no API route");

        // Invalid fields: every one named with its rule, in the caller's language; nothing stored.
        let before = server.store.counts().await.unwrap().active_customers;
        let bad =
            api.api("post", "/api/v1/customers", Some(&writer), Some(&new_customer("fenna@@zuidenwind", "0612"))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        let mut fields: Vec<String> = bad.json()["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().into())
            .collect();
        fields.sort();
        assert_eq!(fields, ["email", "phone"], "{name}");
        assert!(bad.json()["error"]["message"].as_str().unwrap().contains("niets opgeslagen"));
        assert!(
            !bad.body.contains("fenna@@zuidenwind") && !bad.body.contains("0612\""),
            "errors never repeat the input"
        );
        let english = api
            .api_with(
                "post",
                "/api/v1/customers",
                Some(&writer),
                Some(&new_customer("fenna@@zuidenwind", "0612")),
                &[("accept-language", "en")],
            )
            .await;
        assert!(english.json()["error"]["message"].as_str().unwrap().contains("nothing was saved"), "{}", english.body);
        let unknown = api
            .api("post", "/api/v1/customers", Some(&writer), Some(r#"{"kind":"business","fields":{"notes":"x"}}"#))
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unknown.body.contains("unknown_field"), "no free-text place for arbitrary data: {}", unknown.body);
        let malformed =
            api.api("post", "/api/v1/customers", Some(&writer), Some(r#"{"kind":"business","fields":7}"#)).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.json()["error"]["code"], "bad_body");
        assert_eq!(server.store.counts().await.unwrap().active_customers, before, "{name}: nothing was stored");

        // A token without the write scope cannot create.
        let body = new_customer("fenna@zuidenwind.nl", "06 12345678");
        let no_scope = api.api("post", "/api/v1/customers", Some(&reader), Some(&body)).await;
        assert_eq!(no_scope.status, StatusCode::FORBIDDEN);
        assert!(no_scope.body.contains("customers:write"), "{}", no_scope.body);

        // Bank details are the owner's to enter (A4): a staff token may not write them.
        let created = api.api("post", "/api/v1/customers", Some(&owner), Some(&body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        assert_eq!(created.headers.get("location").unwrap().to_str().unwrap(), format!("/api/v1/customers/{id}"));

        // Search: the query travels in the body; one way at a time.
        let found = api
            .api(
                "post",
                "/api/v1/customers/search?purpose=support",
                Some(&reader),
                Some(r#"{"email": "Fenna@Zuidenwind.nl"}"#),
            )
            .await;
        assert_eq!(found.json()["customers"], json!([id]), "{}", found.body);
        let by_name = api
            .api("post", "/api/v1/customers/search?purpose=support", Some(&reader), Some(r#"{"name": "zuidenwind"}"#))
            .await;
        assert_eq!(by_name.json()["customers"], json!([id]));
        let two = api
            .api(
                "post",
                "/api/v1/customers/search?purpose=support",
                Some(&reader),
                Some(r#"{"email": "a@b.nl", "kvk": "69599084"}"#),
            )
            .await;
        assert_eq!(two.status, StatusCode::BAD_REQUEST);
        let bad_kvk =
            api.api("post", "/api/v1/customers/search?purpose=support", Some(&reader), Some(r#"{"kvk": "123"}"#)).await;
        assert_eq!(bad_kvk.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Reads need a purpose the role may give; the role decides which fields show.
        let path = format!("/api/v1/customers/{id}");
        let no_purpose = api.api("get", &path, Some(&reader), None).await;
        assert_eq!(no_purpose.status, StatusCode::BAD_REQUEST);
        assert!(no_purpose.body.contains("support"), "{}", no_purpose.body);
        let read = api.api("get", &format!("{path}?purpose=support"), Some(&reader), None).await.json();
        assert_eq!(read["fields"]["phone"], "+31612345678");
        let writer_id = server
            .store
            .api_tokens(&common::operator())
            .await
            .unwrap()
            .iter()
            .find(|t| t.name == "crm-sync")
            .unwrap()
            .id;
        let creator = server.store.api_tokens(&common::operator()).await.unwrap();
        let creator = creator.iter().find(|t| t.name == "dpo-tools").unwrap().id;
        assert_eq!(read["entered_by"], format!("api:token-{creator}"), "{name}: entered on the customer's behalf (M2)");
        assert!(read["fields"].get("iban").is_none(), "{name}: staff never see the IBAN (A4)");
        assert_eq!(read["withheld"], Value::Array(withheld_for(Role::Staff)));
        let books_support = api.api("get", &format!("{path}?purpose=support"), Some(&books), None).await;
        assert_eq!(books_support.status, StatusCode::BAD_REQUEST, "the bookkeeper reads for invoicing only");
        let books_read = api.api("get", &format!("{path}?purpose=billing"), Some(&books), None).await.json();
        assert_eq!(books_read["fields"]["iban"], "NL91ABNA0417164300");
        assert_eq!(books_read["withheld"], Value::Array(withheld_for(Role::Bookkeeper)));

        // Changes: all validated together; an invalid one changes nothing.
        let invalid_change = api
            .api(
                "patch",
                &path,
                Some(&writer),
                Some(r#"{"fields": {"visit_city": "Oosterend", "visit_postcode": "17"}}"#),
            )
            .await;
        assert_eq!(invalid_change.status, StatusCode::UNPROCESSABLE_ENTITY);
        let after = api.api("get", &format!("{path}?purpose=support"), Some(&reader), None).await.json();
        assert_eq!(after["fields"]["visit_city"], "Den Burg", "{name}: nothing was saved");
        let change = api
            .api(
                "patch",
                &path,
                Some(&writer),
                Some(r#"{"fields": {"visit_city": "Oosterend", "phone2": "0222 312345"}}"#),
            )
            .await;
        assert_eq!(change.json()["changed"], json!(["visit_city", "phone2"]), "{}", change.body);
        let reader_change = api.api("patch", &path, Some(&reader), Some(r#"{"fields": {}}"#)).await;
        assert_eq!(reader_change.status, StatusCode::FORBIDDEN);

        // Invoices: finance roles only (A4), whatever the scope.
        let staff_invoices = token(&server, "staff-invoices", Role::Staff, &Scope::ALL).await;
        let invoices = format!("{path}/invoices?purpose=billing");
        assert_eq!(api.api("get", &invoices, Some(&staff_invoices), None).await.status, StatusCode::FORBIDDEN);
        let listed = api.api("get", &invoices, Some(&books), None).await;
        assert_eq!(listed.json()["invoices"], json!([]), "{}", listed.body);

        let export = api.api("get", &format!("{path}/export?purpose=data_subject_request"), Some(&reader), None).await;
        assert_eq!(export.json()["customer"]["id"], id);
        assert_eq!(export.json()["invoices"], Value::Null, "staff see no invoices in an export either");

        // Every read left an entry naming the token, the purpose and the fields.
        let log = api.api("get", &format!("{path}/audit"), Some(&owner), None).await.json();
        let entries = log["entries"].as_array().unwrap();
        let api_reads: Vec<&Value> =
            entries.iter().filter(|e| e["actor_kind"] == "api" && e["action"] == "customer.read").collect();
        assert_eq!(api_reads.len(), 3, "{name}: {log}");
        assert!(
            api_reads
                .iter()
                .any(|e| e["purpose"] == "billing" && e["fields"].as_array().unwrap().contains(&json!("iban")))
        );
        assert!(entries.iter().any(|e| e["action"] == "customer.export" && e["actor_kind"] == "api"));
        assert!(entries.iter().any(|e| e["action"] == "customer.update" && e["actor_kind"] == "api"));
        assert!(entries.iter().all(|e| !e.to_string().contains("Oosterend")), "the audit holds names, not values");
        assert_eq!(api.api("get", &format!("{path}/audit"), Some(&reader), None).await.status, StatusCode::FORBIDDEN);
        let verified = api.api("get", "/api/v1/audit/verify", Some(&owner), None).await.json();
        assert_eq!(verified["intact"], true, "{verified}");

        // Revoked and expired tokens stop working at once.
        server.store.revoke_api_token(&operator(), writer_id).await.unwrap();
        assert_eq!(
            api.api("patch", &path, Some(&writer), Some(r#"{"fields": {}}"#)).await.status,
            StatusCode::UNAUTHORIZED
        );
        sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE name = 'reporting'")
            .execute(server.store.pool())
            .await
            .unwrap();
        assert_eq!(
            api.api("get", &format!("{path}?purpose=support"), Some(&reader), None).await.status,
            StatusCode::UNAUTHORIZED
        );

        // At rest a token is a keyed hash: no column holds the secret.
        let rows = sqlx::query("SELECT token_hash, name, scopes, created_by FROM api_tokens")
            .fetch_all(server.store.pool())
            .await
            .unwrap();
        for row in rows {
            use sqlx::Row;
            let hash: Vec<u8> = row.try_get(0).unwrap();
            assert_eq!(hash.len(), 16);
            for secret in [&writer, &reader, &books, &owner] {
                assert!(!String::from_utf8_lossy(&hash).contains(secret.as_str()));
                assert!(!hex::encode(&hash).contains(&secret[4..]));
            }
        }
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn guessing_tokens_is_rate_limited() {
    for db in databases().await {
        let server = Server::start_with(&db, custodian_web::WebConfig::default()).await;
        let api = server.client();
        let mut last = StatusCode::OK;
        for i in 0..12 {
            let guess = format!("cst_{i:064}");
            last = api.api("get", "/api/v1/audit/verify", Some(&guess), None).await.status;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "{}", db.name());
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_owner_manages_tokens_in_the_back_office() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let page = owner.get("/staff/api-tokens").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("customers:write"));

        let refused = owner
            .post_form(
                "/staff/api-tokens",
                &page,
                &[("name", "Jan de Vries"), ("role", "staff"), ("scope", "customers:read")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("technische naam"), "{}", refused.body);
        assert!(server.store.api_tokens(&common::operator()).await.unwrap().is_empty(), "nothing was made");

        let made = owner
            .post_form(
                "/staff/api-tokens",
                &page,
                &[
                    ("name", "crm-sync"),
                    ("role", "staff"),
                    ("scope", "customers:read"),
                    ("scope", "audit:read"),
                    ("days", "30"),
                ],
            )
            .await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        assert_eq!(made.headers.get("cache-control").unwrap(), "no-store");
        let secret = made.body.split("<code>").nth(1).and_then(|s| s.split("</code>").next()).unwrap().to_string();
        assert!(secret.starts_with("cst_") && secret.len() == 68, "{secret}");
        let listed = server.store.api_tokens(&common::operator()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].scopes, [Scope::CustomersRead, Scope::AuditRead]);
        assert!(listed[0].expires_at.is_some());
        // The list never shows a secret again.
        assert!(!owner.get("/staff/api-tokens").await.body.contains(&secret));

        let api = server.client();
        let search = api
            .api("post", "/api/v1/customers/search?purpose=support", Some(&secret), Some(r#"{"name": "niemand"}"#))
            .await;
        assert_eq!(search.status, StatusCode::OK, "{}", search.body);
        let staff_role = api.api("get", "/api/v1/audit/verify", Some(&secret), None).await;
        assert_eq!(staff_role.status, StatusCode::FORBIDDEN, "a staff token cannot verify, scope or not");

        let path = format!("/staff/api-tokens/{}/revoke", listed[0].id);
        let unconfirmed = owner.post_form(&path, &page, &[]).await;
        assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY, "revoking asks for a confirmation first");
        let revoke = owner.post_form(&path, &page, &[("confirm", "yes")]).await;
        assert_eq!(revoke.location(), "/staff/api-tokens");
        let after = api
            .api("post", "/api/v1/customers/search?purpose=support", Some(&secret), Some(r#"{"name": "niemand"}"#))
            .await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        let trail = server.store.audit_verify().await.unwrap();
        assert!(trail.problem.is_none());
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let c = server.client();
        let page = c.get("/api/v1/openapi.json").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.sets_cookie());
        let doc: openapiv3::OpenAPI = serde_json::from_str(&page.body).expect("a valid OpenAPI 3.0 document");
        assert!(
            custodian_web::routes::undocumented_api_routes().is_empty(),
            "{:?}",
            custodian_web::routes::undocumented_api_routes()
        );
        for route in custodian_web::ROUTES.iter().filter(|r| matches!(r.access, custodian_web::RouteAccess::Api(..))) {
            let item = doc
                .paths
                .paths
                .get(route.path)
                .and_then(|p| p.as_item())
                .unwrap_or_else(|| panic!("{} missing", route.path));
            let op = match route.method {
                "get" => item.get.as_ref(),
                "post" => item.post.as_ref(),
                "patch" => item.patch.as_ref(),
                other => panic!("unexpected method {other}"),
            };
            let op = op.unwrap_or_else(|| panic!("{} {} missing", route.method, route.path));
            let custodian_web::RouteAccess::Api(scope, ..) = route.access else { unreachable!() };
            assert_eq!(op.extensions.get("x-custodian-scope"), Some(&json!(scope.as_str())));
        }
        let api_routes =
            custodian_web::ROUTES.iter().filter(|r| matches!(r.access, custodian_web::RouteAccess::Api(..))).count();
        let operations: usize = doc.paths.paths.values().filter_map(|p| p.as_item()).map(|i| i.iter().count()).sum();
        assert_eq!(operations, api_routes);
        let raw: Value = page.json();
        let fields = raw["components"]["schemas"]["CustomerFields"]["properties"].as_object().unwrap();
        let inventory: Vec<&str> = inventory::fields_of("customers").map(|f| f.column).collect();
        assert_eq!(fields.keys().map(String::as_str).collect::<Vec<_>>().len(), inventory.len());
        assert!(inventory.iter().all(|c| fields.contains_key(*c)));
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn invoices_and_services_are_written_only_with_their_scopes() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let api = server.client();
        let (customer, _) = server.customer(1).await;
        let read_only = token(&server, "books-read", Role::Bookkeeper, &[Scope::InvoicesRead]).await;
        let books = token(&server, "books", Role::Bookkeeper, &[Scope::InvoicesWrite]).await;
        let staff = token(&server, "crm", Role::Staff, &Scope::ALL).await;
        let ops = token(&server, "ops", Role::Staff, &[Scope::ServicesWrite]).await;
        let invoices = format!("/api/v1/customers/{customer}/invoices");
        let invoice = r#"{"number": "A-1", "issued_on": "2026-02-01", "lines": [{"description": "VPS", "quantity": 2, "unit_price_cents": 1500, "vat_rate": 21}]}"#;

        // Without invoices:write, or as staff (A4), nothing is written.
        for t in [&read_only, &staff, &ops] {
            assert_eq!(api.api("post", &invoices, Some(t), Some(invoice)).await.status, StatusCode::FORBIDDEN);
        }
        let made = api.api("post", &invoices, Some(&books), Some(invoice)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        // 2 × 15.00 = 30.00 + 6.30 VAT, due 3 March: a partial payment leaves 26.30.
        let paid = api
            .api("post", "/api/v1/invoices/payments", Some(&books), Some(r#"{"invoice": "A-1", "amount_cents": 1000}"#))
            .await;
        assert_eq!(
            (paid.json()["state"].as_str(), paid.json()["outstanding_cents"].as_i64()),
            (Some("overdue"), Some(2630))
        );
        let too_much = r#"{"invoice": "A-1", "amount_cents": 9999}"#;
        let refused = api.api("post", "/api/v1/invoices/payments", Some(&books), Some(too_much)).await;
        assert_eq!(
            (refused.status, refused.json()["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("more_than_due"))
        );
        let credit =
            api.api("post", "/api/v1/invoices/credit-notes", Some(&books), Some(r#"{"invoice": "A-1"}"#)).await;
        assert_eq!((credit.status, credit.json()["total_cents"].as_i64()), (StatusCode::CREATED, Some(-3630)));

        // The import: a bad line is named and nothing is saved; a dry run reports per line.
        let lines = format!(
            "{{\"customer\": {customer}, \"number\": \"B-1\", \"issued_on\": \"2026-03-01\", \"lines\": [{{\"description\": \"VPS\", \"quantity\": 1, \"unit_price_cents\": 1500, \"vat_rate\": 21}}]}}\n\
             {{\"customer\": {customer}, \"number\": \"B-2\", \"issued_on\": \"2026-03-01\", \"lines\": [{{\"description\": \"VPS\", \"quantity\": 1, \"unit_price_cents\": 1500, \"vat_rate\": 210}}]}}\n"
        );
        let bad = api.api("post", "/api/v1/invoices/import", Some(&books), Some(&lines)).await;
        assert_eq!(
            (bad.status, bad.json()["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("import_invalid"))
        );
        assert_eq!(bad.json()["lines"][0]["problems"][0]["field"], "lines[0].vat_rate");
        assert_eq!(bad.json()["lines"][0]["line"], 2);
        let good = lines.lines().next().unwrap_or_default();
        let dry = api.api("post", "/api/v1/invoices/import?dry_run=true", Some(&books), Some(good)).await;
        assert_eq!(dry.json()["lines"][0]["outcome"], "created", "{}", dry.body);
        let list =
            api.api("get", &format!("{invoices}?purpose=billing"), Some(&owner_token(&server).await), None).await;
        let count = list.json()["invoices"].as_array().map(Vec::len);
        assert_eq!(count, Some(2), "A-1 and its credit note only: {}", list.body);
        assert_eq!(
            api.api("post", "/api/v1/invoices/import?dry_run=maybe", Some(&books), Some(good)).await.status,
            StatusCode::BAD_REQUEST
        );

        // Services: services:write, never the bookkeeper.
        let services = format!("/api/v1/customers/{customer}/services");
        let service = r#"{"fields": {"kind": "vps", "description": "VPS 4 GB", "started_on": "2026-01-01"}}"#;
        assert_eq!(api.api("post", &services, Some(&books), Some(service)).await.status, StatusCode::FORBIDDEN);
        let made = api.api("post", &services, Some(&ops), Some(service)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let id = made.json()["id"].as_i64().unwrap();
        let end = format!(r#"{{"service": {id}, "on": "2026-06-30"}}"#);
        let ended = api.api("post", &format!("{services}/end"), Some(&ops), Some(&end)).await;
        assert_eq!(ended.json()["ended"], true);
        // The address names the customer, the body the service: an unknown
        // service of a known customer is a field error, an unknown customer 404.
        let other = format!(r#"{{"service": {}, "on": "2026-06-30"}}"#, id + 1000);
        let wrong = api.api("post", &format!("{services}/end"), Some(&ops), Some(&other)).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
        assert_eq!(wrong.json()["error"]["fields"][0]["field"], "service", "{}", wrong.body);
        // Lists of a customer that does not exist are not empty lists.
        let owner = token(&server, "owner-all", Role::Owner, &Scope::ALL).await;
        for list in ["invoices?purpose=billing", "audit"] {
            let path = format!("/api/v1/customers/{}/{list}", customer + 1000);
            let answer = api.api("get", &path, Some(&owner), None).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.body);
        }
        let nobody = format!("/api/v1/customers/{}/services/end", customer + 1000);
        assert_eq!(api.api("post", &nobody, Some(&ops), Some(&end)).await.status, StatusCode::NOT_FOUND);
        // An import needs at least one invoice.
        let empty = api.api("post", "/api/v1/invoices/import", Some(&books), Some("\n")).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.body);
        assert_eq!(empty.json()["error"]["code"], "empty");
        let bad = api.api("post", &services, Some(&ops), Some(r#"{"fields": {"kind": "boat"}}"#)).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        server.stop().await;
        db.finish().await;
    }
}

async fn owner_token(server: &Server) -> String {
    token(server, "owner-books", Role::Owner, &[Scope::InvoicesRead]).await
}

/// Every rejection of the API is its JSON error, also the ones made before a
/// handler runs, and none repeats the rejected value.
#[tokio::test]
async fn every_rejection_is_a_json_error() {
    for db in databases().await {
        let engine = db.name();
        let server = Server::start(&db).await;
        let api = server.client();
        let owner = token(&server, "monitor", Role::Owner, &Scope::ALL).await;
        let cases: [(&str, &str, Option<String>, StatusCode, &str); 5] = [
            ("GET", "/api/v1/customers/abc?purpose=support", None, StatusCode::BAD_REQUEST, "bad_request"),
            (
                "GET",
                "/api/v1/customers/9223372036854775808?purpose=support",
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            ("GET", "/api/v1/nothing-here", None, StatusCode::NOT_FOUND, "not_found"),
            ("DELETE", "/api/v1/customers/1", None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            (
                "POST",
                "/api/v1/customers",
                Some(format!("{{\"fields\": \"{}\"}}", "x".repeat(70 * 1024))),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
        ];
        for (method, path, body, status, code) in cases {
            let answer = api.api(method, path, Some(&owner), body.as_deref()).await;
            assert_eq!(answer.status, status, "{engine}: {method} {path}: {}", answer.body);
            let kind = answer.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert_eq!(kind, "application/json", "{engine}: {method} {path}");
            assert_eq!(answer.json()["error"]["code"], code, "{engine}: {method} {path}: {}", answer.body);
            assert!(!answer.body.contains("abc") && !answer.body.contains("922337"), "{engine}: {}", answer.body);
        }
        let refused = api.api("DELETE", "/api/v1/customers/1", Some(&owner), None).await;
        let allow = refused.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(allow.contains("GET") && allow.contains("PATCH"), "{engine}: Allow: {allow}");
        // Pages stay pages.
        let page = api.get("/nothing-here").await;
        assert!(page.body.contains("<html"), "{engine}: {}", page.body);
        server.stop().await;
        db.finish().await;
    }
}
