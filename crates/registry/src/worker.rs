//! The worker that drains the registry outbox, reads the registries' poll
//! queues and compares local state with the registries.
//!
//! Every operation is safe to repeat, because a worker can die after the
//! registry acted and before the result was stored:
//! * a contact or domain create that is retried first asks whether the object
//!   exists and is ours (`check`, then `info` comparing the sponsoring
//!   registrar), and counts that as done;
//! * a delete of a contact that no longer exists (2303) is done;
//! * an update sends the whole current state, so sending it twice is harmless.
//!
//! Transient failures (transport, 2400, 2500–2502) are retried with exponential
//! backoff; any other error code fails the operation with the registry's code
//! and message, for staff to correct and retry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use custodian_domain::model::{ContactData, Fields};
use custodian_store::lease::retry_delay_secs;
use custodian_store::registry::{Applied, ClaimedOp, OpKind, Outcome};
use custodian_store::{Access, AccessPurpose, Actor, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::config::{Flavour, Registries};
use crate::epp::{DomainHandles, EppError, Registry, Reply};

/// The `[registry_worker]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// How long a claim holds (seconds); more than twice a registry's timeout.
    pub lease_secs: u64,
    /// Delay after the first transient failure (seconds), doubling per attempt.
    pub retry_first_delay_secs: u64,
    pub retry_max_delay_secs: u64,
    /// Attempts before an operation fails for good.
    pub max_attempts: i64,
    /// Seconds between rounds while idle.
    pub poll_interval_secs: u64,
    /// Seconds between reads of the registries' message queues.
    pub message_interval_secs: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            lease_secs: 120,
            retry_first_delay_secs: 30,
            retry_max_delay_secs: 3600,
            max_attempts: 12,
            poll_interval_secs: 5,
            message_interval_secs: 300,
        }
    }
}

impl WorkerSettings {
    fn retry_delay_micros(&self, attempt: i64) -> i64 {
        let secs = retry_delay_secs(self.retry_first_delay_secs, self.retry_max_delay_secs, attempt);
        i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000) * 1_000_000
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    pub done: u64,
    pub retried: u64,
    pub failed: u64,
    /// Results not stored because another worker had taken the operation over.
    pub lost_claims: u64,
}

impl WorkerReport {
    fn add(&mut self, o: WorkerReport) {
        self.done += o.done;
        self.retried += o.retried;
        self.failed += o.failed;
        self.lost_claims += o.lost_claims;
    }

    pub fn total(&self) -> u64 {
        self.done + self.retried + self.failed
    }
}

/// One difference between our records and a registry's, named without holder data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `handle 12` or `domain kievit.nl`.
    pub object: String,
    pub what: String,
}

pub struct Worker {
    store: Store,
    config: Registries,
    registries: BTreeMap<String, Arc<Registry>>,
    settings: WorkerSettings,
}

fn now_micros() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn job() -> Access {
    Access::new(Actor::job(custodian_store::registry::WORKER_ACTOR), AccessPurpose::Registry)
}

/// Why an operation, a poll or a reconcile could not be carried out: the
/// registry's answer or our own store.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("{0}")]
    Epp(#[from] EppError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("registries", &self.registries.keys().collect::<Vec<_>>()).finish()
    }
}

impl Worker {
    pub fn new(store: Store, config: &Registries, settings: WorkerSettings) -> Result<Worker, EppError> {
        let mut registries = BTreeMap::new();
        for (name, c) in &config.0 {
            registries.insert(name.clone(), Arc::new(Registry::new(name, c.clone())?));
        }
        Ok(Worker { store, config: config.clone(), registries, settings })
    }

    /// The registries' settings and routing.
    pub fn config(&self) -> &Registries {
        &self.config
    }

    pub fn registry(&self, name: &str) -> Option<&Arc<Registry>> {
        self.registries.get(name)
    }

    pub fn registries(&self) -> impl Iterator<Item = &Arc<Registry>> {
        self.registries.values()
    }

