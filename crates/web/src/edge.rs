//! The first thing every request meets: it must name this server, and it must
//! be answered in time. One hand-written layer rather than two `from_fn`
//! middlewares, because it runs on every request and those box a service and
//! a future each time.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;

use crate::security::{PublicOrigin, split_authority};

/// Wraps a service in [`Edge`].
#[derive(Clone)]
pub(crate) struct EdgeLayer {
    public: Arc<PublicOrigin>,
    limit: Duration,
}

impl EdgeLayer {
    pub fn new(public: PublicOrigin, limit: Duration) -> Self {
        EdgeLayer { public: Arc::new(public), limit }
    }
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner, public: self.public.clone(), limit: self.limit }
    }
}

/// Answers `421 Misdirected Request` unless the request is for the public
/// URL's host and port: a Host header is the client's claim, never a source
/// for our links or origin checks, and a stranger's name (DNS rebinding, a
/// wrong virtual host) gets nothing. Loopback clients may also name a
/// loopback address (monitoring, a proxy on this machine).
///
/// Answers `408 Request Timeout` when the inner service has not answered
/// within the limit (reading the request body counts: handlers read it).
#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    public: Arc<PublicOrigin>,
    limit: Duration,
}

impl<S> Edge<S> {
    fn names_us(&self, req: &Request<Body>) -> bool {
        let authority = match req.uri().authority() {
            Some(a) => a.as_str(),
            None => match req.headers().get(header::HOST).map(|v| v.to_str()) {
                Some(Ok(host)) => host,
                _ => return false,
            },
        };
        if self.public.is_host(authority) {
            return true;
        }
        let peer_loopback = req.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|c| c.0.ip().is_loopback());
        peer_loopback && is_loopback_host(authority)
    }
}

impl<S> tower::Service<Request<Body>> for Edge<S>
where
    S: tower::Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if !self.names_us(&req) {
            return EdgeFuture::Refused(Some(plain(StatusCode::MISDIRECTED_REQUEST, "Misdirected Request\n")));
        }
        EdgeFuture::Running(Box::pin(tokio::time::timeout(self.limit, self.inner.call(req))))
    }
}

/// The answer of [`Edge`]: a refusal made at once, or the inner answer raced
/// against the limit.
pub(crate) enum EdgeFuture<F> {
    Refused(Option<Response>),
    Running(Pin<Box<tokio::time::Timeout<F>>>),
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for EdgeFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            EdgeFuture::Refused(resp) => {
                Poll::Ready(Ok(resp.take().unwrap_or_else(|| plain(StatusCode::MISDIRECTED_REQUEST, ""))))
            }
            EdgeFuture::Running(timed) => timed.as_mut().poll(cx).map(|done| match done {
                Ok(answer) => answer,
                Err(_) => Ok(plain(StatusCode::REQUEST_TIMEOUT, "Request Timeout\n")),
            }),
        }
    }
}

/// A loopback address as a host name: what a monitoring probe or a proxy on
/// this machine sends. A rebinding attacker's page cannot: its Host is its
/// own domain name.
fn is_loopback_host(authority: &str) -> bool {
    let Some((host, _)) = split_authority(authority, 0) else { return false };
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A short plain-text answer for the edges, where no page applies.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service};

    fn app(public: &str, limit: Duration) -> Edge<axum::Router> {
        let router = axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "late"
                }),
            )
            .route("/quick", axum::routing::get(|| async { "quick" }));
        EdgeLayer::new(PublicOrigin::parse(public).unwrap(), limit).layer(router)
    }

    fn get(path: &str, host: &str, peer: &str) -> Request<Body> {
        let mut req = Request::get(path).header(header::HOST, host).body(Body::empty()).unwrap();
        req.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req
    }

    #[tokio::test]
    async fn a_request_not_answered_in_time_gets_408() {
        let mut app = app("http://klant.example.nl", Duration::from_millis(200));
        let slow = app.call(get("/slow", "klant.example.nl", "192.0.2.1:5000")).await.unwrap();
        assert_eq!(slow.status(), StatusCode::REQUEST_TIMEOUT);
        let quick = app.call(get("/quick", "klant.example.nl", "192.0.2.1:5000")).await.unwrap();
        assert_eq!(quick.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn only_requests_naming_this_server_are_answered() {
        let mut app = app("https://Klant.Example.nl", Duration::from_secs(5));
        let status = |resp: Response| resp.status();
        for ours in ["klant.example.nl", "KLANT.example.nl:443", "klant.example.nl."] {
            assert_eq!(status(app.call(get("/quick", ours, "192.0.2.1:5000")).await.unwrap()), StatusCode::OK);
        }
        for stranger in ["evil.example", "klant.example.nl:8443", "127.0.0.1", "localhost"] {
            let resp = app.call(get("/quick", stranger, "192.0.2.1:5000")).await.unwrap();
            assert_eq!(status(resp), StatusCode::MISDIRECTED_REQUEST, "{stranger}");
        }
        // A probe on this machine may name the loopback address; nobody else may.
        for local in ["127.0.0.1:8080", "[::1]", "LOCALHOST"] {
            assert_eq!(status(app.call(get("/quick", local, "127.0.0.1:6000")).await.unwrap()), StatusCode::OK);
        }
        let no_host = app.call(Request::get("/quick").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(no_host.status(), StatusCode::MISDIRECTED_REQUEST);
    }

    #[test]
    fn loopback_names_are_recognised() {
        assert!(is_loopback_host("127.0.0.1:9") && is_loopback_host("[::1]") && is_loopback_host("localhost:80"));
        assert!(!is_loopback_host("127.0.0.1.evil.example") && !is_loopback_host("10.0.0.1:80"));
    }
}
