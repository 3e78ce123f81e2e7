//! Setting up the owner, creating and activating accounts, and checking passwords.

use std::net::IpAddr;

use sqlx::any::AnyRow;

use super::limits::{Check, subject_of};
use super::*;
use custodian_domain::policy::{Action, Resource};

/// Whether `access` may be shown an activation code: whoever holds a
/// customer's login and code can take over their account, so the policy gives
/// this to the owner (and the operator) only.
pub fn may_disclose_code(access: &Access) -> Result<(), StoreError> {
    crate::permit::require(access, Resource::ActivationCode, Action::DiscloseCredential)
}

impl Store {
    /// The enabled account with this login, as a row and as an account.
    async fn enabled_account(&self, login: &Email) -> Result<(Option<AnyRow>, Option<Account>), StoreError> {
        let row =
            sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE login_bidx = $1 AND disabled_at IS NULL"))
                .bind(self.login_index(login))
                .fetch_optional(&self.pool)
                .await?;
        let acc = row.as_ref().map(account).transpose()?;
        Ok((row, acc))
    }

    /// Whether nobody can log in yet: the owner account still has to be made.
    pub async fn needs_setup(&self) -> Result<bool, StoreError> {
        let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(owners == 0)
    }

    /// Creates the owner account with a setup code. Refused once an owner exists.
    pub async fn complete_setup(
        &self,
        code: &str,
        login: &Email,
        name: &str,
        password: &NewPassword,
    ) -> Result<Account, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let owners: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'owner'").fetch_one(&mut *tx).await?;
        if owners > 0 {
            return Err(StoreError::Auth(AuthError::AlreadySetUp));
        }
        self.consume_code(&mut tx, CodePurpose::Setup, "-", code).await?;
        let id = self.insert_account(&mut tx, Role::Owner, None, login, Some(name)).await?;
        self.set_password_in(&mut tx, id, password).await?;
        let actor = Actor::signed_in_staff(id.to_string(), Role::Owner);
        let event = Event::new(&Access::new(actor, AccessPurpose::Administration), "account.setup", "account", id);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(self.account_by_id(&self.pool, id).await?.0)
    }

    /// Creates the portal account of a customer, with their e-mail address as
    /// login, and returns the activation code (valid 72 h, single use) for the
    /// SMS to the customer. Whoever knows login and code owns the account, so
    /// showing the code to anyone needs [`Store::disclose_activation_code`]; an
    /// account with a password is never touched, and a new invitation cancels
    /// the earlier unused codes.
    pub async fn invite_customer(
        &self,
        access: &Access,
        customer_id: i64,
    ) -> Result<(Account, Email, Zeroizing<String>), StoreError> {
        crate::permit::require_on(access, customer_id, Resource::Invitations, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, row) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        let fields = crate::records::open(&key, "customers", key_id, &row, |f| f.column == "email")?;
        let email = Email::parse(fields.get("email").map(String::as_str).unwrap_or_default())
            .map_err(|e| custodian_domain::model::FieldErrors::single("email", e))?;
        let existing = sqlx::query("SELECT id, password_hash FROM users WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(&mut *tx)
            .await?;
        let id = match existing {
            Some(r) if r.try_get::<Option<Vec<u8>>, _>("password_hash")?.is_some() => {
                return Err(StoreError::Auth(AuthError::AccountActive));
            }
            Some(r) => r.try_get("id")?,
            None => self.insert_account(&mut tx, Role::Subject, Some(customer_id), &email, None).await?,
        };
        sqlx::query("DELETE FROM one_time_codes WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
            .bind(id)
            .bind(CodePurpose::Activation.as_str())
            .execute(&mut *tx)
            .await?;
        let code = random_digits();
        self.store_code(&mut *tx, CodePurpose::Activation, Some(id), &id.to_string(), &code, ACTIVATION_TTL).await?;
        let mut event = Event::new(access, "account.invite", "customer", customer_id).fields(["email"]);
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok((self.account_by_id(&self.pool, id).await?.0, email, code))
    }

    /// Records that `access` is shown the activation code of the customer's
    /// invitation (to read it out by phone when no SMS can go), after
    /// [`may_disclose_code`] allowed it. The entry is about the customer, so it
    /// is in their access log.
    pub async fn disclose_activation_code(&self, access: &Access, customer_id: i64) -> Result<(), StoreError> {
        may_disclose_code(access)?;
        self.audit_event(access, "account.code_disclosed", "customer", &customer_id.to_string(), &[]).await?;
        Ok(())
    }

    /// First login: the login name plus the activation code set the password.
    /// Only for an account without a password; the account's other activation
    /// codes go with it. Failures count per login and address, whether or not
    /// the login exists (see `limits`).
    pub async fn activate(
        &self,
        login: &Email,
        code: &str,
        password: &NewPassword,
        source: Option<IpAddr>,
    ) -> Result<Account, StoreError> {
        let key = self.failure_key(Check::Activation, login.as_str(), source);
        self.refuse_if_locked(&key).await?;
        let (_, acc) = self.enabled_account(login).await?;
        // An unknown login or an active account looks for a code that cannot
        // exist, so each answer costs the same.
        let scope = match &acc {
            Some(a) if !a.has_password => a.id.to_string(),
            _ => "-".into(),
        };
        let mut tx = crate::db::write_tx(&self.pool).await?;
        match self.consume_code(&mut tx, CodePurpose::Activation, &scope, code).await {
            Ok(_) => {}
            Err(StoreError::Auth(AuthError::BadCode)) => {
                tx.rollback().await?;
                return Err(self
                    .count_failure(&key, Check::Activation, acc.as_ref(), source, AuthError::BadCode)
                    .await);
            }
            Err(e) => return Err(e),
        }
        let Some(acc) = acc else { return Err(StoreError::Auth(AuthError::BadCode)) };
        let id = acc.id;
        sqlx::query("DELETE FROM one_time_codes WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
            .bind(id)
            .bind(CodePurpose::Activation.as_str())
            .execute(&mut *tx)
            .await?;
        self.set_password_in(&mut tx, id, password).await?;
        let (acc, _) = self.account_by_id(&mut *tx, id).await?;
        let (kind, subject) = subject_of(Some(&acc));
        // A customer's address is sealed under their own key elsewhere; here
        // only a staff member's is kept.
        let mut own = Access::new(acc.actor(), AccessPurpose::Administration);
        own.source = source.filter(|_| acc.is_staff());
        let mut event = Event::new(&own, "account.activate", kind, subject);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.clear_failures(&key).await?;
        Ok(acc)
    }

    /// Checks a login. Failures count per login and client address, whether
    /// or not the login exists, and lock that pair for a growing time (see
    /// `limits`); known and unknown logins get the same answers.
    pub async fn login(&self, login: &Email, password: &str, source: Option<IpAddr>) -> Result<Account, StoreError> {
        let key = self.failure_key(Check::Password, login.as_str(), source);
        self.refuse_if_locked(&key).await?;
        let (row, acc) = self.enabled_account(login).await?;
        let stored = match (&row, &acc) {
            (Some(r), Some(a)) => match r.try_get::<Option<Vec<u8>>, _>("password_hash")? {
                Some(s) => {
                    String::from_utf8(self.keys.system.open(&field_aad("users", a.id, "password_hash"), &s)?.to_vec())
                        .unwrap_or_default()
                }
                None => dummy_hash().to_string(),
            },
            _ => dummy_hash().to_string(),
        };
        let pw = Zeroizing::new(password.to_string());
        let ok = with_argon2(move || verify_password(&pw, &stored)).await?;
        match acc {
            Some(acc) if ok && acc.has_password => {
                self.clear_failures(&key).await?;
                Ok(acc)
            }
            acc => {
                Err(self.count_failure(&key, Check::Password, acc.as_ref(), source, AuthError::BadCredentials).await)
            }
        }
    }
}
