//! One registry over EPP: a pool of logged-in sessions and the commands we send.
//!
//! A session logs in once and serves many commands (a registry counts logins
//! and may limit sessions). An idle session is checked with `<hello>` before
//! reuse; a session that fails in transport, or that the registry closes (result
//! codes 2500–2502), is dropped and the next command opens a new one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use custodian_domain::model::{ContactData, Fields};
use instant_epp::client::RequestData;
use instant_epp::contact::{self, ContactCheck, ContactCreate, ContactDelete, ContactInfo, ContactUpdate, InfoType};
use instant_epp::domain::{self, DomainCheck, DomainContact, DomainCreate, DomainInfo, DomainUpdate, Period};
use instant_epp::login::Login;
use instant_epp::poll::{Ack, Poll, PollData};
use instant_epp::request::{Command, Extension, Transaction};
use instant_epp::response::Response;
use instant_epp::{EppClient, Error};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::config::{Flavour, RegistryConfig};
use crate::sidn::{self, SidnContact};

#[derive(Debug, thiserror::Error)]
pub enum EppError {
    /// The connection failed or timed out: the command may or may not have run.
    #[error("connection to the registry failed: {0}")]
    Transport(String),
    /// The registry answered with an error result code.
    #[error("the registry answered {code}: {message}")]
    Registry { code: u16, message: String },
    #[error("registry configuration: {0}")]
    Config(String),
    /// The registry's answer does not fit our data model.
    #[error("the registry's answer is not usable: {0}")]
    Data(String),
}

impl EppError {
    pub fn code(&self) -> Option<u16> {
        match self {
            EppError::Registry { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Worth trying again later: transport failures, 2400 (command failed) and
    /// the registry closing the session (2500–2502).
    pub fn is_transient(&self) -> bool {
        match self {
            EppError::Transport(_) => true,
            EppError::Registry { code, .. } => *code == 2400 || (2500..=2502).contains(code),
            EppError::Config(_) | EppError::Data(_) => false,
        }
    }
}

/// A contact as the registry holds it.
#[derive(Debug, Clone)]
pub struct RemoteContact {
    pub id: String,
    /// The registrar that sponsors it (`clID`).
    pub client_id: String,
    pub data: ContactData,
}

/// A domain as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDomain {
    pub name: String,
    pub client_id: String,
    pub registrant: Option<String>,
    pub admin: Option<String>,
    pub tech: Option<String>,
}

/// A successful answer: the registry's result code and message, and the value.
#[derive(Debug, Clone)]
pub struct Reply<T> {
    pub code: u16,
    pub message: String,
    pub value: T,
}

fn reply<D, E, T>(rsp: &Response<D, E>, value: T) -> Reply<T> {
    Reply { code: rsp.result.code as u16, message: rsp.result.message.clone(), value }
}

/// A message from the registry's poll queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollMessage {
    pub id: String,
    pub text: String,
    /// A domain that another registrar took over (a completed transfer away).
    pub transferred_away: Option<String>,
}

/// The handles of a domain: registrant, admin and tech.
#[derive(Debug, Clone, Copy)]
pub struct DomainHandles<'a> {
    pub registrant: &'a str,
    pub admin: Option<&'a str>,
    pub tech: Option<&'a str>,
}

struct Session {
    client: EppClient<crate::connector::Tls>,
    used: Instant,
}

pub struct Registry {
    name: String,
    config: RegistryConfig,
    tls: Arc<rustls::ClientConfig>,
    idle: std::sync::Mutex<Vec<Session>>,
    permits: Semaphore,
    logins: AtomicU64,
    /// Time spent waiting for the registry (connecting, logging in, commands).
    waited_micros: AtomicU64,
}

