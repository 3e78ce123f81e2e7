//! One-time codes: setup, activation and password reset. Stored as keyed hashes.

use super::*;

impl Store {
    fn code_hash(&self, purpose: CodePurpose, scope: &str, code: &str) -> Vec<u8> {
        self.keys.index.blind_index(&format!("code/{}/{scope}", purpose.as_str()), code)
    }

    /// Issues a one-time setup code for creating the owner account (valid 24 h).
    pub async fn issue_setup_code(&self) -> Result<Zeroizing<String>, StoreError> {
        let code = random_token();
        self.store_code(&self.pool, CodePurpose::Setup, None, "-", &code, SETUP_TTL).await?;
        Ok(code)
    }

    pub(super) async fn store_code<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
        &self,
        executor: E,
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
            .execute(executor)
            .await?;
        Ok(())
    }

    /// Uses up a code inside `tx`; returns the account it belongs to, if any.
    pub(super) async fn consume_code(
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
        .bind(self.code_hash(purpose, scope, &purpose.normalise(code)))
        .bind(purpose.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::Auth(AuthError::BadCode))?;
        Ok(row.try_get(0)?)
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
        self.store_code(&self.pool, CodePurpose::Reset, Some(id), "-", &token, RESET_TTL).await?;
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
}
