//! The keyring: system keys and per-owner data keys, all wrapped by the master key.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use sqlx::{Any, AnyPool, Executor, Row, Transaction};

use crate::audit::{self, Access, Event};
use crate::crypto::Key;
use crate::{StoreError, now_micros};

const INDEX_KEY: &str = "index";
const SYSTEM_KEY: &str = "system";
const DATA_KEY_LABEL: &str = "dek";
const FINGERPRINT: &str = "master_key_fingerprint";

pub(crate) struct Keyring {
    master: RwLock<Key>,
    /// Keys the blind indexes. Never rotated with the master key, so indexes stay valid.
    pub(crate) index: Key,
    /// Encrypts what belongs to no customer (audit sources of staff and jobs).
    pub(crate) system: Key,
    /// Unwrapped data keys by ID. A data key never changes (rotation re-wraps
    /// it); erasure deletes it and calls [`Keyring::forget`]. Cleared whole
    /// when full, which is simpler than an LRU and fine for a read cache.
    cache: Mutex<HashMap<i64, Key>>,
}

/// Data keys kept unwrapped at most (32 bytes each plus map overhead).
const CACHED_KEYS: usize = 10_000;

impl Keyring {
    pub(crate) async fn open(pool: &AnyPool, master: Key) -> Result<Keyring, StoreError> {
        let fingerprint = master.fingerprint();
        // A new database gets its system keys; racing instances agree because only
        // the first insert wins and everyone reads back what is stored.
        let mut tx = crate::db::write_tx(pool).await?;
        for name in [INDEX_KEY, SYSTEM_KEY] {
            sqlx::query("INSERT INTO keyring (name, wrapped) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(master.wrap(name, &Key::generate()))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(FINGERPRINT)
            .bind(&fingerprint)
            .execute(&mut *tx)
            .await?;
        let expected: String =
            sqlx::query_scalar("SELECT value FROM meta WHERE name = $1").bind(FINGERPRINT).fetch_one(&mut *tx).await?;
        if expected != fingerprint {
            return Err(StoreError::WrongMasterKey { given: fingerprint, expected });
        }
        let index = unwrap_named(&mut tx, &master, INDEX_KEY).await?;
        let system = unwrap_named(&mut tx, &master, SYSTEM_KEY).await?;
        tx.commit().await?;
        Ok(Keyring { master: RwLock::new(master), index, system, cache: Mutex::new(HashMap::new()) })
    }

    fn master(&self) -> Key {
        self.master.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn master_fingerprint(&self) -> String {
        self.master().fingerprint()
    }

    /// Creates and stores a fresh data key; returns its ID and the key.
    pub(crate) async fn new_data_key(&self, tx: &mut Transaction<'static, Any>) -> Result<(i64, Key), StoreError> {
        let key = Key::generate();
        let id: i64 = sqlx::query_scalar("INSERT INTO data_keys (wrapped, created_at) VALUES ($1, $2) RETURNING id")
            .bind(self.master().wrap(DATA_KEY_LABEL, &key))
            .bind(now_micros())
            .fetch_one(&mut **tx)
            .await?;
        Ok((id, key))
    }

    pub(crate) async fn data_key<'e, E>(&self, executor: E, id: i64) -> Result<Key, StoreError>
    where
        E: Executor<'e, Database = Any>,
    {
        if let Some(key) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(key.clone());
        }
        let wrapped: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT wrapped FROM data_keys WHERE id = $1").bind(id).fetch_optional(executor).await?;
        self.data_key_from(id, wrapped)
    }

    /// Data key `id` from its wrapped form as read along with other data
    /// (`None`: destroyed), unless it is in memory already.
    pub(crate) fn data_key_from(&self, id: i64, wrapped: Option<Vec<u8>>) -> Result<Key, StoreError> {
        if let Some(key) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(key.clone());
        }
        let wrapped = wrapped.ok_or(StoreError::NotFound { kind: "data key", id: id.to_string() })?;
        let key = self.master().unwrap_key(DATA_KEY_LABEL, &wrapped)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_KEYS {
            cache.clear();
        }
        cache.insert(id, key.clone());
        Ok(key)
    }

    /// Drops destroyed data keys from memory too.
    pub(crate) fn forget_all(&self, ids: &[i64]) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            cache.remove(id);
        }
    }

    /// Seals the source address of `access` for the audit trail: under the
    /// customer's own key when a customer acts, so it is shredded with them.
    pub(crate) fn seal_source(&self, event: &mut Event, customer_key: Option<&Key>) {
        let Some(ip) = event.access.source else { return };
        let aad = audit::source_aad(&event.access.actor);
        let (name, key) = match customer_key {
            Some(k) if event.access.actor.kind == audit::ActorKind::Customer => {
                (format!("customer:{}", event.access.actor.id), k)
            }
            _ => (SYSTEM_KEY.to_string(), &self.system),
        };
        event.source = Some((name, key.seal(&aad, ip.to_string().as_bytes())));
    }
}

async fn unwrap_named(tx: &mut Transaction<'static, Any>, master: &Key, name: &str) -> Result<Key, StoreError> {
    let wrapped: Vec<u8> =
        sqlx::query_scalar("SELECT wrapped FROM keyring WHERE name = $1").bind(name).fetch_one(&mut **tx).await?;
    Ok(master.unwrap_key(name, &wrapped)?)
}

/// Rows re-wrapped per batch, so memory stays flat with millions of keys.
const ROTATE_BATCH: i64 = 5000;

pub(crate) async fn rotate(pool: &AnyPool, ring: &Keyring, new: &Key, access: &Access) -> Result<u64, StoreError> {
    let old = ring.master();
    let mut tx = crate::db::write_tx(pool).await?;
    let mut count = 0u64;
    let mut after = 0i64;
    loop {
        let rows = sqlx::query("SELECT id, wrapped FROM data_keys WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(ROTATE_BATCH)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let wrapped: Vec<u8> = r.try_get(1)?;
            let key = old.unwrap_key(DATA_KEY_LABEL, &wrapped)?;
            sqlx::query("UPDATE data_keys SET wrapped = $1 WHERE id = $2")
                .bind(new.wrap(DATA_KEY_LABEL, &key))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
    }
    for name in [INDEX_KEY, SYSTEM_KEY] {
        let key = unwrap_named(&mut tx, &old, name).await?;
        sqlx::query("UPDATE keyring SET wrapped = $1 WHERE name = $2")
            .bind(new.wrap(name, &key))
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE meta SET value = $1 WHERE name = $2")
        .bind(new.fingerprint())
        .bind(FINGERPRINT)
        .execute(&mut *tx)
        .await?;
    let mut event = Event::new(access, "keys.rotate", "keyring", new.fingerprint());
    ring.seal_source(&mut event, None);
    audit::append(&mut tx, &[event]).await?;
    tx.commit().await?;
    *ring.master.write().unwrap_or_else(|e| e.into_inner()) = new.clone();
    Ok(count)
}
