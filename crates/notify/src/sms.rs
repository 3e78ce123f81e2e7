//! SMS through a provider's HTTP API: CM.com's Business Messaging API, or a
//! generic webhook for any other gateway.
//!
//! CM.com: `POST {base_url}/v1.0/message` with the product token in the
//! `X-CM-PRODUCTTOKEN` header and a JSON body
//! `{"messages": {"msg": [{"from", "to": [{"number": "00316…"}], "body": {"type": "auto", "content"}, "reference"}]}}`.
//! The answer lists each message as `Accepted` or `Rejected`; acceptance means
//! CM took it for delivery. The reference is the outbox ID, so a duplicate after
//! a crash shows up with the same reference in CM's reports.
//!
//! Webhook: `POST {url}` with `{"to": "+316…", "text": "…", "reference": "…"}`
//! and, when configured, `Authorization: Bearer <token>`; any 2xx is success.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::scrub::scrub;
use crate::{NotifyError, SendError};

/// CM.com's recommended global endpoint.
pub const CM_DEFAULT_BASE_URL: &str = "https://gw.messaging.cm.com";
const CM_PATH: &str = "v1.0/message";

fn default_timeout_secs() -> u64 {
    30
}

fn cm_default_base_url() -> String {
    CM_DEFAULT_BASE_URL.to_string()
}

/// The `[sms]` settings: which provider, and its settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum SmsConfig {
    Cm(CmConfig),
    Webhook(WebhookConfig),
}

/// CM.com Business Messaging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmConfig {
    /// The API's base address, without the path. Default
    /// `https://gw.messaging.cm.com`; tests point it at a local stand-in
    /// (plain `http://` is accepted for the loopback address only).
    #[serde(default = "cm_default_base_url")]
    pub base_url: String,
    /// The product token from CM's Channels app (with its hyphens); never
    /// shown by `Debug`.
    pub product_token: SecretString,
    /// The sender shown on the phone: up to 11 letters, digits and spaces, or a
    /// number of up to 16 digits.
    pub sender: String,
    /// Seconds one request may take. Default 30.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// A PEM file with extra CA certificates to trust. Default none.
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
}

/// Any gateway that takes a JSON POST.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST (`https://`, or `http://` to the loopback address).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set. Default none.
    #[serde(default)]
    pub bearer_token: Option<SecretString>,
    /// Seconds one request may take. Default 30.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// A PEM file with extra CA certificates to trust. Default none.
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
}

/// One text message to send.
pub struct OutgoingSms<'a> {
    /// Identifies the message at the provider: the outbox ID.
    pub reference: &'a str,
    /// The number in E.164 (`+31612345678`).
    pub to: &'a str,
    pub text: &'a str,
}

/// A configured SMS provider.
pub enum SmsGateway {
    Cm(CmSender),
    Webhook(WebhookSender),
}

impl fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsGateway::Cm(_) => f.write_str("SmsGateway::Cm"),
            SmsGateway::Webhook(_) => f.write_str("SmsGateway::Webhook"),
        }
    }
}

impl SmsGateway {
    pub fn new(config: &SmsConfig) -> Result<SmsGateway, NotifyError> {
        Ok(match config {
            SmsConfig::Cm(c) => SmsGateway::Cm(CmSender::new(c)?),
            SmsConfig::Webhook(c) => SmsGateway::Webhook(WebhookSender::new(c)?),
        })
    }

    pub async fn send(&self, sms: &OutgoingSms<'_>) -> Result<(), SendError> {
        match self {
            SmsGateway::Cm(s) => s.send(sms).await,
            SmsGateway::Webhook(s) => s.send(sms).await,
        }
    }

    /// How long one send may take.
    pub fn timeout(&self) -> Duration {
        match self {
            SmsGateway::Cm(s) => s.timeout,
            SmsGateway::Webhook(s) => s.timeout,
        }
    }
}

fn timeout_of(setting: &str, secs: u64) -> Result<Duration, NotifyError> {
    if secs == 0 {
        return Err(NotifyError::Config(format!("{setting}: timeout_secs must be at least 1")));
    }
    Ok(Duration::from_secs(secs))
}

/// Whether an HTTP answer is worth trying again later.
fn transient_status(s: StatusCode) -> bool {
    s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT || s == StatusCode::TOO_MANY_REQUESTS
}

fn request_error(provider: &str, e: &reqwest::Error, secrets: &[&str]) -> SendError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut detail = format!("{provider}: {what}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    SendError::transient(scrub(&detail, secrets))
}

/// CM.com's Business Messaging API.
pub struct CmSender {
    client: reqwest::Client,
    endpoint: Url,
    token: HeaderValue,
    sender: String,
    timeout: Duration,
}

#[derive(Serialize)]
struct CmRequest<'a> {
    messages: CmMessages<'a>,
}

#[derive(Serialize)]
struct CmMessages<'a> {
    msg: [CmMsg<'a>; 1],
}

#[derive(Serialize)]
struct CmMsg<'a> {
    from: &'a str,
    to: [CmNumber; 1],
    body: CmBody<'a>,
    reference: &'a str,
}

#[derive(Serialize)]
struct CmNumber {
    number: String,
}

#[derive(Serialize)]
struct CmBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    content: &'a str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CmResponse {
    details: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<i64>,
    messages: Vec<CmMessageResult>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CmMessageResult {
    status: Option<String>,
    #[serde(rename = "messageDetails")]
    message_details: Option<String>,
    #[serde(rename = "messageErrorCode")]
    message_error_code: Option<i64>,
}

