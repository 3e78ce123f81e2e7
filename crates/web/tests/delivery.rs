//! Invoices that go by e-mail (A12), delivered as `custodian serve` delivers
//! them: the bookkeeper imports four invoices marked for e-mail, and each
//! goes its own way, decided from the customer and the rules:
//!
//! - a business customer who agreed to e-mail gets one message, over TLS,
//!   addressed to them alone, with the invoice's PDF attached (A9);
//! - a business customer who did not agree: the invoice joins the print queue;
//! - a private person, whose invoice identifies them (A10): a notice that it
//!   is in the portal when they can sign in there, with nothing of the
//!   invoice in it; otherwise the print queue;
//! - every move is in the trail, and a second pass sends nothing again;
//! - while the company's invoicing details are incomplete nothing is read and
//!   everything waits; an erased customer's invoice goes by post.

mod common;

use common::{Server, pdf_text};
use custodian_domain::inventory::Role;
use custodian_domain::model::{CustomerData, CustomerKind, Fields};
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use custodian_testkit::doubles::{Received, SmtpMode, decode_base64};
use reqwest::StatusCode;

fn customer(n: u64, kind: CustomerKind, consent: bool) -> CustomerData {
    let mut fields: Fields = custodian_testkit::customer_fields(n);
    fields.insert("email_consent".into(), if consent { "yes" } else { "no" }.into());
    if kind == CustomerKind::Private {
        fields.remove("company_name");
        fields.remove("kvk");
    }
    CustomerData::from_fields(kind, &fields).unwrap()
}

/// The attachments of a `multipart/mixed` message: (headers, decoded body).
fn attachments(mail: &Received) -> Vec<(String, Vec<u8>)> {
    let content_type = mail.header("Content-Type").unwrap_or_default();
    let Some(boundary) = content_type.split("boundary=").nth(1) else { return vec![] };
    let boundary = boundary.trim_matches('"');
    mail.data
        .split(&format!("--{boundary}"))
        .filter_map(|part| part.split_once("\r\n\r\n"))
        .filter(|(head, _)| head.to_ascii_lowercase().contains("content-disposition: attachment"))
        .map(|(head, body)| (head.to_string(), decode_base64(&body.replace("\r\n", ""))))
        .collect()
}

