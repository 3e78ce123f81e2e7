//! TOTP enrolment, checks and the owner's reset of an account's second factor.
//!
//! Enrolment keeps one pending key per session, on the session row (sealed
//! under the system key, like `users.totp_secret`): a reload of the enrolment
//! page shows the same key, a wrong code leaves it in place, and only a correct
//! code from it becomes the account's secret. The session row is the right
//! home because the key means nothing outside the browser that is scanning it:
//! two browsers enrolling at once do not overwrite each other's key, and a key
//! never confirmed goes with its session (logout, expiry, a password change, a
//! reset) without a clean-up of its own.

use std::net::IpAddr;

use custodian_domain::policy::{Action, Resource};

use super::limits::{Check, subject_of};
use super::recovery::RecoveryCodes;
use super::*;

/// Bytes of a TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;

/// A key being enrolled, as the enrolment page shows it. The URL carries the
/// account's login as its label: show it to the account holder only, and never
/// log it.
pub struct PendingTotp {
    /// `otpauth://totp/...` for an authenticator app (and its QR code).
    pub url: Zeroizing<String>,
    /// The key in Base32 (RFC 4648, no padding).
    pub secret: Zeroizing<String>,
}

impl PendingTotp {
    /// The key in blocks of four for typing: `ABCD EFGH ...`.
    pub fn grouped(&self) -> Zeroizing<String> {
        let chars: Vec<char> = self.secret.chars().collect();
        Zeroizing::new(chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" "))
    }
}

/// What the pending key of a session is sealed with: bound to the account, so
/// a sealed key copied to another account's session does not open.
fn pending_aad(account: i64) -> Vec<u8> {
    field_aad("sessions", account, "totp_pending")
}

impl Store {
    /// The key this session is enrolling for `account`: made on the first call
    /// and the same on every later one, until [`Store::renew_pending_totp`]
    /// replaces it or a correct code confirms it. `issuer` (the company) and
    /// `label` (the login) only go into the returned URL.
    pub async fn begin_totp(
        &self,
        session: &str,
        account: &Account,
        issuer: &str,
        label: &str,
    ) -> Result<PendingTotp, StoreError> {
        self.pending_totp(session, account, issuer, label, false).await
    }

    /// Replaces the session's pending key with a new one (the person asked for
    /// it, e.g. because the old one was seen by someone else).
    pub async fn renew_pending_totp(
        &self,
        session: &str,
        account: &Account,
        issuer: &str,
        label: &str,
    ) -> Result<PendingTotp, StoreError> {
        self.pending_totp(session, account, issuer, label, true).await
    }

    async fn pending_totp(
        &self,
        session: &str,
        account: &Account,
        issuer: &str,
        label: &str,
        renew: bool,
    ) -> Result<PendingTotp, StoreError> {
        let hash = session_hash(session);
        let mut fresh = Zeroizing::new([0u8; SECRET_BYTES]);
        rand::rngs::OsRng.fill_bytes(fresh.as_mut());
        let sealed = self.keys.system.seal(&pending_aad(account.id), fresh.as_ref());
        // A concurrent first call may have stored one meanwhile: only an empty
        // slot is filled (unless asked to renew), and the stored key is read back.
        let only_empty = if renew { "" } else { " AND totp_pending IS NULL" };
        let updated = sqlx::query(&format!(
            "UPDATE sessions SET totp_pending = $1 WHERE token_hash = $2 AND user_id = $3{only_empty}"
        ))
        .bind(sealed)
        .bind(&hash)
        .bind(account.id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let secret = if updated == 1 {
            fresh.to_vec()
        } else {
            self.pending_secret(&self.pool, &hash, account.id)
                .await?
                .ok_or(StoreError::NotFound { kind: "session", id: "current".into() })?
        };
        let totp = totp(secret, issuer, label)?;
        Ok(PendingTotp { url: Zeroizing::new(totp.get_url()), secret: Zeroizing::new(totp.get_secret_base32()) })
    }

    /// The session's pending key, opened; `None` when it has none.
    async fn pending_secret<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
        &self,
        executor: E,
        session_hash: &[u8],
        account: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT totp_pending FROM sessions WHERE token_hash = $1 AND user_id = $2")
                .bind(session_hash)
                .bind(account)
                .fetch_optional(executor)
                .await?;
        match sealed.flatten() {
            Some(s) => Ok(Some(self.keys.system.open(&pending_aad(account), &s)?.to_vec())),
            None => Ok(None),
        }
    }

