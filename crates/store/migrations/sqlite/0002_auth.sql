-- Accounts, sessions and one-time codes. Login names and staff names are sealed
-- like all personal data; passwords are argon2id hashes; codes are keyed hashes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    role          TEXT NOT NULL,
    customer_id   INTEGER REFERENCES customers(id),
    login_bidx    BLOB NOT NULL UNIQUE,
    login         BLOB NOT NULL,
    display_name  BLOB,
    password_hash BLOB,
    totp_secret   BLOB,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);
CREATE INDEX users_customer ON users(customer_id);

CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    csrf          BLOB NOT NULL,
    second_factor INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE one_time_codes (
    code_hash  BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX one_time_codes_user ON one_time_codes(user_id, purpose);
