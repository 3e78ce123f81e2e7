//! The owner's "Medewerkers / Staff" page: staff and bookkeeper accounts
//! listed (each view audited), invited with the record of their basis (A14,
//! M6), disabled, enabled, logged out everywhere and removed.
//!
//! An invitation sends the login by e-mail and the activation code by SMS
//! (A11); without a mobile number or SMS the page shows the owner the code to
//! read out, which the store records as a disclosure.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use custodian_domain::inventory::Role;
use custodian_domain::model::FieldErrors;
use custodian_domain::validate::Invalid;
use custodian_notify::{
    ActivationCode, ConsentExemption, EmailConsent, EmailMessage, LoginName, PersonName, SmsMessage,
};
use custodian_store::auth::{CodeDelivery, Invited, StaffAccount, StaffInvitation};
use custodian_store::{Access, AccessPurpose, Refusal, StoreError};

use crate::State;
use crate::extract::Viewer;
use crate::pages::{FormFields, page, store_error, without_csrf};
use crate::view::{self, ErrorLink, FieldView, Page, when};

fn access(viewer: &Viewer) -> Access {
    Access::new(viewer.session().account.actor(), AccessPurpose::Administration).from(viewer.ip)
}

/// One account as the table shows it.
struct Row {
    id: i64,
    role: &'static str,
    login: String,
    name: String,
    created: String,
    last_login: String,
    second_factor: &'static str,
    /// A second factor is enrolled, so the owner can reset it.
    has_second_factor: bool,
    status: String,
    basis: String,
    enabled: bool,
    removed: bool,
}

#[derive(Template)]
#[template(path = "staff/accounts.html")]
struct AccountsPage {
    page: Page,
    rows: Vec<Row>,
    /// What happened, line by line (where the login and code went).
    notice: Vec<String>,
    /// An activation code for the owner to read out; shown once.
    code: String,
    errors: Vec<ErrorLink>,
    person: Vec<FieldView>,
    confidentiality: Vec<FieldView>,
    dpa: Vec<FieldView>,
    staff_allowed: bool,
}

/// What the page shows besides the list: the form as sent, its errors, and
/// what an action did.
#[derive(Default)]
struct Shown {
    form: FormFields,
    invalid: Option<FieldErrors>,
    /// Errors about the page as a whole or a row's form (not the invitation's fields).
    other: Vec<ErrorLink>,
    notice: Vec<String>,
    code: String,
}

fn row(a: &StaffAccount, lang: Lang) -> Row {
    let dash = || "—".to_string();
    let status = match (a.removed_at, a.disabled_at, a.activated) {
        (Some(at), _, _) => format!("{} {}", lang.pick("verwijderd op", "removed on"), when(at)),
        (None, Some(at), _) => format!("{} {}", lang.pick("uitgeschakeld sinds", "disabled since"), when(at)),
        (None, None, false) => lang.pick("uitgenodigd, nog niet geactiveerd", "invited, not activated yet").into(),
        (None, None, true) => lang.pick("actief", "active").into(),
    };
    let basis = match (a.role, &a.confidentiality_signed_on, &a.dpa_signed_on) {
        (Role::Owner, _, _) => lang.pick("eigenaar (verwerkingsverantwoordelijke)", "owner (controller)").into(),
        (_, Some(on), _) => {
            format!("{} {on}", lang.pick("geheimhoudingsverklaring getekend op", "confidentiality statement signed on"))
        }
        (_, None, Some(on)) => format!(
            "{} {} {} {on}",
            lang.pick("verwerkersovereenkomst", "data processing agreement"),
            a.dpa_reference.as_deref().unwrap_or("—"),
            lang.pick("van", "of"),
        ),
        _ => dash(),
    };
    Row {
        id: a.id,
        role: a.role.label(lang),
        login: a.login.clone().unwrap_or_else(dash),
        name: a.name.clone().unwrap_or_else(dash),
        created: when(a.created_at),
        last_login: a.last_login_at.map(when).unwrap_or_else(|| lang.pick("nooit", "never").into()),
        second_factor: if a.second_factor {
            lang.pick("ingesteld", "enrolled")
        } else {
            lang.pick("niet ingesteld", "not enrolled")
        },
        has_second_factor: a.second_factor,
        status,
        basis,
        enabled: a.disabled_at.is_none(),
        removed: a.removed_at.is_some(),
    }
}

