//! E-mail over SMTP with TLS (A9), through lettre on rustls.
//!
//! TLS is required: implicit TLS (port 465, RFC 8314) or STARTTLS that must
//! succeed (port 587); a server that does not offer STARTTLS gets nothing. Only
//! with `allow_plaintext_for_development` does STARTTLS become optional and the
//! `plaintext` mode become possible, and then a warning is logged at start-up.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use custodian_store::outbox::Attachment;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::scrub::scrub;
use crate::{NotifyError, SendError};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465). The default.
    #[default]
    ImplicitTls,
    /// Plain connection upgraded with STARTTLS (port 587); refused when the
    /// server does not offer it.
    StartTls,
    /// No TLS at all: only with `allow_plaintext_for_development`.
    Plaintext,
}

/// The `[smtp]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server (relay) host name; also the name its certificate must carry.
    pub host: String,
    /// The port; by default 465 for `implicit_tls`, 587 for `start_tls`, 25 for `plaintext`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `implicit_tls` (default), `start_tls` or `plaintext`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Development only: lets `start_tls` fall back to plaintext when the server
    /// offers no STARTTLS, and permits `plaintext`. Default false. Logs a warning.
    #[serde(default)]
    pub allow_plaintext_for_development: bool,
    /// A PEM file with CA certificates to trust in addition to the Mozilla roots
    /// (a private relay, tests). Default none.
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
    /// Login for the server (AUTH PLAIN or LOGIN). Default none (no login).
    #[serde(default)]
    pub username: Option<String>,
    /// Password for `username`; never shown by `Debug`.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
    /// An optional Reply-To, same form as `from`.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Seconds one SMTP conversation may take. Default 30.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// The name given in EHLO. Default: this machine's host name.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// The domain in Message-IDs. Default: the domain of `from`.
    #[serde(default)]
    pub message_id_domain: Option<String>,
}

fn default_timeout_secs() -> u64 {
    30
}

impl SmtpConfig {
    /// A configuration with the defaults for everything but host and sender.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port: None,
            security: SmtpSecurity::default(),
            allow_plaintext_for_development: false,
            extra_ca_file: None,
            username: None,
            password: None,
            from: from.into(),
            reply_to: None,
            timeout_secs: default_timeout_secs(),
            hello_name: None,
            message_id_domain: None,
        }
    }
}

/// One e-mail to send.
pub struct OutgoingEmail<'a> {
    /// The full Message-ID header value, with angle brackets ([`Mailer::message_id`]).
    pub message_id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// Sent as the second part of a `multipart/mixed` message.
    pub attachment: Option<&'a Attachment>,
}

/// Sends e-mail through the configured SMTP server. Opens one connection per
/// message; the volume is small and no idle connection is kept.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    id_domain: String,
    timeout: Duration,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

fn config_err(msg: impl Into<String>) -> NotifyError {
    NotifyError::Config(format!("smtp: {}", msg.into()))
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Result<Mailer, NotifyError> {
        let host = config.host.trim();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(config_err("host is required"));
        }
        let from: Mailbox = config.from.parse().map_err(|e| config_err(format!("from: {e}")))?;
        let reply_to = match &config.reply_to {
            Some(r) => Some(r.parse::<Mailbox>().map_err(|e| config_err(format!("reply_to: {e}")))?),
            None => None,
        };
        let id_domain = config.message_id_domain.clone().unwrap_or_else(|| from.email.domain().to_string());
        if id_domain.is_empty() || !id_domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
            return Err(config_err("message_id_domain: a domain name in ASCII"));
        }
        if config.timeout_secs == 0 {
            return Err(config_err("timeout_secs must be at least 1"));
        }
        let timeout = Duration::from_secs(config.timeout_secs);
        let params = || -> Result<TlsParameters, NotifyError> {
            let mut b = TlsParameters::builder(host.to_string());
            if let Some(path) = &config.extra_ca_file {
                crate::http::extra_ca(path)?;
                let pem =
                    std::fs::read(path).map_err(|e| config_err(format!("extra_ca_file {}: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| config_err(format!("extra_ca_file {}: {e}", path.display())))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| config_err(format!("TLS: {e}")))
        };
        let dev = config.allow_plaintext_for_development;
        let (tls, default_port) = match config.security {
            SmtpSecurity::ImplicitTls => (Tls::Wrapper(params()?), 465),
            SmtpSecurity::StartTls if dev => (Tls::Opportunistic(params()?), 587),
            SmtpSecurity::StartTls => (Tls::Required(params()?), 587),
            SmtpSecurity::Plaintext if dev => (Tls::None, 25),
            SmtpSecurity::Plaintext => {
                return Err(config_err(
                    "security = \"plaintext\" is refused: e-mail must travel over TLS (A9). Only a development machine may set allow_plaintext_for_development",
                ));
            }
        };
        if dev && config.security != SmtpSecurity::ImplicitTls {
            tracing::warn!(
                "!!! SMTP PLAINTEXT ALLOWED: allow_plaintext_for_development is on, so e-mail (with personal data and credentials) may cross the network UNENCRYPTED. Never use this setting in production. !!!"
            );
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.port.unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        match (&config.username, &config.password) {
            (Some(u), Some(p)) => {
                builder = builder.credentials(Credentials::new(u.clone(), p.expose_secret().to_string()))
            }
            (None, None) => {}
            _ => return Err(config_err("username and password go together")),
        }
        Ok(Mailer { transport: builder.build(), from, reply_to, id_domain, timeout })
    }

    /// The stable Message-ID of outbox message `outbox_id`: the same on every
    /// attempt, so a receiver (or a person) can recognise a duplicate.
    pub fn message_id(&self, outbox_id: i64, installation: &str) -> String {
        format!("<outbox.{outbox_id}.{installation}@{}>", self.id_domain)
    }

    /// How long one send may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one plain-text e-mail. Errors are scrubbed of the recipient.
    pub async fn send(&self, mail: &OutgoingEmail<'_>) -> Result<(), SendError> {
        let secrets = [mail.to];
        let to: Address =
            mail.to.parse().map_err(|_| SendError::permanent("the recipient address is not usable for SMTP"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject)
            .message_id(Some(mail.message_id.to_string()))
            .date_now();
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        let built = match mail.attachment {
            None => builder.header(ContentType::TEXT_PLAIN).body(mail.text.to_string()),
            Some(a) => {
                let kind = ContentType::parse(a.content_type.mime())
                    .map_err(|e| SendError::permanent(format!("attachment type: {e}")))?;
                let file = lettre::message::Attachment::new(a.name.clone()).body(a.bytes.to_vec(), kind);
                builder
                    .multipart(MultiPart::mixed().singlepart(SinglePart::plain(mail.text.to_string())).singlepart(file))
            }
        };
        let message = built
            .map_err(|e| SendError::permanent(scrub(&format!("the message could not be built: {e}"), &secrets)))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError { permanent: e.is_permanent(), detail: scrub(&format!("SMTP: {e}"), &secrets) }),
        }
    }
}
