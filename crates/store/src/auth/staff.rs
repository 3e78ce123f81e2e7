//! Staff and bookkeeper accounts as the owner manages them: invite, list,
//! disable, enable, remove, and end an account's sessions.
//!
//! An account gets no access before its basis is recorded: for staff the day
//! the person signed the confidentiality statement (A14), for the bookkeeper
//! the reference and date of the data processing agreement (M6). The login
//! goes by e-mail and the activation code by SMS (A11); without an SMS the code
//! is shown to the owner to read out, which is an audited disclosure.
//!
//! Removing an account keeps its row as a tombstone: the ID and role stay, so
//! the audit entries it made remain attributable, while login, name, number,
//! credentials and the DPA reference are wiped and the login can be used again.
//! The last enabled owner can never be disabled or removed.

use custodian_domain::model::{FieldErrors, Fields, Form, Text, format_date, parse_date};
use custodian_domain::policy::{Action, Resource};
use custodian_domain::validate::{Invalid, Phone};
use serde::Serialize;

use super::accounts::may_disclose_code;
use super::*;
use crate::Refusal;

/// Why an account may see personal data at all; recorded before it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// A staff member signed the confidentiality statement on this day (A14).
    Confidentiality { signed_on: time::Date },
    /// The bookkeeper works under this data processing agreement (M6).
    Dpa { reference: Text, signed_on: time::Date },
}

/// How the activation code of an invitation reaches its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDelivery {
    /// By SMS to the account's mobile number: nobody else sees it.
    Sms,
    /// Shown to the one who invites, to read out by phone: only the owner (and
    /// the operator) may, and it is recorded as `account.code_disclosed`.
    ReadOut,
}

/// An invitation of a staff member or the bookkeeper, parsed.
#[derive(Debug, Clone)]
pub struct StaffInvitation {
    pub role: Role,
    pub login: Email,
    pub name: Text,
    /// A mobile number for the activation code.
    pub phone: Option<Phone>,
    /// Refused when missing or not the one the role needs.
    pub basis: Option<Basis>,
}

/// The fields of an invitation, as the back-office form and the command line name them.
pub const INVITATION_FIELDS: &[&str] =
    &["role", "login", "name", "phone", "confidentiality_signed_on", "dpa_reference", "dpa_date"];

impl StaffInvitation {
    /// Reads an invitation from form fields, reporting every wrong field at
    /// once. A missing basis is not a field error: the store refuses it with
    /// its own explanation. Dates of signing cannot lie after `today`.
    pub fn parse(input: &Fields, today: time::Date) -> Result<StaffInvitation, FieldErrors> {
        let mut form = Form::new(input, INVITATION_FIELDS);
        let role = form.required("role", parse_role);
        let login = form.required("login", Email::parse);
        let name = form.required("name", Text::parse);
        let phone = form.optional("phone", Phone::parse);
        let signed = |raw: &str| signed_date(raw, today);
        let confidentiality = form.optional("confidentiality_signed_on", signed);
        let reference = form.optional("dpa_reference", Text::parse);
        let dpa_date = form.optional("dpa_date", signed);
        match role {
            Some(Role::Staff) => {
                for other in ["dpa_reference", "dpa_date"] {
                    if form.is_present(other) {
                        form.error(other, only_for("de boekhouder", "the bookkeeper"));
                    }
                }
            }
            Some(Role::Bookkeeper) => {
                if form.is_present("confidentiality_signed_on") {
                    form.error("confidentiality_signed_on", only_for("medewerkers", "staff"));
                }
                // Half a DPA is a mistake in the form, not a missing basis.
                match (form.is_present("dpa_reference"), form.is_present("dpa_date")) {
                    (true, false) => form.error("dpa_date", required()),
                    (false, true) => form.error("dpa_reference", required()),
                    _ => {}
                }
            }
            _ => {}
        }
        let basis = match role {
            Some(Role::Staff) => confidentiality.map(|signed_on| Basis::Confidentiality { signed_on }),
            _ => reference.zip(dpa_date).map(|(reference, signed_on)| Basis::Dpa { reference, signed_on }),
        };
        form.finish(|| Some(StaffInvitation { role: role?, login: login?, name: name?, phone, basis }))
    }
}

fn parse_role(raw: &str) -> Result<Role, Invalid> {
    match raw.trim() {
        "staff" => Ok(Role::Staff),
        "bookkeeper" => Ok(Role::Bookkeeper),
        _ => Err(Invalid::new(
            "role",
            "choice",
            "Kies medewerker (staff) of boekhouder (bookkeeper).",
            "Choose staff or bookkeeper.",
        )),
    }
}

