//! Recovery codes: ten single-use codes made when a second factor is set up,
//! for the day the authenticator is lost. Only keyed hashes are stored (like
//! one-time codes), scoped to the account; a used code is deleted. Using one
//! counts against its own failure counter per account and address, is audited
//! (never the value) and ends the second-factor step of the session.

use std::net::IpAddr;

use super::limits::{Check, subject_of};
use super::*;

/// Codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a code.
const CODE_LEN: usize = 10;
/// Digits and capitals without 0, 1, I and O, which are read for one another:
/// 32 symbols, 5 bits each, 50 bits a code.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Freshly made recovery codes, to be shown once. Each prints as two blocks
/// of five (`ABCDE-FGHJK`); typing them with or without the dash, spaces or
/// in lower case is the same.
pub struct RecoveryCodes(Vec<Zeroizing<String>>);

impl RecoveryCodes {
    /// The codes as shown: `ABCDE-FGHJK`.
    pub fn shown(&self) -> Vec<String> {
        self.0.iter().map(|c| format!("{}-{}", &c[..CODE_LEN / 2], &c[CODE_LEN / 2..])).collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn new_code() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; CODE_LEN]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    // 256 is a multiple of 32, so taking the low five bits is uniform.
    Zeroizing::new(bytes.iter().map(|b| ALPHABET[usize::from(b & 31)] as char).collect())
}

/// A code as typed, in its stored form: upper case, without spaces or dashes.
fn normalise(typed: &str) -> Zeroizing<String> {
    Zeroizing::new(typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect())
}

impl Store {
    fn recovery_hash(&self, account: i64, code: &str) -> Vec<u8> {
        self.keys.index.blind_index(&format!("recovery/{account}"), code)
    }

    /// Deletes the account's recovery codes and makes [`RECOVERY_CODES`] new
    /// ones, inside `tx`.
    pub(super) async fn replace_recovery_codes(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        account: i64,
    ) -> Result<RecoveryCodes, StoreError> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(account).execute(&mut **tx).await?;
        let now = now_micros();
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        while codes.len() < RECOVERY_CODES {
            let code = new_code();
            // 50 random bits: a repeat is all but impossible, and skipped if it happens.
            let stored = sqlx::query(
                "INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (code_hash) DO NOTHING",
            )
            .bind(self.recovery_hash(account, &code))
            .bind(account)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if stored == 1 {
                codes.push(code);
            }
        }
        Ok(RecoveryCodes(codes))
    }

    /// Gives the second factor of `session` with a recovery code of its
    /// account instead of a TOTP code: the code is used up, the session counts
    /// as having given its second factor, and `auth.recovery_code_used` is in
    /// the trail (about the customer's own record for a customer), all in one
    /// transaction. Returns how many codes are left. A wrong or used code
    /// changes nothing and counts per account and client address (see `limits`).
    pub async fn use_recovery_code(
        &self,
        session: &str,
        account: &Account,
        code: &str,
        source: Option<IpAddr>,
    ) -> Result<i64, StoreError> {
        let key = self.failure_key(Check::RecoveryCode, &account.id.to_string(), source);
        self.refuse_if_locked(&key).await?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let used = sqlx::query("DELETE FROM recovery_codes WHERE code_hash = $1 AND user_id = $2")
            .bind(self.recovery_hash(account.id, &normalise(code)))
            .bind(account.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if used == 0 {
            tx.rollback().await?;
            return Err(self
                .count_failure(&key, Check::RecoveryCode, Some(account), source, AuthError::BadSecondFactor)
                .await);
        }
        sqlx::query("UPDATE sessions SET second_factor = 1 WHERE token_hash = $1 AND user_id = $2")
            .bind(session_hash(session))
            .bind(account.id)
            .execute(&mut *tx)
            .await?;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
            .bind(account.id)
            .fetch_one(&mut *tx)
            .await?;
        let (kind, subject) = subject_of(Some(account));
        let mut own = Access::new(account.actor(), AccessPurpose::Administration);
        own.source = source.filter(|_| account.is_staff());
        let mut event = Event::new(&own, "auth.recovery_code_used", kind, subject);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.clear_failures(&key).await?;
        Ok(left)
    }

    /// How many unused recovery codes the account has.
    pub async fn recovery_codes_left(&self, account: &Account) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
            .bind(account.id)
            .fetch_one(&self.pool)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet_and_typing_is_forgiving() {
        let alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        for _ in 0..50 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.chars().all(|c| alphabet.contains(c)), "{}", code.as_str());
        }
        assert_eq!(normalise(" abcde-fghjk\n").as_str(), "ABCDEFGHJK");
        assert_eq!(normalise("ABCDE FGHJK").as_str(), "ABCDEFGHJK");
    }
}
