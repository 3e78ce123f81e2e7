-- Failure counters of the credential checks (crates/store/src/auth/limits.rs).
-- The key is a keyed hash of what was tried against (the login as typed, or
-- the account) and the client address, kept whether or not an account exists:
-- no login name and no address is stored.
CREATE TABLE auth_failures (
    key_hash     BYTEA PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX auth_failures_updated ON auth_failures(updated_at);
