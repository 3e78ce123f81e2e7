//! Invoices by e-mail (A12: "by post, or by e-mail on request under the same
//! conditions"). An invoice whose delivery is e-mail waits here until it is
//! handed to the outbox, once, or moved to the print queue when e-mail may
//! not carry it: no consent or no address (A9), or a private person, whose
//! invoice identifies them and so does not travel by e-mail (A10).
//!
//! Delivering is its own permission (invoices, export): the owner, the
//! bookkeeper and the delivery job hold it. The caller decides with
//! [`Store::invoice_recipient`] and renders the text
//! and the PDF (it has the templates and the company's details); the hand-over
//! itself is atomic here: the outbox message and the invoice's mark are
//! written in one transaction, and only while the invoice still waits, so
//! two instances never send it twice.

use custodian_domain::Lang;
use custodian_domain::inventory::Field;
use custodian_domain::model::CustomerKind;
use custodian_domain::policy::{Action, Resource};
use custodian_domain::validate::Email;

use super::{Detail, HEADER_COLUMNS, InvoiceRecord, Scope, TABLE, header};
use crate::audit::{Access, Event};
use crate::outbox::NewMessage;
use crate::{Store, StoreError, permit, records};

/// The customer fields deciding how an invoice goes out needs.
const RECIPIENT_FIELDS: [&str; 4] = ["email", "email_consent", "contact_name", "language"];

/// The invoices waiting for e-mail: delivery e-mail, not yet handed over.
const WAITING: &str = "delivery = 'email' AND emailed_at IS NULL";

/// What deciding how an invoice goes out needs to know about its customer.
#[derive(Debug, Clone)]
pub struct InvoiceRecipient {
    pub kind: CustomerKind,
    /// The customer's e-mail address, when there is a valid one.
    pub email: Option<Email>,
    /// The customer agreed to e-mail (A9).
    pub consent: bool,
    pub name: Option<String>,
    pub lang: Lang,
    /// The customer can sign in to the portal (an activated account that is
    /// not disabled): where a private person finds their invoice (A10).
    pub portal: bool,
}

/// Why an invoice that was to go by e-mail goes by post instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotByEmail {
    /// The customer did not agree to e-mail, or has no address (A9).
    NoConsent,
    /// A private person's invoice identifies them: not by e-mail (A10).
    PrivatePerson,
    /// Its document cannot be made from what the invoice holds (a billing
    /// address without a street, say): people must look at it.
    NoDocument,
    /// The customer was erased since: their e-mail address is gone, the
    /// invoice's own billing address is kept (A6).
    CustomerErased,
}

impl NotByEmail {
    /// The audit action that records the move, naming the reason.
    fn action(self) -> &'static str {
        match self {
            NotByEmail::NoConsent => "invoice.to_post.no_consent",
            NotByEmail::PrivatePerson => "invoice.to_post.private_person",
            NotByEmail::NoDocument => "invoice.to_post.no_document",
            NotByEmail::CustomerErased => "invoice.to_post.customer_erased",
        }
    }
}

