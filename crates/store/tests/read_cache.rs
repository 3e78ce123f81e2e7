//! The read cache of a server: what it serves from memory follows every
//! change, made by any process. On PostgreSQL it turns itself off while it
//! cannot hear the database's change notices.

use std::time::{Duration, Instant};

use custodian_domain::model::Fields;
use custodian_store::{Access, AccessPurpose, Actor, Engine, Store};
use custodian_testkit::{customer, databases};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn own(id: i64) -> Access {
    Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest)
}

/// Waits up to 10 s for `check` to hold.
async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(10), "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn service_status(store: &Store, id: i64) -> String {
    store.customer_overview(&own(id), id).await.unwrap().services[0].status.clone()
}

/// A change no trigger announces: what a cache that did not hear would miss.
async fn unannounced(store: &Store, sql: &str) {
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// A customer with one service, a portal account and a session on `server`.
async fn customer_with_session(server: &Store, n: u64) -> (i64, String) {
    let id = server.create_customer(&owner(), &customer(n), false).await.unwrap();
    let service: Fields = [("kind", "hosting"), ("description", "Pakket M"), ("started_on", "2025-01-01")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let service = custodian_domain::model::ServiceData::from_fields(&service).unwrap();
    server.add_service(&owner(), id, &service).await.unwrap();
    let (account, _, _) = server.invite_customer(&owner(), id).await.unwrap();
    let token = server.start_session(&account, true).await.unwrap().token.to_string();
    (id, token)
}

fn hits(store: &Store) -> u64 {
    store.read_cache_stats().expect("a read cache").hits
}

#[tokio::test]
async fn changes_by_any_process_reach_what_a_server_serves_from_memory() {
    for db in databases().await {
        let server = db.store().await.with_read_cache();
        let (id, token) = customer_with_session(&server, 1).await;
        eventually("the cache is in use", async || server.read_cache_stats().unwrap().live).await;
        assert_eq!(service_status(&server, id).await, "active");
        assert!(server.session(&token).await.unwrap().is_some());
        let before = hits(&server);
        assert_eq!(service_status(&server, id).await, "active");
        assert!(server.session(&token).await.unwrap().is_some());
        assert_eq!(hits(&server), before + 2, "{}: both answered from memory", db.name());

        if db.engine == Engine::Postgres {
            // On PostgreSQL, what clears an entry is a notice: a change nobody
            // announces is not seen.
            unannounced(&server, &format!("UPDATE services SET status = 'suspended' WHERE customer_id = {id}")).await;
            assert_eq!(service_status(&server, id).await, "active");
        }

        // Another process (the CLI, another server) changes the customer: the
        // whole dashboard is read again, soon.
        let cli = db.store().await;
        let email: Fields = [("email".to_string(), "nieuw@voorbeeld.nl".to_string())].into_iter().collect();
        cli.update_customer(&owner(), id, &email).await.unwrap();
        eventually("a profile change by another process", async || {
            let export = server.customer_overview(&own(id), id).await.unwrap();
            export.customer.fields.get("email").map(String::as_str) == Some("nieuw@voorbeeld.nl")
        })
        .await;
        if db.engine == Engine::Postgres {
            assert_eq!(service_status(&server, id).await, "suspended");
        }

        // A raw statement (psql, sqlite3) counts the same, and once settled the
        // server shows it without waiting (on SQLite at once: any commit
        // changes the file's data version).
        sqlx::query(&format!("UPDATE services SET status = 'ended' WHERE customer_id = {id}"))
            .execute(cli.pool())
            .await
            .unwrap();
        server.settle_read_cache().await;
        assert_eq!(service_status(&server, id).await, "ended", "{}", db.name());

        // Ending or disabling elsewhere ends the cached session.
        assert!(server.session(&token).await.unwrap().is_some());
        cli.end_session(&token).await.unwrap();
        eventually("a session ended elsewhere", async || server.session(&token).await.unwrap().is_none()).await;
        let (other, token) = customer_with_session(&server, 2).await;
        assert!(server.session(&token).await.unwrap().is_some());
        sqlx::query(&format!("UPDATE users SET disabled_at = 1 WHERE customer_id = {other}"))
            .execute(cli.pool())
            .await
            .unwrap();
        eventually("a disabled account", async || server.session(&token).await.unwrap().is_none()).await;

        cli.close().await;
        server.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_cache_that_cannot_hear_is_emptied_and_off_until_it_hears_again() {
    // SQLite has no notices to miss: its cache compares the file's data version.
    {
        let db = custodian_testkit::postgres_only().await;
        let server = db.store().await.with_read_cache();
        let (id, _) = customer_with_session(&server, 1).await;
        eventually("the cache hears its own ping", async || server.read_cache_stats().unwrap().live).await;
        assert_eq!(service_status(&server, id).await, "active");
        unannounced(&server, &format!("UPDATE services SET status = 'suspended' WHERE customer_id = {id}")).await;
        assert_eq!(service_status(&server, id).await, "active", "served from memory");

        // The listening connection dies: notices sent meanwhile would be lost.
        let database = db.postgres_database().unwrap();
        let killed: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = '{database}' AND query LIKE 'LISTEN%'"
        ))
        .fetch_one(server.pool())
        .await
        .unwrap();
        assert_eq!(killed, 1, "one listener per cache");
        eventually("the cache goes off", async || !server.read_cache_stats().unwrap().live).await;
        assert_eq!(service_status(&server, id).await, "suspended", "read from the database while off");

        // Listening again, it starts empty: nothing from before the gap is served.
        eventually("the cache hears again", async || server.read_cache_stats().unwrap().live).await;
        unannounced(&server, &format!("UPDATE services SET status = 'ended' WHERE customer_id = {id}")).await;
        assert_eq!(service_status(&server, id).await, "ended");
        server.close().await;
        db.finish().await;
    }
}
