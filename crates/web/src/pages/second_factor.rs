//! The second factor: the login step (a code from the authenticator app or a
//! recovery code), enrolment (the key as a QR code and in blocks of four, one
//! pending key per session) and the recovery codes, shown once.
//!
//! The key's `otpauth://` URL carries the login as its label: it goes into the
//! page of the account holder only, never into a log or a URL of ours.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use custodian_store::auth::PendingTotp;
use custodian_store::{Account, AuthError, Refusal, StoreError};

use crate::State;
use crate::extract::Viewer;
use crate::pages::auth::{tell_holder, tell_holder_later};
use crate::pages::{FormFields, page};
use crate::view::{self, ErrorLink, Page};

#[derive(Template)]
#[template(path = "second_factor.html")]
struct Check {
    page: Page,
    errors: Vec<ErrorLink>,
}

#[derive(Template)]
#[template(path = "second_factor_enrol.html")]
struct Enrol {
    page: Page,
    /// The QR code of `otpauth`, an `<svg>` element made here (no user text in it).
    qr: String,
    otpauth: String,
    grouped: String,
    errors: Vec<ErrorLink>,
}

#[derive(Template)]
#[template(path = "second_factor_codes.html")]
struct Codes {
    page: Page,
    codes: Vec<String>,
    next: &'static str,
}

/// Where an account goes once its second factor is given.
fn home(account: &Account) -> &'static str {
    if account.is_staff() { "/staff" } else { "/portal" }
}

fn wrong_code(viewer: &Viewer) -> ErrorLink {
    let text = viewer.lang.pick(
        "Deze code klopt niet. Wacht op de volgende code van uw app en probeer het opnieuw.",
        "This code is not right. Wait for the next code of your app and try again.",
    );
    ErrorLink::to("code", text)
}

fn locked(viewer: &Viewer, retry_after_secs: i64) -> Response {
    crate::refuse::page::too_many(viewer.lang, retry_after_secs.max(1) as u64)
}

fn check_page(state: &State, viewer: &Viewer, errors: Vec<ErrorLink>) -> Response {
    let page = page(state, viewer, viewer.lang.pick("Tweede factor", "Second factor"));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
    let mut r = view::render(Check { page, errors });
    *r.status_mut() = status;
    r
}

pub(crate) async fn second_factor_form(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
) -> Response {
    let account = &viewer.session().account;
    if !account.totp_enabled {
        return Redirect::to(if account.needs_second_factor() { "/second-factor/enrol" } else { home(account) })
            .into_response();
    }
    check_page(&state, &viewer, vec![])
}

/// The login step: a code from the app, or (`recovery`) a recovery code.
pub(crate) async fn second_factor(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let account = &viewer.session().account;
    let recovery = form.get("recovery").map(|c| c.trim()).unwrap_or_default();
    if !recovery.is_empty() {
        return with_recovery_code(&state, &viewer, recovery).await;
    }
    let code = form.get("code").cloned().unwrap_or_default();
    match state.store.verify_totp(account, &code, Some(viewer.ip)).await {
        Ok(()) => match state.store.complete_second_factor(viewer.token()).await {
            Ok(()) => Redirect::to(home(account)).into_response(),
            Err(e) => view::server_error(viewer.lang, &e),
        },
        Err(StoreError::Auth(AuthError::Locked { retry_after_secs })) => locked(&viewer, retry_after_secs),
        Err(StoreError::Auth(e)) => {
            tell_holder_later(&state, e, viewer.lang);
            check_page(&state, &viewer, vec![wrong_code(&viewer)])
        }
        Err(e) => view::server_error(viewer.lang, &e),
    }
}

/// Logs in with a recovery code: it is used up, the holder is told by e-mail
/// (as for a lock), and the page says how many codes are left.
async fn with_recovery_code(state: &State, viewer: &Viewer, code: &str) -> Response {
    let lang = viewer.lang;
    let account = &viewer.session().account;
    let left = match state.store.use_recovery_code(viewer.token(), account, code, Some(viewer.ip)).await {
        Ok(left) => left,
        Err(StoreError::Auth(AuthError::Locked { retry_after_secs })) => return locked(viewer, retry_after_secs),
        Err(StoreError::Auth(e)) => {
            tell_holder_later(state, e, lang);
            let text = lang.pick(
                "Deze herstelcode is onbekend of al gebruikt. Elke code werkt maar één keer.",
                "This recovery code is unknown or already used. Each code works only once.",
            );
            return check_page(state, viewer, vec![ErrorLink::to("recovery", text)]);
        }
        Err(e) => return view::server_error(lang, &e),
    };
    if let Err(e) = tell_holder(state, account, lang).await {
        tracing::warn!(error = %e, "recovery code notice not queued");
    }
    let remaining = match left {
        0 => lang.pick("U hebt geen herstelcodes meer.", "You have no recovery codes left.").to_string(),
        1 => lang.pick("U hebt nog 1 herstelcode.", "You have 1 recovery code left.").to_string(),
        n => match lang {
            custodian_domain::Lang::Nl => format!("U hebt nog {n} herstelcodes."),
            custodian_domain::Lang::En => format!("You have {n} recovery codes left."),
        },
    };
    let advice = if account.role == custodian_domain::inventory::Role::Owner {
        lang.pick(
            "Is uw authenticator-app voorgoed kwijt? Zet de tweede factor terug met het commando custodian account reset-second-factor op de server en stel hem hier opnieuw in; u krijgt dan nieuwe herstelcodes.",
            "Is your authenticator app lost for good? Reset the second factor with the command custodian account reset-second-factor on the server and set it up here again; you then get new recovery codes.",
        )
    } else if account.is_staff() {
        lang.pick(
            "Is uw authenticator-app voorgoed kwijt? Vraag de eigenaar uw tweede factor opnieuw in te stellen; u krijgt dan nieuwe herstelcodes.",
            "Is your authenticator app lost for good? Ask the owner to reset your second factor; you then get new recovery codes.",
        )
    } else {
        lang.pick(
            "Is uw authenticator-app voorgoed kwijt? Neem contact met ons op; wij stellen uw tweede factor opnieuw in.",
            "Is your authenticator app lost for good? Contact us and we will reset your second factor.",
        )
    };
    let page = page(state, viewer, lang.pick("Ingelogd met een herstelcode", "Logged in with a recovery code"));
    let reach = if account.is_staff() { String::new() } else { page.reach_us() };
    let text = format!(
        "{} {remaining} {advice} {reach}",
        lang.pick(
            "U bent ingelogd met een herstelcode; die code werkt niet nog eens.",
            "You logged in with a recovery code; that code will not work again.",
        )
    );
    view::render(view::MessagePage {
        page,
        text,
        link: Some((home(account).into(), lang.pick("Verder", "Continue").into())),
    })
}

