//! Failure counters of the credential checks: passwords, activation codes,
//! second-factor codes and recovery codes.
//!
//! A counter is keyed by a keyed hash of what was tried against (the login as
//! typed, or the account) and the client's address, and kept whether or not
//! the account exists, so a known login answers exactly like an unknown one.
//! After [`FREE_FAILURES`] a counter locks for a period that doubles with each
//! further failure (at most [`MAX_LOCK`]). Because the address is part of the
//! key, someone guessing elsewhere never locks the holder out; the web layer's
//! per-address limit comes first anyway.

use std::net::IpAddr;

use super::*;

/// Failures before a counter locks.
pub const FREE_FAILURES: i64 = 5;
/// The longest lock.
pub const MAX_LOCK: i64 = 15 * MINUTE;
/// A counter without failures for this long starts again from zero (and is
/// deleted by [`Store::delete_expired_credentials`]).
pub const FORGET_FAILURES: i64 = 24 * HOUR;

/// Which check a counter guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    Password,
    Activation,
    SecondFactor,
    RecoveryCode,
}

impl Check {
    fn as_str(self) -> &'static str {
        match self {
            Check::Password => "password",
            Check::Activation => "activation",
            Check::SecondFactor => "second_factor",
            Check::RecoveryCode => "recovery_code",
        }
    }
}

/// The actor of a failed attempt: whoever it was is unknown, and the trail
/// holds no login text.
fn anonymous(source: Option<IpAddr>) -> Access {
    let access = Access::new(Actor::job("anonymous"), AccessPurpose::Administration);
    match source {
        Some(ip) => access.from(ip),
        None => access,
    }
}

/// What an account's audit entries are about: a customer's own record (so
/// they see it in their access log), or the staff account.
pub(super) fn subject_of(account: Option<&Account>) -> (&'static str, String) {
    match account {
        Some(a) if !a.is_staff() && a.customer_id.is_some() => {
            ("customer", a.customer_id.unwrap_or_default().to_string())
        }
        Some(a) => ("account", a.id.to_string()),
        None => ("account", "unknown".into()),
    }
}

impl Store {
    pub(super) fn failure_key(&self, check: Check, tried: &str, source: Option<IpAddr>) -> Vec<u8> {
        let source = source.map(|s| s.to_string()).unwrap_or_default();
        self.keys.index.blind_index(&format!("failures/{}", check.as_str()), &format!("{tried}\n{source}"))
    }

    /// Refuses while the counter is locked.
    pub(super) async fn refuse_if_locked(&self, key: &[u8]) -> Result<(), StoreError> {
        let now = now_micros();
        let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM auth_failures WHERE key_hash = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        match until {
            Some(until) if until > now => {
                Err(StoreError::Auth(AuthError::Locked { retry_after_secs: (until - now) / SECOND + 1 }))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt and audits it (and the lock it causes). Returns
    /// the error to answer with: `NowLocked` when this failure locks, else
    /// `plain`.
    pub(super) async fn count_failure(
        &self,
        key: &[u8],
        check: Check,
        account: Option<&Account>,
        source: Option<IpAddr>,
        plain: AuthError,
    ) -> StoreError {
        match self.count_failure_inner(key, check, account, source).await {
            Ok(Some(retry_after_secs)) => {
                StoreError::Auth(AuthError::NowLocked { account: account.cloned().map(Box::new), retry_after_secs })
            }
            Ok(None) => StoreError::Auth(plain),
            Err(e) => e,
        }
    }

    async fn count_failure_inner(
        &self,
        key: &[u8],
        check: Check,
        account: Option<&Account>,
        source: Option<IpAddr>,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_micros();
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO auth_failures (key_hash, failures, locked_until, updated_at) VALUES ($1, 1, 0, $2)
             ON CONFLICT (key_hash) DO UPDATE SET updated_at = $2, failures =
                 CASE WHEN auth_failures.updated_at < $3 THEN 1 ELSE auth_failures.failures + 1 END
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(now - FORGET_FAILURES)
        .fetch_one(&self.pool)
        .await?;
        let lock = (failures >= FREE_FAILURES).then(|| {
            let doublings = (failures - FREE_FAILURES).min(20) as u32;
            (15 * SECOND * 2i64.pow(doublings)).min(MAX_LOCK)
        });
        if let Some(lock) = lock {
            sqlx::query("UPDATE auth_failures SET locked_until = $1 WHERE key_hash = $2")
                .bind(now + lock)
                .bind(key)
                .execute(&self.pool)
                .await?;
        }
        let (kind, id) = subject_of(account);
        let access = anonymous(source);
        let action = match check {
            Check::Password => "auth.login_failed",
            Check::Activation | Check::SecondFactor | Check::RecoveryCode => "auth.code_failed",
        };
        self.audit_event(&access, action, kind, &id, &[check.as_str()]).await?;
        if lock.is_some() {
            self.audit_event(&access, "auth.locked", kind, &id, &[check.as_str()]).await?;
        }
        Ok(lock.map(|l| l / SECOND))
    }

    pub(super) async fn clear_failures(&self, key: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_failures WHERE key_hash = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }
}
