-- Scheduled jobs run by one instance at a time: each job's lease names the
-- instance holding it and when the lease runs out if it is not renewed (a
-- killed holder's job is taken over then). runs counts the job's runs so far
-- and last_* say how the latest one went, for the operator.

CREATE TABLE job_leases (
    name           TEXT PRIMARY KEY,
    holder         TEXT NOT NULL,
    lease_until    BIGINT NOT NULL,
    taken_at       BIGINT NOT NULL,
    runs           BIGINT NOT NULL DEFAULT 0,
    last_started   BIGINT,
    last_finished  BIGINT,
    last_failed    BIGINT
);
