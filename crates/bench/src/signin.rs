//! Signing in to a running server as its users do: the owner through the
//! setup link with a second factor, anyone through the session cookie an
//! answer sets, and the forms' anti-forgery tokens.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use hyper::header::{self, HeaderValue};

use crate::http::{Answer, Connection, Expect, Probe, Server, hidden};

pub(crate) const PASSWORD: &str = "paarse olifant fietst naar Zwolle";
const OWNER_LOGIN: &str = "eigenaar@zilvermeeuw.nl";
/// Activations and logins are guesses to the rate limiter: raised so that it
/// does not answer instead.
pub(crate) const ATTEMPTS: (&str, &str) = ("CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE", "1000000");

/// The session cookie an answer sets, as a request sends it back.
pub(crate) fn cookie(answer: &Answer) -> anyhow::Result<HeaderValue> {
    session_cookie(&answer.headers).with_context(|| format!("no session cookie: {}", answer.describe()))
}

/// The cookie set in `headers` (`name=value`), if any.
pub(crate) fn session_cookie(headers: &hyper::HeaderMap) -> Option<HeaderValue> {
    let set = headers.get(header::SET_COOKIE)?.to_str().ok()?;
    HeaderValue::from_str(set.split(';').next()?).ok()
}

/// Sends `probe` and insists on the answer it expects.
pub(crate) async fn expect(conn: &mut Connection, probe: &Probe) -> anyhow::Result<Answer> {
    let answer = conn.send(probe).await?;
    if !probe.accepts(&answer) {
        bail!("{} {} was answered {}", probe.method, probe.uri, answer.describe());
    }
    Ok(answer)
}

pub(crate) fn with_cookie(mut probe: Probe, cookie: &HeaderValue) -> Probe {
    probe.headers.push((header::COOKIE, cookie.clone()));
    probe
}

/// The session's anti-forgery token, from a page of the signed-in area.
pub(crate) async fn session_token(addr: SocketAddr, cookie: &HeaderValue, page: &str) -> anyhow::Result<String> {
    let mut conn = Connection::open(addr).await?;
    let answer = conn.send(&with_cookie(Probe::get(page), cookie)).await?;
    hidden(&answer.body, "csrf").with_context(|| format!("no csrf field on {page}: {}", answer.describe()))
}

/// The current code of the authenticator app holding `secret` (base32).
fn totp(secret: &str) -> anyhow::Result<String> {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    Ok(totp.generate(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs()))
}

/// The owner account, made with the setup link the server printed, with its
/// second factor enrolled; returns the owner's session cookie.
pub(crate) async fn owner(server: &Server) -> anyhow::Result<HeaderValue> {
    let mut link = None;
    for _ in 0..100 {
        link = server.stdout().lines().find_map(|l| l.split("/setup?code=").nth(1).map(str::trim).map(String::from));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let code = link.with_context(|| format!("the server offered no setup link: {}", server.stdout()))?;
    let mut conn = Connection::open(server.addr).await?;
    let form = conn.send(&Probe::get(&format!("/setup?code={code}"))).await?;
    let csrf = hidden(&form.body, "csrf").with_context(|| format!("no setup form: {}", form.describe()))?;
    let fields = [
        ("csrf", csrf.as_str()),
        ("code", code.as_str()),
        ("login", OWNER_LOGIN),
        ("name", "Eigenaar Zilvermeeuw"),
        ("password", PASSWORD),
    ];
    let set_up =
        expect(&mut conn, &Probe::post_form("/setup", &fields, Expect::SeeOther("/second-factor/enrol"))).await?;
    let cookie = cookie(&set_up)?;
    let enrol = conn.send(&with_cookie(Probe::get("/second-factor/enrol"), &cookie)).await?;
    let page = String::from_utf8_lossy(&enrol.body);
    let secret: String = page
        .split("class=\"secret\"")
        .nth(1)
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once('<'))
        .map(|(key, _)| key.chars().filter(|c| !c.is_whitespace()).collect())
        .with_context(|| format!("no key on the enrolment page: {}", enrol.describe()))?;
    let csrf = hidden(&enrol.body, "csrf").context("no csrf field on the enrolment page")?;
    let code = totp(&secret)?;
    let fields = [("csrf", csrf.as_str()), ("code", code.as_str())];
    // Builds with recovery codes show them once (200); earlier ones went
    // straight to the back-office.
    let enrol = with_cookie(Probe::post_form("/second-factor/enrol", &fields, Expect::SeeOther("/staff")), &cookie);
    let answer = conn.send(&enrol).await?;
    let shown_codes =
        answer.status == hyper::StatusCode::OK && memchr::memmem::find(&answer.body, b"herstelcodes").is_some();
    if !enrol.accepts(&answer) && !shown_codes {
        bail!("enrolling the second factor was answered {}", answer.describe());
    }
    Ok(cookie)
}

/// The purpose the owner gives for viewing a customer: administration when
/// the form offers it, else its first choice.
pub(crate) fn purpose(form: &[u8]) -> Option<String> {
    let page = std::str::from_utf8(form).ok()?;
    let values: Vec<&str> = page.split("<option value=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    values.iter().find(|v| **v == "administration").or(values.first()).map(|v| v.to_string())
}