impl CmSender {
    pub fn new(config: &CmConfig) -> Result<CmSender, NotifyError> {
        let base = crate::http::endpoint("sms.base_url", &config.base_url)?;
        let endpoint = if base.path().ends_with('/') { base } else { Url::parse(&format!("{base}/")).expect("valid") };
        let endpoint = endpoint.join(CM_PATH).map_err(|e| NotifyError::Config(format!("sms.base_url: {e}")))?;
        let token = config.product_token.expose_secret().trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(NotifyError::Config(
                "sms.product_token: the product token from CM (letters, digits, hyphens)".into(),
            ));
        }
        let mut token = HeaderValue::from_str(token).map_err(|_| NotifyError::Config("sms.product_token".into()))?;
        token.set_sensitive(true);
        let sender = config.sender.trim();
        let alnum = (1..=11).contains(&sender.len()) && sender.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ');
        let numeric = (1..=16).contains(&sender.len()) && sender.bytes().all(|b| b.is_ascii_digit());
        if !(alnum || numeric) {
            return Err(NotifyError::Config(
                "sms.sender: up to 11 letters, digits and spaces, or up to 16 digits".into(),
            ));
        }
        let timeout = timeout_of("sms", config.timeout_secs)?;
        let client = crate::http::client(timeout, config.extra_ca_file.as_deref())?;
        Ok(CmSender { client, endpoint, token, sender: sender.to_string(), timeout })
    }

    pub async fn send(&self, sms: &OutgoingSms<'_>) -> Result<(), SendError> {
        // CM wants 00 + country code + number, no plus, no spaces.
        let digits: String = sms.to.chars().filter(char::is_ascii_digit).collect();
        let number = format!("00{digits}");
        let secrets = [sms.to, number.as_str(), digits.as_str()];
        let body = CmRequest {
            messages: CmMessages {
                msg: [CmMsg {
                    from: &self.sender,
                    to: [CmNumber { number: number.clone() }],
                    body: CmBody { kind: "auto", content: sms.text },
                    reference: sms.reference,
                }],
            },
        };
        let mut headers = HeaderMap::new();
        headers.insert("X-CM-PRODUCTTOKEN", self.token.clone());
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        let response = self
            .client
            .post(self.endpoint.clone())
            .headers(headers)
            .json(&body)
            .send()
            .await
            .map_err(|e| request_error("CM.com", &e, &secrets))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let parsed: Option<CmResponse> = serde_json::from_str(&text).ok();
        let rejected = parsed.as_ref().and_then(|r| {
            r.messages.iter().find(|m| m.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("rejected")))
        });
        let accepted = parsed.as_ref().is_some_and(|r| {
            r.messages.iter().any(|m| m.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("accepted")))
        });
        if status.is_success() && rejected.is_none() {
            if !accepted {
                tracing::warn!(
                    reference = sms.reference,
                    "CM.com answered success without listing the message as accepted"
                );
            }
            return Ok(());
        }
        if let Some(m) = rejected {
            let detail = format!(
                "CM.com rejected the message (HTTP {}, messageErrorCode {}): {}",
                status.as_u16(),
                m.message_error_code.unwrap_or_default(),
                m.message_details.as_deref().unwrap_or("")
            );
            return Err(SendError::permanent(scrub(&detail, &secrets)));
        }
        let code = parsed.as_ref().and_then(|r| r.error_code);
        let details =
            parsed.as_ref().and_then(|r| r.details.clone()).unwrap_or_else(|| text.chars().take(200).collect());
        let detail = format!("CM.com: HTTP {}, errorCode {}: {details}", status.as_u16(), code.unwrap_or_default());
        // Codes 100-199 are account problems (authentication, balance): the
        // operator can fix them, so the message waits rather than being lost.
        let account_problem = code.is_some_and(|c| (100..200).contains(&c));
        let detail = scrub(&detail, &secrets);
        if transient_status(status) || account_problem {
            Err(SendError::transient(detail))
        } else {
            Err(SendError::permanent(detail))
        }
    }
}

/// The generic webhook.
pub struct WebhookSender {
    client: reqwest::Client,
    url: Url,
    bearer: Option<HeaderValue>,
    timeout: Duration,
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    to: &'a str,
    text: &'a str,
    reference: &'a str,
}

impl WebhookSender {
    pub fn new(config: &WebhookConfig) -> Result<WebhookSender, NotifyError> {
        let url = crate::http::endpoint("sms.url", &config.url)?;
        let bearer = match &config.bearer_token {
            Some(t) => {
                let t = t.expose_secret().trim();
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(NotifyError::Config("sms.bearer_token: printable ASCII without spaces".into()));
                }
                let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| NotifyError::Config("sms.bearer_token".into()))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let timeout = timeout_of("sms", config.timeout_secs)?;
        let client = crate::http::client(timeout, config.extra_ca_file.as_deref())?;
        Ok(WebhookSender { client, url, bearer, timeout })
    }

    pub async fn send(&self, sms: &OutgoingSms<'_>) -> Result<(), SendError> {
        let secrets = [sms.to, sms.to.trim_start_matches('+')];
        let mut request = self.client.post(self.url.clone()).json(&WebhookBody {
            to: sms.to,
            text: sms.text,
            reference: sms.reference,
        });
        if let Some(b) = &self.bearer {
            request = request.header(reqwest::header::AUTHORIZATION, b.clone());
        }
        let response = request.send().await.map_err(|e| request_error("SMS webhook", &e, &secrets))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text: String = response.text().await.unwrap_or_default().chars().take(200).collect();
        let detail = scrub(&format!("SMS webhook: HTTP {}: {text}", status.as_u16()), &secrets);
        if transient_status(status) { Err(SendError::transient(detail)) } else { Err(SendError::permanent(detail)) }
    }
}
