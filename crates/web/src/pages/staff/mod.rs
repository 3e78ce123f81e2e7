//! The back-office: find, view (audited, with a purpose), create on a customer's
//! behalf (M2), correct, record statute acceptance, give portal access; the
//! owner's API tokens and retention plan.

mod api_tokens;
mod customers;
mod invite;
mod retention;
mod services;

pub(crate) use api_tokens::{api_tokens, create_api_token, revoke_api_token};
pub(crate) use customers::{create, edit, home, new_form, purpose_form, search, statute, view};
pub(crate) use invite::invite;
pub(crate) use retention::retention;
pub(crate) use services::add_service;

use custodian_store::{Access, AccessPurpose};

use crate::extract::{Staff, Viewer};

/// Access for reading what holds no personal data (numbers, kinds, states):
/// as records keeping when the role may give that purpose, else with the
/// role's own first purpose (the bookkeeper's is invoicing).
fn listing_access(viewer: &Staff) -> Access {
    let allowed = custodian_domain::policy::purposes(viewer.principal());
    let purpose = match allowed.contains(&AccessPurpose::Administration) {
        true => AccessPurpose::Administration,
        false => allowed.first().copied().unwrap_or(AccessPurpose::Administration),
    };
    viewer.access(purpose)
}

/// The purposes the viewer's role may give for viewing, labelled in their language.
fn purposes(viewer: &Viewer) -> Vec<(&'static str, &'static str)> {
    let lang = viewer.lang;
    custodian_domain::policy::purposes(viewer.session().account.actor().principal())
        .iter()
        .map(|p| (p.as_str(), crate::pages::purpose_label(*p, lang)))
        .collect()
}
