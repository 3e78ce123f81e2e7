//! Giving a customer portal access.

use axum::extract::{Path, State as AxState};
use axum::response::Response;
use custodian_store::{AccessPurpose, StoreError};

use crate::State;
use crate::extract::Staff;
use crate::pages::store_error;
use crate::view;

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
        return view::message(
            lang,
            lang.pick("Portaaltoegang", "Portal access"),
            lang.pick(
                "Deze klant kan de activeringscode niet per sms krijgen (geen mobiel nummer, of sms is niet ingesteld). Alleen de eigenaar mag een code voorlezen: vraag de eigenaar deze klant uit te nodigen.",
                "This customer cannot get the activation code by text message (no mobile number, or SMS is not set up). Only the owner may read out a code: ask the owner to invite this customer.",
            ),
        );
    }
    let (login, code) = match state.store.invite_customer(&access, id).await {
        Ok((_, login, code)) => (login, code),
        Err(StoreError::Auth(custodian_store::AuthError::AccountActive)) => {
            let mut r = view::message(
                lang,
                lang.pick("Portaaltoegang", "Portal access"),
                lang.pick(
                    "Deze klant heeft al een actief account; een nieuwe uitnodiging zou het wachtwoord vervangen. Laat de klant een nieuw wachtwoord aanvragen via /reset.",
                    "This customer already has an active account; use a password reset (the customer asks for one at /reset).",
                ),
            );
            *r.status_mut() = axum::http::StatusCode::CONFLICT;
            return r;
        }
        Err(e) => return store_error(&viewer, e),
    };
    let mut lines = vec![];
    let mailed = match (&state.config.notifier, consent, custodian_notify::LoginName::parse(login.as_str())) {
        (Some(n), true, Ok(login_name)) => {
            let message = custodian_notify::EmailMessage::LoginName { name, login: login_name };
            n.email(&access, &login, custodian_notify::EmailConsent::Given, Some(id), language, &message).await.is_ok()
        }
        _ => false,
    };
    lines.push(if mailed {
        lang.pick("De inlognaam is per e-mail verstuurd.", "The login name was sent by e-mail.")
    } else {
        lang.pick(
            "De klant heeft geen toestemming voor e-mail gegeven (of e-mail is niet ingesteld): stuur de inlognaam (het e-mailadres van de klant) per post.",
            "The customer has not agreed to e-mail (or e-mail is not set up): send the login name (the customer's e-mail address) by post.",
        )
    }
    .to_string());
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
            lines.push(format!(
                "{} {} {}",
                lang.pick(
                    "Lees deze activeringscode telefonisch voor aan de klant:",
                    "Read this activation code to the customer by phone:"
                ),
                code.as_str(),
                lang.pick("(72 uur geldig, werkt één keer).", "(valid for 72 hours, works once)."),
            ));
        }
    }
    let mut r = view::message(lang, lang.pick("Portaaltoegang", "Portal access"), &lines.join(" "));
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}