    /// One round: every registry's ready operations, as many at a time as it
    /// has sessions; their results are stored together.
    pub async fn run_once(&self) -> Result<WorkerReport, StoreError> {
        let mut report = WorkerReport::default();
        for reg in self.registries.values() {
            let sessions = reg.config().sessions;
            let lease = i64::try_from(self.settings.lease_secs).unwrap_or(i64::MAX / 1_000_000) * 1_000_000;
            let ops = self.store.registry_ops().claim(reg.name(), sessions as i64 * 16, now_micros(), lease).await?;
            if ops.is_empty() {
                continue;
            }
            // One lane per session, each sending its share in turn.
            let lanes = (0..sessions.min(ops.len())).map(|i| self.lane(reg, ops.iter().skip(i).step_by(sessions)));
            let mut outcomes: Vec<Option<Outcome>> = (0..ops.len()).map(|_| None).collect();
            for (i, lane) in futures_util::future::join_all(lanes).await.into_iter().enumerate() {
                for (j, o) in lane.into_iter().enumerate() {
                    outcomes[i + j * sessions] = Some(o);
                }
            }
            let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
            for o in &outcomes {
                match o {
                    Outcome::Done { .. } => report.done += 1,
                    Outcome::Later { .. } => report.retried += 1,
                    Outcome::Failed { .. } => report.failed += 1,
                }
            }
            let results: Vec<(&ClaimedOp, Outcome)> = ops.iter().zip(outcomes).collect();
            report.lost_claims += self.store.registry_ops().record(&results, now_micros()).await?;
        }
        Ok(report)
    }

    /// Runs rounds until nothing is ready now (pending operations waiting for a
    /// later retry stay). For the command line and tests.
    pub async fn drain(&self) -> Result<WorkerReport, StoreError> {
        let mut report = WorkerReport::default();
        loop {
            let round = self.run_once().await?;
            report.add(round);
            if round.total() + round.lost_claims == 0 {
                return Ok(report);
            }
        }
    }

