//! Giving a customer portal access.

use askama::Template;
use axum::extract::{Path, State as AxState};
use axum::response::Response;
use custodian_store::{AccessPurpose, StoreError};

use crate::State;
use crate::extract::Staff;
use crate::pages::{page, store_error};
use crate::view::{self, Page};

#[derive(Template)]
#[template(path = "staff/invited.html")]
struct Invited {
    page: Page,
    lines: Vec<String>,
    /// The activation code to read out, in groups; empty when it went by SMS.
    code: String,
}

/// A code in groups of four, as it is read out and typed.
fn grouped(code: &str) -> String {
    let chars: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// Creates the customer's portal account. The login name goes by e-mail (with
/// consent, A9) and the activation code by SMS (A11); where a channel is
/// missing the page says what to do instead. Login and code together are the
/// account, so the code is never shown when it can go by SMS, and otherwise
/// only to the owner, audited, to read out by phone.
pub(crate) async fn invite(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    let lang = viewer.lang;
    let access = viewer.access(AccessPurpose::Administration);
    // Staff may not see every field (not the IBAN), so read the few needed here.
    let fields = match state.store.read_customer(&access, id).await {
        Ok(r) => r.fields,
        Err(e) => return store_error(&viewer, e),
    };
    let field = |name: &str| fields.get(name).map(String::as_str);
    let consent = field("email_consent") == Some("yes");
    let language = field("language").and_then(custodian_domain::Lang::parse).unwrap_or_default();
    let phone = field("phone").and_then(|p| custodian_domain::validate::Phone::parse(p).ok());
    let name = field("contact_name").and_then(|n| custodian_notify::PersonName::parse(n).ok());
    let sms = match (&state.config.notifier, state.config.sms, phone) {
        (Some(n), true, Some(phone)) => Some((n, phone)),
        _ => None,
    };
    if sms.is_none() && custodian_store::auth::may_disclose_code(&access).is_err() {
        // Not a 403: the route is the staff's, this customer just needs the owner.
        let text = match state.config.sms {
            false => lang.pick(
                "Sms is niet ingesteld, dus de activeringscode moet telefonisch worden voorgelezen. Alleen de eigenaar mag een code voorlezen: vraag de eigenaar deze klant uit te nodigen.",
                "SMS is not set up, so the activation code has to be read out by phone. Only the owner may read out a code: ask the owner to invite this customer.",
            ),
            true => lang.pick(
                "Deze klant heeft geen geldig mobiel nummer, dus de activeringscode moet telefonisch worden voorgelezen. Alleen de eigenaar mag een code voorlezen: vraag de eigenaar deze klant uit te nodigen.",
                "This customer has no valid mobile number, so the activation code has to be read out by phone. Only the owner may read out a code: ask the owner to invite this customer.",
            ),
        };
        return crate::pages::message(&state, &viewer, lang.pick("Portaaltoegang", "Portal access"), text, None);
    }
    let (login, code) = match state.store.invite_customer(&access, id).await {
        Ok((_, login, code)) => (login, code),
        Err(StoreError::Auth(custodian_store::AuthError::AccountActive)) => {
            let mut r = crate::pages::message(
                &state,
                &viewer,
                lang.pick("Portaaltoegang", "Portal access"),
                lang.pick(
                    "Deze klant heeft al een actief account; een nieuwe uitnodiging zou het wachtwoord vervangen. Laat de klant een nieuw wachtwoord aanvragen via /reset.",
                    "This customer already has an active account; use a password reset (the customer asks for one at /reset).",
                ),
                None,
            );
            *r.status_mut() = axum::http::StatusCode::CONFLICT;
            return r;
        }
        Err(e) => return store_error(&viewer, e),
    };
    let mut lines = vec![];
    let mut shown = String::new();
    let mailed = match (&state.config.notifier, consent, custodian_notify::LoginName::parse(login.as_str())) {
        (Some(n), true, Ok(login_name)) => {
            let message = custodian_notify::EmailMessage::LoginName { name, login: login_name };
            n.email(&access, &login, custodian_notify::EmailConsent::Given, Some(id), language, &message).await.is_ok()
        }
        _ => false,
    };
    lines.push(
        match (mailed, state.config.notifier.is_some(), consent) {
            (true, _, _) => lang.pick("De inlognaam is per e-mail verstuurd.", "The login name was sent by e-mail."),
            (false, false, _) => lang.pick(
                "E-mail is niet ingesteld (geen [smtp] in de configuratie): stuur de inlognaam (het e-mailadres van de klant) per post.",
                "E-mail is not set up (no [smtp] in the configuration): send the login name (the customer's e-mail address) by post.",
            ),
            (false, true, false) => lang.pick(
                "De klant heeft geen toestemming voor e-mail gegeven: stuur de inlognaam (het e-mailadres van de klant) per post.",
                "The customer has not agreed to e-mail: send the login name (the customer's e-mail address) by post.",
            ),
            (false, true, true) => lang.pick(
                "De e-mail met de inlognaam kon niet in de wachtrij: stuur de inlognaam (het e-mailadres van de klant) per post.",
                "The e-mail with the login name could not be queued: send the login name (the customer's e-mail address) by post.",
            ),
        }
        .to_string(),
    );
    match sms {
        Some((n, phone)) => {
            let texted = match custodian_notify::ActivationCode::parse(code.as_str()) {
                Ok(code) => n
                    .sms(&access, &phone, Some(id), language, &custodian_notify::SmsMessage::ActivationCode { code })
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            lines.push(
                if texted {
                    lang.pick(
                        "De activeringscode is per sms verstuurd.",
                        "The activation code was sent by text message.",
                    )
                } else {
                    lang.pick(
                        "De sms met de activeringscode kon niet in de wachtrij; nodig de klant opnieuw uit.",
                        "The text message with the activation code could not be queued; invite the customer again.",
                    )
                }
                .to_string(),
            );
        }
        None => {
            if let Err(e) = state.store.disclose_activation_code(&access, id).await {
                return store_error(&viewer, e);
            }
            shown = grouped(code.as_str());
        }
    }
    let title = lang.pick("Portaaltoegang", "Portal access");
    let mut r = view::render(Invited { page: page(&state, &viewer, title), lines, code: shown });
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}
