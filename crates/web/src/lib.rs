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

mod api;
mod guard;
pub mod openapi;
mod pages;
pub mod routes;
mod security;
mod view;

pub use routes::{Access as RouteAccess, ROUTES};

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
    /// Login attempts per minute per client address before 429.
    pub attempts_per_minute: u32,
    /// Queues e-mail and SMS; without it, staff are told to use post or phone.
    pub notifier: Option<custodian_notify::Notifier>,
    /// Whether an SMS provider is configured (activation codes by SMS).
    pub sms: bool,
    /// The retention rules: erasure requests and the plan page follow them.
    pub retention: custodian_domain::retention::RetentionPolicy,
    /// The registries, for routing new handles and domains and for fetching
    /// passthrough holder data; `None` when no registry is configured.
    pub registry: Option<std::sync::Arc<custodian_registry::Worker>>,
    /// Serve session checks and customers' own dashboards from memory while
    /// the database says they are current (see the store's read cache).
    pub read_cache: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_url: "http://127.0.0.1:8080".into(),
            tls: false,
            trusted_proxy: None,
            company: "custodian".into(),
            attempts_per_minute: 10,
            notifier: None,
            sms: false,
            retention: Default::default(),
            registry: None,
            read_cache: true,
        }
    }
}

pub(crate) struct AppState {
    pub store: Store,
    pub config: WebConfig,
    pub limiter: security::RateLimiter,
}

pub(crate) type State = Arc<AppState>;

/// The application as an axum router.
pub fn app(store: Store, config: WebConfig) -> axum::Router {
    let limiter = security::RateLimiter::new(config.attempts_per_minute);
    let store = if config.read_cache { store.with_read_cache() } else { store };
    let state = Arc::new(AppState { store, config, limiter });
    routes::router(state)
}

/// A certificate chain and private key in PEM files, for serving HTTPS directly.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Serves on `listener` until `shutdown` completes: HTTPS when `tls` is given,
/// plain HTTP otherwise (behind a TLS-terminating proxy).
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<TlsFiles>,
    store: Store,
    config: WebConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(store, config).into_make_service_with_connect_info::<SocketAddr>();
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    match tls {
        Some(files) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await?;
            axum_server::from_tcp_rustls(listener, config)?.handle(handle).serve(app).await
        }
        None => axum_server::from_tcp(listener)?.handle(handle).serve(app).await,
    }
}