/// The QR code of `url` as an `<svg>` element for inline use (without the
/// XML declaration), labelled by the caption `#qr-caption`.
fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen("<svg", r#"<svg role="img" aria-labelledby="qr-caption""#, 1))
}

/// The enrolment page for the session's pending key.
async fn enrol_page(state: &State, viewer: &Viewer, errors: Vec<ErrorLink>, status: StatusCode) -> Response {
    let lang = viewer.lang;
    let key = match pending_key(state, viewer, false).await {
        Ok(k) => k,
        Err(e) => return view::server_error(lang, &e),
    };
    let Some(qr) = qr_svg(&key.url) else {
        return view::server_error(lang, &"the QR code of a second-factor key could not be made");
    };
    let mut r = view::render(Enrol {
        page: page(state, viewer, lang.pick("Tweede factor instellen", "Set up the second factor")),
        qr,
        otpauth: key.url.to_string(),
        grouped: key.grouped().to_string(),
        errors,
    });
    *r.status_mut() = status;
    r
}

/// The session's pending key (`renew`: a new one), labelled with the login.
async fn pending_key(state: &State, viewer: &Viewer, renew: bool) -> Result<PendingTotp, StoreError> {
    let account = &viewer.session().account;
    let label = state.store.account_login(account).await?;
    let (company, token) = (&state.config.company, viewer.token());
    if renew {
        state.store.renew_pending_totp(token, account, company, label.as_str()).await
    } else {
        state.store.begin_totp(token, account, company, label.as_str()).await
    }
}

/// Where an account that has a second factor already goes instead of enrolling.
async fn already_on(state: &State, viewer: &Viewer) -> Response {
    let lang = viewer.lang;
    let session = viewer.session();
    if !session.second_factor_done {
        return Redirect::to("/second-factor").into_response();
    }
    let left = match state.store.recovery_codes_left(&session.account).await {
        Ok(n) => n,
        Err(e) => return view::server_error(lang, &e),
    };
    let text = match lang {
        custodian_domain::Lang::Nl => {
            format!("Uw tweede factor staat aan. U hebt nog {left} van de 10 herstelcodes.")
        }
        custodian_domain::Lang::En => {
            format!("Your second factor is on. You have {left} of your 10 recovery codes left.")
        }
    };
    view::render(view::MessagePage {
        page: page(state, viewer, lang.pick("Tweede factor", "Second factor")),
        text,
        link: Some((home(&session.account).into(), lang.pick("Verder", "Continue").into())),
    })
}

pub(crate) async fn enrol_form(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    if viewer.session().account.totp_enabled {
        return already_on(&state, &viewer).await;
    }
    enrol_page(&state, &viewer, vec![], StatusCode::OK).await
}

/// Confirms the pending key with a code from the app; shows the recovery
/// codes once. A wrong code keeps the key on the page.
pub(crate) async fn enrol(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let account = &viewer.session().account;
    if account.totp_enabled {
        return already_on(&state, &viewer).await;
    }
    let code = form.get("code").cloned().unwrap_or_default();
    match state.store.confirm_totp(viewer.token(), account, &code, Some(viewer.ip)).await {
        Ok(codes) => view::render(Codes {
            page: page(&state, &viewer, lang.pick("Uw herstelcodes", "Your recovery codes")),
            codes: codes.shown(),
            next: home(account),
        }),
        Err(StoreError::Auth(AuthError::Locked { retry_after_secs })) => locked(&viewer, retry_after_secs),
        Err(StoreError::Auth(e)) => {
            tell_holder_later(&state, e, lang);
            enrol_page(&state, &viewer, vec![wrong_code(&viewer)], StatusCode::UNAUTHORIZED).await
        }
        Err(StoreError::Refused(Refusal::SecondFactorOn)) => Redirect::to("/second-factor").into_response(),
        Err(StoreError::Refused(r)) => {
            enrol_page(&state, &viewer, vec![ErrorLink::to("code", r.message(lang))], StatusCode::CONFLICT).await
        }
        Err(e) => view::server_error(lang, &e),
    }
}

/// Replaces the pending key (the person asked for a new one) and shows it.
pub(crate) async fn new_key(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    if viewer.session().account.totp_enabled {
        return already_on(&state, &viewer).await;
    }
    match pending_key(&state, &viewer, true).await {
        Ok(_) => Redirect::to("/second-factor/enrol").into_response(),
        Err(e) => view::server_error(viewer.lang, &e),
    }
}
