//! Invoices out by e-mail (A12: by post, or by e-mail on request under the
//! same conditions). Each invoice whose delivery is e-mail goes one way:
//!
//! - a business customer who agreed to e-mail (A9): the invoice's PDF
//!   attached, through the outbox (TLS-only SMTP);
//! - a private person, whose invoice identifies them (A10): a notice that it
//!   is in the portal, when they can sign in there; otherwise by post;
//! - no consent or no address, or a customer erased since: by post, into
//!   the print queue.
//!
//! Runs in [`crate::serve`] when e-mail is configured: woken right after
//! invoices come in through a page or the API, and every minute for those
//! from the command line. The store makes each hand-over atomic and once-only,
//! so several instances may run it.

use std::sync::Arc;
use std::time::Duration;

use custodian_domain::model::{CustomerKind, parse_date};
use custodian_notify::{Attachment, AttachmentType, EmailConsent, EmailMessage, NoticeTopic, Notifier, PersonName};
use custodian_store::{Access, AccessPurpose, Actor, InvoiceRecord, NotByEmail, Store, StoreError};
use tokio::sync::Notify;
use zeroize::Zeroizing;

use custodian_document::Party;

use crate::WebConfig;
use crate::documents;

/// How often the queue is looked at without being woken.
const PERIOD: Duration = Duration::from_secs(60);
/// Invoices read per query.
const BATCH: i64 = 50;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// PDFs queued for business customers.
    pub emailed: usize,
    /// Portal notices queued for private persons.
    pub noticed: usize,
    /// Moved to the print queue.
    pub to_post: usize,
    /// Left waiting: no PDF can be made while the company's invoicing
    /// details (`[invoicing]`) are incomplete.
    pub waiting: usize,
}

fn access() -> Access {
    Access::new(Actor::job("invoice-delivery"), AccessPurpose::Billing)
}

/// Wakes the delivery loop; cheap, and harmless when none runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wake(Arc<Notify>);

impl Wake {
    pub(crate) fn now(&self) {
        self.0.notify_one();
    }
}

/// Runs passes until `stopped` resolves: after each wake, and every minute.
pub(crate) async fn run(
    store: Store,
    notifier: Notifier,
    config: WebConfig,
    wake: Wake,
    stopped: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stopped);
    loop {
        match deliver(&store, &notifier, &config).await {
            Ok(d) if d != Delivered::default() => tracing::info!(
                emailed = d.emailed,
                portal_notices = d.noticed,
                to_post = d.to_post,
                waiting = d.waiting,
                "invoice delivery"
            ),
            Ok(_) => {}
            // Store errors name records by number only.
            Err(e) => tracing::warn!(error = %e, "invoice delivery: will try again"),
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = wake.0.notified() => {}
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
}

/// One pass over every invoice waiting for e-mail.
pub async fn deliver(store: &Store, notifier: &Notifier, config: &WebConfig) -> Result<Delivered, StoreError> {
    let access = access();
    let mut done = Delivered::default();
    let seller = documents::seller(&config.company, &config.contact, &config.invoicing);
    let incomplete = seller.missing();
    let mut after = 0;
    loop {
        let batch = store.invoices_to_email(&access, after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for header in &batch {
            // Nothing is read while no PDF can be made: once the owner
            // completes `[invoicing]`, the next pass sends them.
            match incomplete {
                Some(_) => done.waiting += 1,
                None => one(store, notifier, &seller, &access, header, &mut done).await?,
            }
        }
    }
    if let (Some(field), true) = (incomplete, done.waiting > 0) {
        tracing::warn!(waiting = done.waiting, missing = %field, "invoices wait for e-mail: [invoicing] is incomplete");
    }
    Ok(done)
}

async fn one(
    store: &Store,
    notifier: &Notifier,
    seller: &Party,
    access: &Access,
    header: &InvoiceRecord,
    done: &mut Delivered,
) -> Result<(), StoreError> {
    let to = match store.invoice_recipient(access, header.customer_id).await {
        Ok(to) => to,
        Err(StoreError::Erased(_)) => {
            done.to_post += usize::from(store.invoice_to_post(access, header.id, NotByEmail::CustomerErased).await?);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let email = match (&to.email, to.consent) {
        (Some(email), true) => email,
        _ => {
            done.to_post += usize::from(store.invoice_to_post(access, header.id, NotByEmail::NoConsent).await?);
            return Ok(());
        }
    };
    let name = to.name.as_deref().and_then(|n| PersonName::parse(n).ok());
    let customer = Some(header.customer_id);
    let (message, attachment) = match to.kind {
        CustomerKind::Private if !to.portal => {
            done.to_post += usize::from(store.invoice_to_post(access, header.id, NotByEmail::PrivatePerson).await?);
            return Ok(());
        }
        CustomerKind::Private => (EmailMessage::PortalNotice { name, topic: NoticeTopic::Invoice }, None),
        CustomerKind::Business => {
            let Some(record) = store.invoice_for_delivery(access, header.id).await? else { return Ok(()) };
            let pdf = documents::invoice(&record, seller.clone(), to.lang).map(|d| custodian_document::pdf(&d));
            let (Some(Ok(pdf)), Ok(due_on)) = (pdf, parse_date(&record.due_on)) else {
                let moved = store.invoice_to_post(access, header.id, NotByEmail::NoDocument).await?;
                done.to_post += usize::from(moved);
                return Ok(());
            };
            let message = EmailMessage::Invoice {
                name,
                number: record.number.clone(),
                total_cents: record.total_cents,
                due_on,
                credit_note: record.credit_for.is_some(),
            };
            let file = Attachment {
                name: documents::file_name(&record.number, "pdf"),
                content_type: AttachmentType::Pdf,
                bytes: Zeroizing::new(pdf),
            };
            (message, Some(file))
        }
    };
    let private = attachment.is_none();
    let new = notifier.email_message(email, EmailConsent::Given, customer, to.lang, &message, attachment);
    if store.queue_invoice_email(access, header.id, new, notifier.now_micros()).await?.is_some() {
        if private {
            done.noticed += 1;
        } else {
            done.emailed += 1;
        }
    }
    Ok(())
}
