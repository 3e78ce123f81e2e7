//! The edges of the server: limits on connections and requests, response
//! headers every page gets, and the per-address attempt limiter.

use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::State;

/// No script at all, nothing from other origins, no framing, no referrer.
const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) async fn headers(state: axum::extract::State<State>, req: Request<Body>, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
    resp
}

/// Counts attempts (logins, activations, codes) per client address, with the
/// generic cell rate algorithm: `per_minute` attempts at once, then one more
/// every `60 / per_minute` seconds, so there is no window edge at which a
/// burst doubles. Per-account lockout lives in the store; this stops one
/// address from trying many accounts.
///
/// IPv6 addresses count per /64: one subscriber usually holds a whole /64 and
/// can pick any address in it. IPv4 addresses (also IPv4-mapped IPv6 ones)
/// count one by one. Addresses whose budget is full again are forgotten
/// every [`RateLimiter::SWEEP_EVERY`] attempts, so memory holds only the
/// addresses of about the last minute.
pub(crate) struct RateLimiter {
    limiter: governor::DefaultKeyedRateLimiter<IpAddr>,
    attempts: AtomicU64,
}

impl RateLimiter {
    const SWEEP_EVERY: u64 = 4096;

    pub fn new(per_minute: u32) -> RateLimiter {
        let quota = governor::Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        RateLimiter { limiter: governor::RateLimiter::keyed(quota), attempts: AtomicU64::new(0) }
    }

    /// Records an attempt; `Err(seconds)` when the address must wait.
    pub fn attempt(&self, ip: IpAddr) -> Result<(), u64> {
        if self.attempts.fetch_add(1, Ordering::Relaxed) % Self::SWEEP_EVERY == Self::SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&budget_key(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(self.limiter.clock()));
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// How many addresses are remembered (for tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.limiter.len()
    }
}

/// The key an address's attempts count under: an IPv4 address itself, an
/// IPv6 address's /64.
fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        },
    }
}

/// Where the public URL points: the scheme, the host (lower case, IPv6 in
/// brackets) and the port (the scheme's default when none is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl PublicOrigin {
    /// Reads `scheme://host[:port][/…]`; `None` for anything else.
    pub fn parse(url: &str) -> Option<PublicOrigin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = split_authority(authority, default)?;
        Some(PublicOrigin { scheme, host: host.to_ascii_lowercase(), port })
    }

    /// Whether a request's `Host` (or HTTP/2 `:authority`) names us.
    pub fn is_host(&self, authority: &str) -> bool {
        let default = if self.scheme == "https" { 443 } else { 80 };
        split_authority(authority, default)
            .is_some_and(|(host, port)| port == self.port && host.eq_ignore_ascii_case(&self.host))
    }

    /// Whether `url` (an `Origin`, or a `Referer`) is of this origin.
    pub fn is_origin_of(&self, url: &str) -> bool {
        PublicOrigin::parse(url).is_some_and(|o| o == *self)
    }
}

/// `host[:port]` → (the host as written, without a trailing dot; the port);
/// `None` when it is not one. Hosts compare case-insensitively.
pub(crate) fn split_authority(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        (&authority[..inside.len() + 2], after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    let host = host.trim_end_matches('.');
    let fine = |b: u8| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b);
    (!host.is_empty() && host.bytes().all(fine)).then_some((host, port))
}

