//! Logging in and out, the owner's first setup, account activation, password
//! resets and telling an account's holder what happened to it. The second
//! factor has its own module (`second_factor`).

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::password::NewPassword;
use custodian_domain::validate::Email;
use custodian_store::{Access, AccessPurpose, Account, AuthError, StoreError};

use crate::State;
use crate::extract::Viewer;
use crate::guard::public_form_token;
use crate::pages::{FormFields, page};
use crate::view::{self, ErrorLink, Page};

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    page: Page,
    form_token: String,
    login: String,
    error: String,
}

pub(crate) async fn login_form(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    let page = page(&state, &viewer, viewer.lang.pick("Inloggen", "Log in"));
    view::render(Login { page, form_token: public_form_token(&state), login: String::new(), error: String::new() })
}

/// The session cookie: set only here, after a correct password.
fn with_session_cookie(state: &State, token: &str, to: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    crate::guard::set_session_cookie(state, &mut r, Some(token));
    r
}

/// Where an account goes once its password was right.
fn after_password(account: &Account) -> &'static str {
    match (account.needs_second_factor(), account.totp_enabled, account.is_staff()) {
        (true, true, _) => "/second-factor",
        (true, false, _) => "/second-factor/enrol",
        (false, _, true) => "/staff",
        (false, _, false) => "/portal",
    }
}

async fn begin_session(state: &State, viewer: &Viewer, account: &Account) -> Response {
    let access = Access::new(account.actor(), AccessPurpose::Administration).from(viewer.ip);
    let logged = state.store.audit_event(&access, "auth.login", "account", &account.id.to_string(), &[]).await;
    let session = match logged {
        Ok(_) => state.store.start_session(account, !account.needs_second_factor()).await,
        Err(e) => Err(e),
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => return view::server_error(viewer.lang, &e),
    };
    // A customer's own language preference wins; else a choice made in the URL.
    let preferred = match account.customer_id {
        Some(id) => {
            let own = Access::new(account.actor(), AccessPurpose::DataSubjectRequest).from(viewer.ip);
            let record = state.store.read_customer(&own, id).await;
            record.ok().and_then(|r| r.fields.get("language").and_then(|l| custodian_domain::Lang::parse(l)))
        }
        None => None,
    };
    if let Some(lang) = preferred.or(viewer.lang_in_url.then_some(viewer.lang))
        && let Err(e) = state.store.set_session_language(&session.token, lang).await
    {
        return view::server_error(viewer.lang, &e);
    }
    with_session_cookie(state, &session.token, after_password(account))
}

pub(crate) async fn login(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let login = form.get("login").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let result = match Email::parse(&login) {
        Ok(email) => state.store.login(&email, &password, Some(viewer.ip)).await,
        Err(_) => Err(StoreError::Auth(AuthError::BadCredentials)),
    };
    let error = match result {
        Ok(account) => return begin_session(&state, &viewer, &account).await,
        Err(StoreError::Auth(AuthError::Locked { retry_after_secs })) => {
            return crate::refuse::page::too_many(viewer.lang, retry_after_secs.max(1) as u64);
        }
        Err(StoreError::Auth(e)) => {
            tell_holder_later(&state, e, lang);
            tracing::info!("login refused");
            lang.pick("Onbekende inlognaam of onjuist wachtwoord.", "Unknown login or wrong password.")
        }
        Err(e) => return view::server_error(lang, &e),
    };
    let page = page(&state, &viewer, lang.pick("Inloggen", "Log in"));
    let mut r = view::render(Login { page, form_token: public_form_token(&state), login, error: error.into() });
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r
}

/// The language switch of the page header once logged in: remembered with
/// the session, then back to the page it was pressed on.
pub(crate) async fn set_language(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = form.get("lang").and_then(|l| custodian_domain::Lang::parse(l)).unwrap_or(viewer.lang);
    if let Err(e) = state.store.set_session_language(viewer.token(), lang).await {
        return view::server_error(viewer.lang, &e);
    }
    // Only a path of our own: never a redirect to another site.
    let back = form.get("back").filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'));
    Redirect::to(back.map(String::as_str).unwrap_or("/")).into_response()
}

pub(crate) async fn logout(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    if let Err(e) = state.store.end_session(viewer.token()).await {
        return view::server_error(viewer.lang, &e);
    }
    let lang = viewer.lang;
    let mut r = view::message(
        lang,
        lang.pick("Uitgelogd", "Logged out"),
        lang.pick("U bent uitgelogd.", "You are logged out."),
    );
    crate::guard::set_session_cookie(&state, &mut r, None);
    r
}