#[tokio::test]
async fn invoices_go_by_email_only_where_the_rules_allow() {
    for db in databases().await {
        let engine = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::OffersStartTls).await;
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let create = |n, kind, consent| {
            let store = server.store.clone();
            let owner = owner.clone();
            async move { store.create_customer(&owner, &customer(n, kind, consent), false).await.unwrap() }
        };
        let agreed = create(1, CustomerKind::Business, true).await;
        let declined = create(2, CustomerKind::Business, false).await;
        let private = create(3, CustomerKind::Private, true).await;
        let (in_portal, _) = server.customer_with(&customer(4, CustomerKind::Private, true)).await;
        // Activating the account told its holder so (an account notice).
        let earlier = outside.smtp.wait_for(1).await.len();

        let books = server.staff(Role::Bookkeeper, "boekhouding@telder.nl").await;
        let csv = format!(
            "customer,number,issued_on,due_on,delivery,description,quantity,unit_price_cents,vat_rate\n\
             {agreed},MAIL-1,2026-11-01,2026-12-01,email,Webhosting Pro,2,4950,21\n\
             {declined},MAIL-2,2026-11-01,2026-12-01,email,Webhosting,1,2000,21\n\
             {private},MAIL-3,2026-11-01,2026-12-01,email,Domeinnaam,1,1000,21\n\
             {in_portal},MAIL-4,2026-11-01,2026-12-01,email,Domeinnaam,1,1000,21\n"
        );
        let form = books.get("/books/import").await;
        let made =
            books.post_file("/books/import", &form, &[("mode", "import")], ("facturen.csv", csv.as_bytes())).await;
        assert_eq!(made.status, StatusCode::OK, "{engine}: {}", made.body);

        // Two messages: the PDF to the business customer who agreed, the
        // portal notice to the private person who can sign in.
        let mut mails: Vec<Received> = outside.smtp.wait_for(earlier + 2).await.into_iter().skip(earlier).collect();
        mails.sort_by_key(|m| m.rcpt_to.clone());
        let [pdf_mail, notice] = &mails[..] else { panic!("{engine}: {mails:?}") };
        assert_eq!(pdf_mail.rcpt_to, ["klant1@voorbeeld.nl"], "{engine}: to the customer alone");
        assert_eq!(notice.rcpt_to, ["klant4@voorbeeld.nl"], "{engine}");
        for mail in &mails {
            assert!(mail.tls, "{engine}: over TLS (A9)");
            assert!(mail.header("Cc").is_none() && mail.header("Bcc").is_none(), "{engine}: {}", mail.data);
        }
        let subject = pdf_mail.header("Subject").unwrap_or_default();
        assert!(subject.contains("MAIL-1"), "{engine}: the subject names the invoice: {subject}");
        let files = attachments(pdf_mail);
        assert_eq!(files.len(), 1, "{engine}: one attachment: {}", pdf_mail.data);
        let (head, pdf) = &files[0];
        assert!(head.contains("application/pdf") && head.contains("MAIL-1.pdf"), "{engine}: {head}");
        assert!(pdf.starts_with(b"%PDF-"), "{engine}: a PDF");
        // 2 × 49.50 = 99.00 net, 21% VAT 20.79, total 119.79.
        let text = pdf_text(pdf);
        for expected in ["MAIL-1", "Bedrijf 1 B.V.", "Webhosting Pro", "119,79", "NL91ABNA0417164300"] {
            assert!(text.contains(expected), "{engine}: the PDF lacks {expected:?}:\n{text}");
        }
        assert!(attachments(notice).is_empty(), "{engine}: a private person's invoice is not e-mailed (A10)");
        let said = notice.text();
        assert!(said.contains("nieuwe factuur") && !said.contains("MAIL-4"), "{engine}: {said}");

        // The other two wait to be printed and posted.
        let queue = server.store.print_queue(&common::operator()).await.unwrap();
        let numbers: Vec<&str> = queue.iter().map(|i| i.number.as_str()).collect();
        assert_eq!(numbers, ["MAIL-2", "MAIL-3"], "{engine}");
        let page = books.get("/books/post").await;
        assert!(page.body.contains("MAIL-2") && page.body.contains("MAIL-3"), "{engine}: {}", page.body);

        // The trail says what happened to each, and why.
        let trail = |id| {
            let store = server.store.clone();
            async move {
                let log = store.access_log(&common::operator(), id).await.unwrap();
                log.into_iter().map(|e| e.action).collect::<Vec<String>>()
            }
        };
        assert!(trail(agreed).await.contains(&"invoice.emailed".to_string()), "{engine}");
        assert!(trail(declined).await.contains(&"invoice.to_post.no_consent".to_string()), "{engine}");
        assert!(trail(private).await.contains(&"invoice.to_post.private_person".to_string()), "{engine}");
        assert!(trail(in_portal).await.contains(&"invoice.emailed".to_string()), "{engine}");

        // Once only: another pass finds nothing waiting.
        let notifier = custodian_notify::Notifier::new(
            server.store.clone(),
            custodian_notify::Branding { company: common::COMPANY.into(), portal_url: server.url.clone() },
            std::sync::Arc::new(custodian_notify::SystemClock),
        )
        .unwrap();
        let config = custodian_web::WebConfig { invoicing: common::invoicing(), ..Default::default() };
        let again = custodian_web::delivery::deliver(&server.store, &notifier, &config).await.unwrap();
        assert_eq!(again, custodian_web::delivery::Delivered::default(), "{engine}");
        let sent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind IN ('invoice', 'portal_notice.invoice')")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        assert_eq!(sent, 2, "{engine}");
        // The worker marks a message sent right after the server took it.
        let mut wiped = 0;
        for _ in 0..100 {
            wiped = sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE kind IN ('invoice', 'portal_notice.invoice') AND status = 'sent'
                 AND attachment IS NULL AND attachment_name IS NULL",
            )
            .fetch_one(server.store.pool())
            .await
            .unwrap();
            if wiped == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(wiped, 2, "{engine}: sent messages keep no attachment");
        server.stop().await;
        db.finish().await;
    }
}