fn tls_config(config: &RegistryConfig) -> Result<rustls::ClientConfig, EppError> {
    let bad = |what: &str, e: String| EppError::Config(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = &config.ca_file {
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad("ca_file", e.to_string()))? {
            roots.add(cert.map_err(|e| bad("ca_file", e.to_string()))?).map_err(|e| bad("ca_file", e.to_string()))?;
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", e.to_string()))?
        .with_root_certificates(roots);
    match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad("client_cert", e.to_string()))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("client_key", e.to_string()))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| bad("client_cert", e.to_string()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn from_epp(e: Error) -> EppError {
    match e {
        Error::Command(status) => {
            EppError::Registry { code: status.result.code as u16, message: status.result.message.clone() }
        }
        Error::Xml(e) => EppError::Data(e.to_string()),
        other => EppError::Transport(other.to_string()),
    }
}

/// A random authorisation code for a new object (RFC 5733 `authInfo`).
fn auth_code() -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(20);
    for b in rand_bytes::<10>() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

impl Registry {
    pub fn new(name: &str, config: RegistryConfig) -> Result<Registry, EppError> {
        if let Some(p) = config.problem() {
            return Err(EppError::Config(format!("[registries.{name}] {p}")));
        }
        let tls = Arc::new(tls_config(&config)?);
        Ok(Registry {
            name: name.to_string(),
            permits: Semaphore::new(config.sessions),
            config,
            tls,
            idle: std::sync::Mutex::new(vec![]),
            logins: AtomicU64::new(0),
            waited_micros: AtomicU64::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Logins since start: with pooled sessions, at most one per session opened.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Time spent waiting for the registry since start, summed over sessions.
    pub fn waited(&self) -> Duration {
        Duration::from_micros(self.waited_micros.load(Ordering::Relaxed))
    }

    /// The handle ID we propose for contact `contact_id` (registries of the
    /// generic flavour keep it; SIDN assigns its own).
    pub fn proposed_handle(&self, contact_id: i64) -> String {
        format!("{}{contact_id:06}", self.config.handle_prefix)
    }

    async fn open_session(&self) -> Result<Session, EppError> {
        let timeout = Duration::from_secs(self.config.timeout_secs);
        let connector = crate::connector::Tls {
            host: self.config.host.clone(),
            port: self.config.port,
            server_name: rustls::pki_types::ServerName::try_from(self.config.host.clone())
                .map_err(|e| EppError::Config(format!("host: {e}")))?,
            config: self.tls.clone(),
        };
        let mut client = EppClient::new(connector, self.name.clone(), timeout).await.map_err(from_epp)?;
        let ext: &[&str] = if self.config.flavour == Flavour::Sidn { &[sidn::XMLNS] } else { &[] };
        let login = Login::new(&self.config.login, self.config.password.expose_secret(), None, Some(ext));
        self.logins.fetch_add(1, Ordering::Relaxed);
        client.transact(&login, &self.cltrid("login")).await.map_err(from_epp)?;
        tracing::info!(registry = %self.name, "registry session opened");
        Ok(Session { client, used: Instant::now() })
    }

    /// An idle session that still answers `<hello>`, or a new one.
    async fn take_session(&self) -> Result<Session, EppError> {
        loop {
            let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            let Some(mut s) = idle else { return self.open_session().await };
            if s.used.elapsed() < Duration::from_secs(self.config.keepalive_secs) || s.client.hello().await.is_ok() {
                return Ok(s);
            }
        }
    }

    fn give_back(&self, mut session: Session) {
        session.used = Instant::now();
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
        }
    }

    /// Sends one command on a pooled session.
    async fn transact<'c, 'e, Cmd, Ext>(
        &self,
        data: impl Into<RequestData<'c, 'e, Cmd, Ext>>,
        cltrid: &str,
    ) -> Result<Response<Cmd::Response, Ext::Response>, EppError>
    where
        Cmd: Transaction<Ext> + Command + 'c,
        Ext: Extension + 'e,
    {
        let data = data.into();
        let _permit = self.permits.acquire().await.map_err(|e| EppError::Transport(e.to_string()))?;
        let started = Instant::now();
        let session = self.take_session().await;
        let result = match session {
            Ok(mut s) => {
                // A registry that stops answering must not hold the worker.
                let limit = Duration::from_secs(self.config.timeout_secs);
                let r = match tokio::time::timeout(limit, s.client.transact(data, cltrid)).await {
                    Ok(r) => r.map_err(from_epp),
                    Err(_) => Err(EppError::Transport("no answer within the timeout".into())),
                };
                Ok((s, r))
            }
            Err(e) => Err(e),
        };
        let spent = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.waited_micros.fetch_add(spent, Ordering::Relaxed);
        let (session, result) = result?;
        match &result {
            Err(EppError::Transport(_)) => {}
            Err(EppError::Registry { code, .. }) if *code >= 2500 => {}
            _ => self.give_back(session),
        }
        result
    }

    /// A client transaction ID: registry, purpose and a random part, unique per command.
    pub fn cltrid(&self, purpose: &str) -> String {
        let [a, b, c, d, e, f] = rand_bytes::<6>();
        format!("{}-{purpose}-{a:02x}{b:02x}{c:02x}{d:02x}{e:02x}{f:02x}", self.config.login)
    }

    /// Logs every idle session out.
    pub async fn close(&self) {
        let sessions: Vec<Session> = self.idle.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
        for s in sessions {
            let _ = s.client.shutdown().await;
        }
    }

    // ------------------------------------------------------------ contacts

    /// Whether each of `ids` is still free at the registry.
    pub async fn contact_available(&self, id: &str, cltrid: &str) -> Result<bool, EppError> {
        let ids = [id];
        let rsp = self.transact(&ContactCheck { contact_ids: &ids }, cltrid).await?;
        let data = rsp.res_data().ok_or_else(|| EppError::Data("no check data".into()))?;
        Ok(data.list.iter().any(|c| c.id.value == id && c.id.available))
    }

    /// Creates the contact; returns the ID the registry gave it.
    pub async fn contact_create(&self, id: &str, data: &ContactData, cltrid: &str) -> Result<Reply<String>, EppError> {
        let parts = EppContact::of(data)?;
        let auth = auth_code();
        let create = ContactCreate::new(id, data.email.as_str(), parts.postal(), Some(parts.voice()), &auth);
        let rsp = match self.config.flavour {
            Flavour::Sidn => {
                let ext = SidnContact::create(parts.legal_form, parts.kvk);
                self.transact((&create, &ext), cltrid).await?
            }
            Flavour::Generic => self.transact(&create, cltrid).await?,
        };
        let given = rsp.res_data().map(|r| r.id.clone()).unwrap_or_else(|| id.to_string());
        Ok(reply(&rsp, given))
    }

    pub async fn contact_update(&self, id: &str, data: &ContactData, cltrid: &str) -> Result<Reply<()>, EppError> {
        let parts = EppContact::of(data)?;
        let auth = auth_code();
        let mut update = ContactUpdate::new(id);
        update.set_info(data.email.as_str(), parts.postal(), parts.voice(), &auth);
        Ok(match self.config.flavour {
            Flavour::Sidn => {
                let ext = SidnContact::update(parts.legal_form, parts.kvk);
                reply(&self.transact((&update, &ext), cltrid).await?, ())
            }
            Flavour::Generic => reply(&self.transact(&update, cltrid).await?, ()),
        })
    }

    pub async fn contact_delete(&self, id: &str, cltrid: &str) -> Result<Reply<()>, EppError> {
        Ok(reply(&self.transact(&ContactDelete::new(id), cltrid).await?, ()))
    }

    pub async fn contact_info(&self, id: &str, cltrid: &str) -> Result<RemoteContact, EppError> {
        let rsp = self.transact(&ContactInfo::new(id, ""), cltrid).await?;
        let info = rsp.res_data.ok_or_else(|| EppError::Data("no info data".into()))?.into_inner();
        let a = &info.postal_info.address;
        let mut f = Fields::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                f.insert(k.to_string(), v.to_string());
            }
        };
        put("handle", &info.id);
        put("name", &info.postal_info.name);
        put("organisation", info.postal_info.organization.as_deref().unwrap_or(""));
        put("addr_street", &a.street.join(", "));
        put("addr_postcode", a.postal_code.as_deref().unwrap_or(""));
        put("addr_city", &a.city);
        put("addr_country", a.country.alpha2);
        put("phone", &info.voice.as_ref().map(|v| v.number.replace('.', "")).unwrap_or_default());
        put("email", &info.email);
        let data = ContactData::from_fields(&f).map_err(|e| {
            EppError::Data(format!(
                "contact fields {}",
                e.0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        Ok(RemoteContact { id: info.id, client_id: info.client_id, data })
    }

    // ------------------------------------------------------------- domains

    pub async fn domain_available(&self, name: &str, cltrid: &str) -> Result<bool, EppError> {
        let names = [name];
        let rsp = self.transact(&DomainCheck { domains: &names }, cltrid).await?;
        let data = rsp.res_data().ok_or_else(|| EppError::Data("no check data".into()))?;
        Ok(data.list.iter().any(|c| c.name.value.eq_ignore_ascii_case(name) && c.name.available))
    }

    pub async fn domain_create(
        &self,
        name: &str,
        handles: DomainHandles<'_>,
        cltrid: &str,
    ) -> Result<Reply<()>, EppError> {
        let contacts = domain_contacts(handles);
        let period = Period::Years(domain::PeriodLength::new(1).map_err(|e| EppError::Data(e.to_string()))?);
        let auth = auth_code();
        let create = DomainCreate::new(name, period, None, Some(handles.registrant), &auth, Some(&contacts));
        Ok(reply(&self.transact(&create, cltrid).await?, ()))
    }

    /// Points the domain at new handles: `old` is what the registry has now.
    pub async fn domain_update(
        &self,
        name: &str,
        old: &RemoteDomain,
        new: DomainHandles<'_>,
        cltrid: &str,
    ) -> Result<Reply<()>, EppError> {
        let old_handles = DomainHandles {
            registrant: old.registrant.as_deref().unwrap_or_default(),
            admin: old.admin.as_deref(),
            tech: old.tech.as_deref(),
        };
        let (wanted, current) = (domain_contacts(new), domain_contacts(old_handles));
        let mut update = DomainUpdate::new(name);
        if old.registrant.as_deref() != Some(new.registrant) {
            update.info(domain::update::DomainChangeInfo { registrant: Some(new.registrant), auth_info: None });
        }
        let add: Vec<DomainContact> =
            domain_contacts(new).into_iter().filter(|c| !current.iter().any(|r| same(r, c))).collect();
        let remove: Vec<DomainContact> =
            domain_contacts(old_handles).into_iter().filter(|r| !wanted.iter().any(|c| same(r, c))).collect();
        if !add.is_empty() {
            update.add(domain::update::DomainAdd { ns: None, contacts: Some(&add), statuses: None });
        }
        if !remove.is_empty() {
            update.remove(domain::update::DomainRemove { ns: None, contacts: Some(&remove), statuses: None });
        }
        Ok(reply(&self.transact(&update, cltrid).await?, ()))
    }

    pub async fn domain_info(&self, name: &str, cltrid: &str) -> Result<RemoteDomain, EppError> {
        let rsp = self.transact(&DomainInfo::new(name, None), cltrid).await?;
        let info = rsp.res_data.ok_or_else(|| EppError::Data("no info data".into()))?.into_inner();
        let of = |t: &str| {
            info.contacts.as_ref().and_then(|cs| cs.iter().find(|c| c.contact_type == t).map(|c| c.id.to_string()))
        };
        Ok(RemoteDomain {
            admin: of("admin"),
            tech: of("tech"),
            name: info.name,
            client_id: info.client_id,
            registrant: info.registrant,
        })
    }

    // ---------------------------------------------------------------- poll

    /// The oldest message in the registry's queue, if any (not yet acknowledged).
    pub async fn poll(&self, cltrid: &str) -> Result<Option<PollMessage>, EppError> {
        let rsp = self.transact(&Poll, cltrid).await?;
        let Some(queue) = rsp.message_queue else { return Ok(None) };
        let transferred_away = match rsp.res_data.map(|r| r.into_inner()) {
            Some(PollData::DomainTransfer(t))
                if matches!(t.transfer_status.as_str(), "serverApproved" | "clientApproved")
                    && t.requester_id != self.config.login =>
            {
                Some(t.name)
            }
            _ => None,
        };
        let text = queue.message.map(|m| m.text).unwrap_or_default();
        Ok(Some(PollMessage { id: queue.id, text, transferred_away }))
    }

    pub async fn ack(&self, message_id: &str, cltrid: &str) -> Result<(), EppError> {
        self.transact(&Ack { message_id }, cltrid).await?;
        Ok(())
    }
}

fn same(a: &DomainContact, b: &DomainContact) -> bool {
    a.contact_type == b.contact_type && a.id == b.id
}

fn domain_contacts(h: DomainHandles<'_>) -> Vec<DomainContact<'_>> {
    [("admin", h.admin), ("tech", h.tech)]
        .into_iter()
        .filter_map(|(t, id)| id.map(|id| DomainContact { contact_type: t.into(), id: id.into() }))
        .collect()
}

/// The parts of a contact in EPP's shapes, borrowed from our validated value.
struct EppContact<'a> {
    data: &'a ContactData,
    country: contact::Country,
    phone: String,
    legal_form: Option<&'a str>,
    kvk: Option<&'a str>,
}

impl<'a> EppContact<'a> {
    fn of(data: &'a ContactData) -> Result<EppContact<'a>, EppError> {
        let country = data
            .address
            .country
            .as_str()
            .parse::<contact::Country>()
            .map_err(|_| EppError::Data("country code unknown to EPP".into()))?;
        Ok(EppContact {
            data,
            country,
            phone: data.phone.epp(),
            legal_form: data.legal_form.as_ref().map(|f| f.as_str()),
            kvk: data.kvk.as_ref().map(|k| k.as_str()),
        })
    }

    fn postal(&self) -> contact::PostalInfo<'a> {
        let a = &self.data.address;
        let address = contact::Address::new(
            &[a.street.as_str()],
            a.city.as_str(),
            None,
            Some(a.postcode.as_str()),
            self.country.clone(),
        );
        contact::PostalInfo::new(
            InfoType::Local,
            self.data.name.as_str(),
            self.data.organisation.as_ref().map(|o| o.as_str()),
            address,
        )
    }

    fn voice(&self) -> contact::Voice<'_> {
        contact::Voice::new(&self.phone)
    }
}