#[derive(Template)]
#[template(path = "credentials.html")]
struct Credentials {
    page: Page,
    intro: String,
    action: &'static str,
    form_token: String,
    code_hidden: String,
    login: String,
    name: String,
    ask_name: bool,
    errors: Vec<ErrorLink>,
}

#[derive(serde::Deserialize)]
pub(crate) struct CodeQuery {
    code: Option<String>,
}

fn setup_page(state: &State, viewer: &Viewer, code: String, form: &FormFields, errors: Vec<ErrorLink>) -> Response {
    let lang = viewer.lang;
    view::render(Credentials {
        page: page(state, viewer, lang.pick("Eigenaarsaccount aanmaken", "Create the owner account")),
        intro: lang
            .pick(
                "Maak het account van de eigenaar (functionaris gegevensbescherming) aan. Daarna stelt u de tweede factor in.",
                "Create the account of the owner (data protection officer). You will set up the second factor next.",
            )
            .into(),
        action: "/setup",
        form_token: public_form_token(state),
        code_hidden: code,
        login: form.get("login").cloned().unwrap_or_default(),
        name: form.get("name").cloned().unwrap_or_default(),
        ask_name: true,
        errors,
    })
}

pub(crate) async fn setup_form(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<CodeQuery>,
) -> Response {
    match state.store.needs_setup().await {
        Ok(true) => setup_page(&state, &viewer, q.code.unwrap_or_default(), &FormFields::new(), vec![]),
        Ok(false) => already_set_up(&viewer),
        Err(e) => view::server_error(viewer.lang, &e),
    }
}

fn already_set_up(viewer: &Viewer) -> Response {
    let lang = viewer.lang;
    view::message(
        lang,
        lang.pick("Al ingericht", "Already set up"),
        lang.pick(
            "Het eigenaarsaccount bestaat al. Log in op /login.",
            "The owner account exists already. Log in at /login.",
        ),
    )
}

/// Parses login, name and password; every problem becomes one line of the
/// error summary, linked to its input.
fn credentials(
    viewer: &Viewer,
    form: &FormFields,
    with_name: bool,
) -> Result<(Email, String, NewPassword), Vec<ErrorLink>> {
    let lang = viewer.lang;
    let mut errors = vec![];
    let login = Email::parse(form.get("login").map(String::as_str).unwrap_or_default())
        .map_err(|e| {
            let text = format!("{}: {}", lang.pick("E-mailadres", "E-mail address"), e.message(lang));
            errors.push(ErrorLink::to("login", text))
        })
        .ok();
    let name = form.get("name").map(|n| n.trim().to_string()).unwrap_or_default();
    if with_name && name.is_empty() {
        errors.push(ErrorLink::to("name", lang.pick("Vul uw naam in.", "Enter your name.")));
    }
    let context: Vec<&str> = [form.get("login").map(String::as_str).unwrap_or(""), name.as_str()].into_iter().collect();
    let password = NewPassword::parse(form.get("password").map(String::as_str).unwrap_or_default(), &context)
        .map_err(|e| errors.push(password_error(viewer, &e)))
        .ok();
    match (login, password, errors.is_empty()) {
        (Some(l), Some(p), true) => Ok((l, name, p)),
        _ => Err(errors),
    }
}

fn code_refused(viewer: &Viewer) -> String {
    viewer
        .lang
        .pick("Deze code is onbekend, al gebruikt of verlopen.", "This code is unknown, already used or expired.")
        .into()
}

/// A refused new password, linked to the password input.
fn password_error(viewer: &Viewer, e: &custodian_domain::validate::Invalid) -> ErrorLink {
    let lang = viewer.lang;
    ErrorLink::to("password", format!("{}: {}", lang.pick("Wachtwoord", "Password"), e.message(lang)))
}

pub(crate) async fn setup(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let code = form.get("code").cloned().unwrap_or_default();
    let (login, name, password) = match credentials(&viewer, &form, true) {
        Ok(c) => c,
        Err(errors) => return setup_page(&state, &viewer, code, &form, errors),
    };
    match state.store.complete_setup(&code, &login, &name, &password).await {
        Ok(account) => begin_session(&state, &viewer, &account).await,
        Err(StoreError::Auth(AuthError::AlreadySetUp)) => already_set_up(&viewer),
        // The setup code travels in a hidden field: nothing to link to.
        Err(StoreError::Auth(_)) => {
            setup_page(&state, &viewer, code, &form, vec![ErrorLink::form(code_refused(&viewer))])
        }
        Err(StoreError::Refused(r)) => {
            setup_page(&state, &viewer, code, &form, vec![ErrorLink::form(r.message(viewer.lang))])
        }
        Err(e) => view::server_error(viewer.lang, &e),
    }
}

