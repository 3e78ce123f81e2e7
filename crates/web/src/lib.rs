//! HTTP for custodian: the customer portal and the staff back-office,
//! server-rendered, working without JavaScript.
//!
//! Handlers are thin: they parse the request into domain types, call the
//! [`Store`], and render a template. Every route is declared once in
//! [`routes::ROUTES`] with who may use it; the router and the authorisation
//! matrix test are both built from that table.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use custodian_store::Store;

mod access;
mod amsterdam;
mod api;
pub mod delivery;
pub mod documents;
mod edge;
mod extract;
mod guard;
mod metrics;
mod openapi;
mod pages;
mod refuse;
pub mod routes;
mod security;
mod upload;
mod view;

pub use access::{Access as RouteAccess, Endpoint};
pub use routes::ROUTES;

/// Web settings (from the binary's configuration).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The address people use, e.g. `https://klant.example.nl`; used in links.
    pub public_url: String,
    /// Whether the browser reaches us over HTTPS (directly or via a proxy).
    /// Turns on `Secure` cookies and HSTS.
    pub tls: bool,
    /// Trust `X-Forwarded-For` from this proxy address.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Company name shown on pages.
    pub company: String,
    /// How people reach the company, shown on pages.
    pub contact: CompanyContact,
    /// The company's details on its invoices (address, KVK, BTW, IBAN).
    pub invoicing: documents::Invoicing,
    /// Login attempts per minute per client address before 429.
    pub attempts_per_minute: u32,
    /// Queues e-mail and SMS; without it, staff are told to use post or phone.
    pub notifier: Option<custodian_notify::Notifier>,
    /// Whether an SMS provider is configured (activation codes by SMS).
    pub sms: bool,
    /// Whether an SMTP server is configured: then invoices that go by e-mail
    /// are delivered (`delivery.rs`).
    pub email: bool,
    /// The retention rules: erasure requests and the plan page follow them.
    pub retention: custodian_domain::retention::RetentionPolicy,
    /// The registries, for routing new handles and domains and for fetching
    /// passthrough holder data; `None` when no registry is configured.
    pub registry: Option<std::sync::Arc<custodian_registry::Worker>>,
    /// Serve session checks and customers' own dashboards from memory while
    /// the database says they are current (see the store's read cache).
    pub read_cache: bool,
    /// Timeouts and the connection limit of [`serve`].
    pub limits: Limits,
}

/// How people reach the company (`[company]` in the configuration file):
/// the footer of every page, and wherever a page tells people to call or write.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompanyContact {
    /// Postal address, one line.
    pub address: String,
    pub phone: String,
    pub email: String,
    /// The version of the privacy statute / data processing agreement that
    /// customers accept now; the portal offers it to those who have not (A1).
    /// Empty: the portal offers none.
    pub statute_version: String,
}

/// How long a client may take and how many may be connected at once
/// (`[http]` in the configuration file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Seconds to send a request's complete head; on a kept-alive HTTP/1
    /// connection this also bounds the wait for the next request.
    pub header_read_timeout_secs: u64,
    /// Seconds from a request's head to its answer, reading the body included;
    /// after that the answer is `408`.
    pub request_timeout_secs: u64,
    /// Seconds a connection may stay without a byte moving either way.
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait until one closes.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { header_read_timeout_secs: 10, request_timeout_secs: 30, idle_timeout_secs: 60, max_connections: 512 }
    }
}

impl Limits {
    /// What is wrong with these settings, if anything (naming the key).
    pub fn problem(&self) -> Option<String> {
        let secs = [
            ("header_read_timeout_secs", self.header_read_timeout_secs, 300),
            ("request_timeout_secs", self.request_timeout_secs, 3600),
            ("idle_timeout_secs", self.idle_timeout_secs, 3600),
        ];
        for (key, value, max) in secs {
            if !(1..=max).contains(&value) {
                return Some(format!("[http] {key} must be from 1 to {max}"));
            }
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Some("[http] max_connections must be from 1 to 1000000".into());
        }
        None
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_url: "http://127.0.0.1:8080".into(),
            tls: false,
            trusted_proxy: None,
            company: "custodian".into(),
            contact: CompanyContact::default(),
            invoicing: documents::Invoicing::default(),
            attempts_per_minute: 10,
            notifier: None,
            sms: false,
            email: false,
            retention: Default::default(),
            registry: None,
            read_cache: true,
            limits: Limits::default(),
        }
    }
}

