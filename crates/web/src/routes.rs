//! Every route, once: method, path, who may use it, and its handler. The router
//! applies the access rule and CSRF check of each entry, so a handler cannot
//! forget them; the authorisation-matrix test walks the same table.

use axum::Router;
use axum::routing::{MethodRouter, get, patch, post};
use custodian_domain::policy::{Action::*, Resource::*};
use custodian_store::Scope;

use crate::State;
pub use crate::access::{Access, Endpoint};
use crate::api;
use crate::pages::{
    accounts, audit, auth, books, documents, erasure, handles, portal, public, requests, second_factor, staff,
};

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    /// Guesses at a secret (password, code, token): rate-limited per client
    /// address, and answered alike whether or not the account exists.
    pub limited: bool,
    /// Takes a file (see [`Endpoint::upload`]).
    pub upload: bool,
    handler: fn() -> MethodRouter<State>,
}

impl Route {
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            method: self.method,
            path: self.path,
            access: self.access,
            limited: self.limited,
            upload: self.upload,
        }
    }
}

/// Every route without its handler.
pub fn endpoints() -> Vec<Endpoint> {
    ROUTES.iter().map(Route::endpoint).collect()
}

/// API routes the OpenAPI document does not describe (must be none; checked by a test).
pub fn undocumented_api_routes() -> Vec<String> {
    crate::openapi::undocumented(&endpoints())
}

macro_rules! routes {
    ($($method:ident $path:literal $access:expr $(, $flag:ident)? => $handler:path;)*) => {
        &[$(Route {
            method: stringify!($method),
            path: $path,
            access: $access,
            limited: routes!(@is limited $($flag)?),
            upload: routes!(@is upload $($flag)?),
            handler: || routes!(@handler $method [$($flag)?] $handler),
        }),*]
    };
    (@is limited limited) => { true };
    (@is upload upload) => { true };
    (@is $want:ident $($flag:ident)?) => { false };
    (@handler $method:ident [upload] $handler:path) => {
        $method($handler).layer(axum::extract::DefaultBodyLimit::max(crate::access::UPLOAD_MAX))
    };
    (@handler $method:ident [$($flag:ident)?] $handler:path) => { $method($handler) };
}

