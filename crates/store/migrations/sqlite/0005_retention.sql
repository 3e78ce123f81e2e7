-- Retention (M9, M12, A6), SQLite: erasure requests waiting for their blockers
-- to go, legal holds, and the notices sent before a scheduled erasure. No
-- personal data: customer numbers, times, dates and reason codes. The date of
-- the last completed retention run is kept in `meta`.

CREATE TABLE erasure_requests (
    customer_id  INTEGER PRIMARY KEY REFERENCES customers(id),
    requested_at INTEGER NOT NULL,
    requested_by TEXT NOT NULL
);

CREATE TABLE legal_holds (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id),
    reason      TEXT NOT NULL,
    placed_at   INTEGER NOT NULL,
    placed_by   TEXT NOT NULL
);

CREATE TABLE retention_notices (
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    erasure_on  TEXT NOT NULL,
    queued_at   INTEGER NOT NULL,
    PRIMARY KEY (customer_id, erasure_on)
);

-- Destroying a data key checks, for the foreign keys, that no customer or
-- invoice still refers to it: without these indexes each check scans the table.
CREATE INDEX customers_key ON customers(key_id);
CREATE INDEX invoices_key ON invoices(key_id);
