-- The language chosen in the page header (or the customer's preference at
-- login), kept with the session so it is remembered without a cookie of its own;
-- and a notice to show once on the next page ("your changes were saved"), so
-- that reloading that page does not show it again.
ALTER TABLE sessions ADD COLUMN language TEXT;
ALTER TABLE sessions ADD COLUMN notice TEXT;
-- A cached session holds both: a change to either must reach the caches.
DROP TRIGGER sessions_cache_notice ON sessions;
CREATE TRIGGER sessions_cache_notice
    AFTER DELETE OR UPDATE OF token_hash, user_id, csrf, second_factor, expires_at, language, notice ON sessions
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