/// A connection's socket that fails with `TimedOut` once no byte has moved in
/// either direction for `idle`: a kept-alive connection nobody uses, a client
/// that stops reading its response, or one that stops halfway a TLS handshake.
pub(crate) struct IdleIo<S> {
    inner: S,
    idle: Duration,
    last: Instant,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleIo<S> {
    pub fn new(inner: S, idle: Duration) -> Self {
        let last = Instant::now();
        IdleIo { inner, idle, last, timer: Box::pin(tokio::time::sleep(idle)) }
    }

    /// The inner stream is waiting: has the connection been idle too long?
    /// The timer is only moved when it fires, not on every byte.
    fn expired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last + self.idle;
            if Instant::now() >= due {
                return true;
            }
            self.timer.as_mut().reset(tokio::time::Instant::from_std(due));
        }
    }

    fn pending_or_expired<T>(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<T>> {
        if self.expired(cx) {
            std::task::Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connection idle too long")))
        } else {
            std::task::Poll::Pending
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for IdleIo<S> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            std::task::Poll::Pending => this.pending_or_expired(cx),
            ready => {
                if buf.filled().len() > before {
                    this.last = Instant::now();
                }
                ready
            }
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for IdleIo<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_write(cx, buf) {
            std::task::Poll::Pending => this.pending_or_expired(cx),
            ready => {
                if matches!(ready, std::task::Poll::Ready(Ok(n)) if n > 0) {
                    this.last = Instant::now();
                }
                ready
            }
        }
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            std::task::Poll::Pending => this.pending_or_expired(cx),
            ready => {
                if matches!(ready, std::task::Poll::Ready(Ok(n)) if n > 0) {
                    this.last = Instant::now();
                }
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_flush(cx) {
            std::task::Poll::Pending => this.pending_or_expired(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_shutdown(cx) {
            std::task::Poll::Pending => this.pending_or_expired(cx),
            ready => ready,
        }
    }
}

/// Wraps every accepted socket in [`IdleIo`] (under TLS, when there is TLS).
#[derive(Clone, Copy)]
pub(crate) struct IdleAcceptor {
    pub idle: Duration,
}

impl<I, S> axum_server::accept::Accept<I, S> for IdleAcceptor {
    type Stream = IdleIo<I>;
    type Service = S;
    type Future = std::future::Ready<std::io::Result<(IdleIo<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(Ok((IdleIo::new(stream, self.idle), service)))
    }
}

/// At most `max` connections at once: a connection takes a permit before it is
/// served and gives it back when it closes. Beyond the limit the accept loop
/// waits, and new connections wait in the kernel's backlog.
pub(crate) struct ConnectionLimit<M> {
    inner: M,
    permits: tokio_util::sync::PollSemaphore,
    ready: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<M> ConnectionLimit<M> {
    pub fn new(inner: M, max: usize) -> Self {
        let permits =
            tokio_util::sync::PollSemaphore::new(std::sync::Arc::new(tokio::sync::Semaphore::new(max.max(1))));
        ConnectionLimit { inner, permits, ready: None }
    }
}

impl<M, T> tower::Service<T> for ConnectionLimit<M>
where
    M: tower::Service<T>,
    M::Future: Send + 'static,
{
    type Response = Permitted<M::Response>;
    type Error = M::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, M::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), M::Error>> {
        if self.ready.is_none() {
            match self.permits.poll_acquire(cx) {
                std::task::Poll::Ready(permit) => self.ready = permit,
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: T) -> Self::Future {
        let permit = std::sync::Arc::new(self.ready.take());
        let making = self.inner.call(target);
        Box::pin(async move { Ok(Permitted { inner: making.await?, _permit: permit }) })
    }
}

/// A connection's service holding its permit; the permit goes back when the
/// connection and every request on it are done.
#[derive(Clone)]
pub(crate) struct Permitted<S> {
    inner: S,
    _permit: std::sync::Arc<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl<S: tower::Service<R>, R> tower::Service<R> for Permitted<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> S::Future {
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_origin_names_one_host_and_port() {
        let public = PublicOrigin::parse("https://Klant.Example.nl/").unwrap();
        for ok in ["klant.example.nl", "KLANT.example.NL", "klant.example.nl:443", "klant.example.nl."] {
            assert!(public.is_host(ok), "{ok}");
        }
        for wrong in
            ["", "evil.example", "klant.example.nl:8443", "klant.example.nl.evil.example", "x@klant.example.nl"]
        {
            assert!(!public.is_host(wrong), "{wrong}");
        }
        for ok in ["https://klant.example.nl", "https://klant.example.nl:443", "https://klant.example.nl/login?x=1"] {
            assert!(public.is_origin_of(ok), "{ok}");
        }
        for wrong in ["http://klant.example.nl", "https://evil.example", "null", "", "https://klant.example.nl:444"] {
            assert!(!public.is_origin_of(wrong), "{wrong}");
        }
        let local = PublicOrigin::parse("http://127.0.0.1:8080").unwrap();
        assert!(local.is_host("127.0.0.1:8080") && !local.is_host("127.0.0.1") && !local.is_host("127.0.0.1:8081"));
        let v6 = PublicOrigin::parse("http://[::1]:8080").unwrap();
        assert!(v6.is_host("[::1]:8080") && !v6.is_host("[::2]:8080"));
        assert_eq!(PublicOrigin::parse("ftp://x.example"), None);
    }

    #[test]
    fn ipv6_addresses_share_a_budget_per_64() {
        let limiter = RateLimiter::new(3);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for n in 1..=3 {
            assert_eq!(limiter.attempt(ip(&format!("2001:db8:1:2::{n}"))), Ok(()));
        }
        // Another address in the same /64 has no budget left...
        let wait = limiter.attempt(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        // ...one in the next /64 has its own.
        assert_eq!(limiter.attempt(ip("2001:db8:1:3::1")), Ok(()));
        // IPv4 addresses count one by one, also when they arrive IPv4-mapped.
        for _ in 0..3 {
            assert_eq!(limiter.attempt(ip("192.0.2.1")), Ok(()));
        }
        assert!(limiter.attempt(ip("::ffff:192.0.2.1")).is_err());
        assert_eq!(limiter.attempt(ip("192.0.2.2")), Ok(()));
        assert_eq!(limiter.attempt(ip("::ffff:192.0.2.3")), Ok(()));
        assert_eq!(budget_key(ip("::ffff:192.0.2.3")), ip("192.0.2.3"));
        assert_eq!(budget_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn the_budget_refills_gradually_and_memory_is_swept() {
        // Six a minute: one more every ten seconds after the first six.
        let limiter = RateLimiter::new(6);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..6 {
            assert_eq!(limiter.attempt(ip), Ok(()));
        }
        let wait = limiter.attempt(ip).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        // Sixty a minute: one comes back every second, not only after a minute.
        let limiter = RateLimiter::new(60);
        for _ in 0..60 {
            assert_eq!(limiter.attempt(ip), Ok(()));
        }
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(limiter.attempt(ip), Ok(()));
        // Many addresses once each, past two sweeps: those whose budget is
        // full again are forgotten.
        let quick = RateLimiter::new(1_000_000);
        for n in 0..(2 * RateLimiter::SWEEP_EVERY) {
            let v6 = std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(n) << 64));
            assert_eq!(quick.attempt(IpAddr::V6(v6)), Ok(()));
        }
        assert!(quick.remembered() < RateLimiter::SWEEP_EVERY as usize, "{}", quick.remembered());
    }
}
