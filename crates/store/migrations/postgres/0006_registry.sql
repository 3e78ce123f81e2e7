-- Registries (M10, M11, M12, A8), PostgreSQL. Domains and the registry outbox: every
-- operation at a registry is written here first and sent by the registry worker,
-- so a crash never loses one and local and registry state can be compared.
-- No personal data in the clear: the holder data an operation carries is sealed
-- under the system key and wiped once the registry has answered for good.

-- Where a handle stands at its registry: local (never sent), pending (create
-- queued), active, deleting (delete queued), failed (the registry refused it).
ALTER TABLE contacts ADD COLUMN status TEXT NOT NULL DEFAULT 'local';
-- Passthrough (A8): the holder data lives at the registry only.
ALTER TABLE contacts ADD COLUMN passthrough BIGINT NOT NULL DEFAULT 0;

CREATE TABLE domains (
    id            BIGSERIAL PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers(id),
    service_id    BIGINT REFERENCES services(id),
    name          TEXT NOT NULL UNIQUE,
    registry      TEXT NOT NULL,
    status        TEXT NOT NULL,
    registrant_id BIGINT NOT NULL REFERENCES contacts(id),
    admin_id      BIGINT REFERENCES contacts(id),
    tech_id       BIGINT REFERENCES contacts(id),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX domains_customer ON domains(customer_id);
CREATE INDEX domains_registrant ON domains(registrant_id);
CREATE INDEX domains_admin ON domains(admin_id);
CREATE INDEX domains_tech ON domains(tech_id);

CREATE TABLE registry_ops (
    id              BIGSERIAL PRIMARY KEY,
    registry        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    customer_id     BIGINT,
    contact_id      BIGINT,
    domain_id       BIGINT,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    claim_token     TEXT,
    finished_at     BIGINT,
    cltrid          TEXT NOT NULL,
    result_code     BIGINT,
    result_message  TEXT,
    payload         BYTEA
);
CREATE INDEX registry_ops_due ON registry_ops(status, next_attempt_at);
CREATE INDEX registry_ops_contact ON registry_ops(contact_id);
CREATE INDEX registry_ops_domain ON registry_ops(domain_id);

-- An operation waits for earlier ones on the objects it needs (a domain for the
-- creation of its handles, an update for the creation of its handle).
CREATE TABLE registry_op_waits (
    op_id     BIGINT NOT NULL REFERENCES registry_ops(id),
    waits_for BIGINT NOT NULL REFERENCES registry_ops(id),
    PRIMARY KEY (op_id, waits_for)
);