impl Store {
    /// Invoices and credit notes waiting to be handed to the outbox, in the
    /// order they were made, after invoice `after` (0: from the first), at
    /// most `limit`: headers only, nothing decrypted.
    pub async fn invoices_to_email(
        &self,
        access: &Access,
        after: i64,
        limit: i64,
    ) -> Result<Vec<InvoiceRecord>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Export)?;
        let sql = format!("SELECT {HEADER_COLUMNS} FROM invoices WHERE {WAITING} AND id > $1 ORDER BY id LIMIT $2");
        let today = time::OffsetDateTime::now_utc().date();
        let rows = sqlx::query(&sql).bind(after).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| header(r, today)).collect()
    }

    /// Invoice `id` in full as its documents show it: every billing field,
    /// for the PDF that is sent. Audited; `None` when there is no such invoice.
    pub async fn invoice_for_delivery(&self, access: &Access, id: i64) -> Result<Option<InvoiceRecord>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Export)?;
        let mut reader = self.reader().await?;
        let invoice = self.invoices_in(&mut reader, Scope::One(id), access.actor.principal(), Detail::Document).await?;
        drop(reader);
        let Some(invoice) = invoice.into_iter().next() else { return Ok(None) };
        let fields = records::columns(TABLE).into_iter().chain(["description"]);
        let mut event = Event::new(access, "invoice.read", "customer", invoice.customer_id).fields(fields);
        self.keys.seal_source(&mut event, None);
        self.record(event).await?;
        Ok(Some(invoice))
    }

    /// How to reach the customer an invoice goes to, reading (and auditing)
    /// only the fields that decide it.
    pub async fn invoice_recipient(&self, access: &Access, customer_id: i64) -> Result<InvoiceRecipient, StoreError> {
        permit::require(access, Resource::Invoices, Action::Export)?;
        permit::require_record(access, customer_id, "customers")?;
        let who = access.actor.principal();
        let readable = move |f: &Field| RECIPIENT_FIELDS.contains(&f.column) && f.allows(who, Action::Read);
        let (head, row) = self.load_customer_row(&self.pool, customer_id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&self.pool, key_id).await?;
        let fields = records::open(&key, "customers", key_id, &row, readable)?;
        let mut event = Event::new(access, "customer.read", "customer", customer_id).fields(fields.keys());
        self.keys.seal_source(&mut event, Some(&key));
        self.record(event).await?;
        let portal: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE customer_id = $1 AND role = 'customer'
             AND password_hash IS NOT NULL AND disabled_at IS NULL",
        )
        .bind(customer_id)
        .fetch_one(&self.pool)
        .await?;
        let field = |name: &str| fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        Ok(InvoiceRecipient {
            kind: head.kind,
            email: field("email").and_then(|e| Email::parse(e).ok()),
            consent: field("email_consent") == Some("yes"),
            name: field("contact_name").map(str::to_string),
            lang: field("language").and_then(Lang::parse).unwrap_or_default(),
            portal: portal > 0,
        })
    }

    /// Hands invoice `id` to the outbox as `message` and marks it e-mailed,
    /// together. `Ok(None)` when it no longer waits (handed over by another
    /// instance, or moved to the print queue): then nothing is written.
    pub async fn queue_invoice_email(
        &self,
        access: &Access,
        id: i64,
        message: NewMessage,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        permit::require(access, Resource::Invoices, Action::Export)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let sql = format!("UPDATE invoices SET emailed_at = $1 WHERE id = $2 AND {WAITING} RETURNING customer_id");
        let taken: Option<i64> = sqlx::query_scalar(&sql).bind(now).bind(id).fetch_optional(&mut *tx).await?;
        let Some(customer_id) = taken else {
            return Ok(None);
        };
        if message.customer_id != Some(customer_id) {
            return Err(StoreError::Config("an invoice's e-mail is about the invoice's customer".into()));
        }
        let outbox_id = self.outbox().enqueue_in(&mut tx, access, message, now).await?;
        let mut event = Event::new(access, "invoice.emailed", "customer", customer_id).fields(["emailed_at"]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(Some(outbox_id))
    }

    /// Moves invoice `id` from e-mail to the print queue, the reason in the
    /// trail. False when it no longer waited for e-mail.
    pub async fn invoice_to_post(&self, access: &Access, id: i64, why: NotByEmail) -> Result<bool, StoreError> {
        permit::require(access, Resource::Invoices, Action::Export)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let sql = format!("UPDATE invoices SET delivery = 'post' WHERE id = $1 AND {WAITING} RETURNING customer_id");
        let taken: Option<i64> = sqlx::query_scalar(&sql).bind(id).fetch_optional(&mut *tx).await?;
        let Some(customer_id) = taken else {
            return Ok(false);
        };
        let mut event = Event::new(access, why.action(), "customer", customer_id).fields(["delivery"]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(true)
    }
}
