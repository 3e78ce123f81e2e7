-- custodian schema, SQLite. Every column is declared in the data inventory
-- (crates/domain/src/inventory.rs); personal data only ever as ciphertext (BLOB).

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE keyring (
    name    TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL
);

CREATE TABLE data_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE customers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'active',
    key_id         INTEGER REFERENCES data_keys(id),
    entered_by     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    erased_at      INTEGER,
    company_name   BLOB,
    contact_name   BLOB,
    gender         BLOB,
    department     BLOB,
    visit_street   BLOB,
    visit_postcode BLOB,
    visit_city     BLOB,
    visit_country  BLOB,
    corr_street    BLOB,
    corr_postcode  BLOB,
    corr_city      BLOB,
    corr_country   BLOB,
    phone          BLOB,
    phone2         BLOB,
    email          BLOB,
    email2         BLOB,
    second_contact BLOB,
    own_reference  BLOB,
    btw            BLOB,
    kvk            BLOB,
    iban           BLOB,
    iban_holder    BLOB,
    language       BLOB,
    email_consent  BLOB,
    email_bidx     BLOB,
    kvk_bidx       BLOB
);
CREATE INDEX customers_email_bidx ON customers(email_bidx);
CREATE INDEX customers_kvk_bidx ON customers(kvk_bidx);

CREATE TABLE customer_name_words (
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    word        BLOB NOT NULL,
    PRIMARY KEY (word, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_name_words_customer ON customer_name_words(customer_id);

CREATE TABLE contacts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id      INTEGER NOT NULL REFERENCES customers(id),
    registry         TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    handle           BLOB,
    handle_bidx      BLOB,
    name             BLOB,
    organisation     BLOB,
    addr_street      BLOB,
    addr_postcode    BLOB,
    addr_city        BLOB,
    addr_country     BLOB,
    foreign_street   BLOB,
    foreign_postcode BLOB,
    foreign_city     BLOB,
    foreign_country  BLOB,
    phone            BLOB,
    email            BLOB,
    legal_form       BLOB,
    kvk              BLOB
);
CREATE INDEX contacts_customer ON contacts(customer_id);
CREATE INDEX contacts_handle_bidx ON contacts(handle_bidx);

CREATE TABLE services (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_on  TEXT NOT NULL,
    ended_on    TEXT,
    description BLOB
);
CREATE INDEX services_customer ON services(customer_id);

CREATE TABLE invoices (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id      INTEGER NOT NULL REFERENCES customers(id),
    key_id           INTEGER REFERENCES data_keys(id),
    number           TEXT NOT NULL UNIQUE,
    issued_on        TEXT NOT NULL,
    due_on           TEXT NOT NULL,
    paid_on          TEXT,
    delivery         TEXT NOT NULL,
    net_cents        INTEGER NOT NULL,
    vat_cents        INTEGER NOT NULL,
    total_cents      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    billing_name     BLOB,
    billing_contact  BLOB,
    billing_street   BLOB,
    billing_postcode BLOB,
    billing_city     BLOB,
    billing_country  BLOB,
    billing_btw      BLOB,
    billing_kvk      BLOB,
    billing_email    BLOB
);
CREATE INDEX invoices_customer ON invoices(customer_id, issued_on);

CREATE TABLE invoice_lines (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id       INTEGER NOT NULL REFERENCES invoices(id),
    position         INTEGER NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    vat_rate_bp      INTEGER NOT NULL,
    description      BLOB
);
CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice_id, position);

CREATE TABLE statute_acceptances (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    version     TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX statute_acceptances_customer ON statute_acceptances(customer_id);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    fields       TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    source       BLOB,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject_kind, subject_id, seq);

-- The head of the hash chain. Every writing transaction updates this row first,
-- which serialises writers and keeps the chain a single line.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE erasure_journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    erased_at    INTEGER NOT NULL,
    reason       TEXT NOT NULL
);
