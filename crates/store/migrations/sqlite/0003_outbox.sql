-- The message outbox, SQLite. Messages are written here first and sent by the
-- notify worker, so a crash never loses one. Personal data (recipient, subject,
-- body) only as ciphertext under the system key, wiped (NULL) once the message is
-- sent, given up or cancelled; what stays is non-personal status.

CREATE TABLE outbox (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel                    TEXT NOT NULL,
    kind                       TEXT NOT NULL,
    customer_id                INTEGER REFERENCES customers(id),
    consent                    TEXT,
    purpose                    TEXT NOT NULL,
    status                     TEXT NOT NULL DEFAULT 'pending',
    attempts                   INTEGER NOT NULL DEFAULT 0,
    retried_after_lease_expiry INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL,
    next_attempt_at            INTEGER NOT NULL,
    last_attempt_at            INTEGER,
    lease_until                INTEGER,
    claim_token                TEXT,
    finished_at                INTEGER,
    last_error                 TEXT,
    recipient                  BLOB,
    subject                    BLOB,
    body                       BLOB
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox(customer_id);
