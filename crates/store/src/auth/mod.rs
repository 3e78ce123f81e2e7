//! Accounts, passwords, second factor, sessions and one-time codes.
//!
//! `accounts` makes and checks accounts, `codes` the one-time codes (setup,
//! activation, reset), `sessions` the logged-in sessions, `second_factor`
//! TOTP enrolment, checks and reset, `recovery` the recovery codes, and `staff`
//! the owner's management of staff and bookkeeper accounts.
//!
//! Passwords are argon2id hashes (OWASP parameters: 19 MiB, 2 passes, 1 lane),
//! sealed under the system key. One-time codes and session tokens are stored as
//! keyed hashes, so a copy of the database does not let anyone log in.

mod accounts;
pub use accounts::may_disclose_code;
mod codes;
pub mod limits;
mod recovery;
pub use recovery::{RECOVERY_CODES, RecoveryCodes};
mod names;
mod second_factor;
pub use second_factor::PendingTotp;
pub mod sessions;
mod staff;
pub use staff::{Basis, CodeDelivery, INVITATION_FIELDS, Invited, StaffAccount, StaffInvitation};

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
pub(crate) fn random_token() -> Zeroizing<String> {
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

    /// The code as it was issued. Activation codes are read out by phone in
    /// groups, so spaces and dashes typed between the digits do not count.
    fn normalise(self, typed: &str) -> String {
        match self {
            CodePurpose::Activation => typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect(),
            CodePurpose::Setup | CodePurpose::Reset => typed.trim().to_string(),
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
            Some(c) if self.role == Role::Subject => Actor::signed_in_customer(c),
            _ => Actor::signed_in_staff(self.id.to_string(), self.role),
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
    /// The language chosen for this session; `None` until one is.
    pub language: Option<custodian_domain::Lang>,
    /// A notice for the next page to show once (a code such as `saved`).
    pub notice: Option<String>,
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
    /// This failure locked the check; answered like the plain failure, and
    /// the account's holder (when the account exists) is to be told.
    #[error("wrong; the check is now locked")]
    NowLocked { account: Option<Box<Account>>, retry_after_secs: i64 },
    #[error("this code or link is unknown, used or expired")]
    BadCode,
    #[error("the second-factor code is wrong")]
    BadSecondFactor,
    #[error("an owner account exists already")]
    AlreadySetUp,
    /// An invitation would replace the password of an account in use.
    #[error("this customer already has an active account; use a password reset")]
    AccountActive,
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
        let id = id.ok_or_else(|| StoreError::Refused(crate::Refusal::LoginTaken))?;
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

    /// The login name of an account (for the account's own pages and messages).
    pub async fn account_login(&self, account: &Account) -> Result<Email, StoreError> {
        let sealed: Vec<u8> =
            sqlx::query_scalar("SELECT login FROM users WHERE id = $1").bind(account.id).fetch_one(&self.pool).await?;
        let plain = self.keys.system.open(&field_aad("users", account.id, "login"), &sealed)?;
        Email::parse(&String::from_utf8_lossy(&plain))
            .map_err(|e| StoreError::Corrupt(format!("a stored login does not parse: {}", e.rule)))
    }
}
