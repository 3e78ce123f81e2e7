//! TOTP enrolment and checks.

use std::net::IpAddr;

use super::limits::Check;
use super::*;

impl Store {
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
    /// step usable once). The first correct code confirms enrolment. Failures
    /// count per account and client address (see `limits`).
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
}

fn totp(secret: Vec<u8>, issuer: &str, label: &str) -> Result<totp_rs::TOTP, StoreError> {
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, Some(issuer.to_string()), label.to_string())
        .map_err(|e| StoreError::Config(format!("second factor: {e}")))
}
