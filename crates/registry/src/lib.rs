//! Domain registries over EPP (RFC 5730–5734).
//!
//! * [`config`]: the `[registries.NAME]` sections and the routing of a domain to
//!   its registry by TLD (`.nl` to SIDN, the rest to the registrar partner).
//! * [`epp`]: one configured registry: a pool of logged-in sessions that are
//!   reused, kept alive with `<hello>` and replaced when they break, and the
//!   commands custodian sends, mapped from and to our validated values.
//! * [`sidn`]: SIDN's contact extension (legal form and registration number).
//! * [`worker`]: drains the registry outbox of the store: every operation was
//!   written there before it is sent, so a crash loses none.
//!
//! Nothing here logs holder data: logs name registries, operation numbers,
//! result codes and the registry's message.

pub mod config;
mod connector;
pub mod epp;
pub mod sidn;
pub mod worker;

pub use config::{Flavour, Registries, RegistryConfig};
pub use epp::{EppError, Registry, RemoteContact, RemoteDomain};
pub use worker::{Difference, WorkError, Worker, WorkerReport, WorkerSettings};