    /// Runs until `stop` resolves: a round every interval, and the registries'
    /// message queues every `message_interval_secs`.
    pub async fn run(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let idle = Duration::from_secs(self.settings.poll_interval_secs.max(1));
        let mut last_poll: Option<std::time::Instant> = None;
        loop {
            match self.run_once().await {
                Ok(r) if r.total() > 0 => {
                    tracing::info!(done = r.done, retried = r.retried, failed = r.failed, "registry round")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "registry round failed"),
            }
            if last_poll.is_none_or(|t| t.elapsed() >= Duration::from_secs(self.settings.message_interval_secs)) {
                last_poll = Some(std::time::Instant::now());
                match self.poll().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(messages = n, "registry messages handled"),
                    Err(e) => tracing::warn!(error = %e, "reading registry messages failed"),
                }
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(idle) => {}
            }
        }
        for r in self.registries.values() {
            r.close().await;
        }
    }

    async fn lane<'o>(&self, reg: &Registry, ops: impl Iterator<Item = &'o ClaimedOp>) -> Vec<Outcome> {
        let mut out = vec![];
        for op in ops {
            out.push(self.process(reg, op).await);
        }
        out
    }

    /// Sends one operation and says what became of it.
    async fn process(&self, reg: &Registry, op: &ClaimedOp) -> Outcome {
        match self.execute(reg, op).await {
            Ok((applied, code, message)) => Outcome::Done { applied, code: i64::from(code), message },
            Err(WorkError::Epp(e)) if e.is_transient() && op.attempts < self.settings.max_attempts => {
                tracing::info!(registry = reg.name(), op = op.id, attempt = op.attempts, error = %e, "registry operation retried later");
                let at = now_micros() + self.settings.retry_delay_micros(op.attempts);
                Outcome::Later { at, code: e.code().map(i64::from), message: e.to_string() }
            }
            Err(WorkError::Epp(e)) => {
                tracing::warn!(registry = reg.name(), op = op.id, error = %e, "registry operation failed");
                Outcome::Failed { code: e.code().map(i64::from), message: explain(&e) }
            }
            Err(WorkError::Store(e)) => {
                tracing::warn!(registry = reg.name(), op = op.id, error = %e, "registry operation cannot be prepared");
                Outcome::Failed { code: None, message: e.to_string() }
            }
        }
    }

    async fn handle_of(&self, op: &ClaimedOp) -> Result<String, WorkError> {
        if let Some(h) = op.payload.get("handle") {
            return Ok(h.clone());
        }
        let contact = op.contact_id.ok_or_else(|| StoreError::Corrupt("operation without a handle".into()))?;
        let (_, handle) = self.store.handle_id(&job(), contact).await?;
        Ok(handle
            .ok_or_else(|| StoreError::Refused(custodian_store::Refusal::HandleNotRegistered { handle: contact }))?)
    }

    async fn execute(&self, reg: &Registry, op: &ClaimedOp) -> Result<(Applied, u16, String), WorkError> {
        let id = op.cltrid.as_str();
        let retry = op.attempts > 1;
        match op.kind {
            OpKind::ContactCreate => {
                let data = contact_data(&op.payload)?;
                let proposed = match &data.handle {
                    Some(h) => h.as_str().to_string(),
                    None => reg.proposed_handle(op.contact_id.unwrap_or(op.id)),
                };
                // Only IDs we choose can be checked: a registry that assigns its
                // own gives us no way to find a create whose answer was lost.
                if retry && reg.config().flavour == Flavour::Generic && !reg.contact_available(&proposed, id).await? {
                    let remote = reg.contact_info(&proposed, id).await?;
                    if remote.client_id == reg.config().login {
                        return Ok((Applied::ContactCreated { handle: proposed }, 1000, "already created".into()));
                    }
                }
                let Reply { code, message, value } = reg.contact_create(&proposed, &data, id).await?;
                Ok((Applied::ContactCreated { handle: value }, code, message))
            }
            OpKind::ContactUpdate => {
                let handle = self.handle_of(op).await?;
                let data = contact_data(&op.payload)?;
                let r = reg.contact_update(&handle, &data, id).await?;
                Ok((Applied::ContactUpdated, r.code, r.message))
            }
            OpKind::ContactDelete => {
                let handle = self.handle_of(op).await?;
                match reg.contact_delete(&handle, id).await {
                    Ok(r) => Ok((Applied::ContactDeleted, r.code, r.message)),
                    // Gone already: an earlier attempt got through.
                    Err(EppError::Registry { code: 2303, message }) => Ok((Applied::ContactDeleted, 2303, message)),
                    Err(e) => Err(e.into()),
                }
            }
            OpKind::DomainCreate => {
                let domain = op.domain_id.ok_or_else(|| StoreError::Corrupt("operation without a domain".into()))?;
                let ids = self.store.domain_handle_ids(domain).await?;
                if retry && !reg.domain_available(&ids.name, id).await? {
                    let remote = reg.domain_info(&ids.name, id).await?;
                    if remote.client_id == reg.config().login {
                        return Ok((Applied::DomainCreated, 1000, "already created".into()));
                    }
                }
                let handles = DomainHandles {
                    registrant: &ids.registrant,
                    admin: ids.admin.as_deref(),
                    tech: ids.tech.as_deref(),
                };
                let r = reg.domain_create(&ids.name, handles, id).await?;
                Ok((Applied::DomainCreated, r.code, r.message))
            }
            OpKind::DomainUpdate => {
                let domain = op.domain_id.ok_or_else(|| StoreError::Corrupt("operation without a domain".into()))?;
                let ids = self.store.domain_handle_ids(domain).await?;
                // The change is worked out from what the registry has now, so a
                // repeat after a lost answer sends nothing twice.
                let remote = reg.domain_info(&ids.name, id).await?;
                let handles = DomainHandles {
                    registrant: &ids.registrant,
                    admin: ids.admin.as_deref(),
                    tech: ids.tech.as_deref(),
                };
                let r = reg.domain_update(&ids.name, &remote, handles, id).await?;
                Ok((Applied::DomainUpdated, r.code, r.message))
            }
        }
    }

    /// Reads every registry's poll queue: a domain transferred away is marked
    /// gone (its handles become unused); each message is acknowledged after it
    /// has been applied. Returns the number of messages handled.
    pub async fn poll(&self) -> Result<u64, WorkError> {
        let mut n = 0;
        for reg in self.registries.values() {
            loop {
                let Some(msg) = reg.poll(&reg.cltrid("poll")).await? else { break };
                if let Some(name) = &msg.transferred_away {
                    self.store.domain_transferred_away(reg.name(), name).await?;
                }
                reg.ack(&msg.id, &reg.cltrid("ack")).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Compares our handles and domains at `registry` with the registry's
    /// (info commands) and lists every difference. Changes nothing.
    pub async fn reconcile(&self, registry: &str) -> Result<Vec<Difference>, WorkError> {
        let reg = self.registry(registry).ok_or_else(|| EppError::Config(format!("no registry named {registry}")))?;
        let mut out = vec![];
        let diff = |object: String, what: &str| Difference { object, what: what.to_string() };
        let mut ids = BTreeMap::new();
        for h in self.store.handles_at(registry).await? {
            let object = format!("handle {}", h.contact_id);
            let Some(handle) = h.handle.clone() else {
                if h.status != "local" {
                    out.push(diff(object, &format!("{} here, no registry ID yet", h.status)));
                }
                continue;
            };
            ids.insert(h.contact_id, handle.clone());
            match reg.contact_info(&handle, &reg.cltrid("reconcile")).await {
                Ok(remote) => {
                    if remote.client_id != reg.config().login {
                        out.push(diff(object.clone(), "sponsored by another registrar"));
                    }
                    if h.status != "active" {
                        out.push(diff(object.clone(), &format!("{} here, exists at the registry", h.status)));
                    }
                    if !h.passthrough {
                        let local = self.store.contact_fields(&job(), h.contact_id).await?;
                        let changed = field_differences(&local, &remote.data.to_fields());
                        if !changed.is_empty() {
                            out.push(diff(object, &format!("differs in {}", changed.join(", "))));
                        }
                    }
                }
                Err(EppError::Registry { code: 2303, .. }) => {
                    out.push(diff(object, &format!("{} here, unknown at the registry", h.status)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        for d in self.store.domains_at(registry).await? {
            let object = format!("domain {}", d.name);
            match reg.domain_info(&d.name, &reg.cltrid("reconcile")).await {
                Ok(remote) => {
                    if remote.client_id != reg.config().login {
                        out.push(diff(object.clone(), "sponsored by another registrar"));
                    }
                    if d.status != "active" {
                        out.push(diff(object.clone(), &format!("{} here, exists at the registry", d.status)));
                    }
                    let want = |c: Option<i64>| c.and_then(|c| ids.get(&c).cloned());
                    for (role, local, remote) in [
                        ("registrant", want(Some(d.registrant_id)), remote.registrant),
                        ("admin", want(d.admin_id), remote.admin),
                        ("tech", want(d.tech_id), remote.tech),
                    ] {
                        if local != remote {
                            out.push(diff(object.clone(), &format!("{role} handle differs")));
                        }
                    }
                }
                Err(EppError::Registry { code: 2303, .. }) => {
                    out.push(diff(object, &format!("{} here, unknown at the registry", d.status)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

/// The names of fields whose values differ (never the values).
fn field_differences(local: &Fields, remote: &Fields) -> Vec<String> {
    // The registry does not return what only we keep (legal form and KVK travel
    // in SIDN's extension, which info answers do not carry back to us).
    let compared =
        ["name", "organisation", "addr_street", "addr_postcode", "addr_city", "addr_country", "phone", "email"];
    compared
        .iter()
        .filter(|k| {
            let norm = |f: &Fields| f.get(**k).map(|v| v.trim().to_lowercase());
            norm(local) != norm(remote)
        })
        .map(|k| k.to_string())
        .collect()
}

fn contact_data(payload: &Fields) -> Result<ContactData, WorkError> {
    ContactData::from_fields(payload)
        .map_err(|_| StoreError::Corrupt("the queued handle data does not validate".into()).into())
}

/// The registry's answer in words for staff; 2305 named plainly.
fn explain(e: &EppError) -> String {
    match e.code() {
        Some(2305) => format!("{e} (the handle is still used by a domain at the registry)"),
        Some(2302) => format!("{e} (the name is taken)"),
        _ => e.to_string(),
    }
}
