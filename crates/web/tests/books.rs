//! The bookkeeper's workspace in the browser's terms: invoices by standing, one
//! invoice with a payment recorded and refused, the import (dry run, then for
//! real), the print queue, the PDF and UBL downloads, and the customer's own
//! invoices in the portal; services (one for a third party) and domain
//! contacts on the staff customer page. Amounts are worked out by hand in the
//! comments.

mod common;

use common::{Client, Server, invoicing, pdf_text};
use custodian_domain::inventory::Role;
use custodian_domain::model::{Delivery, InvoiceLine};
use custodian_store::{Access, AccessPurpose, Actor, NewInvoice};
use custodian_testkit::databases;
use reqwest::StatusCode;

async fn start(db: &custodian_testkit::TestDb, invoicing: custodian_web::documents::Invoicing) -> Server {
    let config = custodian_web::WebConfig {
        attempts_per_minute: 10_000,
        company: common::COMPANY.into(),
        invoicing,
        ..Default::default()
    };
    Server::start_with(db, config).await
}

/// 2 × 49.50 at 21%: net 99.00, VAT 20.79, total 119.79.
async fn invoice(server: &Server, customer: i64, number: &str, delivery: Delivery) -> i64 {
    let books = Access::new(Actor::operator(), AccessPurpose::Billing);
    let today = time::OffsetDateTime::now_utc().date();
    let new = NewInvoice {
        number: number.into(),
        issued_on: today,
        due_on: today + time::Duration::days(30),
        delivery,
        lines: vec![InvoiceLine::parse("Webhosting Pro;2;4950;21").unwrap()],
    };
    server.store.add_invoice(&books, customer, new).await.unwrap()
}

