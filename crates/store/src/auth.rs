//! Accounts, passwords, second factor, sessions and one-time codes.
//!
//! Passwords are argon2id hashes (OWASP parameters: 19 MiB, 2 passes, 1 lane),
//! sealed under the system key. One-time codes and session tokens are stored as
//! keyed hashes, so a copy of the database does not let anyone log in.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use custodian_domain::inventory::Role;
use custodian_domain::password::NewPassword;
use custodian_domain::validate::Email;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::audit::{Access, AccessPurpose, Actor, Event};
use crate::crypto::field_aad;
use crate::rows::{Bind, Get};
use crate::{Store, StoreError, now_micros};

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// How long each kind of one-time code lives.
pub const SETUP_TTL: i64 = 24 * HOUR;
pub const ACTIVATION_TTL: i64 = 72 * HOUR;
pub const RESET_TTL: i64 = HOUR;
/// Sessions end after this much inactivity, and in any case after `SESSION_MAX`.
pub const SESSION_IDLE: i64 = 30 * MINUTE;
pub const SESSION_MAX: i64 = 12 * HOUR;
/// `last_seen_at` is rewritten once it is this old (see [`Store::session`]).
pub const SESSION_TOUCH: i64 = MINUTE;
/// Failed logins before the account is locked, with a lock that doubles each time.
const FREE_FAILURES: i64 = 5;
const MAX_LOCK: i64 = 15 * MINUTE;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Runs an argon2 hash or check off the async threads, at most one per core at a
/// time. Each holds 19 MiB while it runs; more at once would only share the same
/// cores, so a burst of logins waits here instead of growing memory with the
/// number of requests in flight.
async fn with_argon2<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS
        .get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));
    let _permit = permits.acquire().await.map_err(|e| StoreError::Config(format!("password hashing: {e}")))?;
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Config(format!("password hashing task: {e}")))
}

/// A password hash to compare against when the account does not exist, so the
/// answer takes as long either way.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password at all").unwrap_or_default())
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Config(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A random token for links (256 bits, hex).
fn random_token() -> Zeroizing<String> {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    Zeroizing::new(hex::encode(b))
}

/// A random numeric code to read out or send by SMS (8 digits).
fn random_digits() -> Zeroizing<String> {
    let n = rand::rngs::OsRng.next_u64() % 100_000_000;
    Zeroizing::new(format!("{n:08}"))
}

fn session_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    Setup,
    Activation,
    Reset,
}

impl CodePurpose {
    fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Setup => "setup",
            CodePurpose::Activation => "activation",
            CodePurpose::Reset => "reset",
        }
    }
}

/// A login account: a staff member (owner, staff, bookkeeper) or a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub role: Role,
    pub customer_id: Option<i64>,
    /// A second factor is enrolled and confirmed.
    pub totp_enabled: bool,
    pub has_password: bool,
}

impl Account {
    /// The actor this account acts as.
    pub fn actor(&self) -> Actor {
        match self.customer_id {
            Some(c) if self.role == Role::Subject => Actor::customer(c),
            _ => Actor::staff(self.id.to_string(), self.role),
        }
    }

    pub fn is_staff(&self) -> bool {
        self.role != Role::Subject
    }

    /// Staff must use a second factor (M5); customers when they turned it on.
    pub fn needs_second_factor(&self) -> bool {
        self.is_staff() || self.totp_enabled
    }
}

/// A logged-in session as the web layer sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
    pub second_factor_done: bool,
}

/// What the browser gets: the session token (for the cookie) and the CSRF token.
pub struct NewSession {
    pub token: Zeroizing<String>,
    pub csrf: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("unknown login or wrong password")]
    BadCredentials,
    #[error("too many failed attempts; try again later")]
    Locked { retry_after_secs: i64 },
    #[error("this code or link is unknown, used or expired")]
    BadCode,
    #[error("the second-factor code is wrong")]
    BadSecondFactor,
    #[error("an owner account exists already")]
    AlreadySetUp,
}

const ACCOUNT_COLUMNS: &str =
    "id, role, customer_id, password_hash, totp_secret, totp_last_step, failed_logins, locked_until";

fn role_of(s: &str) -> Role {
    match s {
        "owner" => Role::Owner,
        "staff" => Role::Staff,
        "bookkeeper" => Role::Bookkeeper,
        _ => Role::Subject,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Subject => "customer",
        r => r.as_str(),
    }
}

fn account(r: &impl Get) -> Result<Account, StoreError> {
    let role: String = r.col("role")?;
    let hash: Option<Vec<u8>> = r.col("password_hash")?;
    let last_step: i64 = r.col("totp_last_step")?;
    Ok(Account {
        id: r.col("id")?,
        role: role_of(&role),
        customer_id: r.col("customer_id")?,
        totp_enabled: last_step > 0,
        has_password: hash.is_some(),
    })
}

impl Store {
    fn login_index(&self, email: &Email) -> Vec<u8> {
        crate::customers::email_index(&self.keys.index, email.as_str())
    }

    fn code_hash(&self, purpose: CodePurpose, scope: &str, code: &str) -> Vec<u8> {
        self.keys.index.blind_index(&format!("code/{}/{scope}", purpose.as_str()), code)
    }

