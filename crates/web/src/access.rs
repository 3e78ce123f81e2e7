//! Who may use a route, as declared in the route table: a leaf module that the
//! guard, the route table and the OpenAPI document all read, so none of them
//! needs another.

use custodian_domain::inventory::Role;
use custodian_domain::policy::{self, Action, Resource};
use custodian_store::Scope;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no cookie is read or set (A2).
    Public,
    /// Anyone with a session, also before the second factor (the 2FA pages).
    Session,
    /// A logged-in customer, second factor done when enrolled.
    Customer,
    /// Staff whose role the access policy lets take this action, with the
    /// second factor done.
    Staff(Resource, Action),
    /// An API token (`Authorization: Bearer`) holding this scope, whose role
    /// the access policy lets take this action. Cookies are ignored here, so
    /// no CSRF token is needed.
    Api(Scope, Resource, Action),
}

impl Access {
    /// The signed-in staff roles that may use a `Staff` or `Api` route.
    pub fn roles(self) -> Vec<Role> {
        match self {
            Access::Staff(resource, action) | Access::Api(_, resource, action) => {
                policy::roles(resource, action).filter(|r| *r != Role::Subject).collect()
            }
            _ => vec![],
        }
    }
}

/// What the route table says about one route, without its handler.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    /// Guesses at a secret (password, code, token): rate-limited per client
    /// address, and answered alike whether or not the account exists.
    pub limited: bool,
    /// Takes a file: the body may be up to [`UPLOAD_MAX`] instead of a form's 64 KiB.
    pub upload: bool,
}

/// The largest body an upload route takes: far above a year of a small
/// company's invoices as CSV.
pub const UPLOAD_MAX: usize = 16 * 1024 * 1024;

/// The largest body any other route takes.
pub const FORM_MAX: usize = 64 * 1024;
