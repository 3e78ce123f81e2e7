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

-- Writing last_login_at when a session starts changes nothing a server's read
-- cache holds (crates/store/src/cache.rs): an update of that column alone
-- sends no notice, so it does not empty what was just read. Any other change
-- to a user row announces itself as before.
DROP TRIGGER users_cache_notice ON users;
CREATE TRIGGER users_cache_notice AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
CREATE TRIGGER users_cache_notice_update AFTER UPDATE ON users
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_login_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login_at'))
    EXECUTE FUNCTION custodian_cache_notice();