/// One input of the invitation form, with its value as sent and its error.
fn input(
    name: &'static str,
    label: &'static str,
    input_type: &'static str,
    autocomplete: &'static str,
    shown: &Shown,
    lang: Lang,
) -> FieldView {
    let error = shown.invalid.as_ref().and_then(|e| e.for_field(name)).map(|e| e.message(lang).to_string());
    FieldView {
        name,
        label,
        value: shown.form.get(name).cloned().unwrap_or_default(),
        error: error.unwrap_or_default(),
        input_type,
        autocomplete,
        choices: vec![],
    }
}

/// The page: the list (read, and so audited, once) and the invitation form.
async fn render(state: &State, viewer: &Viewer, shown: Shown, status: StatusCode) -> Response {
    let lang = viewer.lang;
    let accounts = match state.store.staff_accounts(&access(viewer)).await {
        Ok(a) => a,
        Err(e) => return store_error(viewer, e),
    };
    let staff_allowed = state.store.policy_settings().allows_role(Role::Staff);
    let mut role = input("role", lang.pick("Rol", "Role"), "text", "", &shown, lang);
    if staff_allowed {
        role.choices.push(("staff", Role::Staff.label(lang)));
    }
    role.choices.push(("bookkeeper", Role::Bookkeeper.label(lang)));
    let person = vec![
        role,
        input(
            "login",
            lang.pick("Inlognaam (e-mailadres)", "Login name (e-mail address)"),
            "email",
            "off",
            &shown,
            lang,
        ),
        input("name", lang.pick("Naam", "Name"), "text", "off", &shown, lang),
        input(
            "phone",
            lang.pick(
                "Mobiel nummer (voor de activeringscode per sms)",
                "Mobile number (for the activation code by SMS)",
            ),
            "tel",
            "off",
            &shown,
            lang,
        ),
    ];
    let confidentiality = vec![input(
        "confidentiality_signed_on",
        lang.pick("Geheimhoudingsverklaring getekend op", "Confidentiality statement signed on"),
        "date",
        "",
        &shown,
        lang,
    )];
    let dpa = vec![
        input(
            "dpa_reference",
            lang.pick("Kenmerk verwerkersovereenkomst", "Reference of the DPA"),
            "text",
            "off",
            &shown,
            lang,
        ),
        input("dpa_date", lang.pick("Datum verwerkersovereenkomst", "Date of the DPA"), "date", "", &shown, lang),
    ];
    let mut errors = shown.other;
    for group in [&person, &confidentiality, &dpa] {
        errors.extend(view::error_summary(group));
    }
    let mut r = view::render(AccountsPage {
        page: page(state, viewer, lang.pick("Medewerkers", "Staff")),
        rows: accounts.iter().map(|a| row(a, lang)).collect(),
        notice: shown.notice,
        code: shown.code,
        errors,
        person,
        confidentiality,
        dpa,
        staff_allowed,
    });
    *r.status_mut() = status;
    // The page can hold an activation code, and holds logins and names.
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(serde::Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

fn done_notice(done: Option<&str>, lang: Lang) -> Vec<String> {
    let text = match done {
        Some("disabled") => lang.pick(
            "Het account is uitgeschakeld; de sessies ervan zijn beëindigd.",
            "The account is disabled; its sessions have ended.",
        ),
        Some("enabled") => lang.pick("Het account is weer ingeschakeld.", "The account is enabled again."),
        Some("removed") => lang.pick(
            "Het account is verwijderd. Nummer en rol blijven bewaard, zodat het auditlog herleidbaar blijft; de inlognaam is weer vrij.",
            "The account is removed. Its number and role are kept so the audit trail stays attributable; the login name is free again.",
        ),
        Some("sessions") => lang.pick(
            "Alle sessies van het account zijn beëindigd.",
            "All sessions of the account have ended.",
        ),
        Some("second-factor") => lang.pick(
            "De tweede factor en de herstelcodes van het account zijn gewist en de sessies beëindigd. Bij de volgende keer inloggen stelt de houder een nieuwe tweede factor in.",
            "The account's second factor and recovery codes are erased and its sessions ended. At the next login its holder sets up a new second factor.",
        ),
        _ => return vec![],
    };
    vec![text.to_string()]
}

pub(crate) async fn list(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<Done>,
) -> Response {
    let shown = Shown { notice: done_notice(q.done.as_deref(), viewer.lang), ..Shown::default() };
    render(&state, &viewer, shown, StatusCode::OK).await
}

/// The field a refusal of an invitation is about, for the error summary.
fn refused_field(refusal: &Refusal) -> Option<&'static str> {
    match refusal {
        Refusal::ConfidentialityRequired => Some("confidentiality_signed_on"),
        Refusal::DpaRequired => Some("dpa_reference"),
        Refusal::LoginTaken | Refusal::AccountActivated | Refusal::AccountDisabled => Some("login"),
        Refusal::NoStaffAccounts | Refusal::OwnerByInvitation | Refusal::CustomerAccountByInvitation => Some("role"),
        _ => None,
    }
}

pub(crate) async fn invite(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let form = without_csrf(form);
    let today = time::OffsetDateTime::now_utc().date();
    let invitation = match StaffInvitation::parse(&form, today) {
        Ok(i) => i,
        Err(invalid) => {
            let shown = Shown { form, invalid: Some(invalid), ..Shown::default() };
            return render(&state, &viewer, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let notifier = state.config.notifier.as_ref();
    let by_sms = notifier.is_some() && state.config.sms && invitation.phone.is_some();
    let delivery = if by_sms { CodeDelivery::Sms } else { CodeDelivery::ReadOut };
    let access = access(&viewer);
    let invited = match state.store.invite_staff(&access, &invitation, delivery).await {
        Ok(i) => i,
        Err(StoreError::Refused(refusal)) => {
            let mut shown = Shown { form, ..Shown::default() };
            match refused_field(&refusal) {
                Some(field) => {
                    let error =
                        Invalid::new("account", refusal.code(), refusal.message(Lang::Nl), refusal.message(Lang::En));
                    shown.invalid = Some(FieldErrors::single(field, error));
                }
                None => shown.other.push(ErrorLink::form(refusal.message(lang))),
            }
            return render(&state, &viewer, shown, StatusCode::CONFLICT).await;
        }
        Err(StoreError::Invalid(invalid)) => {
            let shown = Shown { form, invalid: Some(invalid), ..Shown::default() };
            return render(&state, &viewer, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return store_error(&viewer, e),
    };
    let (notice, code) = deliver(&state, &access, &invitation, &invited, delivery, lang).await;
    render(&state, &viewer, Shown { notice, code, ..Shown::default() }, StatusCode::OK).await
}

/// Sends the login by e-mail and the code by SMS, each on its own (A11), and
/// says where they went; a code that cannot go by SMS is returned to show.
async fn deliver(
    state: &State,
    access: &Access,
    invitation: &StaffInvitation,
    invited: &Invited,
    delivery: CodeDelivery,
    lang: Lang,
) -> (Vec<String>, String) {
    let mut lines = vec![
        if invited.reinvited {
            lang.pick(
                "Het account is opnieuw uitgenodigd; eerdere activeringscodes werken niet meer.",
                "The account is invited again; earlier activation codes no longer work.",
            )
        } else {
            lang.pick("Het account is aangemaakt.", "The account is created.")
        }
        .to_string(),
    ];
    let notifier = state.config.notifier.as_ref();
    let name = PersonName::parse(invitation.name.as_str()).ok();
    let mailed = match (notifier, LoginName::parse(invitation.login.as_str())) {
        (Some(n), Ok(login)) => {
            let consent = EmailConsent::NotRequired(ConsentExemption::StaffAccount);
            let message = EmailMessage::LoginName { name, login };
            n.email(access, &invitation.login, consent, None, lang, &message).await.is_ok()
        }
        _ => false,
    };
    lines.push(
        if mailed {
            lang.pick("De inlognaam is per e-mail verstuurd.", "The login name was sent by e-mail.")
        } else {
            lang.pick(
                "E-mail is niet ingesteld: geef de inlognaam (het e-mailadres) zelf door, los van de code.",
                "E-mail is not set up: hand over the login name (the e-mail address) yourself, apart from the code.",
            )
        }
        .to_string(),
    );
    let phone = invitation.phone.as_ref();
    match (delivery, notifier, phone) {
        (CodeDelivery::Sms, Some(n), Some(phone)) => {
            let texted = match ActivationCode::parse(invited.code.as_str()) {
                Ok(code) => n.sms(access, phone, None, lang, &SmsMessage::ActivationCode { code }).await.is_ok(),
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
                        "De sms met de activeringscode kon niet in de wachtrij; nodig opnieuw uit.",
                        "The text message with the activation code could not be queued; invite again.",
                    )
                }
                .to_string(),
            );
            (lines, String::new())
        }
        _ => {
            lines.push(
                lang.pick(
                    "Er gaat geen sms (geen mobiel nummer, of sms is niet ingesteld). Lees deze activeringscode telefonisch voor; hij is 72 uur geldig, werkt één keer en wordt niet nog eens getoond. Dat u hem zag, staat in het auditlog.",
                    "No text message goes (no mobile number, or SMS is not set up). Read this activation code out by phone; it is valid for 72 hours, works once and is not shown again. That you saw it is in the audit trail.",
                )
                .to_string(),
            );
            (lines, invited.code.to_string())
        }
    }
}

/// Answers a store error of a row's action: refusals on the page, the rest as usual.
async fn after_action(state: &State, viewer: &Viewer, done: &str, result: Result<(), StoreError>) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/staff/accounts?done={done}")).into_response(),
        Err(StoreError::Refused(refusal)) => {
            let shown = Shown { other: vec![ErrorLink::form(refusal.message(viewer.lang))], ..Shown::default() };
            render(state, viewer, shown, StatusCode::CONFLICT).await
        }
        Err(e) => store_error(viewer, e),
    }
}

pub(crate) async fn disable(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let result = state.store.disable_account(&access(&viewer), id).await;
    after_action(&state, &viewer, "disabled", result).await
}

pub(crate) async fn enable(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let result = state.store.enable_account(&access(&viewer), id).await;
    after_action(&state, &viewer, "enabled", result).await
}

pub(crate) async fn end_sessions(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let result = state.store.end_account_sessions(&access(&viewer), id).await.map(|_| ());
    after_action(&state, &viewer, "sessions", result).await
}

/// Erases an account's second factor (a lost phone): it enrols again at its next login.
pub(crate) async fn reset_second_factor(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let result = state.store.reset_second_factor(&access(&viewer), id).await;
    after_action(&state, &viewer, "second-factor", result).await
}

/// Removes an account once the owner ticked the confirmation on its row.
pub(crate) async fn remove(
    AxState(state): AxState<State>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    if form.get("confirm").map(String::as_str) != Some("yes") {
        let text = lang.pick(
            "Vink aan dat u het account wilt verwijderen; er is niets verwijderd.",
            "Tick the box to confirm the removal; nothing was removed.",
        );
        let shown = Shown { other: vec![ErrorLink::to(&format!("confirm-{id}"), text)], ..Shown::default() };
        return render(&state, &viewer, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let result = state.store.remove_account(&access(&viewer), id).await;
    after_action(&state, &viewer, "removed", result).await
}
