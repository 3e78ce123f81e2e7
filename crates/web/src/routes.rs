//! Every route, once: method, path, who may use it, and its handler. The router
//! applies the access rule and CSRF check of each entry, so a handler cannot
//! forget them; the authorisation-matrix test walks the same table.

use axum::Router;
use axum::routing::{MethodRouter, get, patch, post};
use custodian_domain::inventory::Role;
use custodian_store::Scope;

use crate::State;
use crate::api;
use crate::pages::{auth, handles, portal, public, staff};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no cookie is read or set (A2).
    Public,
    /// Anyone with a session, also before the second factor (the 2FA pages).
    Session,
    /// A logged-in customer, second factor done when enrolled.
    Customer,
    /// Staff in one of these roles, with the second factor done.
    Staff(&'static [Role]),
    /// An API token (`Authorization: Bearer`) acting in one of these roles and
    /// holding this scope. Cookies are ignored here, so no CSRF token is needed.
    Api(Scope, &'static [Role]),
}

pub const ALL_STAFF: &[Role] = &[Role::Owner, Role::Staff, Role::Bookkeeper];
pub const OWNER_AND_STAFF: &[Role] = &[Role::Owner, Role::Staff];
pub const OWNER: &[Role] = &[Role::Owner];
pub const FINANCE: &[Role] = &[Role::Owner, Role::Bookkeeper];

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    handler: fn() -> MethodRouter<State>,
}

macro_rules! routes {
    ($($method:ident $path:literal $access:expr => $handler:path;)*) => {
        &[$(Route { method: stringify!($method), path: $path, access: $access, handler: || $method($handler) }),*]
    };
}

pub static ROUTES: &[Route] = routes! {
    get "/" Access::Public => public::home;
    get "/healthz" Access::Public => public::healthz;
    get "/metrics" Access::Public => public::metrics;
    get "/privacy" Access::Public => public::privacy;
    get "/style.css" Access::Public => public::stylesheet;
    get "/login" Access::Public => auth::login_form;
    post "/login" Access::Public => auth::login;
    get "/setup" Access::Public => auth::setup_form;
    post "/setup" Access::Public => auth::setup;
    get "/activate" Access::Public => auth::activate_form;
    post "/activate" Access::Public => auth::activate;
    get "/reset" Access::Public => auth::reset_request_form;
    post "/reset" Access::Public => auth::reset_request;
    get "/reset/new" Access::Public => auth::reset_form;
    post "/reset/new" Access::Public => auth::reset;
    post "/logout" Access::Session => auth::logout;
    get "/second-factor" Access::Session => auth::second_factor_form;
    post "/second-factor" Access::Session => auth::second_factor;
    get "/second-factor/enrol" Access::Session => auth::enrol_form;
    post "/second-factor/enrol" Access::Session => auth::enrol;

    get "/portal" Access::Customer => portal::dashboard;
    get "/portal/edit" Access::Customer => portal::edit_form;
    post "/portal/edit" Access::Customer => portal::edit;
    get "/portal/access" Access::Customer => portal::access_log;
    get "/portal/export" Access::Customer => portal::export_page;
    get "/portal/export.json" Access::Customer => portal::export_json;
    get "/portal/delete" Access::Customer => portal::delete_form;
    post "/portal/delete" Access::Customer => portal::delete;
    get "/portal/handles" Access::Customer => handles::list;
    post "/portal/handles" Access::Customer => handles::create;
    get "/portal/handles/{id}" Access::Customer => handles::show;
    post "/portal/handles/{id}" Access::Customer => handles::update;
    post "/portal/handles/{id}/delete" Access::Customer => handles::delete;
    post "/portal/domains" Access::Customer => handles::register_domain;

    get "/staff" Access::Staff(ALL_STAFF) => staff::home;
    post "/staff/search" Access::Staff(ALL_STAFF) => staff::search;
    get "/staff/customers/new" Access::Staff(OWNER_AND_STAFF) => staff::new_form;
    post "/staff/customers/new" Access::Staff(OWNER_AND_STAFF) => staff::create;
    get "/staff/customers/{id}" Access::Staff(ALL_STAFF) => staff::purpose_form;
    post "/staff/customers/{id}" Access::Staff(ALL_STAFF) => staff::view;
    post "/staff/customers/{id}/edit" Access::Staff(OWNER_AND_STAFF) => staff::edit;
    post "/staff/customers/{id}/statute" Access::Staff(OWNER_AND_STAFF) => staff::statute;
    post "/staff/customers/{id}/invite" Access::Staff(OWNER_AND_STAFF) => staff::invite;
    get "/staff/registry" Access::Staff(OWNER_AND_STAFF) => handles::operations;
    post "/staff/registry/{id}/retry" Access::Staff(OWNER_AND_STAFF) => handles::retry;
    get "/staff/audit" Access::Staff(OWNER) => staff::audit;
    get "/staff/retention" Access::Staff(OWNER) => staff::retention;
    get "/staff/api-tokens" Access::Staff(OWNER) => staff::api_tokens;
    post "/staff/api-tokens" Access::Staff(OWNER) => staff::create_api_token;
    post "/staff/api-tokens/{id}/revoke" Access::Staff(OWNER) => staff::revoke_api_token;

    get "/api/v1/openapi.json" Access::Public => api::openapi;
    post "/api/v1/customers" Access::Api(Scope::CustomersWrite, OWNER_AND_STAFF) => api::create_customer;
    post "/api/v1/customers/search" Access::Api(Scope::CustomersRead, ALL_STAFF) => api::search;
    get "/api/v1/customers/{id}" Access::Api(Scope::CustomersRead, ALL_STAFF) => api::read_customer;
    patch "/api/v1/customers/{id}" Access::Api(Scope::CustomersWrite, OWNER_AND_STAFF) => api::update_customer;
    get "/api/v1/customers/{id}/export" Access::Api(Scope::CustomersRead, ALL_STAFF) => api::export;
    get "/api/v1/customers/{id}/invoices" Access::Api(Scope::InvoicesRead, FINANCE) => api::invoices;
    get "/api/v1/customers/{id}/audit" Access::Api(Scope::AuditRead, OWNER) => api::access_log;
    get "/api/v1/audit/verify" Access::Api(Scope::AuditRead, OWNER) => api::verify_audit;
};

/// POSTs that guess at a secret (password, code, token): rate-limited per
/// client address by the guard.
pub const ATTEMPTS: &[&str] =
    &["/login", "/setup", "/activate", "/reset", "/reset/new", "/second-factor", "/second-factor/enrol"];

pub(crate) fn router(state: State) -> Router {
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.sort_unstable();
    paths.dedup();
    let mut router = Router::new();
    for path in paths {
        let mut methods: Option<MethodRouter<State>> = None;
        for r in ROUTES.iter().filter(|r| r.path == path) {
            let access = r.access;
            let guarded = (r.handler)()
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| {
                    crate::guard::enforce(s, access, req, next)
                }));
            methods = Some(match methods {
                Some(m) => m.merge(guarded),
                None => guarded,
            });
        }
        if let Some(m) = methods {
            router = router.route(path, m);
        }
    }
    router
        .fallback(public::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::security::headers))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}
