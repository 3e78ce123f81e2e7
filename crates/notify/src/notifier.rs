//! Queueing messages: renders a message kind and puts it in the outbox.

use std::sync::Arc;

use custodian_domain::Lang;
use custodian_domain::validate::{Email, Phone};
use custodian_store::outbox::{Attachment, EmailConsent, NewMessage, OutboxCounts, Outgoing};
use custodian_store::{Access, Store};

use crate::NotifyError;
use crate::clock::Clock;
use crate::messages::{Branding, EmailMessage, SmsMessage};

/// Queues messages. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    branding: Arc<Branding>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("company", &self.branding.company).finish_non_exhaustive()
    }
}

impl Notifier {
    pub fn new(store: Store, branding: Branding, clock: Arc<dyn Clock>) -> Result<Notifier, NotifyError> {
        branding.validate()?;
        Ok(Notifier { store, branding: Arc::new(branding), clock })
    }

    /// Queues an e-mail and returns its outbox ID. `consent` says why this
    /// address may be mailed (A9): the caller checked the customer's recorded
    /// consent, or names the exemption. `customer_id` is the customer the
    /// message is about, if any.
    pub async fn email(
        &self,
        access: &Access,
        to: &Email,
        consent: EmailConsent,
        customer_id: Option<i64>,
        lang: Lang,
        message: &EmailMessage,
    ) -> Result<i64, NotifyError> {
        let new = self.email_message(to, consent, customer_id, lang, message, None);
        let id = self.store.outbox().enqueue(access, new, self.clock.now_micros()).await?;
        tracing::info!(outbox_id = id, kind = message.kind(), channel = "email", "message queued");
        Ok(id)
    }

    /// An e-mail rendered as the outbox takes it, for a caller that queues it
    /// in the same transaction as the change it reports (an invoice marked as
    /// sent by e-mail).
    pub fn email_message(
        &self,
        to: &Email,
        consent: EmailConsent,
        customer_id: Option<i64>,
        lang: Lang,
        message: &EmailMessage,
        attachment: Option<Attachment>,
    ) -> NewMessage {
        let rendered = message.render(lang, &self.branding);
        NewMessage {
            kind: message.kind(),
            customer_id,
            content: Outgoing::Email {
                to: to.clone(),
                consent,
                subject: rendered.subject,
                text: rendered.text,
                attachment,
            },
        }
    }

    /// The time the outbox would stamp a message with now.
    pub fn now_micros(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Queues a text message and returns its outbox ID.
    pub async fn sms(
        &self,
        access: &Access,
        to: &Phone,
        customer_id: Option<i64>,
        lang: Lang,
        message: &SmsMessage,
    ) -> Result<i64, NotifyError> {
        let new = NewMessage {
            kind: message.kind(),
            customer_id,
            content: Outgoing::Sms { to: to.clone(), text: message.render(lang, &self.branding) },
        };
        let id = self.store.outbox().enqueue(access, new, self.clock.now_micros()).await?;
        tracing::info!(outbox_id = id, kind = message.kind(), channel = "sms", "message queued");
        Ok(id)
    }

    /// Message counts by state, for monitoring.
    pub async fn counts(&self) -> Result<OutboxCounts, NotifyError> {
        Ok(self.store.outbox().counts().await?)
    }
}