pub static ROUTES: &[Route] = routes! {
    get "/" Access::Public => public::home;
    get "/healthz" Access::Public => public::healthz;
    get "/readyz" Access::Public => public::readyz;
    get "/metrics" Access::Public => public::metrics;
    get "/privacy" Access::Public => public::privacy;
    get "/style.css" Access::Public => public::stylesheet;
    get "/login" Access::Public => auth::login_form;
    post "/login" Access::Public, limited => auth::login;
    get "/setup" Access::Public => auth::setup_form;
    post "/setup" Access::Public, limited => auth::setup;
    get "/activate" Access::Public => auth::activate_form;
    post "/activate" Access::Public, limited => auth::activate;
    get "/reset" Access::Public => auth::reset_request_form;
    post "/reset" Access::Public, limited => auth::reset_request;
    get "/reset/new" Access::Public => auth::reset_form;
    post "/reset/new" Access::Public, limited => auth::reset;
    get "/request/download" Access::Public => requests::download_form;
    post "/request/download" Access::Public, limited => requests::download;
    post "/logout" Access::Session => auth::logout;
    post "/language" Access::Session => auth::set_language;
    get "/second-factor" Access::Session => second_factor::second_factor_form;
    post "/second-factor" Access::Session, limited => second_factor::second_factor;
    get "/second-factor/enrol" Access::Session => second_factor::enrol_form;
    post "/second-factor/enrol" Access::Session, limited => second_factor::enrol;
    post "/second-factor/enrol/new-key" Access::Session => second_factor::new_key;

    get "/portal" Access::Customer => portal::dashboard;
    get "/portal/edit" Access::Customer => portal::edit_form;
    post "/portal/edit" Access::Customer => portal::edit;
    get "/portal/access" Access::Customer => portal::access_log;
    get "/portal/export" Access::Customer => portal::export_page;
    get "/portal/export.json" Access::Customer => portal::export_json;
    get "/portal/delete" Access::Customer => portal::delete_form;
    post "/portal/delete" Access::Customer => portal::delete;
    post "/portal/statute" Access::Customer => portal::accept_statute;
    get "/portal/invoices/{id}/pdf" Access::Customer => documents::portal_pdf;
    get "/portal/handles" Access::Customer => handles::list;
    post "/portal/handles" Access::Customer => handles::create;
    get "/portal/handles/{id}" Access::Customer => handles::show;
    post "/portal/handles/{id}" Access::Customer => handles::update;
    get "/portal/handles/{id}/delete" Access::Customer => handles::confirm_delete;
    post "/portal/handles/{id}/delete" Access::Customer => handles::delete;
    post "/portal/domains" Access::Customer => handles::register_domain;

    get "/staff" Access::Staff(Customers, Read) => staff::home;
    post "/staff/search" Access::Staff(Customers, Read) => staff::search;
    get "/staff/customers/new" Access::Staff(Customers, Write) => staff::new_form;
    post "/staff/customers/new" Access::Staff(Customers, Write) => staff::create;
    get "/staff/customers/{id}" Access::Staff(Customers, Read) => staff::purpose_form;
    post "/staff/customers/{id}" Access::Staff(Customers, Read) => staff::view;
    post "/staff/customers/{id}/edit" Access::Staff(Customers, Write) => staff::edit;
    post "/staff/customers/{id}/statute" Access::Staff(Statute, Write) => staff::statute;
    post "/staff/customers/{id}/invite" Access::Staff(Invitations, Write) => staff::invite;
    post "/staff/customers/{id}/services" Access::Staff(Services, Write) => staff::add_service;
    get "/staff/customers/{id}/erasure" Access::Staff(Retention, Read) => erasure::standing;
    post "/staff/customers/{id}/hold" Access::Staff(LegalHolds, Write) => erasure::place_hold;
    post "/staff/customers/{id}/hold/lift" Access::Staff(LegalHolds, Write) => erasure::lift_hold;
    post "/staff/customers/{id}/erasure-request" Access::Staff(Retention, Write) => erasure::record_request;
    post "/staff/customers/{id}/erasure-request/withdraw" Access::Staff(Retention, Write) => erasure::withdraw_request;
    post "/staff/customers/{id}/erase" Access::Staff(Customers, Erase) => erasure::erase;
    post "/staff/customers/{id}/services/{service}/end" Access::Staff(Retention, Write) => erasure::end_service;
    get "/staff/registry" Access::Staff(RegistryQueue, Write) => handles::operations;
    post "/staff/registry/{id}/retry" Access::Staff(RegistryQueue, Write) => handles::retry;
    get "/staff/audit" Access::Staff(AuditTrail, Read) => audit::browse;
    get "/staff/audit.csv" Access::Staff(AuditTrail, Read) => audit::export;
    get "/staff/retention" Access::Staff(Retention, Read) => staff::retention;
    get "/staff/requests" Access::Staff(SubjectRequests, Read) => requests::register;
    post "/staff/requests" Access::Staff(SubjectRequests, Write) => requests::record;
    get "/staff/requests/{id}" Access::Staff(SubjectRequests, Read) => requests::show;
    post "/staff/requests/{id}/find" Access::Staff(SubjectRequests, Read) => requests::find;
    post "/staff/requests/{id}/records" Access::Staff(SubjectRequests, Write) => requests::confirm;
    post "/staff/requests/{id}/extend" Access::Staff(SubjectRequests, Write) => requests::extend;
    get "/staff/requests/{id}/answer" Access::Staff(SubjectRequests, Read) => requests::answer_page;
    post "/staff/requests/{id}/answer" Access::Staff(SubjectRequests, Write) => requests::prepare_answer;
    post "/staff/requests/{id}/link" Access::Staff(SubjectRequests, Write) => requests::make_link;
    post "/staff/requests/{id}/close" Access::Staff(SubjectRequests, Write) => requests::close;
    get "/staff/api-tokens" Access::Staff(ApiTokens, Read) => staff::api_tokens;
    post "/staff/api-tokens" Access::Staff(ApiTokens, Write) => staff::create_api_token;
    post "/staff/api-tokens/{id}/revoke" Access::Staff(ApiTokens, Write) => staff::revoke_api_token;
    get "/books" Access::Staff(Invoices, Read) => books::list;
    get "/books/invoices/{id}" Access::Staff(Invoices, Read) => books::invoice;
    get "/books/invoices/{id}/pdf" Access::Staff(Invoices, Read) => documents::books_pdf;
    get "/books/invoices/{id}/ubl" Access::Staff(Invoices, Read) => documents::books_ubl;
    post "/books/invoices/{id}/payment" Access::Staff(Invoices, Write) => books::record_payment;
    post "/books/invoices/{id}/credit" Access::Staff(Invoices, Write) => books::credit;
    post "/books/invoices/{id}/posted" Access::Staff(Invoices, Write) => books::mark_posted;
    get "/books/post" Access::Staff(Invoices, Read) => books::print_queue;
    get "/books/post/print" Access::Staff(Invoices, Read) => documents::books_print_run;
    get "/books/import" Access::Staff(Invoices, Write) => books::import_form;
    post "/books/import" Access::Staff(Invoices, Write), upload => books::import;
    get "/staff/accounts" Access::Staff(Accounts, Read) => accounts::list;
    post "/staff/accounts" Access::Staff(Accounts, Write) => accounts::invite;
    post "/staff/accounts/{id}/disable" Access::Staff(Accounts, Write) => accounts::disable;
    post "/staff/accounts/{id}/enable" Access::Staff(Accounts, Write) => accounts::enable;
    post "/staff/accounts/{id}/remove" Access::Staff(Accounts, Write) => accounts::remove;
    post "/staff/accounts/{id}/end-sessions" Access::Staff(Accounts, Write) => accounts::end_sessions;
    post "/staff/accounts/{id}/reset-second-factor" Access::Staff(Accounts, Write) => accounts::reset_second_factor;

    get "/api/v1/openapi.json" Access::Public => api::openapi;
    post "/api/v1/customers" Access::Api(Scope::CustomersWrite, Customers, Write) => api::create_customer;
    post "/api/v1/customers/search" Access::Api(Scope::CustomersRead, Customers, Read) => api::search;
    get "/api/v1/customers/{id}" Access::Api(Scope::CustomersRead, Customers, Read) => api::read_customer;
    patch "/api/v1/customers/{id}" Access::Api(Scope::CustomersWrite, Customers, Write) => api::update_customer;
    get "/api/v1/customers/{id}/export" Access::Api(Scope::CustomersRead, Customers, Export) => api::export;
    get "/api/v1/customers/{id}/invoices" Access::Api(Scope::InvoicesRead, Invoices, Read) => api::invoices;
    post "/api/v1/customers/{id}/invoices" Access::Api(Scope::InvoicesWrite, Invoices, Write) => api::create_invoice;
    post "/api/v1/customers/{id}/services" Access::Api(Scope::ServicesWrite, Services, Write) => api::create_service;
    post "/api/v1/customers/{id}/services/end" Access::Api(Scope::ServicesWrite, Services, Write) => api::end_service;
    post "/api/v1/invoices/payments" Access::Api(Scope::InvoicesWrite, Invoices, Write) => api::record_payment;
    post "/api/v1/invoices/credit-notes" Access::Api(Scope::InvoicesWrite, Invoices, Write) => api::credit_invoice;
    post "/api/v1/invoices/import" Access::Api(Scope::InvoicesWrite, Invoices, Write), upload => api::import_invoices;
    get "/api/v1/customers/{id}/audit" Access::Api(Scope::AuditRead, AccessLog, Read) => api::access_log;
    get "/api/v1/audit/verify" Access::Api(Scope::AuditRead, AuditTrail, Read) => api::verify_audit;
};

pub(crate) fn router(state: State) -> Router {
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.sort_unstable();
    paths.dedup();
    let mut router = Router::new();
    for path in paths {
        let mut methods: Option<MethodRouter<State>> = None;
        for r in ROUTES.iter().filter(|r| r.path == path) {
            let rule = r.endpoint();
            let guarded = (r.handler)()
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| {
                    crate::guard::enforce(s, rule, req, next)
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
        .layer(axum::middleware::from_fn(crate::refuse::json::api_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::security::headers))
        .layer(axum::extract::DefaultBodyLimit::max(crate::access::FORM_MAX))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::track))
        .with_state(state)
}
