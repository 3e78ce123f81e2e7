//! The HTTPS client of the SMS senders: rustls with the ring provider, the
//! Mozilla roots plus an optional extra CA, no redirects (a token never follows
//! one), and plain HTTP only to the loopback address (a local stand-in or relay).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::NotifyError;

pub(crate) fn client(timeout: Duration, extra_ca_file: Option<&Path>) -> Result<reqwest::Client, NotifyError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = extra_ca_file {
        for cert in extra_ca(path)? {
            roots.add(cert).map_err(|e| NotifyError::Config(format!("{}: {e}", path.display())))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| NotifyError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("custodian/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyError::Config(format!("HTTP client: {e}")))
}

/// The certificates of a PEM file (at least one).
pub(crate) fn extra_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, NotifyError> {
    let bad = |e: String| NotifyError::Config(format!("extra_ca_file {}: {e}", path.display()));
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(certs)
}

/// Parses a provider address: `https://`, or `http://` to a loopback host.
pub(crate) fn endpoint(setting: &str, url: &str) -> Result<Url, NotifyError> {
    let parsed = Url::parse(url.trim()).map_err(|e| NotifyError::Config(format!("{setting}: {e}")))?;
    let host = parsed.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(NotifyError::Config(format!(
                "{setting}: an https:// address (plain http:// only to the loopback address)"
            )));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(NotifyError::Config(format!("{setting}: no credentials in the address")));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(endpoint("x", "https://gw.messaging.cm.com").is_ok());
        assert!(endpoint("x", "http://127.0.0.1:8080/").is_ok());
        assert!(endpoint("x", "http://[::1]:8080/").is_ok());
        assert!(endpoint("x", "http://localhost/").is_ok());
        assert!(endpoint("x", "http://gw.messaging.cm.com").is_err());
        assert!(endpoint("x", "ftp://127.0.0.1").is_err());
        assert!(endpoint("x", "https://user:pw@example.nl").is_err());
    }
}
