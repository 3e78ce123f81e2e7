//! Registry settings: `[registries.NAME]` sections of the configuration file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Which dialect a registry speaks on top of plain EPP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// SIDN (.nl): the `sidn-ext-epp` contact extension, handle IDs chosen by the registry.
    Sidn,
    /// Plain RFC 5733/5731: handle IDs chosen by us.
    #[default]
    Generic,
}

/// One registry connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The registrar's client ID at the registry (`clID`).
    pub login: String,
    /// Also from `CUSTODIAN_REGISTRY_<NAME>_PASSWORD`, which wins; never
    /// shown by `Debug`.
    #[serde(default = "no_password")]
    pub password: SecretString,
    /// The TLDs routed here, without dot; `*` takes every TLD no other registry names.
    #[serde(default)]
    pub tlds: Vec<String>,
    #[serde(default)]
    pub flavour: Flavour,
    /// Passthrough (A8): holder data goes to the registry and is not kept here.
    #[serde(default)]
    pub passthrough: bool,
    /// Logged-in sessions kept open at most. Default 2.
    #[serde(default = "default_sessions")]
    pub sessions: usize,
    /// Extra trust roots (PEM), e.g. a registry's test environment.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// TLS client certificate chain and key (PEM), for registries that require one.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Prefix of the handle IDs we choose (generic registries). Default `CST`.
    #[serde(default = "default_prefix")]
    pub handle_prefix: String,
    /// Seconds a command may take. Default 30.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// An idle session is checked with `<hello>` after this many seconds. Default 300.
    #[serde(default = "default_keepalive")]
    pub keepalive_secs: u64,
}

fn default_port() -> u16 {
    700
}
fn default_sessions() -> usize {
    2
}
fn default_prefix() -> String {
    "CST".into()
}
fn default_timeout() -> u64 {
    30
}
fn default_keepalive() -> u64 {
    300
}

fn no_password() -> SecretString {
    SecretString::from("")
}

impl RegistryConfig {
    /// A plain configuration for `host:port` with `login`/`password`.
    pub fn new(host: &str, port: u16, login: &str, password: &str) -> RegistryConfig {
        RegistryConfig {
            host: host.into(),
            port,
            login: login.into(),
            password: password.into(),
            tlds: vec![],
            flavour: Flavour::Generic,
            passthrough: false,
            sessions: default_sessions(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            handle_prefix: default_prefix(),
            timeout_secs: default_timeout(),
            keepalive_secs: default_keepalive(),
        }
    }

    /// What is wrong with these settings, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.host.trim().is_empty() || self.login.trim().is_empty() {
            return Some("host and login are required".into());
        }
        if self.password.expose_secret().is_empty() {
            return Some("password is required (or CUSTODIAN_REGISTRY_<NAME>_PASSWORD)".into());
        }
        // RFC 5730: a client identifier is a token of 3 to 16 characters, a
        // password one of 6 to 16; a registry refuses the login otherwise.
        if !epp_token(&self.login, 3, 16) {
            return Some("login is 3 to 16 characters without spaces at either end or line breaks (RFC 5730)".into());
        }
        if !epp_token(self.password.expose_secret(), 6, 16) {
            return Some(
                "password is 6 to 16 characters without spaces at either end or line breaks (RFC 5730)".into(),
            );
        }
        if self.sessions == 0 || self.sessions > 32 {
            return Some("sessions must be 1 to 32".into());
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Some("client_cert and client_key go together".into());
        }
        let prefix_ok = (1..=8).contains(&self.handle_prefix.len())
            && self.handle_prefix.chars().all(|c| c.is_ascii_alphanumeric());
        if !prefix_ok {
            return Some("handle_prefix has 1 to 8 letters or digits".into());
        }
        if self.timeout_secs == 0 {
            return Some("timeout_secs must be at least 1".into());
        }
        None
    }
}

/// Whether `value` is an XML Schema token of `min` to `max` characters: no
/// line breaks or tabs, no space at either end, no two spaces in a row.
fn epp_token(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.chars().count())
        && !value.contains(['\n', '\r', '\t'])
        && value.trim() == value
        && !value.contains("  ")
}

/// Every configured registry by name, and the routing of TLDs to them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Registries(pub BTreeMap<String, RegistryConfig>);

impl Registries {
    /// The registry that registers `domain`: the one naming its TLD, else the one
    /// with `*`.
    pub fn route(&self, domain: &str) -> Option<&str> {
        let tld = domain.trim_end_matches('.').rsplit('.').next()?.to_ascii_lowercase();
        let named = self.0.iter().find(|(_, c)| c.tlds.iter().any(|t| t.trim_start_matches('.') == tld));
        named.or_else(|| self.0.iter().find(|(_, c)| c.tlds.iter().any(|t| t == "*"))).map(|(n, _)| n.as_str())
    }

    pub fn get(&self, name: &str) -> Option<&RegistryConfig> {
        self.0.get(name)
    }

    /// Whether holder data for `name` stays out of our database (A8).
    pub fn passthrough(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|c| c.passthrough)
    }

    /// The first problem of any registry, named.
    pub fn problem(&self) -> Option<String> {
        let mut star = 0;
        for (name, c) in &self.0 {
            if let Some(p) = c.problem() {
                return Some(format!("[registries.{name}] {p}"));
            }
            star += c.tlds.iter().filter(|t| *t == "*").count();
        }
        (star > 1).then(|| "only one registry can take every other TLD (\"*\")".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_tld_with_a_fallback() {
        let mut r = Registries::default();
        let mut sidn = RegistryConfig::new("drs.example", 700, "100042", "geheim-epp");
        sidn.tlds = vec!["nl".into()];
        let mut partner = RegistryConfig::new("epp.example", 700, "partner1", "geheim-epp");
        partner.tlds = vec!["*".into()];
        r.0.insert("sidn".into(), sidn);
        r.0.insert("partner".into(), partner);
        assert_eq!(r.route("kievit.nl"), Some("sidn"));
        assert_eq!(r.route("KIEVIT.NL."), Some("sidn"));
        assert_eq!(r.route("kievit.eu"), Some("partner"));
        r.0.remove("partner");
        assert_eq!(r.route("kievit.eu"), None);
        assert_eq!(r.problem(), None);
    }

    #[test]
    fn login_and_password_keep_to_rfc_5730() {
        let ok = RegistryConfig::new("drs.example", 700, "100", "abcdef");
        assert_eq!(ok.problem(), None, "3 and 6 characters are the least");
        let longest = RegistryConfig::new("drs.example", 700, &"x".repeat(16), &"y".repeat(16));
        assert_eq!(longest.problem(), None);
        for (login, password) in [
            ("10", "abcdef"),
            (&"x".repeat(17) as &str, "abcdef"),
            ("100", "abcde"),
            ("100", &"y".repeat(17)),
            ("100", " abcdef"),
            ("10 0", "abc\ndef"),
            ("1  00", "abcdef"),
        ] {
            let c = RegistryConfig::new("drs.example", 700, login, password);
            assert!(c.problem().is_some_and(|p| p.contains("RFC 5730")), "{login:?} / {password:?}");
        }
    }
}
