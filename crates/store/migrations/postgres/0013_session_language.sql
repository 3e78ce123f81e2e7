-- The language chosen in the page header (or the customer's preference at
-- login), kept with the session so it is remembered without a cookie of its own.
ALTER TABLE sessions ADD COLUMN language TEXT;
-- A cached session holds its language: a change to it must reach the caches.
DROP TRIGGER sessions_cache_notice ON sessions;
CREATE TRIGGER sessions_cache_notice
    AFTER DELETE OR UPDATE OF token_hash, user_id, csrf, second_factor, expires_at, language ON sessions
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
