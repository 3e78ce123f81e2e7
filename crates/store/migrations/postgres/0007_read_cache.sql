-- Change notices for the servers' read caches (crates/store/src/cache.rs).
-- Every committed change to a row that the session check or a customer's
-- dashboard reads sends `customer:<id>` or `user:<id>` on channel
-- `custodian_cache`, whoever makes it: a server, the CLI, or psql. NOTIFY is
-- transactional: a rolled-back change sends nothing, and PostgreSQL folds
-- repeats within one transaction into one notice.

CREATE FUNCTION custodian_cache_notice() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    -- An update that moves a row to another owner concerns both owners.
    FOREACH r IN ARRAY CASE TG_OP
        WHEN 'INSERT' THEN ARRAY[NEW]
        WHEN 'DELETE' THEN ARRAY[OLD]
        ELSE ARRAY[OLD, NEW]
    END LOOP
        CASE TG_TABLE_NAME
            WHEN 'customers' THEN PERFORM pg_notify('custodian_cache', 'customer:' || r.id);
            WHEN 'users' THEN PERFORM pg_notify('custodian_cache', 'user:' || r.id);
            WHEN 'sessions' THEN PERFORM pg_notify('custodian_cache', 'user:' || r.user_id);
            ELSE
                IF r.customer_id IS NOT NULL THEN
                    PERFORM pg_notify('custodian_cache', 'customer:' || r.customer_id);
                END IF;
        END CASE;
    END LOOP;
    RETURN NULL;
END
$$;

-- A new customer or account is in no cache yet: only updates and deletes.
CREATE TRIGGER customers_cache_notice AFTER UPDATE OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
CREATE TRIGGER users_cache_notice AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
-- Touching `last_seen_at` on a page view is no change to what is cached.
CREATE TRIGGER sessions_cache_notice
    AFTER DELETE OR UPDATE OF token_hash, user_id, csrf, second_factor, expires_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
-- What the dashboard lists: any change, including a new row.
CREATE TRIGGER contacts_cache_notice AFTER INSERT OR UPDATE OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
CREATE TRIGGER services_cache_notice AFTER INSERT OR UPDATE OR DELETE ON services
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
CREATE TRIGGER invoices_cache_notice AFTER INSERT OR UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
CREATE TRIGGER statute_acceptances_cache_notice AFTER INSERT OR UPDATE OR DELETE ON statute_acceptances
    FOR EACH ROW EXECUTE FUNCTION custodian_cache_notice();
