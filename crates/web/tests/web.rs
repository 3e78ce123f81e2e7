//! Black-box tests: the real server on a random port, a fresh database per test,
//! on every engine under test.

mod common;

use common::{Client, Page, Server};
use custodian_domain::inventory::Role;
use custodian_store::Scope;
use custodian_testkit::databases;
use custodian_web::{ROUTES, RouteAccess};
use reqwest::StatusCode;

/// The hand-written table in `golden/routes.txt`: (method, path) → the answer
/// for anonymous, customer, staff, bookkeeper, owner.
fn golden_routes() -> std::collections::BTreeMap<(String, String), [bool; 5]> {
    let mut rows = std::collections::BTreeMap::new();
    for line in
        include_str!("golden/routes.txt").lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), 7, "golden row {line:?}");
        let answers = std::array::from_fn(|i| match cells[2 + i] {
            "y" => true,
            "n" => false,
            other => panic!("golden cell {other:?} in {line:?}"),
        });
        assert!(rows.insert((cells[0].to_string(), cells[1].to_string()), answers).is_none(), "{line} twice");
    }
    rows
}

/// Every route × every role (and anonymous) against the golden table, which
/// must name exactly the routes the server has.
#[tokio::test]
async fn authorisation_matrix_matches_the_golden_table() {
    let golden = golden_routes();
    let mounted: std::collections::BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let listed: std::collections::BTreeSet<(String, String)> = golden.keys().cloned().collect();
    assert_eq!(mounted, listed, "golden/routes.txt and the route table name different routes");
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        let books = server.staff(Role::Bookkeeper, "boekhouder@hoster.nl").await;
        let (customer_id, customer) = server.customer(1).await;
        let anonymous = server.client();
        let clients: [(&str, Option<Role>, &Client); 5] = [
            ("anonymous", None, &anonymous),
            ("customer", Some(Role::Subject), &customer),
            ("staff", Some(Role::Staff), &staff),
            ("bookkeeper", Some(Role::Bookkeeper), &books),
            ("owner", Some(Role::Owner), &owner),
        ];
        // API tokens of every staff role, holding every scope: what a token may
        // do then depends on its role alone.
        let mut tokens = std::collections::HashMap::new();
        for role in [Role::Owner, Role::Staff, Role::Bookkeeper] {
            let (_, secret) = server
                .store
                .create_api_token(&common::operator(), &format!("matrix-{}", role.as_str()), role, &Scope::ALL, None)
                .await
                .unwrap();
            tokens.insert(role, secret.to_string());
        }
        // A token of its own for the revoke route to revoke.
        let (spare, _) = server
            .store
            .create_api_token(&common::operator(), "matrix-spare", Role::Staff, &Scope::ALL, None)
            .await
            .unwrap();
        // A handle of the customer's (with its queued registry operation) for
        // the handle and operation routes.
        let target = custodian_store::registry::Target { registry: "partner", passthrough: false };
        let handle = server
            .store
            .create_handle(&common::operator(), customer_id, target, &custodian_testkit::contact("MATRIX1"))
            .await
            .unwrap();
        let op = server.store.registry_ops().list(None, 1).await.unwrap()[0].id;
        // An account of its own for the account routes to act on.
        let spare_login = custodian_domain::validate::Email::parse("matrix-reserve@hoster.nl").unwrap();
        let (spare_account, _) = server
            .store
            .create_staff_account(&common::operator(), Role::Bookkeeper, &spare_login, "Reserve")
            .await
            .unwrap();
        // An invoice of the customer's for the invoice routes (books and portal).
        let today = time::OffsetDateTime::now_utc().date();
        let invoice = server
            .store
            .add_invoice(
                &common::operator(),
                customer_id,
                custodian_store::NewInvoice {
                    number: "MATRIX-1".into(),
                    issued_on: today,
                    due_on: today,
                    delivery: custodian_domain::model::Delivery::Post,
                    lines: vec![custodian_domain::model::InvoiceLine::parse("Hosting;1;1000;21").unwrap()],
                },
            )
            .await
            .unwrap();
        // A request of a data subject for the register's routes.
        let request = custodian_domain::requests::SubjectRequest::from_fields(
            &[
                ("kind", "correction"),
                ("received_on", "2026-01-05"),
                ("identity_check", "call_back"),
                ("name", "Iemand Anders"),
                ("address", "Dijk 1, 1811 AB Alkmaar"),
                ("summary", "Naam verkeerd gespeld"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            today,
        )
        .unwrap();
        let request = server.store.record_subject_request(&common::operator(), &request).await.unwrap();
        // Logging out ends the session, so that route comes last.
        let mut routes: Vec<_> = ROUTES.iter().collect();
        routes.sort_by_key(|r| r.path == "/logout");
        let mut wrong = vec![];
        for (column, (who, role, client)) in clients.into_iter().enumerate() {
            let home = client.get(if role == Some(Role::Subject) { "/portal" } else { "/staff" }).await;
            for route in &routes {
                let id = match route.path {
                    p if p.starts_with("/staff/api-tokens/") => spare.id,
                    p if p.starts_with("/portal/handles/") => handle,
                    p if p.starts_with("/staff/registry/") => op,
                    p if p.starts_with("/staff/accounts/") => spare_account.id,
                    p if p.starts_with("/books/invoices/") || p.starts_with("/portal/invoices/") => invoice,
                    p if p.starts_with("/staff/requests/") => request,
                    _ => customer_id,
                };
                let path = route.path.replace("{id}", &id.to_string());
                let page: Page = if let RouteAccess::Api(..) = route.access {
                    let token = role.and_then(|r| tokens.get(&r)).map(String::as_str);
                    let body = (route.method != "get").then_some("{}");
                    client.api(route.method, &path, token, body).await
                } else if route.method == "get" {
                    client.get(&path).await
                } else {
                    let token = if route.access == RouteAccess::Public {
                        anonymous.get("/login").await.csrf()
                    } else {
                        home.csrf()
                    };
                    client.post_raw(&path, &[("csrf".into(), token)], Some("same-origin")).await
                };
                let expected = golden[&(route.method.to_string(), route.path.to_string())][column];
                let denied = if let RouteAccess::Api(..) = route.access { page.api_denied() } else { page.denied() };
                let what = format!("{}: {who} {} {}", db.name(), route.method, route.path);
                if denied == expected {
                    wrong.push(format!(
                        "{what}: expected {}, answered {} {}",
                        if expected { "y" } else { "n" },
                        page.status,
                        page.location()
                    ));
                }
                if !denied {
                    assert!(
                        page.status != StatusCode::NOT_FOUND && page.status != StatusCode::METHOD_NOT_ALLOWED,
                        "{what} is not mounted ({})",
                        page.status
                    );
                    assert!(page.status.as_u16() < 500, "{what} failed: {}", page.body);
                }
            }
        }
        assert!(wrong.is_empty(), "the server disagrees with golden/routes.txt:\n{}", wrong.join("\n"));
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn public_pages_set_no_cookie_and_load_nothing_from_elsewhere() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let c = server.client();
        for path in
            ["/login", "/privacy", "/activate", "/setup", "/reset", "/style.css", "/healthz", "/metrics", "/nope"]
        {
            let page = c.get(path).await;
            assert!(!page.sets_cookie(), "{path} set a cookie");
            let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
            assert_eq!(page.headers.get("referrer-policy").unwrap(), "no-referrer");
            for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "<script"] {
                assert!(!page.body.contains(attr), "{path} refers elsewhere: {attr}");
            }
        }
        let metrics = c.get("/metrics").await.body;
        assert!(
            metrics.contains("custodian_up 1") && metrics.contains("custodian_outbox_messages{state=\"pending\"} 0"),
            "{metrics}"
        );
        let login = c.get("/login").await;
        let failed = c
            .post_form("/login", &login, &[("login", "niemand@example.nl"), ("password", "verkeerd wachtwoord")])
            .await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
        assert!(!failed.sets_cookie(), "a failed login sets no cookie");
        assert!(c.cookies().is_none());
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_customer_sees_corrects_exports_and_deletes_their_data() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let (id, c) = server.customer(7).await;
        let cookie = c.cookies().unwrap();
        assert!(cookie.starts_with("custodian="), "{cookie}");

        let dashboard = c.get("/portal").await;
        assert_eq!(dashboard.status, StatusCode::OK);
        assert_eq!(current(&dashboard), ["/portal"], "{}", db.name());
        assert_eq!(current(&c.get("/portal/edit").await), ["/portal/edit"], "{}", db.name());
        assert_eq!(current(&c.get("/portal/access").await), ["/portal/access"], "{}", db.name());
        assert!(dashboard.body.contains("Bedrijf 7 B.V.") && dashboard.body.contains("klant7@voorbeeld.nl"));
        // Seen again, the page comes from the read cache: session and dashboard.
        let cache = || server.store.read_cache_stats().expect("the server has a read cache");
        for _ in 0..500 {
            if cache().live {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        c.get("/portal").await;
        let before = cache().hits;
        assert_eq!(c.get("/portal").await.body, c.get("/portal").await.body);
        assert_eq!(cache().hits, before + 4, "{}: {:?}", db.name(), cache());

        // An invalid phone number: the error next to the field, nothing saved.
        let form = c.get("/portal/edit").await;
        let bad = c.post_form("/portal/edit", &form, &[("phone", "0612"), ("visit_city", "Utrecht")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("id=\"e-phone\""), "{}", bad.body);
        assert!(bad.body.contains("aria-invalid=\"true\""));
        assert_eq!(summary_links(&bad), ["f-phone"], "{}: the summary links to the field", db.name());
        assert!(c.get("/portal").await.body.contains("Alkmaar"), "{}: nothing was saved", db.name());

        let good = c.post_form("/portal/edit", &form, &[("phone", "06 12345678"), ("visit_city", "Utrecht")]).await;
        assert_eq!(good.location(), "/portal", "{}", good.body);
        let after = c.get("/portal").await;
        assert!(after.body.contains("+31612345678") && after.body.contains("Utrecht"));
        // The confirmation shows once: a reload does not bring it back.
        assert!(after.body.contains("class=\"notice\""), "{}: no confirmation: {}", db.name(), after.body);
        assert!(!c.get("/portal").await.body.contains("class=\"notice\""), "{}: shown again", db.name());

        let export = c.get("/portal/export.json").await;
        assert_eq!(export.headers.get("content-type").unwrap(), "application/json");
        assert!(export.headers.get("content-disposition").unwrap().to_str().unwrap().contains("attachment"));
        let json: serde_json::Value = serde_json::from_str(&export.body).unwrap();
        assert_eq!(json["customer"]["fields"]["phone"], "+31612345678");
        assert!(c.get("/portal/export").await.body.contains("Utrecht"));

        // Staff looked: the customer sees who, when and why.
        let staff = server.staff(Role::Staff, "helpdesk@hoster.nl").await;
        let purpose = staff.get(&format!("/staff/customers/{id}")).await;
        let view = staff.post_form(&format!("/staff/customers/{id}"), &purpose, &[("purpose", "support")]).await;
        assert_eq!(view.status, StatusCode::OK, "{}", view.body);
        let log = c.get("/portal/access").await;
        assert!(
            log.body.contains("gegevens ingezien") && log.body.contains("vraag of probleem van de klant"),
            "the customer reads what happened and why, not codes: {}",
            log.body
        );
        assert!(!log.body.contains("customer.read"), "{}", log.body);
        assert!(log.body.contains("<thead>"), "{}", log.body);
        assert_eq!(log.body.matches("<th scope=\"col\">").count(), 5, "{}: one header per column", db.name());

        // The printable page holds everything: each invoice's billing snapshot and
        // lines, and the access log; the dashboard lists invoice headers only.
        let billing =
            custodian_store::Access::new(custodian_store::Actor::operator(), custodian_store::AccessPurpose::Billing);
        let invoice = custodian_store::NewInvoice {
            number: "2026-0701".into(),
            issued_on: custodian_domain::model::parse_date("2026-03-01").unwrap(),
            due_on: custodian_domain::model::parse_date("2026-03-31").unwrap(),
            delivery: custodian_domain::model::Delivery::Post,
            lines: vec![custodian_domain::model::InvoiceLine::parse("Webhosting Kievit;1;595;21").unwrap()],
        };
        let invoice_id = server.store.add_invoice(&billing, id, invoice).await.unwrap();
        // Paid, so that only the service below stands in the way of deletion.
        sqlx::query("UPDATE invoices SET paid_on = '2026-03-10' WHERE id = $1")
            .bind(invoice_id)
            .execute(server.store.pool())
            .await
            .unwrap();
        server.store.settle_read_cache().await;
        let printable = c.get("/portal/export").await.body;
        for expected in ["2026-0701", "Webhosting Kievit", "Bedrijf 7 B.V.", "gegevens ingezien", "vraag of probleem"] {
            assert!(printable.contains(expected), "{}: the printable page shows {expected}: {printable}", db.name());
        }
        let dashboard = c.get("/portal").await.body;
        assert!(dashboard.contains("2026-0701") && !dashboard.contains("Webhosting Kievit"), "{}", db.name());

        let owner = custodian_store::Access::new(
            custodian_store::Actor::operator(),
            custodian_store::AccessPurpose::Administration,
        );
        let service = custodian_domain::model::ServiceData::from_fields(
            &[("kind", "hosting"), ("description", "Pakket S"), ("started_on", "2026-01-01")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        let service_id = server.store.add_service(&owner, id, &service).await.unwrap();
        let delete = c.get("/portal/delete").await;
        let unconfirmed = c.post_form("/portal/delete", &delete, &[]).await;
        assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unconfirmed.body);
        assert!(server.store.erasure_request(id).await.unwrap().is_none(), "{}: nothing recorded", db.name());
        // Deletion: while a service runs the request is recorded and the blocker shown.
        let waiting =
            c.post_form("/portal/delete", &delete, &[("confirm", "yes"), ("password", common::PASSWORD)]).await;
        assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.body);
        assert!(waiting.body.contains("1 lopende dienst"), "{}", waiting.body);
        assert!(server.store.erasure_request(id).await.unwrap().is_some());
        let again = c.get("/portal/delete").await;
        assert!(again.body.contains("is vastgelegd") && again.body.contains("1 lopende dienst"), "{}", again.body);
        assert!(server.store.end_service(&owner, service_id, time::macros::date!(2026 - 06 - 30)).await.unwrap());
        let done = c.post_form("/portal/delete", &delete, &[("confirm", "yes"), ("password", common::PASSWORD)]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(done.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
        assert!(c.get("/portal").await.denied(), "{}: the session ended with the account", db.name());
        assert_eq!(server.store.erasure_journal(0).await.unwrap().len(), 1);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn forged_and_cross_site_posts_are_refused() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let (_, c) = server.customer(8).await;
        let form = c.get("/portal/edit").await;
        let no_token = c.post_raw("/portal/edit", &[("phone".into(), "0612345678".into())], Some("same-origin")).await;
        assert_eq!(no_token.status, StatusCode::FORBIDDEN);
        let cross = c
            .post_raw(
                "/portal/edit",
                &[("csrf".into(), form.csrf()), ("phone".into(), "0612345678".into())],
                Some("cross-site"),
            )
            .await;
        assert_eq!(cross.status, StatusCode::FORBIDDEN);
        let anon = server.client();
        let login =
            anon.post_raw("/login", &[("login".into(), "a@b.nl".into()), ("password".into(), "x".into())], None).await;
        assert_eq!(login.status, StatusCode::FORBIDDEN, "a public form without its token is refused");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn staff_must_use_a_second_factor_and_logins_are_rate_limited() {
    for db in databases().await {
        let server = Server::start_with(&db, custodian_web::WebConfig::default()).await;
        let _owner = server.owner().await;
        let owner_access = custodian_store::Access::new(
            custodian_store::Actor::staff("1", Role::Owner),
            custodian_store::AccessPurpose::Administration,
        );
        let email = custodian_domain::validate::Email::parse("nieuw@hoster.nl").unwrap();
        let (_, code) = server.store.create_staff_account(&owner_access, Role::Staff, &email, "Nieuw").await.unwrap();
        let c = server.client();
        let page = c.get("/activate").await;
        let r = c
            .post_form(
                "/activate",
                &page,
                &[("login", "nieuw@hoster.nl"), ("code", code.as_str()), ("password", common::PASSWORD)],
            )
            .await;
        assert_eq!(r.location(), "/second-factor/enrol");
        let staff_home = c.get("/staff").await;
        assert_eq!(staff_home.location(), "/second-factor/enrol", "{}: staff pages need the second factor", db.name());
        let enrol = c.get("/second-factor/enrol").await;
        let wrong = c.post_form("/second-factor/enrol", &enrol, &[("code", "000000")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

        // The activation code worked once.
        let again = server.client();
        let page = again.get("/activate").await;
        let reused = again
            .post_form(
                "/activate",
                &page,
                &[("login", "nieuw@hoster.nl"), ("code", code.as_str()), ("password", common::PASSWORD)],
            )
            .await;
        assert_eq!(reused.status, StatusCode::UNAUTHORIZED);

        let attacker = server.client();
        let login = attacker.get("/login").await;
        let mut last = StatusCode::OK;
        for _ in 0..12 {
            last = attacker
                .post_form("/login", &login, &[("login", "eigenaar@hoster.nl"), ("password", "geraden wachtwoord")])
                .await
                .status;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "{}", db.name());
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_ends_every_session() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let (_, customer) = server.customer(9).await;
        let anon = server.client();
        let form = anon.get("/reset").await;
        let asked = anon.post_form("/reset", &form, &[("login", "klant9@voorbeeld.nl")]).await;
        let unknown = anon.post_form("/reset", &form, &[("login", "niemand@voorbeeld.nl")]).await;
        assert_eq!(asked.status, StatusCode::OK);
        assert_eq!(asked.body, unknown.body, "{}: the answer reveals nothing", db.name());

        let login = custodian_domain::validate::Email::parse("klant9@voorbeeld.nl").unwrap();
        let (_, token) = server.store.request_password_reset(&login).await.unwrap().unwrap();
        let page = anon.get(&format!("/reset/new?token={}", token.as_str())).await;
        let weak = anon.post_form("/reset/new", &page, &[("token", token.as_str()), ("password", "wachtwoord")]).await;
        assert!(weak.body.contains("12"), "{}", weak.body);
        let new_password = "zeven groene kikkers zingen luid";
        let done = anon.post_form("/reset/new", &page, &[("token", token.as_str()), ("password", new_password)]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let again = anon.post_form("/reset/new", &page, &[("token", token.as_str()), ("password", new_password)]).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "the link works once");
        assert!(customer.get("/portal").await.denied(), "{}: the old session ended", db.name());

        let fresh = server.client();
        let form = fresh.get("/login").await;
        let ok =
            fresh.post_form("/login", &form, &[("login", "klant9@voorbeeld.nl"), ("password", new_password)]).await;
        assert_eq!(ok.location(), "/portal", "{}", ok.body);
        server.stop().await;
        db.finish().await;
    }
}

/// The hrefs of the menu links marked as the current page.
fn current(page: &Page) -> Vec<String> {
    let nav = page.body.split("</nav>").next().unwrap_or("");
    nav.split("<a ")
        .skip(1)
        .filter(|a| a.split('>').next().unwrap_or("").contains("aria-current=\"page\""))
        .map(|a| a.split('"').nth(1).unwrap_or("").to_string())
        .collect()
}

/// The targets the error summary links to, each checked to be an element on the
/// page; the summary itself is announced (`role="alert"`) and has a heading.
fn summary_links(page: &Page) -> Vec<String> {
    let start = page.body.find("<div class=\"error-summary\"").expect("an error summary");
    let summary = &page.body[start..start + page.body[start..].find("</div>").unwrap()];
    assert!(summary.contains("role=\"alert\"") && summary.contains("<h2"), "{summary}");
    let targets: Vec<String> =
        summary.split("href=\"#").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect();
    for t in &targets {
        assert!(page.body.contains(&format!(" id=\"{t}\"")), "the summary links to #{t}, which is not on the page");
    }
    targets
}

#[tokio::test]
async fn error_summaries_link_to_their_fields_and_the_menu_marks_the_current_page() {
    for db in databases().await {
        let name = db.name();
        let server = Server::start(&db).await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        let home = staff.get("/staff").await;
        assert_eq!(current(&home), ["/staff"], "{name}");
        let form = staff.get("/staff/customers/new").await;
        // The new-customer form is in the customers' section.
        assert_eq!(current(&form), ["/staff"], "{name}");
        assert!(!form.body.contains("error-summary"), "{name}: no summary before submitting");
        let bad = staff
            .post_form(
                "/staff/customers/new",
                &form,
                &[("kind", "business"), ("email", "geen-adres"), ("phone", "0612"), ("visit_postcode", "17")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let links = summary_links(&bad);
        for field in ["f-company_name", "f-email", "f-phone", "f-visit_postcode"] {
            assert!(links.contains(&field.to_string()), "{name}: {field} missing from {links:?}");
        }
        // A tampered kind has no input of its own in fields.html; it links to the select.
        let tampered = staff.post_form("/staff/customers/new", &form, &[("kind", "alien")]).await;
        assert!(summary_links(&tampered).contains(&"kind".to_string()), "{name}: {}", tampered.body);

        // The public credential forms: every line links to its input.
        let anon = server.client();
        let activate = anon.get("/activate").await;
        assert_eq!(current(&activate), Vec::<String>::new(), "{name}: /activate is not in the menu");
        let refused = anon
            .post_form("/activate", &activate, &[("login", "niet-goed"), ("code", "1"), ("password", "kort")])
            .await;
        assert_eq!(summary_links(&refused), ["login", "password"], "{name}");
        let unknown = anon
            .post_form(
                "/activate",
                &activate,
                &[("login", "niemand@voorbeeld.nl"), ("code", "123456"), ("password", common::PASSWORD)],
            )
            .await;
        assert_eq!(summary_links(&unknown), ["code"], "{name}");
        assert_eq!(current(&anon.get("/login").await), ["/login"], "{name}");
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_owner_sees_the_retention_plan_for_a_chosen_day() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let (id, _) = server.customer(11).await;
        sqlx::query("UPDATE customers SET created_at = $1 WHERE id = $2")
            .bind(time::macros::date!(2024 - 05 - 01).midnight().assume_utc().unix_timestamp() * 1_000_000)
            .bind(id)
            .execute(server.store.pool())
            .await
            .unwrap();
        let page = owner.get("/staff/retention?on=2026-01-02").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Klanten die gewist worden (1)"), "{}: {}", db.name(), page.body);
        assert!(page.body.contains(&format!("\">{id}</td>")) && page.body.contains("2025-05-01"), "{}", page.body);
        let before = owner.get("/staff/retention?on=2025-12-31").await;
        assert!(before.body.contains("Klanten die gewist worden (0)"), "{}", before.body);
        let bad = owner.get("/staff/retention?on=2026-02-30").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("JJJJ-MM-DD"), "{}", bad.body);
        let outside = owner.get("/staff/retention?on=2250-01-02").await;
        assert_eq!(outside.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(outside.body.contains("2250"), "{}", outside.body);
        assert_eq!(server.store.erasure_journal(0).await.unwrap().len(), 0, "{}: the plan changed nothing", db.name());
        server.stop().await;
        db.finish().await;
    }
}