    /// Whether nobody can log in yet: the owner account still has to be made.
    pub async fn needs_setup(&self) -> Result<bool, StoreError> {
        let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(owners == 0)
    }

    /// Issues a one-time setup code for creating the owner account (valid 24 h).
    pub async fn issue_setup_code(&self) -> Result<Zeroizing<String>, StoreError> {
        let code = random_token();
        self.store_code(CodePurpose::Setup, None, "-", &code, SETUP_TTL).await?;
        Ok(code)
    }

    async fn store_code(
        &self,
        purpose: CodePurpose,
        user: Option<i64>,
        scope: &str,
        code: &str,
        ttl: i64,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        sqlx::query("INSERT INTO one_time_codes (code_hash, purpose, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(self.code_hash(purpose, scope, code))
            .bind(purpose.as_str())
            .bind(user)
            .bind(now)
            .bind(now + ttl)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Uses up a code inside `tx`; returns the account it belongs to, if any.
    async fn consume_code(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        purpose: CodePurpose,
        scope: &str,
        code: &str,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_micros();
        let row = sqlx::query(
            "UPDATE one_time_codes SET used_at = $1 WHERE code_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(now)
        .bind(self.code_hash(purpose, scope, code.trim()))
        .bind(purpose.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::Auth(AuthError::BadCode))?;
        Ok(row.try_get(0)?)
    }

    async fn insert_account(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        role: Role,
        customer_id: Option<i64>,
        login: &Email,
        name: Option<&str>,
    ) -> Result<i64, StoreError> {
        let now = now_micros();
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (role, customer_id, login_bidx, login, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (login_bidx) DO NOTHING RETURNING id",
        )
        .bind(role_name(role))
        .bind(customer_id)
        .bind(self.login_index(login))
        .bind(Vec::<u8>::new())
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let id = id.ok_or_else(|| StoreError::Conflict("an account with this login exists already".into()))?;
        let system = &self.keys.system;
        sqlx::query("UPDATE users SET login = $1, display_name = $2 WHERE id = $3")
            .bind(system.seal(&field_aad("users", id, "login"), login.as_str().as_bytes()))
            .bind(name.map(|n| system.seal(&field_aad("users", id, "display_name"), n.as_bytes())))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    async fn set_password_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user: i64,
        password: &NewPassword,
    ) -> Result<(), StoreError> {
        let pw = password.expose().to_string();
        let hash = with_argon2(move || hash_password(&pw)).await??;
        sqlx::query(
            "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = 0, updated_at = $2 WHERE id = $3",
        )
        .bind(self.keys.system.seal(&field_aad("users", user, "password_hash"), hash.as_bytes()))
        .bind(now_micros())
        .bind(user)
        .execute(&mut **tx)
        .await?;
        // A new password ends every session of the account.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(&mut **tx).await?;
        Ok(())
    }

    async fn account_by_id<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
        &self,
        executor: E,
        id: i64,
    ) -> Result<(Account, AnyRow), StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1 AND disabled_at IS NULL"))
            .bind(id)
            .fetch_optional(executor)
            .await?
            .ok_or(StoreError::NotFound { kind: "account", id: id.to_string() })?;
        Ok((account(&row)?, row))
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

    /// Starts a session after a correct password. `second_factor_done` is true
    /// only when the account needs no second factor.
    pub async fn start_session(&self, account: &Account, second_factor_done: bool) -> Result<NewSession, StoreError> {
        let token = random_token();
        let csrf = random_token().to_string();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, second_factor, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(session_hash(&token))
        .bind(account.id)
        .bind(csrf.as_bytes().to_vec())
        .bind(i64::from(second_factor_done))
        .bind(now)
        .bind(now + SESSION_MAX)
        .execute(&self.pool)
        .await?;
        Ok(NewSession { token, csrf })
    }

    /// The live session for `token`, extending its idle timer; `None` when
    /// unknown, idle too long or past its maximum age.
    ///
    /// Most requests only read: `last_seen_at` is written when it is more than
    /// [`SESSION_TOUCH`] old, so a page view is no database write (on SQLite no
    /// fsync) and requests do not queue behind each other for the write lock.
    /// The expiry checks are exact against the stored time, which lags the last
    /// request by less than `SESSION_TOUCH`: a session may end that much early,
    /// never late.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let now = now_micros();
        let hash = session_hash(token);
        let ticket = self.cache.as_ref().and_then(|c| c.ticket());
        // What the statement below would decide; one due for its touch goes there.
        let current = |c: &crate::cache::CachedSession| c.expires_at > now && now - c.last_seen_at < SESSION_TOUCH;
        if let (Some(cache), Some(ticket)) = (&self.cache, ticket)
            && let Some(c) = cache.sessions.get(cache, &hash, ticket, current)
        {
            return Ok(Some(c.session));
        }
        // The session and its (enabled) account in one statement.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT s.csrf, s.second_factor, s.last_seen_at, s.expires_at, {} FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
                ACCOUNT_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
            )
        });
        let binds = [Bind::Blob(&hash), Bind::Int(now), Bind::Int(now - SESSION_IDLE)];
        let Some(row) = self.read_one(&SQL, &binds).await? else { return Ok(None) };
        let csrf: Vec<u8> = row.col("csrf")?;
        let second: i64 = row.col("second_factor")?;
        let mut last_seen_at: i64 = row.col("last_seen_at")?;
        if now - last_seen_at >= SESSION_TOUCH {
            // Never moves the time back when requests race.
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $1")
                .bind(now)
                .bind(&hash)
                .execute(&self.pool)
                .await?;
            last_seen_at = now;
        }
        let session = Session {
            account: account(&row)?,
            csrf: String::from_utf8_lossy(&csrf).into_owned(),
            second_factor_done: second == 1,
        };
        if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
            let expires_at: i64 = row.col("expires_at")?;
            let cached = crate::cache::CachedSession { session: session.clone(), expires_at, last_seen_at };
            cache.sessions.put(cache, ticket, hash, cached);
        }
        Ok(Some(session))
    }

    pub async fn end_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(session_hash(token)).execute(&self.pool).await?;
        Ok(())
    }

    /// Begins (or restarts) second-factor enrolment; returns the secret as an
    /// `otpauth://` URL for an authenticator app. Not active until confirmed.
    pub async fn begin_totp(
        &self,
        account: &Account,
        issuer: &str,
        label: &str,
    ) -> Result<Zeroizing<String>, StoreError> {
        let mut secret = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let totp = totp(secret.to_vec(), issuer, label)?;
        sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = 0 WHERE id = $2")
            .bind(self.keys.system.seal(&field_aad("users", account.id, "totp_secret"), &secret))
            .bind(account.id)
            .execute(&self.pool)
            .await?;
        Ok(Zeroizing::new(totp.get_url()))
    }

    /// Checks a second-factor code (one step of clock drift either way, each
    /// step usable once). The first correct code confirms enrolment.
    pub async fn verify_totp(&self, account: &Account, code: &str) -> Result<(), StoreError> {
        let (_, row) = self.account_by_id(&self.pool, account.id).await?;
        let sealed: Option<Vec<u8>> = row.try_get("totp_secret")?;
        let last_step: i64 = row.try_get("totp_last_step")?;
        let sealed = sealed.ok_or(StoreError::Auth(AuthError::BadSecondFactor))?;
        let secret = self.keys.system.open(&field_aad("users", account.id, "totp_secret"), &sealed)?;
        let totp = totp(secret.to_vec(), "custodian", "account")?;
        let now_secs = now_micros() / SECOND;
        let step = now_secs / 30;
        let matched = [step - 1, step, step + 1]
            .into_iter()
            .find(|s| *s > last_step && totp.generate((*s * 30) as u64) == code.trim());
        let Some(s) = matched else {
            return Err(StoreError::Auth(AuthError::BadSecondFactor));
        };
        let updated = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(s)
            .bind(account.id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::Auth(AuthError::BadSecondFactor));
        }
        Ok(())
    }

    /// Marks the session's second factor as given.
    pub async fn complete_second_factor(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET second_factor = 1 WHERE token_hash = $1")
            .bind(session_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Issues a password-reset token (1 h, single use) for a known login. Unknown
    /// logins return `None`; callers answer the same either way.
    pub async fn request_password_reset(
        &self,
        login: &Email,
    ) -> Result<Option<(Account, Zeroizing<String>)>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE login_bidx = $1 AND disabled_at IS NULL")
            .bind(self.login_index(login))
            .fetch_optional(&self.pool)
            .await?;
        let Some(id) = id else { return Ok(None) };
        let token = random_token();
        self.store_code(CodePurpose::Reset, Some(id), "-", &token, RESET_TTL).await?;
        Ok(Some((self.account_by_id(&self.pool, id).await?.0, token)))
    }

    /// Sets a new password with a reset token; ends every session of the account.
    pub async fn reset_password(&self, token: &str, password: &NewPassword) -> Result<Account, StoreError> {
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let user = self.consume_code(&mut tx, CodePurpose::Reset, "-", token).await?;
        let user = user.ok_or(StoreError::Auth(AuthError::BadCode))?;
        self.set_password_in(&mut tx, user, password).await?;
        tx.commit().await?;
        Ok(self.account_by_id(&self.pool, user).await?.0)
    }

    /// The login name of an account (for the account's own pages and messages).
    pub async fn account_login(&self, account: &Account) -> Result<Email, StoreError> {
        let sealed: Vec<u8> =
            sqlx::query_scalar("SELECT login FROM users WHERE id = $1").bind(account.id).fetch_one(&self.pool).await?;
        let plain = self.keys.system.open(&field_aad("users", account.id, "login"), &sealed)?;
        Email::parse(&String::from_utf8_lossy(&plain)).map_err(|e| StoreError::Conflict(e.to_string()))
    }
}

fn totp(secret: Vec<u8>, issuer: &str, label: &str) -> Result<totp_rs::TOTP, StoreError> {
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, Some(issuer.to_string()), label.to_string())
        .map_err(|e| StoreError::Config(format!("second factor: {e}")))
}