    /// Confirms enrolment with a code of the session's pending key: the key
    /// becomes the account's secret, this session counts as having given its
    /// second factor, and ten new recovery codes replace any earlier ones, all
    /// in one transaction with its audit entry. The codes are returned to be
    /// shown once; only their keyed hashes are kept. A wrong code changes
    /// nothing and counts as a failed second-factor code (see `limits`).
    pub async fn confirm_totp(
        &self,
        session: &str,
        account: &Account,
        code: &str,
        source: Option<IpAddr>,
    ) -> Result<RecoveryCodes, StoreError> {
        let key = self.failure_key(Check::SecondFactor, &account.id.to_string(), source);
        self.refuse_if_locked(&key).await?;
        let hash = session_hash(session);
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let (current, _) = self.account_by_id(&mut *tx, account.id).await?;
        if current.totp_enabled {
            return Err(StoreError::Refused(crate::Refusal::SecondFactorOn));
        }
        let secret = self
            .pending_secret(&mut *tx, &hash, account.id)
            .await?
            .ok_or(StoreError::Refused(crate::Refusal::NoPendingSecondFactor))?;
        let Some(step) = matching_step(&secret, code, 0)? else {
            tx.rollback().await?;
            return Err(self
                .count_failure(&key, Check::SecondFactor, Some(account), source, AuthError::BadSecondFactor)
                .await);
        };
        sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = $2, updated_at = $3 WHERE id = $4")
            .bind(self.keys.system.seal(&field_aad("users", account.id, "totp_secret"), &secret))
            .bind(step)
            .bind(now_micros())
            .bind(account.id)
            .execute(&mut *tx)
            .await?;
        // Other sessions' half-done enrolments are moot now.
        sqlx::query("UPDATE sessions SET totp_pending = NULL WHERE user_id = $1 AND totp_pending IS NOT NULL")
            .bind(account.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET second_factor = 1 WHERE token_hash = $1")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        let codes = self.replace_recovery_codes(&mut tx, account.id).await?;
        let (kind, subject) = subject_of(Some(account));
        let mut own = Access::new(account.actor(), AccessPurpose::Administration);
        // A customer's address would be sealed under their own key; here only
        // a staff member's is kept (as on activation).
        own.source = source.filter(|_| account.is_staff());
        let mut event =
            Event::new(&own, "account.second_factor_enrolled", kind, subject).fields(["totp_secret", "recovery_codes"]);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.clear_failures(&key).await?;
        Ok(codes)
    }

    /// Checks a second-factor code at login (one step of clock drift either
    /// way, each step usable once). Failures count per account and client
    /// address (see `limits`).
    pub async fn verify_totp(&self, account: &Account, code: &str, source: Option<IpAddr>) -> Result<(), StoreError> {
        let key = self.failure_key(Check::SecondFactor, &account.id.to_string(), source);
        self.refuse_if_locked(&key).await?;
        match self.check_totp(account, code).await {
            Ok(()) => self.clear_failures(&key).await,
            Err(StoreError::Auth(AuthError::BadSecondFactor)) => Err(self
                .count_failure(&key, Check::SecondFactor, Some(account), source, AuthError::BadSecondFactor)
                .await),
            Err(e) => Err(e),
        }
    }

    async fn check_totp(&self, account: &Account, code: &str) -> Result<(), StoreError> {
        let (_, row) = self.account_by_id(&self.pool, account.id).await?;
        let sealed: Option<Vec<u8>> = row.try_get("totp_secret")?;
        let last_step: i64 = row.try_get("totp_last_step")?;
        // Not enrolled (or reset): nothing to check against.
        let sealed = sealed.filter(|_| last_step > 0).ok_or(StoreError::Auth(AuthError::BadSecondFactor))?;
        let secret = self.keys.system.open(&field_aad("users", account.id, "totp_secret"), &sealed)?;
        let Some(s) = matching_step(&secret, code, last_step)? else {
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

    /// Resets the second factor of account `account_id` (the owner helping a
    /// member of staff or a customer, or the owner's own lost factor from the
    /// command line): clears the secret, the recovery codes and every session
    /// (with any key being enrolled in them), audited in the same transaction.
    /// At the next login the account sets up a new second factor (staff must;
    /// a customer may).
    pub async fn reset_second_factor(&self, access: &Access, account_id: i64) -> Result<(), StoreError> {
        crate::permit::require(access, Resource::Accounts, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"))
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound { kind: "account", id: account_id.to_string() })?;
        let target = account(&row)?;
        sqlx::query("UPDATE users SET totp_secret = NULL, totp_last_step = 0, updated_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(account_id).execute(&mut *tx).await?;
        let (kind, subject) = subject_of(Some(&target));
        let mut fields = vec!["totp_secret"];
        if codes > 0 {
            fields.push("recovery_codes");
        }
        let mut event = Event::new(access, "account.second_factor_reset", kind, subject).fields(fields);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The time step (`unix time / 30`) after `last_step` at which `secret`
/// gives `code`, allowing one step of clock drift either way. Spaces in the
/// code (apps show `123 456`) do not matter.
fn matching_step(secret: &[u8], code: &str, last_step: i64) -> Result<Option<i64>, StoreError> {
    let totp = totp(secret.to_vec(), "custodian", "account")?;
    let step = now_micros() / SECOND / 30;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    Ok([step - 1, step, step + 1].into_iter().find(|s| *s > last_step && totp.generate((*s * 30) as u64) == code))
}

/// A TOTP of `secret` (SHA-1, six digits, 30 s: what every authenticator app
/// reads). The otpauth URL's label is `issuer:label`, so neither may hold a
/// colon: one in the company name becomes a space; the error names neither.
fn totp(secret: Vec<u8>, issuer: &str, label: &str) -> Result<totp_rs::TOTP, StoreError> {
    let issuer = issuer.replace(':', " ").trim().to_string();
    let issuer = if issuer.is_empty() { "custodian".to_string() } else { issuer };
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, Some(issuer), label.replace(':', " "))
        .map_err(|_| StoreError::Config("second factor: the key, issuer or label does not fit an otpauth URL".into()))
}
