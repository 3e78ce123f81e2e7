-- The second factor: the key a session is enrolling, and recovery codes
-- (crates/store/src/auth/second_factor.rs and recovery.rs).
--
-- The pending key lives on the session row, sealed under the system key like
-- users.totp_secret: one per session, so a reload shows the same key, two
-- browsers enrolling do not overwrite each other's key, and a key never
-- confirmed goes with its session (logout, expiry, the scheduler's clean-up,
-- a password change or a reset of the second factor).
ALTER TABLE sessions ADD COLUMN totp_pending BLOB;

-- Single-use recovery codes, as keyed hashes only: a copy of the database
-- does not let anyone in. A used code is deleted; the account's codes go with
-- the account (erasure of a customer, removal of an account).
CREATE TABLE recovery_codes (
    code_hash  BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);
