//! `custodian account …`: staff and bookkeeper accounts, as the owner manages
//! them in the back-office, for the operator at the server.
//!
//! `account add` queues the login e-mail and the activation SMS in the outbox
//! when `[smtp]` and `[sms]` are set (the worker of `custodian serve` sends
//! them); a code that cannot go by SMS is printed for the operator to read out
//! by phone, which the store records as a disclosure.

use std::io::Write;
use std::sync::Arc;

use clap::Subcommand;
use custodian_domain::Lang;
use custodian_domain::inventory::Role;
use custodian_domain::model::{FieldErrors, Fields};
use custodian_notify::{
    ActivationCode, Branding, ConsentExemption, EmailConsent, EmailMessage, LoginName, Notifier, PersonName,
    SmsMessage, SystemClock,
};
use custodian_store::auth::{CodeDelivery, StaffAccount, StaffInvitation};
use custodian_store::{AccessPurpose, Store, StoreError};

use super::shared::{Format, Usage, format_micros, open, operator, print, today};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(crate) enum AccountCmd {
    /// Invite a staff member or the bookkeeper. The basis is required before
    /// any access: --confidentiality-signed for staff (A14), --dpa-reference
    /// and --dpa-date for the bookkeeper (M6).
    Add {
        /// staff or bookkeeper.
        #[arg(long, value_parser = ["staff", "bookkeeper"])]
        role: String,
        /// The login name: the person's e-mail address.
        #[arg(long)]
        login: String,
        /// The person's name (for the greeting of the e-mail and the list).
        #[arg(long)]
        name: String,
        /// A mobile number for the activation code by SMS.
        #[arg(long)]
        phone: Option<String>,
        /// The day the staff member signed the confidentiality statement (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        confidentiality_signed: Option<String>,
        /// The reference of the bookkeeper's data processing agreement.
        #[arg(long, value_name = "REF")]
        dpa_reference: Option<String>,
        /// The date of that agreement (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        dpa_date: Option<String>,
    },
    /// The owner, staff and bookkeeper accounts (not customers'); the read is audited.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Disable an account: no more logins, its sessions end.
    Disable { id: i64 },
    /// Enable a disabled account again.
    Enable { id: i64 },
    /// Remove an account: login, name and credentials are wiped; the ID and role stay for the audit trail.
    Remove { id: i64 },
    /// End every session of an account.
    EndSessions { id: i64 },
    /// Erase an account's second factor and recovery codes (a lost phone, also
    /// the owner's own); its sessions end and it enrols again at its next login.
    ResetSecondFactor { id: i64 },
}

/// The option each invitation field comes from, for error messages.
const FLAGS: [(&str, &str); 7] = [
    ("role", "--role"),
    ("login", "--login"),
    ("name", "--name"),
    ("phone", "--phone"),
    ("confidentiality_signed_on", "--confidentiality-signed"),
    ("dpa_reference", "--dpa-reference"),
    ("dpa_date", "--dpa-date"),
];

/// A refusal in the configured language; bad input (exit code 2) like a usage error.
fn refused(e: StoreError, lang: Lang) -> anyhow::Error {
    match e {
        StoreError::Refused(r) => Usage(r.message(lang)).into(),
        StoreError::Denied(d) => Usage(d.message(lang)).into(),
        StoreError::Invalid(mut errors) => {
            rename(&mut errors);
            errors.into()
        }
        other => other.into(),
    }
}

/// Names each field after its command-line option.
fn rename(errors: &mut FieldErrors) {
    for e in &mut errors.0 {
        if let Some((_, flag)) = FLAGS.iter().find(|(field, _)| *field == e.field) {
            e.field = flag.to_string();
        }
    }
}

pub(crate) async fn run(out: &mut impl Write, config: &Config, cmd: AccountCmd) -> anyhow::Result<()> {
    let lang = config.language;
    let access = operator(AccessPurpose::Administration);
    match cmd {
        AccountCmd::Add { role, login, name, phone, confidentiality_signed, dpa_reference, dpa_date } => {
            let mut input = Fields::new();
            for (field, value) in [
                ("role", Some(role)),
                ("login", Some(login)),
                ("name", Some(name)),
                ("phone", phone),
                ("confidentiality_signed_on", confidentiality_signed),
                ("dpa_reference", dpa_reference),
                ("dpa_date", dpa_date),
            ] {
                if let Some(v) = value {
                    input.insert(field.to_string(), v);
                }
            }
            let invitation = StaffInvitation::parse(&input, today()).map_err(|mut e| {
                rename(&mut e);
                e
            })?;
            let store = open(config).await?;
            add(out, config, &store, &invitation).await?;
        }
        AccountCmd::List { format } => {
            let store = open(config).await?;
            let accounts = store.staff_accounts(&access).await.map_err(|e| refused(e, lang))?;
            print(out, format, &accounts, |out, a| writeln!(out, "{}", line(a)))?;
        }
        AccountCmd::Disable { id } => {
            let store = open(config).await?;
            store.disable_account(&access, id).await.map_err(|e| refused(e, lang))?;
            writeln!(out, "account {id} disabled; its sessions have ended")?;
        }
        AccountCmd::Enable { id } => {
            let store = open(config).await?;
            store.enable_account(&access, id).await.map_err(|e| refused(e, lang))?;
            writeln!(out, "account {id} enabled")?;
        }
        AccountCmd::Remove { id } => {
            let store = open(config).await?;
            store.remove_account(&access, id).await.map_err(|e| refused(e, lang))?;
            writeln!(out, "account {id} removed; its ID and role stay in the audit trail, the login is free")?;
        }
        AccountCmd::EndSessions { id } => {
            let store = open(config).await?;
            let ended = store.end_account_sessions(&access, id).await.map_err(|e| refused(e, lang))?;
            writeln!(out, "account {id}: {ended} session(s) ended")?;
        }
        AccountCmd::ResetSecondFactor { id } => {
            let store = open(config).await?;
            store.reset_second_factor(&access, id).await.map_err(|e| refused(e, lang))?;
            writeln!(out, "account {id}: second factor and recovery codes erased; it enrols again at its next login")?;
        }
    }
    Ok(())
}

