//! Request handlers, one module per area.

pub(crate) mod accounts;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod books;
pub(crate) mod documents;
pub(crate) mod erasure;
pub(crate) mod handles;
pub(crate) mod portal;
pub(crate) mod public;
pub(crate) mod requests;
pub(crate) mod second_factor;
pub(crate) mod staff;
pub(crate) mod who;

use std::collections::BTreeMap;

use axum::response::Response;
use custodian_domain::Lang;
use custodian_domain::inventory::Role;
use custodian_store::{AccessPurpose, StoreError};

use crate::extract::Viewer;
use crate::view::{Nav, Page};
use crate::{State, view};

/// The layout data for a page seen by `viewer`.
pub(crate) fn page(state: &State, viewer: &Viewer, title: &str) -> Page {
    let nav = match &viewer.session {
        None => Nav::Public,
        Some((s, _)) if s.account.role == Role::Owner => Nav::Owner,
        Some((s, _)) if s.account.role == Role::Bookkeeper => Nav::Bookkeeper,
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
        lang_in_url: viewer.lang_in_url,
        contact: state.config.contact.clone(),
    }
}

/// A page of one sentence (and a link) that keeps the viewer's menu.
pub(crate) fn message(state: &State, viewer: &Viewer, title: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    view::render(view::MessagePage {
        page: page(state, viewer, title),
        text: text.into(),
        link: link.map(|(href, label)| (href.into(), label.into())),
    })
}

/// A purpose as people read it.
pub(crate) fn purpose_label(purpose: AccessPurpose, lang: Lang) -> &'static str {
    match purpose {
        AccessPurpose::Support => lang.pick("vraag of probleem van de klant", "customer's question or problem"),
        AccessPurpose::Administration => lang.pick("administratie bijwerken", "keeping the records right"),
        AccessPurpose::Registry => lang.pick("domeinregistratie", "domain registration"),
        AccessPurpose::DataSubjectRequest => {
            lang.pick("verzoek van de klant (inzage, verwijdering)", "the customer's request (access, erasure)")
        }
        AccessPurpose::SecurityIncident => lang.pick("beveiligingsincident", "security incident"),
        AccessPurpose::LegalObligation => lang.pick("wettelijke verplichting", "legal obligation"),
        AccessPurpose::Billing => lang.pick("facturering", "invoicing"),
        AccessPurpose::Retention => lang.pick("bewaartermijn", "retention"),
    }
}