fn signed_date(raw: &str, today: time::Date) -> Result<time::Date, Invalid> {
    let date = parse_date(raw)?;
    if date > today {
        return Err(Invalid::new(
            "date",
            "future",
            "Deze datum ligt in de toekomst; vul de dag van ondertekening in.",
            "This date lies in the future; give the day it was signed.",
        ));
    }
    Ok(date)
}

/// As the domain's forms say it of a missing field.
fn required() -> Invalid {
    Invalid::new("field", "required", "Dit veld is verplicht.", "This field is required.")
}

fn only_for(nl: &str, en: &str) -> Invalid {
    Invalid::new(
        "field",
        "not_for_role",
        format!("Dit veld is alleen voor {nl}."),
        format!("This field is only for {en}."),
    )
}

/// What an invitation made.
pub struct Invited {
    pub account: Account,
    /// An account without a password was invited again (its earlier codes are void).
    pub reinvited: bool,
    /// The activation code (72 h, single use): for the SMS, or to read out.
    pub code: Zeroizing<String>,
}

impl std::fmt::Debug for Invited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invited")
            .field("account", &self.account)
            .field("reinvited", &self.reinvited)
            .finish_non_exhaustive()
    }
}

/// An account as the owner's list shows it. Customers' portal accounts are not listed.
#[derive(Debug, Clone, Serialize)]
pub struct StaffAccount {
    /// The pseudonymous account ID, as in the audit trail.
    pub id: i64,
    pub role: Role,
    /// `None` once removed.
    pub login: Option<String>,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// A password was set with the activation code.
    pub activated: bool,
    /// A second factor is enrolled.
    pub second_factor: bool,
    pub disabled_at: Option<i64>,
    pub removed_at: Option<i64>,
    /// The basis of a staff account: the day the confidentiality statement
    /// was signed (A14), `YYYY-MM-DD`.
    pub confidentiality_signed_on: Option<String>,
    /// The basis of the bookkeeper's account (M6): the DPA's reference (wiped
    /// when the account is removed) and date.
    pub dpa_reference: Option<String>,
    pub dpa_signed_on: Option<String>,
}

/// The state of an account that a change is asked for.
struct Target {
    role: Role,
    enabled: bool,
}

const LIST_COLUMNS: &str = "id, role, login, display_name, password_hash, totp_last_step, created_at, last_login_at, disabled_at, removed_at, confidentiality_signed_on, dpa_reference, dpa_signed_on";

/// The personal columns a removal wipes.
const WIPED: [&str; 6] = ["login", "display_name", "phone", "password_hash", "totp_secret", "dpa_reference"];