/// Invites, then queues the login by e-mail and the code by SMS, each on its
/// own (A11), or prints the code to read out.
async fn add(out: &mut impl Write, config: &Config, store: &Store, invitation: &StaffInvitation) -> anyhow::Result<()> {
    let lang = config.language;
    let access = operator(AccessPurpose::Administration);
    let notifier = if config.smtp.is_some() || config.sms.is_some() {
        let branding = Branding { company: config.company_name.clone(), portal_url: config.public_url.clone() };
        Some(Notifier::new(store.clone(), branding, Arc::new(SystemClock))?)
    } else {
        None
    };
    let by_sms = config.sms.is_some() && invitation.phone.is_some();
    let delivery = if by_sms { CodeDelivery::Sms } else { CodeDelivery::ReadOut };
    let invited = store.invite_staff(&access, invitation, delivery).await.map_err(|e| refused(e, lang))?;
    let id = invited.account.id;
    let role = invitation.role.as_str();
    if invited.reinvited {
        writeln!(out, "account {id} ({role}) invited again; its earlier activation codes no longer work")?;
    } else {
        writeln!(out, "account {id} ({role}) created")?;
    }
    match (&notifier, config.smtp.is_some()) {
        (Some(n), true) => {
            let message = EmailMessage::LoginName {
                name: PersonName::parse(invitation.name.as_str()).ok(),
                login: LoginName::parse(invitation.login.as_str())?,
            };
            let consent = EmailConsent::NotRequired(ConsentExemption::StaffAccount);
            let queued = n.email(&access, &invitation.login, consent, None, lang, &message).await?;
            writeln!(out, "login name: queued by e-mail (outbox message {queued}); `custodian serve` sends it")?;
        }
        _ => writeln!(out, "login name: no e-mail is set up; hand over the login name yourself, apart from the code")?,
    }
    match (&notifier, invitation.phone.as_ref()) {
        (Some(n), Some(phone)) if by_sms => {
            let code = ActivationCode::parse(invited.code.as_str())?;
            let queued = n.sms(&access, phone, None, lang, &SmsMessage::ActivationCode { code }).await?;
            writeln!(out, "activation code: queued by SMS (outbox message {queued}); `custodian serve` sends it")?;
        }
        _ => {
            writeln!(
                out,
                "activation code (no SMS goes: read it out by phone; valid 72 hours, works once; this disclosure is in the audit trail):"
            )?;
            writeln!(out, "{}", invited.code.as_str())?;
        }
    }
    Ok(())
}

/// One account on one line.
fn line(a: &StaffAccount) -> String {
    let state = match (a.removed_at, a.disabled_at, a.activated) {
        (Some(at), _, _) => format!("removed {}", format_micros(at)),
        (None, Some(at), _) => format!("disabled {}", format_micros(at)),
        (None, None, false) => "invited".to_string(),
        (None, None, true) => "active".to_string(),
    };
    let basis = match (a.role, &a.confidentiality_signed_on, &a.dpa_signed_on) {
        (Role::Owner, _, _) => "owner".to_string(),
        (_, Some(on), _) => format!("confidentiality signed {on}"),
        (_, None, Some(on)) => format!("DPA {} of {on}", a.dpa_reference.as_deref().unwrap_or("-")),
        _ => "-".to_string(),
    };
    format!(
        "{:>4}  {:<10} {:<32} {:<24} created {}; last login {}; second factor {}; {state}; {basis}",
        a.id,
        a.role.as_str(),
        a.login.as_deref().unwrap_or("-"),
        a.name.as_deref().unwrap_or("-"),
        format_micros(a.created_at),
        a.last_login_at.map(format_micros).unwrap_or_else(|| "never".into()),
        if a.second_factor { "enrolled" } else { "not enrolled" },
    )
}
