//! Test doubles that speak the real protocols on the loopback address: an SMTP
//! server (plain, STARTTLS or implicit TLS, with a certificate made here) and
//! stand-ins of CM.com's Business Messaging API and of an SMS webhook. Shared by
//! the tests of the notify crate (each channel on its own) and of the web crate
//! (invitation and password reset end to end).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// How long a test waits for a message to arrive before it fails: generous,
/// because the machine may be busy; a message that arrives ends the wait at once.
pub const WAIT: Duration = Duration::from_secs(30);

/// A self-signed certificate for `localhost`, its PEM in a temporary file (the
/// client's extra CA), and the server side's TLS acceptor.
pub struct TestCert {
    pub dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub acceptor: TlsAcceptor,
}

pub fn test_cert() -> TestCert {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, certified.cert.pem()).expect("write CA file");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server TLS config");
    TestCert { dir, ca_file, acceptor: TlsAcceptor::from(Arc::new(config)) }
}

// ---------------------------------------------------------------- SMTP

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Plain start, STARTTLS offered.
    OffersStartTls,
    /// Plain start, STARTTLS not offered.
    NoStartTlsOffered,
    /// TLS from the first byte.
    TlsFromTheStart,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Whether the message came over TLS.
    pub tls: bool,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA section with dot-stuffing undone, CRLF line ends.
    pub data: String,
    /// The (user, password) of AUTH PLAIN, if the client logged in.
    pub auth: Option<(String, String)>,
}

impl Received {
    /// The value of header `name` (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut()
                && (line.starts_with(' ') || line.starts_with('\t'))
            {
                v.push_str(line);
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }

    /// The body, decoded from quoted-printable or base64 when so encoded.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        match self.header("Content-Transfer-Encoding").map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("quoted-printable") => decode_qp(body),
            Some("base64") => String::from_utf8(decode_base64(&body.replace("\r\n", ""))).unwrap(),
            _ => body.to_string(),
        }
    }
}

/// What the server saw: finished TLS handshakes and the messages.
#[derive(Debug, Default)]
pub struct SmtpLog {
    pub connections: usize,
    pub tls_handshakes: usize,
    pub commands: Vec<String>,
    pub received: Vec<Received>,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<SmtpLog>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, SmtpLog> {
        self.log.lock().unwrap()
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log().received.clone()
    }

    /// Waits (at most [`WAIT`]) until `n` messages were received; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(tokio::time::Instant::now() < deadline, "the SMTP server did not receive {n} messages");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts an SMTP server on 127.0.0.1. Recipients starting with `reject` are
/// refused with a 550 that quotes the address, like real servers do.
pub async fn smtp_server(mode: SmtpMode, acceptor: TlsAcceptor) -> SmtpServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(SmtpLog::default()));
    let shared = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let log = shared.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                log.lock().unwrap().connections += 1;
                let _ = serve(socket, mode, acceptor, log).await;
            });
        }
    });
    SmtpServer { addr, log, task }
}

async fn serve(
    socket: tokio::net::TcpStream,
    mode: SmtpMode,
    acceptor: TlsAcceptor,
    log: Arc<Mutex<SmtpLog>>,
) -> std::io::Result<()> {
    if mode == SmtpMode::TlsFromTheStart {
        let tls = acceptor.accept(socket).await?;
        log.lock().unwrap().tls_handshakes += 1;
        session(tls, true, mode, &log).await?;
        return Ok(());
    }
    if let Some(socket) = session(socket, false, mode, &log).await? {
        let tls = acceptor.accept(socket).await?;
        log.lock().unwrap().tls_handshakes += 1;
        session(tls, true, mode, &log).await?;
    }
    Ok(())
}