/// Invoice WAIT-1 of one VPS, to go by e-mail.
fn new_invoice(today: time::Date) -> custodian_store::NewInvoice {
    custodian_store::NewInvoice {
        number: "WAIT-1".into(),
        issued_on: today,
        due_on: today,
        delivery: custodian_domain::model::Delivery::Email,
        lines: vec![custodian_domain::model::InvoiceLine::parse("VPS;1;1500;21").unwrap()],
    }
}

#[tokio::test]
async fn invoices_wait_for_the_company_details_and_an_erased_customers_goes_by_post() {
    for db in databases().await {
        let engine = db.name();
        let store = db.store().await;
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let id = store.create_customer(&owner, &customer(1, CustomerKind::Business, true), false).await.unwrap();
        let today = time::OffsetDateTime::now_utc().date();
        let new = new_invoice(today);
        store.add_invoice(&Access::new(Actor::operator(), AccessPurpose::Billing), id, new).await.unwrap();
        let entries = |store: custodian_store::Store| async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap();
            n
        };
        let before = entries(store.clone()).await;
        let notifier = custodian_notify::Notifier::new(
            store.clone(),
            custodian_notify::Branding {
                company: common::COMPANY.into(),
                portal_url: "https://portaal.example".into(),
            },
            std::sync::Arc::new(custodian_notify::SystemClock),
        )
        .unwrap();
        // No [invoicing]: no KVK, BTW or IBAN to put on the invoice.
        let config = custodian_web::WebConfig::default();
        let pass = custodian_web::delivery::deliver(&store, &notifier, &config).await.unwrap();
        assert_eq!(pass, custodian_web::delivery::Delivered { waiting: 1, ..Default::default() }, "{engine}");
        assert_eq!(entries(store.clone()).await, before, "{engine}: nothing was read");

        let config = custodian_web::WebConfig { invoicing: common::invoicing(), ..Default::default() };
        let pass = custodian_web::delivery::deliver(&store, &notifier, &config).await.unwrap();
        assert_eq!(pass, custodian_web::delivery::Delivered { emailed: 1, ..Default::default() }, "{engine}");

        // A customer erased while their invoice waited: the invoice keeps its
        // billing address (A6) and goes by post; the queue is not stuck on it.
        let gone = store.create_customer(&owner, &customer(2, CustomerKind::Business, true), false).await.unwrap();
        let mut late = custodian_store::NewInvoice { number: "WAIT-2".into(), ..new_invoice(today) };
        late.delivery = custodian_domain::model::Delivery::Email;
        store.add_invoice(&Access::new(Actor::operator(), AccessPurpose::Billing), gone, late).await.unwrap();
        store.erase_customer(&owner, gone, custodian_store::ErasureReason::CustomerRequest).await.unwrap();
        let pass = custodian_web::delivery::deliver(&store, &notifier, &config).await.unwrap();
        assert_eq!(pass, custodian_web::delivery::Delivered { to_post: 1, ..Default::default() }, "{engine}");
        let queue = store.print_queue(&common::operator()).await.unwrap();
        assert_eq!(queue.iter().map(|i| i.number.as_str()).collect::<Vec<_>>(), ["WAIT-2"], "{engine}");
        store.close().await;
        db.finish().await;
    }
}
