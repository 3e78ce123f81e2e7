//! Messages of custodian: e-mail and SMS through a persisted outbox.
//!
//! * [`Notifier`] renders a message kind ([`EmailMessage`], [`SmsMessage`]: the
//!   closed set of texts, in Dutch and English) and queues it in the store's
//!   outbox, where recipient and text are sealed under the system key.
//! * [`Worker`] drains the outbox: claims due messages under a lease, sends them
//!   with the [`Mailer`] (SMTP over TLS, A9) or an [`SmsGateway`] (CM.com or a
//!   webhook), and marks them sent, retries with exponential backoff, or gives
//!   them up. Finished messages lose their content; the status stays.
//!
//! Privacy rules carried here: e-mail only with an [`EmailConsent`] (A9);
//! messages hold nothing about a person beyond their name and link to the portal
//! (A10); login name by e-mail, activation code by SMS (A11); no address, number,
//! name or text in a log line or a stored error.
#![forbid(unsafe_code)]

mod clock;
mod http;
pub mod mail;
pub mod messages;
mod notifier;
mod scrub;
pub mod sms;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use custodian_store::outbox::{
    Attachment, AttachmentType, Channel, ConsentExemption, EmailConsent, MessageState, MessageStatus, OutboxCounts,
};
pub use mail::{Mailer, OutgoingEmail, SmtpConfig, SmtpSecurity};
pub use messages::{ActivationCode, Branding, EmailMessage, LoginName, NoticeTopic, PersonName, ResetLink, SmsMessage};
pub use notifier::Notifier;
pub use sms::{CmConfig, CmSender, OutgoingSms, SmsConfig, SmsGateway, WebhookConfig, WebhookSender};
pub use worker::{RunReport, Worker, WorkerConfig};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] custodian_store::StoreError),
}

/// A failed send: whether trying again is pointless, and what the server or
/// provider said, scrubbed of addresses and numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub permanent: bool,
    pub detail: String,
}

impl SendError {
    pub fn transient(detail: impl Into<String>) -> SendError {
        SendError { permanent: false, detail: detail.into() }
    }

    pub fn permanent(detail: impl Into<String>) -> SendError {
        SendError { permanent: true, detail: detail.into() }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}
