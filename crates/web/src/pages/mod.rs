//! Request handlers, one module per area.

pub(crate) mod auth;
pub(crate) mod portal;
pub(crate) mod public;
pub(crate) mod staff;

use std::collections::BTreeMap;

use axum::response::Response;
use custodian_domain::inventory::Role;
use custodian_store::{AccessPurpose, StoreError};

use crate::guard::Viewer;
use crate::view::{Nav, Page};
use crate::{State, view};

/// The layout data for a page seen by `viewer`.
pub(crate) fn page(state: &State, viewer: &Viewer, title: &str) -> Page {
    let nav = match &viewer.session {
        None => Nav::Public,
        Some((s, _)) if s.account.role == Role::Owner => Nav::Owner,
        Some((s, _)) if s.account.is_staff() => Nav::Staff,
        Some(_) => Nav::Customer,
    };
    Page {
        lang: viewer.lang,
        title: title.to_string(),
        company: state.config.company.clone(),
        csrf: viewer.csrf().to_string(),
        nav,
        path: viewer.path.clone(),
    }
}

/// The purposes a staff role may give for reading a customer: the bookkeeper
/// only invoicing (A4), staff anything but invoicing, the owner everything but
/// the scheduled jobs' own purpose.
pub(crate) fn purposes_for(role: Role) -> &'static [AccessPurpose] {
    use AccessPurpose::*;
    match role {
        Role::Bookkeeper => &[Billing],
        Role::Owner => {
            &[Support, Administration, Registry, DataSubjectRequest, SecurityIncident, LegalObligation, Billing]
        }
        _ => &[Support, Administration, Registry, DataSubjectRequest, SecurityIncident, LegalObligation],
    }
}

/// A submitted form as field → value, without the anti-forgery token.
pub(crate) type FormFields = BTreeMap<String, String>;

pub(crate) fn without_csrf(mut form: FormFields) -> FormFields {
    form.remove("csrf");
    form
}

/// Answers a store error the user can act on with a message; anything else is a
/// server error.
pub(crate) fn store_error(viewer: &Viewer, e: StoreError) -> Response {
    let lang = viewer.lang;
    match e {
        StoreError::Forbidden(_) => crate::guard::forbidden(lang),
        StoreError::NotFound { .. } | StoreError::Erased(_) => {
            let mut r = view::message(
                lang,
                lang.pick("Niet gevonden", "Not found"),
                lang.pick("Dit bestaat niet (meer).", "This does not exist (any more)."),
            );
            *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
            r
        }
        StoreError::Conflict(msg) => {
            let mut r = view::message(lang, lang.pick("Niet mogelijk", "Not possible"), &msg);
            *r.status_mut() = axum::http::StatusCode::CONFLICT;
            r
        }
        other => view::server_error(lang, &other),
    }
}
