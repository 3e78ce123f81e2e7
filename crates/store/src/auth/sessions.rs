//! Logged-in sessions: start, check (through the read cache), end.

use super::*;

/// Sessions an account may have at once; a new one ends the oldest.
pub const MAX_SESSIONS: i64 = 10;

impl Store {
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
        // A new session ends the oldest beyond the cap, so sessions left open
        // on other devices do not pile up.
        sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash NOT IN
             (SELECT token_hash FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)",
        )
        .bind(account.id)
        .bind(MAX_SESSIONS)
        .execute(&self.pool)
        .await?;
        // The owner's account list shows when each account last logged in.
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now)
            .bind(account.id)
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
                "SELECT s.csrf, s.second_factor, s.language, s.notice, s.last_seen_at, s.expires_at, {} FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
                ACCOUNT_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
            )
        });
        let binds = [Bind::Blob(&hash), Bind::Int(now), Bind::Int(now - SESSION_IDLE)];
        let Some(row) = self.read_one(&SQL, &binds).await? else { return Ok(None) };
        let csrf: Vec<u8> = row.col("csrf")?;
        let second: i64 = row.col("second_factor")?;
        let language: Option<String> = row.col("language")?;
        let notice: Option<String> = row.col("notice")?;
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
            language: language.as_deref().and_then(custodian_domain::Lang::parse),
            notice,
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

    /// Remembers the language the session's holder chose (or, for a customer,
    /// their preference at login).
    pub async fn set_session_language(&self, token: &str, lang: custodian_domain::Lang) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET language = $1 WHERE token_hash = $2")
            .bind(lang.code())
            .bind(session_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets (or with `None` clears) the notice the session's next page shows once.
    pub async fn set_session_notice(&self, token: &str, notice: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET notice = $1 WHERE token_hash = $2")
            .bind(notice)
            .bind(session_hash(token))
            .execute(&self.pool)
            .await?;
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

    /// Deletes what no check accepts any more: ended sessions, used or expired
    /// one-time codes, and failure counters past their lock and memory.
    /// Returns how many rows went. `serve`'s scheduler runs it.
    pub async fn delete_expired_credentials(&self) -> Result<u64, StoreError> {
        let now = now_micros();
        let mut deleted = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(now - SESSION_IDLE)
            .execute(&self.pool)
            .await?
            .rows_affected();
        deleted += sqlx::query("DELETE FROM one_time_codes WHERE used_at IS NOT NULL OR expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        deleted += sqlx::query("DELETE FROM auth_failures WHERE updated_at < $1 AND locked_until < $2")
            .bind(now - limits::FORGET_FAILURES)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }
}
