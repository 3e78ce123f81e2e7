//! Setting up the owner, creating and activating accounts, and checking passwords.

use super::*;

impl Store {
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
        let actor = Actor::staff(id.to_string(), Role::Owner);
        let event = Event::new(&Access::new(actor, AccessPurpose::Administration), "account.setup", "account", id);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(self.account_by_id(&self.pool, id).await?.0)
    }

    /// Creates a staff account (owner only) and returns it with its activation
    /// code; the login goes by e-mail, the code separately (A11).
    pub async fn create_staff_account(
        &self,
        access: &Access,
        role: Role,
        login: &Email,
        name: &str,
    ) -> Result<(Account, Zeroizing<String>), StoreError> {
        if access.actor.role != Role::Owner || role == Role::Subject {
            return Err(StoreError::Forbidden("only the owner creates staff accounts".into()));
        }
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let id = self.insert_account(&mut tx, role, None, login, Some(name)).await?;
        let event = Event::new(access, "account.create", "account", id).fields(["login", "display_name"]);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        let code = random_digits();
        self.store_code(CodePurpose::Activation, Some(id), &id.to_string(), &code, ACTIVATION_TTL).await?;
        Ok((self.account_by_id(&self.pool, id).await?.0, code))
    }

    /// Creates the portal account of a customer, with their e-mail address as
    /// login, and returns the activation code (valid 72 h, single use).
    pub async fn invite_customer(
        &self,
        access: &Access,
        customer_id: i64,
    ) -> Result<(Account, Email, Zeroizing<String>), StoreError> {
        if !matches!(access.actor.role, Role::Owner | Role::Staff) {
            return Err(StoreError::Forbidden("only the owner and staff invite customers".into()));
        }
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (head, row) = self.load_customer_row(&mut *tx, customer_id).await?;
        let key_id = head.live_key_id()?;
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        let fields = crate::records::open(&key, "customers", key_id, &row, |f| f.column == "email")?;
        let email = Email::parse(fields.get("email").map(String::as_str).unwrap_or_default())
            .map_err(|e| custodian_domain::model::FieldErrors::single("email", e))?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(&mut *tx)
            .await?;
        let id = match existing {
            Some(id) => id,
            None => self.insert_account(&mut tx, Role::Subject, Some(customer_id), &email, None).await?,
        };
        let mut event = Event::new(access, "account.invite", "customer", customer_id).fields(["email"]);
        self.keys.seal_source(&mut event, Some(&key));
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        let code = random_digits();
        self.store_code(CodePurpose::Activation, Some(id), &id.to_string(), &code, ACTIVATION_TTL).await?;
        Ok((self.account_by_id(&self.pool, id).await?.0, email, code))
    }

    /// First login: the login name plus the activation code set the password.
    pub async fn activate(&self, login: &Email, code: &str, password: &NewPassword) -> Result<Account, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE login_bidx = $1 AND disabled_at IS NULL")
            .bind(self.login_index(login))
            .fetch_optional(&self.pool)
            .await?;
        let id = id.ok_or(StoreError::Auth(AuthError::BadCode))?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        self.consume_code(&mut tx, CodePurpose::Activation, &id.to_string(), code).await?;
        self.set_password_in(&mut tx, id, password).await?;
        tx.commit().await?;
        Ok(self.account_by_id(&self.pool, id).await?.0)
    }

    /// Checks a login. Failed attempts count per account; after five the account
    /// is locked for a period that doubles with each further failure (max 15 min).
    pub async fn login(&self, login: &Email, password: &str) -> Result<Account, StoreError> {
        let row =
            sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE login_bidx = $1 AND disabled_at IS NULL"))
                .bind(self.login_index(login))
                .fetch_optional(&self.pool)
                .await?;
        let now = now_micros();
        let (stored, row) = match row {
            Some(r) => {
                let locked_until: i64 = r.try_get("locked_until")?;
                if locked_until > now {
                    return Err(StoreError::Auth(AuthError::Locked {
                        retry_after_secs: (locked_until - now) / SECOND + 1,
                    }));
                }
                let id: i64 = r.try_get("id")?;
                let sealed: Option<Vec<u8>> = r.try_get("password_hash")?;
                let hash = match sealed {
                    Some(s) => {
                        String::from_utf8(self.keys.system.open(&field_aad("users", id, "password_hash"), &s)?.to_vec())
                            .unwrap_or_default()
                    }
                    None => dummy_hash().to_string(),
                };
                (hash, Some(r))
            }
            None => (dummy_hash().to_string(), None),
        };
        let pw = Zeroizing::new(password.to_string());
        let ok = with_argon2(move || verify_password(&pw, &stored)).await?;
        let Some(row) = row else {
            return Err(StoreError::Auth(AuthError::BadCredentials));
        };
        let acc = account(&row)?;
        if ok && acc.has_password {
            sqlx::query("UPDATE users SET failed_logins = 0 WHERE id = $1").bind(acc.id).execute(&self.pool).await?;
            return Ok(acc);
        }
        let failures: i64 = row.try_get::<i64, _>("failed_logins")? + 1;
        let lock = if failures >= FREE_FAILURES {
            let exp = (failures - FREE_FAILURES).min(20) as u32;
            now + (SECOND * 2i64.pow(exp) * 15).min(MAX_LOCK)
        } else {
            0
        };
        sqlx::query("UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3")
            .bind(failures)
            .bind(lock)
            .bind(acc.id)
            .execute(&self.pool)
            .await?;
        Err(StoreError::Auth(AuthError::BadCredentials))
    }
}