fn activate_page(state: &State, viewer: &Viewer, form: &FormFields, errors: Vec<ErrorLink>) -> Response {
    let lang = viewer.lang;
    view::render(Credentials {
        page: page(state, viewer, lang.pick("Account activeren", "Activate your account")),
        intro: lang
            .pick(
                "U kreeg uw inlognaam per e-mail en een activeringscode per sms of telefoon. Kies hier uw wachtwoord.",
                "You received your login by e-mail and an activation code by text message or phone. Choose your password here.",
            )
            .into(),
        action: "/activate",
        form_token: public_form_token(state),
        code_hidden: String::new(),
        login: form.get("login").cloned().unwrap_or_default(),
        name: String::new(),
        ask_name: false,
        errors,
    })
}

pub(crate) async fn activate_form(AxState(state): AxState<State>, Extension(viewer): Extension<Viewer>) -> Response {
    activate_page(&state, &viewer, &FormFields::new(), vec![])
}

pub(crate) async fn activate(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let (login, _, password) = match credentials(&viewer, &form, false) {
        Ok(c) => c,
        Err(errors) => return activate_page(&state, &viewer, &form, errors),
    };
    let code = form.get("code").cloned().unwrap_or_default();
    match state.store.activate(&login, &code, &password, Some(viewer.ip)).await {
        Ok(account) => {
            // A customer learns of it if someone else got hold of login and code.
            if !account.is_staff()
                && let Err(e) = tell_holder(&state, &account, viewer.lang).await
            {
                tracing::warn!(error = %e, "activation notice not queued");
            }
            begin_session(&state, &viewer, &account).await
        }
        Err(StoreError::Auth(AuthError::Locked { retry_after_secs })) => {
            crate::refuse::page::too_many(viewer.lang, retry_after_secs.max(1) as u64)
        }
        Err(StoreError::Auth(e)) => {
            tell_holder_later(&state, e, viewer.lang);
            let mut r = activate_page(&state, &viewer, &form, vec![ErrorLink::to("code", code_refused(&viewer))]);
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(e) => view::server_error(viewer.lang, &e),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct Reset {
    page: Page,
    intro: String,
    action: &'static str,
    form_token: String,
    token: String,
    show_form: bool,
    errors: Vec<ErrorLink>,
}

fn reset_page(
    state: &State,
    viewer: &Viewer,
    token: String,
    intro: &str,
    show_form: bool,
    errors: Vec<ErrorLink>,
) -> Response {
    let lang = viewer.lang;
    view::render(Reset {
        page: page(state, viewer, lang.pick("Nieuw wachtwoord", "New password")),
        intro: intro.into(),
        action: if token.is_empty() { "/reset" } else { "/reset/new" },
        form_token: public_form_token(state),
        token,
        show_form,
        errors,
    })
}

pub(crate) async fn reset_request_form(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
) -> Response {
    let intro = viewer.lang.pick(
        "Vul uw inlognaam in. Is die bekend en mogen wij u mailen, dan krijgt u een link waarmee u binnen een uur een nieuw wachtwoord kiest.",
        "Enter your login. If it is known and we may e-mail you, you receive a link to choose a new password within one hour.",
    );
    reset_page(&state, &viewer, String::new(), intro, true, vec![])
}

/// Answers the same whether or not the login exists, so the page reveals nothing.
pub(crate) async fn reset_request(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    if let Ok(login) = Email::parse(form.get("login").map(String::as_str).unwrap_or_default())
        && let Err(e) = send_reset_link(&state, &login, lang).await
    {
        return view::server_error(lang, &e);
    }
    let done = lang.pick(
        "Als deze inlognaam bekend is en wij u mogen mailen, is er nu een link onderweg. Geen e-mail? Bel ons; wij helpen u verder.",
        "If this login is known and we may e-mail you, a link is on its way. No e-mail? Call us and we will help.",
    );
    reset_page(&state, &viewer, String::new(), done, false, vec![])
}

/// Queues the reset e-mail when the account exists and may be mailed.
async fn send_reset_link(state: &State, login: &Email, lang: custodian_domain::Lang) -> Result<(), StoreError> {
    let Some(notifier) = &state.config.notifier else { return Ok(()) };
    let Some((account, token)) = state.store.request_password_reset(login).await? else { return Ok(()) };
    let Some(to) = mail_basis(state, &account, lang).await? else { return Ok(()) };
    let link = format!("{}/reset/new?token={}", state.config.public_url, token.as_str());
    let Ok(link) = custodian_notify::ResetLink::parse(&link) else { return Ok(()) };
    let message = custodian_notify::EmailMessage::PasswordReset { name: to.name.clone(), link };
    to.send(notifier, &account, &message).await
}

/// Where and how an account holder may be mailed: staff always (their own
/// account), customers only with consent (A9). `None`: not by e-mail.
struct MailTo {
    login: Email,
    consent: custodian_notify::EmailConsent,
    name: Option<custodian_notify::PersonName>,
    lang: custodian_domain::Lang,
}

impl MailTo {
    async fn send(
        &self,
        notifier: &custodian_notify::Notifier,
        account: &Account,
        message: &custodian_notify::EmailMessage,
    ) -> Result<(), StoreError> {
        let own = Access::new(account.actor(), AccessPurpose::DataSubjectRequest);
        notifier.email(&own, &self.login, self.consent, account.customer_id, self.lang, message).await.map_err(
            |e| match e {
                custodian_notify::NotifyError::Store(s) => s,
                other => StoreError::Config(other.to_string()),
            },
        )?;
        Ok(())
    }
}

async fn mail_basis(
    state: &State,
    account: &Account,
    lang: custodian_domain::Lang,
) -> Result<Option<MailTo>, StoreError> {
    let login = state.store.account_login(account).await?;
    let own = Access::new(account.actor(), AccessPurpose::DataSubjectRequest);
    Ok(match account.customer_id.filter(|_| !account.is_staff()) {
        Some(id) => {
            let record = state.store.read_customer(&own, id).await?;
            let data = record.data()?;
            data.email_consent.then(|| MailTo {
                login,
                consent: custodian_notify::EmailConsent::Given,
                name: data.contact_name.as_ref().and_then(|n| custodian_notify::PersonName::parse(n.as_str()).ok()),
                lang: data.language,
            })
        }
        None => Some(MailTo {
            login,
            consent: custodian_notify::EmailConsent::NotRequired(custodian_notify::ConsentExemption::StaffAccount),
            name: None,
            lang,
        }),
    })
}

/// When `refusal` locked a check of an existing account, tells its holder,
/// in the background: the answer must take no longer than for an unknown login.
pub(crate) fn tell_holder_later(state: &State, refusal: AuthError, lang: custodian_domain::Lang) {
    let AuthError::NowLocked { account: Some(account), .. } = refusal else { return };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = tell_holder(&state, &account, lang).await {
            tracing::warn!(error = %e, "lock notice not queued");
        }
    });
}

/// Tells the account holder by e-mail that something happened to their
/// account (activated, locked, a recovery code used); the details are in the
/// portal's access log. Without a notifier or consent nothing goes.
pub(crate) async fn tell_holder(
    state: &State,
    account: &Account,
    lang: custodian_domain::Lang,
) -> Result<(), StoreError> {
    let Some(notifier) = &state.config.notifier else { return Ok(()) };
    let Some(to) = mail_basis(state, account, lang).await? else { return Ok(()) };
    let topic = custodian_notify::NoticeTopic::Account;
    to.send(notifier, account, &custodian_notify::EmailMessage::PortalNotice { name: to.name.clone(), topic }).await
}

#[derive(serde::Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

pub(crate) async fn reset_form(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let intro = viewer.lang.pick("Kies uw nieuwe wachtwoord.", "Choose your new password.");
    let token = q.token.unwrap_or_default();
    let show = !token.is_empty();
    reset_page(&state, &viewer, token, intro, show, vec![])
}

pub(crate) async fn reset(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let token = form.get("token").cloned().unwrap_or_default();
    let intro = lang.pick("Kies uw nieuwe wachtwoord.", "Choose your new password.");
    let password = match NewPassword::parse(form.get("password").map(String::as_str).unwrap_or_default(), &[]) {
        Ok(p) => p,
        Err(e) => return reset_page(&state, &viewer, token, intro, true, vec![password_error(&viewer, &e)]),
    };
    match state.store.reset_password(&token, &password).await {
        Ok(_) => view::message(
            lang,
            lang.pick("Wachtwoord gewijzigd", "Password changed"),
            lang.pick(
                "Uw wachtwoord is gewijzigd en al uw sessies zijn beëindigd. Log opnieuw in.",
                "Your password was changed and all your sessions ended. Please log in again.",
            ),
        ),
        Err(StoreError::Auth(_)) => {
            let refused = ErrorLink::form(code_refused(&viewer));
            let mut r = reset_page(&state, &viewer, String::new(), intro, false, vec![refused]);
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(e) => view::server_error(lang, &e),
    }
}
