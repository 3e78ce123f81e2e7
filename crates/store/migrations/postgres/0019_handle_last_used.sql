-- When a domain last used a handle (M12: "niet langer in gebruik"): set when
-- a domain stops using it (its contacts changed, or it left us). An unused
-- handle's minimum age counts from here; a handle no domain ever used counts
-- from its creation. Domains that left before this column are its source.

ALTER TABLE contacts ADD COLUMN last_used_at BIGINT;

UPDATE contacts SET last_used_at = (
    SELECT MAX(d.updated_at) FROM domains d
    WHERE d.status = 'gone' AND (d.registrant_id = contacts.id OR d.admin_id = contacts.id OR d.tech_id = contacts.id)
);
