-- Staff and bookkeeper accounts the owner manages (crates/store/src/auth/staff.rs).
-- Before an account gets any access it records its basis: for staff the day
-- the person signed the confidentiality statement (A14), for the bookkeeper
-- the reference (sealed) and date of the DPA (M6). The mobile number (sealed)
-- takes the activation code by SMS (A11). A removed account stays as a row
-- without login, name or number, so the audit trail keeps its ID and role.
ALTER TABLE users ADD COLUMN phone BYTEA;
ALTER TABLE users ADD COLUMN confidentiality_signed_on TEXT;
ALTER TABLE users ADD COLUMN dpa_reference BYTEA;
ALTER TABLE users ADD COLUMN dpa_signed_on TEXT;
ALTER TABLE users ADD COLUMN last_login_at BIGINT;
ALTER TABLE users ADD COLUMN removed_at BIGINT;