/// Speaks SMTP on `stream`. Returns the stream when the client asked for
/// STARTTLS (the caller wraps it in TLS and calls again).
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: bool,
    mode: SmtpMode,
    log: &Mutex<SmtpLog>,
) -> std::io::Result<Option<S>> {
    let mut io = BufReader::new(stream);
    // After STARTTLS there is no new greeting.
    if !(tls && mode == SmtpMode::OffersStartTls) {
        io.write_all(b"220 mx.test ESMTP ready\r\n").await?;
    }
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut auth = None;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        let upper = line.to_ascii_uppercase();
        log.lock().unwrap().commands.push(format!("{}{}", if tls { "tls: " } else { "plain: " }, upper));
        let reply: String = if upper.starts_with("EHLO") {
            let mut r = String::from("250-mx.test\r\n");
            if !tls && mode == SmtpMode::OffersStartTls {
                r.push_str("250-STARTTLS\r\n");
            }
            r.push_str("250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n");
            r
        } else if upper.starts_with("HELO") {
            "250 mx.test\r\n".into()
        } else if upper == "STARTTLS" && !tls && mode == SmtpMode::OffersStartTls {
            io.write_all(b"220 go ahead\r\n").await?;
            io.flush().await?;
            return Ok(Some(io.into_inner()));
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let b64 = line[line.len() - rest.len()..].trim().to_string();
            let b64 = if b64.is_empty() {
                io.write_all(b"334 \r\n").await?;
                let mut l = String::new();
                io.read_line(&mut l).await?;
                l.trim().to_string()
            } else {
                b64
            };
            let raw = decode_base64(&b64);
            let parts: Vec<String> = raw.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            auth = Some((parts.get(1).cloned().unwrap_or_default(), parts.get(2).cloned().unwrap_or_default()));
            "235 2.7.0 authenticated\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = angle(&line);
            rcpt_to.clear();
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let to = angle(&line);
            if to.starts_with("reject") {
                format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown\r\n")
            } else {
                rcpt_to.push(to);
                "250 2.1.5 ok\r\n".into()
            }
        } else if upper == "DATA" {
            io.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if io.read_line(&mut l).await? == 0 {
                    return Ok(None);
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            log.lock().unwrap().received.push(Received {
                tls,
                mail_from: mail_from.clone(),
                rcpt_to: rcpt_to.clone(),
                data,
                auth: auth.clone(),
            });
            "250 2.0.0 queued\r\n".into()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 ok\r\n".into()
        } else if upper == "QUIT" {
            io.write_all(b"221 bye\r\n").await?;
            io.flush().await?;
            return Ok(None);
        } else {
            "502 5.5.2 command not recognised\r\n".into()
        };
        io.write_all(reply.as_bytes()).await?;
        io.flush().await?;
    }
}

fn angle(line: &str) -> String {
    let start = line.find('<').map(|i| i + 1).unwrap_or(0);
    let end = line[start..].find('>').map(|i| start + i).unwrap_or(line.len());
    line[start..end].to_string()
}

pub fn decode_base64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

pub fn decode_qp(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------- HTTP stand-ins

/// What a stand-in answers next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Accept (200 and, for CM, status `Accepted`).
    Accept,
    /// Fail with this HTTP status.
    Status(u16),
    /// Reject the number (CM: 400 with a per-message `Rejected` that quotes it).
    RejectNumber,
    /// Record the request, then never answer.
    Hang,
}

/// A request the stand-in accepted as well-formed.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone)]
struct StandIn {
    token: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

pub struct HttpStandIn {
    pub base_url: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpStandIn {
    /// Sets what the next requests get (then `Accept` for the rest).
    pub fn script(&self, answers: &[Answer]) {
        *self.script.lock().unwrap() = answers.iter().copied().collect();
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// Waits (at most [`WAIT`]) until `n` requests were recorded; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let recorded = self.recorded();
            if recorded.len() >= n {
                return recorded;
            }
            assert!(tokio::time::Instant::now() < deadline, "the stand-in did not receive {n} requests");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn serve_router(router: axum::Router, state: StandIn) -> HttpStandIn {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    HttpStandIn { base_url, script: state.script, recorded: state.recorded, task }
}

fn next_answer(state: &StandIn) -> Answer {
    state.script.lock().unwrap().pop_front().unwrap_or(Answer::Accept)
}

/// A stand-in of CM.com's `POST /v1.0/message` that checks what CM checks: the
/// product token (header `X-CM-PRODUCTTOKEN` or `messages.authentication.productToken`)
/// and the JSON shape (`messages.msg[]` with `from`, `to[].number` in 00-form,
/// `body.content`, optional `reference`).
pub async fn cm_stand_in(token: &str) -> HttpStandIn {
    let state = StandIn { token: token.into(), script: Default::default(), recorded: Default::default() };
    let router = axum::Router::new().route("/v1.0/message", post(cm_handler)).with_state(state.clone());
    serve_router(router, state).await
}

fn cm_error(status: StatusCode, code: i64, details: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"details": details, "errorCode": code, "messages": []})))
}