impl Store {
    /// Invites a staff member or the bookkeeper (owner and operator only):
    /// records the account with its basis and returns the activation code.
    /// An account that already has this login and no password yet is invited
    /// again (details and basis as now given; its earlier codes are void); one
    /// with a password never is. With [`CodeDelivery::ReadOut`] the code is
    /// disclosed to `access`, recorded in the same transaction.
    pub async fn invite_staff(
        &self,
        access: &Access,
        invitation: &StaffInvitation,
        delivery: CodeDelivery,
    ) -> Result<Invited, StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Write)?;
        if delivery == CodeDelivery::ReadOut {
            may_disclose_code(access)?;
        }
        let role = invitation.role;
        match role {
            Role::Subject => return Err(Refusal::CustomerAccountByInvitation.into()),
            Role::Owner => return Err(Refusal::OwnerByInvitation.into()),
            Role::Staff | Role::Bookkeeper => {}
        }
        if !self.settings.allows_role(role) {
            return Err(crate::permit::no_staff());
        }
        let (confidentiality, dpa) = match (role, &invitation.basis) {
            (Role::Staff, Some(Basis::Confidentiality { signed_on })) => (Some(*signed_on), None),
            (Role::Staff, _) => return Err(Refusal::ConfidentialityRequired.into()),
            (_, Some(Basis::Dpa { reference, signed_on })) => (None, Some((reference, *signed_on))),
            _ => return Err(Refusal::DpaRequired.into()),
        };
        if delivery == CodeDelivery::Sms && invitation.phone.is_none() {
            return Err(FieldErrors::single("phone", required()).into());
        }
        let login = &invitation.login;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let existing =
            sqlx::query("SELECT id, role, customer_id, password_hash, disabled_at FROM users WHERE login_bidx = $1")
                .bind(self.login_index(login))
                .fetch_optional(&mut *tx)
                .await?;
        let (id, reinvited) = match existing {
            None => (self.insert_account(&mut tx, role, None, login, Some(invitation.name.as_str())).await?, false),
            Some(r) => {
                let customer: Option<i64> = r.try_get("customer_id")?;
                let stored_role: String = r.try_get("role")?;
                if customer.is_some() || role_of(&stored_role) != role {
                    return Err(Refusal::LoginTaken.into());
                }
                if r.try_get::<Option<Vec<u8>>, _>("password_hash")?.is_some() {
                    return Err(Refusal::AccountActivated.into());
                }
                if r.try_get::<Option<i64>, _>("disabled_at")?.is_some() {
                    return Err(Refusal::AccountDisabled.into());
                }
                (r.try_get("id")?, true)
            }
        };
        let system = &self.keys.system;
        let seal = |column: &str, value: &str| system.seal(&field_aad("users", id, column), value.as_bytes());
        sqlx::query(
            "UPDATE users SET display_name = $1, phone = $2, confidentiality_signed_on = $3, dpa_reference = $4,
             dpa_signed_on = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(seal("display_name", invitation.name.as_str()))
        .bind(invitation.phone.as_ref().map(|p| seal("phone", p.as_str())))
        .bind(confidentiality.map(format_date))
        .bind(dpa.map(|(reference, _)| seal("dpa_reference", reference.as_str())))
        .bind(dpa.map(|(_, on)| format_date(on)))
        .bind(now_micros())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM one_time_codes WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
            .bind(id)
            .bind(CodePurpose::Activation.as_str())
            .execute(&mut *tx)
            .await?;
        let code = random_digits();
        self.store_code(&mut *tx, CodePurpose::Activation, Some(id), &id.to_string(), &code, ACTIVATION_TTL).await?;
        let mut fields = vec!["login", "display_name"];
        if invitation.phone.is_some() {
            fields.push("phone");
        }
        fields.extend(match dpa {
            Some(_) => ["dpa_reference", "dpa_signed_on"].as_slice(),
            None => ["confidentiality_signed_on"].as_slice(),
        });
        let action = if reinvited { "account.reinvite" } else { "account.create" };
        let mut events = vec![Event::new(access, action, "account", id).fields(fields)];
        if delivery == CodeDelivery::ReadOut {
            events.push(Event::new(access, "account.code_disclosed", "account", id));
        }
        for event in &mut events {
            self.keys.seal_source(event, None);
        }
        crate::audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        let (account, _) = self.account_by_id(&self.pool, id).await?;
        Ok(Invited { account, reinvited, code })
    }

    /// A staff or bookkeeper account for tests, its basis recorded as signed
    /// today, and its activation code (disclosed to `access`, as the owner's
    /// read-out is). The product invites through [`Store::invite_staff`].
    #[cfg(any(test, feature = "test-actors"))]
    pub async fn create_staff_account(
        &self,
        access: &Access,
        role: Role,
        login: &Email,
        name: &str,
    ) -> Result<(Account, Zeroizing<String>), StoreError> {
        let today = time::OffsetDateTime::now_utc().date();
        let basis = match role {
            Role::Bookkeeper => {
                let reference = Text::parse("DPA-test").map_err(|e| FieldErrors::single("dpa_reference", e))?;
                Basis::Dpa { reference, signed_on: today }
            }
            _ => Basis::Confidentiality { signed_on: today },
        };
        let name = Text::parse(name).map_err(|e| FieldErrors::single("name", e))?;
        let invitation = StaffInvitation { role, login: login.clone(), name, phone: None, basis: Some(basis) };
        let invited = self.invite_staff(access, &invitation, CodeDelivery::ReadOut).await?;
        Ok((invited.account, invited.code))
    }

    /// Every account but customers' portal accounts: the owner, staff and the
    /// bookkeeper, removed ones as tombstones. Each read is in the audit trail.
    pub async fn staff_accounts(&self, access: &Access) -> Result<Vec<StaffAccount>, StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Read)?;
        let rows = sqlx::query(&format!(
            "SELECT {LIST_COLUMNS} FROM users WHERE customer_id IS NULL AND role <> 'customer' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        let system = &self.keys.system;
        let mut accounts = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let open = |column: &str, sealed: Option<Vec<u8>>| -> Result<Option<String>, StoreError> {
                match sealed.filter(|s| !s.is_empty()) {
                    Some(s) => {
                        let plain = system.open(&field_aad("users", id, column), &s)?;
                        Ok(Some(String::from_utf8_lossy(&plain).into_owned()))
                    }
                    None => Ok(None),
                }
            };
            let role = role_of(&r.try_get::<String, _>("role")?);
            accounts.push(StaffAccount {
                id,
                role,
                login: open("login", r.try_get("login")?)?,
                name: open("display_name", r.try_get("display_name")?)?,
                created_at: r.try_get("created_at")?,
                last_login_at: r.try_get("last_login_at")?,
                activated: r.try_get::<Option<Vec<u8>>, _>("password_hash")?.is_some(),
                second_factor: r.try_get::<i64, _>("totp_last_step")? > 0,
                disabled_at: r.try_get("disabled_at")?,
                removed_at: r.try_get("removed_at")?,
                confidentiality_signed_on: r.try_get("confidentiality_signed_on")?,
                dpa_reference: open("dpa_reference", r.try_get("dpa_reference")?)?,
                dpa_signed_on: r.try_get("dpa_signed_on")?,
            });
        }
        self.audit_event(
            access,
            "account.list",
            "accounts",
            &accounts.len().to_string(),
            &["login", "display_name", "dpa_reference"],
        )
        .await?;
        Ok(accounts)
    }

    /// The account a change is asked for, locked in `tx`: not a customer's,
    /// not removed.
    async fn target(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: i64) -> Result<Target, StoreError> {
        let row = sqlx::query("SELECT role, customer_id, disabled_at, removed_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound { kind: "account", id: id.to_string() })?;
        let role = role_of(&row.try_get::<String, _>("role")?);
        if role == Role::Subject || row.try_get::<Option<i64>, _>("customer_id")?.is_some() {
            return Err(Refusal::CustomerAccount.into());
        }
        if row.try_get::<Option<i64>, _>("removed_at")?.is_some() {
            return Err(Refusal::AccountRemoved.into());
        }
        Ok(Target { role, enabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_none() })
    }

    /// Refuses to take away the last enabled owner.
    async fn keep_an_owner(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
        target: &Target,
    ) -> Result<(), StoreError> {
        if target.role != Role::Owner || !target.enabled {
            return Ok(());
        }
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL AND removed_at IS NULL AND id <> $1",
        )
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if others == 0 {
            return Err(Refusal::LastOwner.into());
        }
        Ok(())
    }

    async fn end_sessions_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut **tx).await?.rows_affected())
    }

    async fn append_one(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        access: &Access,
        action: &'static str,
        id: i64,
        fields: &[&str],
    ) -> Result<(), StoreError> {
        let mut event = Event::new(access, action, "account", id).fields(fields);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(tx, &[event]).await?;
        Ok(())
    }

    /// Disables an account: it can no longer log in, and its sessions end.
    /// Disabling a disabled account changes nothing.
    pub async fn disable_account(&self, access: &Access, id: i64) -> Result<(), StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let target = self.target(&mut tx, id).await?;
        self.keep_an_owner(&mut tx, id, &target).await?;
        let now = now_micros();
        let changed =
            sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let ended = Self::end_sessions_in(&mut tx, id).await?;
        if changed > 0 || ended > 0 {
            self.append_one(&mut tx, access, "account.disable", id, &[]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Enables a disabled account again. A staff account stays disabled while
    /// the company has no staff (`staff_accounts = false`).
    pub async fn enable_account(&self, access: &Access, id: i64) -> Result<(), StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let target = self.target(&mut tx, id).await?;
        if !self.settings.allows_role(target.role) {
            return Err(crate::permit::no_staff());
        }
        let changed = sqlx::query(
            "UPDATE users SET disabled_at = NULL, updated_at = $1 WHERE id = $2 AND disabled_at IS NOT NULL",
        )
        .bind(now_micros())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            self.append_one(&mut tx, access, "account.enable", id, &[]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes an account: its sessions and codes go, login, name, number,
    /// credentials and DPA reference are wiped, and the login is free again.
    /// The row stays with its ID, role and dates, so the audit trail stays
    /// attributable.
    pub async fn remove_account(&self, access: &Access, id: i64) -> Result<(), StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let target = self.target(&mut tx, id).await?;
        self.keep_an_owner(&mut tx, id, &target).await?;
        let now = now_micros();
        // A keyed value no login can have, unique per account.
        let free = self.keys.index.blind_index("removed-account", &id.to_string());
        sqlx::query(
            "UPDATE users SET removed_at = $1, disabled_at = COALESCE(disabled_at, $1), updated_at = $1,
             login_bidx = $2, login = $3, display_name = NULL, phone = NULL, password_hash = NULL,
             totp_secret = NULL, totp_last_step = 0, dpa_reference = NULL, failed_logins = 0, locked_until = 0
             WHERE id = $4",
        )
        .bind(now)
        .bind(free)
        .bind(Vec::<u8>::new())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Self::end_sessions_in(&mut tx, id).await?;
        sqlx::query("DELETE FROM one_time_codes WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        self.append_one(&mut tx, access, "account.remove", id, &WIPED).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of an account (logged out everywhere); returns how
    /// many there were.
    pub async fn end_account_sessions(&self, access: &Access, id: i64) -> Result<u64, StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        self.target(&mut tx, id).await?;
        let ended = Self::end_sessions_in(&mut tx, id).await?;
        self.append_one(&mut tx, access, "account.end_sessions", id, &[]).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