/// What an audit entry's action means, as people read it; unknown codes as they are.
pub(crate) fn action_label(action: &str, lang: Lang) -> &str {
    match action {
        "customer.read" => lang.pick("gegevens ingezien", "viewed the data"),
        "customer.export" => lang.pick("alle gegevens opgevraagd", "retrieved all data"),
        "customer.update" => lang.pick("gegevens gewijzigd", "changed the data"),
        "customer.create" => lang.pick("klant aangemaakt", "created the customer"),
        "customer.erase" => lang.pick("gegevens verwijderd", "erased the data"),
        "customer.erasure_request" => lang.pick("verwijdering gevraagd", "asked for erasure"),
        "customer.erasure_request_withdrawn" => {
            lang.pick("verzoek om verwijdering ingetrokken", "withdrew the erasure request")
        }
        "customer.legal_hold" => lang.pick("wettelijke bewaarplicht vastgelegd", "placed a legal hold"),
        "customer.legal_hold_lifted" => lang.pick("wettelijke bewaarplicht opgeheven", "lifted a legal hold"),
        "contact.delete" => lang.pick("ongebruikt domeincontact verwijderd", "deleted an unused domain contact"),
        "invoice.delete" => lang.pick("factuur na zeven jaar verwijderd", "deleted an invoice after seven years"),
        "invoice.paid" => lang.pick("betaling vastgelegd", "recorded a payment"),
        "invoice.posted" => lang.pick("factuur per post verstuurd", "posted an invoice"),
        "invoice.emailed" => lang.pick("factuur per e-mail verstuurd", "sent an invoice by e-mail"),
        "invoice.to_post.no_consent" => {
            lang.pick("factuur per post: geen toestemming voor e-mail", "invoice by post: no consent to e-mail")
        }
        "invoice.to_post.private_person" => lang.pick(
            "factuur per post: van een particulier, niet per e-mail",
            "invoice by post: a private person's, not by e-mail",
        ),
        "invoice.to_post.no_document" => {
            lang.pick("factuur per post: de PDF kon niet worden gemaakt", "invoice by post: its PDF could not be made")
        }
        "service.end" => lang.pick("dienst beëindigd", "ended a service"),
        "account.invite" => lang.pick("portaaltoegang gegeven", "gave portal access"),
        "account.code_disclosed" => lang.pick("activeringscode ingezien", "was shown the activation code"),
        "auth.login_failed" => lang.pick("inlogpoging met onjuist wachtwoord", "login attempt with a wrong password"),
        "auth.code_failed" => lang.pick("onjuiste code geprobeerd", "tried a wrong code"),
        "auth.locked" => lang.pick("inloggen tijdelijk geblokkeerd", "login temporarily blocked"),
        "auth.recovery_code_used" => lang.pick("ingelogd met een herstelcode", "logged in with a recovery code"),
        "account.second_factor_enrolled" => lang.pick("tweede factor ingesteld", "set up the second factor"),
        "account.second_factor_reset" => lang.pick("tweede factor teruggezet", "reset the second factor"),
        "invoice.create" => lang.pick("factuur gemaakt", "issued an invoice"),
        "invoice.read" => lang.pick("facturen ingezien", "viewed invoices"),
        "contact.create" | "handle.create" => lang.pick("domeincontact aangemaakt", "created a domain contact"),
        "handle.update" => lang.pick("domeincontact gewijzigd", "changed a domain contact"),
        "handle.delete" | "handle.deleted" => lang.pick("domeincontact verwijderd", "deleted a domain contact"),
        "handle.read" | "handle.fetch" => lang.pick("domeincontact ingezien", "viewed a domain contact"),
        "domain.create" => lang.pick("domeinnaam aangevraagd", "asked for a domain name"),
        "domain.transferred_away" => lang.pick("domeinnaam verhuisd", "domain name moved away"),
        "service.read" => lang.pick("diensten ingezien", "viewed the services"),
        "service.create" => lang.pick("dienst vastgelegd", "recorded a service"),
        "statute.accept" => lang.pick("acceptatie voorwaarden vastgelegd", "recorded acceptance of the terms"),
        "outbox.enqueue" | "outbox.sent" => lang.pick("bericht verstuurd", "sent a message"),
        "outbox.failed" => lang.pick("bericht niet bezorgd", "message not delivered"),
        "audit.browse" => lang.pick("auditlog ingezien", "looked at the audit trail"),
        "outbox.cancel" => lang.pick("bericht geannuleerd", "cancelled a message"),
        other => other,
    }
}

/// A submitted form as field → value, without the anti-forgery token.
pub(crate) type FormFields = BTreeMap<String, String>;

pub(crate) fn without_csrf(mut form: FormFields) -> FormFields {
    form.remove("csrf");
    form
}

/// The message of an error the user can act on by changing what they asked
/// (a refusal, or invalid input), in their language; `None` for any other.
pub(crate) fn actionable(e: &StoreError, lang: Lang) -> Option<String> {
    match e {
        StoreError::Refused(r) => Some(r.message(lang)),
        StoreError::Invalid(errors) => Some(errors.render(lang)),
        _ => None,
    }
}

/// Answers a store error the user can act on with a message; anything else is a
/// server error.
pub(crate) fn store_error(viewer: &Viewer, e: StoreError) -> Response {
    let lang = viewer.lang;
    match e {
        StoreError::Denied(denial) => {
            let mut r = view::message(lang, lang.pick("Niet toegestaan", "Not allowed"), &denial.message(lang));
            *r.status_mut() = axum::http::StatusCode::FORBIDDEN;
            r
        }
        StoreError::NotFound { .. } | StoreError::Erased(_) => {
            let mut r = view::message(
                lang,
                lang.pick("Niet gevonden", "Not found"),
                lang.pick("Dit bestaat niet (meer).", "This does not exist (any more)."),
            );
            *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
            r
        }
        StoreError::Refused(refusal) => {
            let mut r = view::message(lang, lang.pick("Niet mogelijk", "Not possible"), &refusal.message(lang));
            *r.status_mut() = axum::http::StatusCode::CONFLICT;
            r
        }
        other => view::server_error(lang, &other),
    }
}