async fn cm_handler(State(state): State<StandIn>, headers: HeaderMap, body: String) -> (StatusCode, Json<Value>) {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return cm_error(StatusCode::BAD_REQUEST, 999, "Request body is not valid JSON");
    };
    let header_token = headers.get("x-cm-producttoken").and_then(|v| v.to_str().ok());
    let body_token = body.pointer("/messages/authentication/productToken").and_then(Value::as_str);
    if header_token.or(body_token) != Some(state.token.as_str()) {
        return cm_error(StatusCode::BAD_REQUEST, 101, "No account found for the given authentication");
    }
    let Some(msgs) = body.pointer("/messages/msg").and_then(Value::as_array).filter(|m| !m.is_empty()) else {
        return cm_error(StatusCode::BAD_REQUEST, 201, "A MESSAGES node requires at least one MSG node");
    };
    for m in msgs {
        let from_ok = m.get("from").and_then(Value::as_str).is_some_and(|f| !f.is_empty() && f.len() <= 16);
        let to_ok = m.get("to").and_then(Value::as_array).is_some_and(|to| {
            !to.is_empty()
                && to.iter().all(|n| {
                    n.get("number")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.starts_with("00") && n.len() > 8 && n.bytes().all(|b| b.is_ascii_digit()))
                })
        });
        let body_ok = m.pointer("/body/content").and_then(Value::as_str).is_some_and(|c| !c.is_empty())
            && m.pointer("/body/type").and_then(Value::as_str).is_some_and(|t| t == "auto" || t == "plain");
        let reference_ok = m.get("reference").is_none_or(Value::is_string);
        if !(from_ok && to_ok && body_ok && reference_ok) {
            return cm_error(StatusCode::BAD_REQUEST, 999, "Malformed message");
        }
    }
    state.recorded.lock().unwrap().push(Recorded { headers, body: body.clone() });
    let m = &msgs[0];
    let number = m.pointer("/to/0/number").cloned().unwrap_or(Value::Null);
    let reference = m.get("reference").cloned().unwrap_or(Value::Null);
    match next_answer(&state) {
        Answer::Accept => (
            StatusCode::OK,
            Json(json!({"details": "Created 1 message(s)", "errorCode": 0, "messages": [
                {"to": number, "status": "Accepted", "reference": reference, "parts": 1, "messageDetails": null, "messageErrorCode": 0}
            ]})),
        ),
        Answer::Status(s) => cm_error(StatusCode::from_u16(s).unwrap(), 999, "Temporary failure, try again"),
        Answer::RejectNumber => (
            StatusCode::BAD_REQUEST,
            Json(json!({"details": "Created 0 message(s)", "errorCode": 201, "messages": [
                {"to": number, "status": "Rejected", "reference": reference, "parts": 0,
                 "messageDetails": format!("Gsm '{}' is not a number.", number.as_str().unwrap_or("")), "messageErrorCode": 303}
            ]})),
        ),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            cm_error(StatusCode::GATEWAY_TIMEOUT, 999, "late")
        }
    }
}

/// A stand-in of an SMS webhook: `POST /sms` with a bearer token and
/// `{"to", "text", "reference"}`.
pub async fn webhook_stand_in(token: &str) -> HttpStandIn {
    let state = StandIn { token: token.into(), script: Default::default(), recorded: Default::default() };
    let router = axum::Router::new().route("/sms", post(webhook_handler)).with_state(state.clone());
    serve_router(router, state).await
}

async fn webhook_handler(State(state): State<StandIn>, headers: HeaderMap, body: String) -> (StatusCode, String) {
    let expected = format!("Bearer {}", state.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "bad token".into());
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON".into());
    };
    let shape_ok = body.as_object().is_some_and(|o| o.len() == 3)
        && ["to", "text", "reference"].iter().all(|k| body.get(*k).is_some_and(Value::is_string));
    if !shape_ok {
        return (StatusCode::BAD_REQUEST, "expected {to, text, reference}".into());
    }
    state.recorded.lock().unwrap().push(Recorded { headers, body });
    match next_answer(&state) {
        Answer::Accept => (StatusCode::OK, "ok".into()),
        Answer::Status(s) => (StatusCode::from_u16(s).unwrap(), "failure".into()),
        Answer::RejectNumber => (StatusCode::UNPROCESSABLE_ENTITY, "bad number".into()),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (StatusCode::GATEWAY_TIMEOUT, "late".into())
        }
    }
}
