-- Requests of data subjects who may not be customers (Art. 12, 15-21): a
-- register with the one-month deadline, the person's data sealed under the
-- request's own key (destroyed a year after the request closes), the records
-- found about them, and the answer behind a one-time download link.

CREATE TABLE subject_requests (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open',
    key_id           INTEGER REFERENCES data_keys(id),
    received_on      TEXT NOT NULL,
    due_on           TEXT NOT NULL,
    extended_to      TEXT,
    extension_reason TEXT,
    identity_check   TEXT NOT NULL,
    recorded_by      TEXT NOT NULL,
    recorded_at      INTEGER NOT NULL,
    closed_on        TEXT,
    closed_by        TEXT,
    outcome          TEXT,
    answer_by        TEXT,
    link_hash        BLOB,
    link_expires_at  INTEGER,
    link_used_at     INTEGER,
    erased_at        INTEGER,
    name             BLOB,
    email            BLOB,
    phone            BLOB,
    address          BLOB,
    handle           BLOB,
    summary          BLOB,
    answer           BLOB
);
CREATE INDEX subject_requests_open ON subject_requests(status, due_on);
CREATE UNIQUE INDEX subject_requests_link ON subject_requests(link_hash);
CREATE INDEX subject_requests_key ON subject_requests(key_id);

CREATE TABLE subject_request_records (
    request_id  INTEGER NOT NULL REFERENCES subject_requests(id),
    record_kind TEXT NOT NULL,
    record_id   INTEGER NOT NULL,
    matched_on  TEXT NOT NULL,
    PRIMARY KEY (request_id, record_kind, record_id)
);

-- Domain contacts become findable by e-mail address and name words, like
-- customers (keyed hashes under the index key; filled for existing
-- contacts when the store opens).
ALTER TABLE contacts ADD COLUMN email_bidx BLOB;
CREATE INDEX contacts_email_bidx ON contacts(email_bidx);

CREATE TABLE contact_name_words (
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    word        BLOB NOT NULL,
    PRIMARY KEY (word, contact_id)
) WITHOUT ROWID;
CREATE INDEX contact_name_words_contact ON contact_name_words(contact_id);
CREATE INDEX contact_name_words_customer ON contact_name_words(customer_id);