pub(crate) struct AppState {
    pub store: Store,
    pub config: WebConfig,
    /// Wakes the invoice delivery (`delivery.rs`) after invoices came in.
    pub delivery: delivery::Wake,
    pub limiter: security::RateLimiter,
    /// The OpenAPI document of this server's API, made once.
    pub openapi: String,
    /// The origin of `config.public_url`, read once; `None` when it is not
    /// one (then no form is accepted).
    pub public: Option<security::PublicOrigin>,
    /// This server's request counts and latencies.
    pub metrics: metrics::Metrics,
}

pub(crate) type State = Arc<AppState>;

/// The application as an axum router.
pub fn app(store: Store, config: WebConfig) -> axum::Router {
    app_with(store, config, delivery::Wake::default())
}

fn app_with(store: Store, config: WebConfig, delivery: delivery::Wake) -> axum::Router {
    let limiter = security::RateLimiter::new(config.attempts_per_minute);
    let store = if config.read_cache { store.with_read_cache() } else { store };
    let openapi = openapi::document(&config.public_url, &routes::endpoints()).to_string();
    let public = security::PublicOrigin::parse(&config.public_url);
    // The names are constants: only a typo in them could make this fail, and every test would show it.
    let metrics = metrics::Metrics::new().expect("the request metrics' names and labels are valid");
    let state = Arc::new(AppState { store, config, delivery, limiter, openapi, public, metrics });
    routes::router(state)
}

/// A certificate chain and private key in PEM files, for serving HTTPS directly.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Serves on `listener` until `shutdown` completes: HTTPS when `tls` is given,
/// plain HTTP otherwise (behind a TLS-terminating proxy). With a notifier,
/// invoices that go by e-mail are delivered beside it (`delivery.rs`). `config.limits` bounds
/// the time to send a request head, the time to answer a request, the time a
/// connection may be silent, and the number of connections served at once.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<TlsFiles>,
    store: Store,
    config: WebConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use std::time::Duration;

    let limits = config.limits;
    let request_timeout = Duration::from_secs(limits.request_timeout_secs);
    let public = security::PublicOrigin::parse(&config.public_url)
        .ok_or_else(|| std::io::Error::other("public_url must be http:// or https:// with a host"))?;
    let wake = delivery::Wake::default();
    let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(());
    if let (Some(notifier), true) = (config.notifier.clone(), config.email) {
        let mut stopped = delivery_stopped;
        let stopped = async move {
            let _ = stopped.changed().await;
        };
        tokio::spawn(delivery::run(store.clone(), notifier, config.clone(), wake.clone(), stopped));
    }
    let app = app_with(store, config, wake)
        .layer(edge::EdgeLayer::new(public, request_timeout))
        .into_make_service_with_connect_info::<SocketAddr>();
    let app = security::ConnectionLimit::new(app, limits.max_connections);
    let idle = security::IdleAcceptor { idle: Duration::from_secs(limits.idle_timeout_secs) };
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_delivery.send(());
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let timed = |builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>| {
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs));
        builder.http2().timer(hyper_util::rt::TokioTimer::new());
    };
    match tls {
        Some(files) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config).acceptor(idle);
            let mut server = axum_server::from_tcp(listener)?.acceptor(acceptor).handle(handle);
            timed(server.http_builder());
            server.serve(app).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)?.acceptor(idle).handle(handle);
            timed(server.http_builder());
            server.serve(app).await
        }
    }
}