/// The text of a page without its tags, for finding sentences across markup.
fn text(body: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_bookkeeper_lists_opens_pays_and_posts_invoices() {
    for db in databases().await {
        let server = start(&db, invoicing()).await;
        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let (customer, _) = server.customer(1).await;
        let id = invoice(&server, customer, "2026-0101", Delivery::Post).await;

        let list = books.get("/books").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let shown = text(&list.body);
        assert!(shown.contains("2026-0101"), "{shown}");
        assert!(shown.contains("Open (1, € 119,79)"), "{shown}");
        assert!(list.body.contains("href=\"/books\""), "the menu links the books");
        assert!(!list.body.contains("href=\"/staff/customers/new\""), "the bookkeeper makes no customers");

        // Opening it shows whom it was billed to, and is in the customer's trail.
        let page = books.get(&format!("/books/invoices/{id}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let shown = text(&page.body);
        assert!(shown.contains("Bedrijf 1 B.V."), "{shown}");
        assert!(shown.contains("Webhosting Pro"), "{shown}");
        assert!(shown.contains("€ 99,00"), "{shown}");
        let log = server.store.access_log(&common::operator(), customer).await.unwrap();
        assert!(log.iter().any(|e| e.action == "invoice.read" && e.actor_kind == "staff"), "{log:?}");

        // A payment typed as people type it; one that is not an amount changes nothing.
        let path = format!("/books/invoices/{id}/payment");
        let refused = books.post_form(&path, &page, &[("amount", "twintig"), ("paid_on", "2026-12-01")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&refused.body).contains("Vul het betaalde bedrag in"), "{}", refused.body);
        let paid = books.post_form(&path, &page, &[("amount", "€ 19,79"), ("paid_on", &today())]).await;
        assert_eq!(paid.location(), format!("/books/invoices/{id}"), "{}", paid.body);
        // More than the 100.00 still due is refused, with what is due.
        let page = books.get(&format!("/books/invoices/{id}")).await;
        let over = books.post_form(&path, &page, &[("amount", "100,01"), ("paid_on", &today())]).await;
        assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
        let invoices = server.store.read_invoices(&common::operator(), customer).await.unwrap();
        assert_eq!((invoices[0].paid_cents, invoices[0].outstanding_cents), (1979, 10000));

        // The print queue: in it until posted, once.
        let queue = books.get("/books/post").await;
        assert_eq!(queue.status, StatusCode::OK);
        assert!(text(&queue.body).contains("2026-0101"));
        let posted = books.post_form(&format!("/books/invoices/{id}/posted"), &queue, &[]).await;
        assert_eq!(posted.location(), "/books/post");
        let queue = books.get("/books/post").await;
        assert!(!text(&queue.body).contains("2026-0101"), "{}", queue.body);
        let again = books.post_form(&format!("/books/invoices/{id}/posted"), &queue, &[]).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&again.body).contains("al op"), "{}", again.body);
        let log = server.store.access_log(&common::operator(), customer).await.unwrap();
        assert!(log.iter().any(|e| e.action == "invoice.posted"), "{log:?}");
        server.stop().await;
        db.finish().await;
    }
}

fn today() -> String {
    custodian_domain::model::format_date(time::OffsetDateTime::now_utc().date())
}

#[tokio::test]
async fn an_import_is_tried_then_made_and_a_bad_file_writes_nothing() {
    for db in databases().await {
        let server = start(&db, invoicing()).await;
        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let (customer, _) = server.customer(1).await;
        let csv = format!(
            "customer,number,issued_on,due_on,delivery,description,quantity,unit_price_cents,vat_rate\n\
             {customer},IMP-1,2026-11-01,2026-12-01,post,Domeinnaam,1,1000,21\n\
             {customer},IMP-2,2026-11-02,2026-12-02,email,Webhosting,1,2000,21\n"
        );
        let form = books.get("/books/import").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);

        let tried =
            books.post_file("/books/import", &form, &[("mode", "dry_run")], ("facturen.csv", csv.as_bytes())).await;
        assert_eq!(tried.status, StatusCode::OK, "{}", tried.body);
        assert!(text(&tried.body).contains("Proefdraaien: er is niets opgeslagen"), "{}", tried.body);
        assert!(server.store.read_invoices(&common::operator(), customer).await.unwrap().is_empty());

        let made =
            books.post_file("/books/import", &form, &[("mode", "import")], ("facturen.csv", csv.as_bytes())).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        assert!(text(&made.body).contains("Ingelezen: 2 nieuw"), "{}", made.body);
        assert_eq!(server.store.read_invoices(&common::operator(), customer).await.unwrap().len(), 2);

        // One bad line (an unknown customer): every line is checked, nothing is written.
        let bad = format!(
            "customer,number,issued_on,description,quantity,unit_price_cents,vat_rate\n\
             {customer},IMP-3,2026-11-03,Opslag,1,500,21\n\
             999999,IMP-4,2026-11-03,Opslag,1,500,21\n"
        );
        let refused = books.post_file("/books/import", &form, &[("mode", "import")], ("bad.csv", bad.as_bytes())).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(text(&refused.body).contains("er is niets opgeslagen"), "{}", refused.body);
        assert_eq!(server.store.read_invoices(&common::operator(), customer).await.unwrap().len(), 2);

        // Without the form token the upload is refused before anything is read.
        let forged = Client::new(&server.url);
        let no_token = forged.post_file("/books/import", &form, &[], ("facturen.csv", csv.as_bytes())).await;
        assert!(no_token.denied(), "{}", no_token.status);
        let other_name = books.post_file("/books/import", &form, &[], ("facturen.xlsx", b"x")).await;
        assert_eq!(other_name.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&other_name.body).contains(".csv, .jsonl of .ndjson"), "{}", other_name.body);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn invoices_as_pdf_and_ubl_for_the_books_and_the_customer() {
    for db in databases().await {
        let server = start(&db, invoicing()).await;
        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let (customer, portal) = server.customer(1).await;
        let (other, _) = server.customer(2).await;
        let id = invoice(&server, customer, "2026-0201", Delivery::Post).await;
        let others = invoice(&server, other, "2026-0202", Delivery::Post).await;

        let (status, kind, pdf) = books.get_bytes(&format!("/books/invoices/{id}/pdf")).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
        let shown = pdf_text(&pdf);
        for expected in ["2026-0201", "Bedrijf 1 B.V.", "12345678", "NL123456789B01", "NL91ABNA0417164300", "119,79"] {
            assert!(shown.contains(expected), "{expected} not in the PDF:\n{shown}");
        }
        let (status, kind, xml) = books.get_bytes(&format!("/books/invoices/{id}/ubl")).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/xml"));
        let xml = String::from_utf8(xml).unwrap();
        assert!(xml.contains("urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0"), "{xml}");
        assert!(xml.contains("119.79"), "{xml}");
        // The buyer's accounting matches it on their customer number with us.
        assert!(xml.contains(&format!("<cbc:BuyerReference>{customer}</cbc:BuyerReference>")), "{xml}");

        // The whole print queue as one file: both invoices, each on a sheet of its own.
        let (status, kind, run) = books.get_bytes("/books/post/print").await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
        let pages: Vec<String> = pdf_text(&run).split('\u{c}').map(str::to_string).collect();
        assert!(pages[0].contains("2026-0201") && pages[2].contains("2026-0202"), "{pages:?}");
        assert!(pages[1].trim().is_empty(), "a blank back after a one-page invoice: {pages:?}");

        // The customer sees the state and fetches the PDF of their own invoice only.
        let dashboard = portal.get("/portal").await;
        let shown = text(&dashboard.body);
        assert!(shown.contains("2026-0201"), "{shown}");
        assert!(shown.contains("open"), "{shown}");
        assert!(dashboard.body.contains(&format!("/portal/invoices/{id}/pdf")));
        let (status, kind, own) = portal.get_bytes(&format!("/portal/invoices/{id}/pdf")).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
        assert!(pdf_text(&own).contains("2026-0201"));
        let (status, _, _) = portal.get_bytes(&format!("/portal/invoices/{others}/pdf")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn without_the_company_details_no_invoice_document_is_made() {
    for db in databases().await {
        let server = start(&db, custodian_web::documents::Invoicing::default()).await;
        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let (customer, _) = server.customer(1).await;
        let id = invoice(&server, customer, "2026-0301", Delivery::Post).await;
        let page = books.get(&format!("/books/invoices/{id}/pdf")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&page.body).contains("[invoicing]"), "{}", page.body);
        server.stop().await;
        db.finish().await;
    }
}

/// Views customer `id` on the back-office page with `purpose`.
async fn customer_page(client: &Client, id: i64, purpose: &str) -> common::Page {
    let path = format!("/staff/customers/{id}");
    let form = client.get(&path).await;
    client.post_form(&path, &form, &[("purpose", purpose)]).await
}

#[tokio::test]
async fn the_customer_page_records_services_and_shows_invoices_to_the_books_only() {
    for db in databases().await {
        let server = start(&db, invoicing()).await;
        let staff = server.staff(Role::Staff, "piet@hoster.nl").await;
        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let (customer, _) = server.customer(1).await;
        invoice(&server, customer, "2026-0401", Delivery::Post).await;
        let target = custodian_store::registry::Target { registry: "sidn", passthrough: false };
        let contact = custodian_testkit::contact("KLANT1-NL");
        server.store.create_handle(&common::operator(), customer, target, &contact).await.unwrap();

        let page = customer_page(&staff, customer, "support").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let shown = text(&page.body);
        assert!(shown.contains("Diensten Geen diensten."), "{shown}");
        // The handle with its registry and state; the holder's details are on its own page.
        assert!(shown.contains("Domeincontacten Contact-ID Registry Stand Gebruikt door KLANT1-NL sidn"), "{shown}");
        assert!(!shown.contains("Piet Kievit"), "no holder data on the customer page: {shown}");
        assert!(!shown.contains("2026-0401"), "staff never see invoices (A4): {shown}");

        // A service without a kind is refused, with the reason, and nothing is recorded.
        let path = format!("/staff/customers/{customer}/services");
        let refused = staff
            .post_form(&path, &page, &[("purpose", "support"), ("description", "Pakket M"), ("started_on", &today())])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
        let operator = common::operator();
        assert!(server.store.read_services(&operator, customer).await.unwrap().is_empty());

        let added = staff
            .post_form(
                &path,
                &page,
                &[
                    ("purpose", "support"),
                    ("kind", "hosting"),
                    ("description", "Webhosting Pro"),
                    ("started_on", "2026-11-01"),
                ],
            )
            .await;
        let shown = text(&added.body);
        assert!(shown.contains("Dienst vastgelegd: webhosting Webhosting Pro"), "{shown}");
        assert!(shown.contains("webhosting Webhosting Pro actief 2026-11-01"), "{shown}");
        let services = server.store.read_services(&operator, customer).await.unwrap();
        assert_eq!((services.len(), services[0].kind.as_str()), (1, "hosting"));
        assert!(!services[0].for_third_party);

        // A server the customer has us manage for someone else (M1).
        let fields = [
            ("purpose", "support"),
            ("kind", "managed_server"),
            ("description", "Server webshop De Vries"),
            ("started_on", "2026-11-02"),
            ("for_third_party", "yes"),
        ];
        let managed = staff.post_form(&path, &page, &fields).await;
        let shown = text(&managed.body);
        assert!(shown.contains("(voor een derde) Server webshop De Vries"), "{shown}");
        let services = server.store.read_services(&operator, customer).await.unwrap();
        assert!(services[1].for_third_party, "{services:?}");

        // The bookkeeper sees the customer's invoices, linked to the books.
        let page = customer_page(&books, customer, "billing").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(text(&page.body).contains("Facturen Nummer Datum Totaal Stand 2026-0401"), "{}", page.body);
        assert!(page.body.contains("href=\"/books/invoices/"), "{}", page.body);
        server.stop().await;
        db.finish().await;
    }
}
