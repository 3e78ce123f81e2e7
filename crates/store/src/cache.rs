//! A server's read cache: session checks and customers' own dashboards
//! answered from memory while nothing they were read from changed. A session
//! check and a dashboard are a statement each (see `overview`); from memory
//! they are none.
//!
//! How it knows, per engine:
//! - **SQLite: the data version.** Every entry is stamped with SQLite's
//!   `PRAGMA data_version` as read, on one connection of its own, before the
//!   read behind it started; it holds while that number stays. The number
//!   changes with every commit by any other connection, in any process (the
//!   CLI, `sqlite3`), so any change at all clears everything at once. One
//!   cheap statement per lookup instead of the reads.
//! - **PostgreSQL: change notices.** Triggers (migration `0007_read_cache.sql`)
//!   send `customer:<id>` or `user:<id>` on the channel [`CHANNEL`] when a row
//!   those reads depend on changes, whoever commits it. One listener connection
//!   per cache forgets the entries named; an unknown notice forgets everything.
//!   A lookup costs no round trip.
//!
//! How the notices are trusted:
//! - **The cache is used only while it provably hears.** Every [`PING_EVERY`]
//!   the listener notifies itself through the pool; until that notice comes
//!   back, and from the moment one is [`PING_TIMEOUT`] late or the connection
//!   drops, the cache is empty and off (reads go to the database).
//! - **A fill never outlives a change it raced with.** A read takes a ticket
//!   (the generation) before it starts; every forgetting bumps the generation,
//!   and a fill whose ticket is no longer current is not kept.
//! - **This server's own writes show at once.** Notices arrive a moment after
//!   the commit. PostgreSQL delivers them in commit order, so once a ping sent
//!   after a commit is heard, that commit's notices have been applied: the web
//!   layer waits for one ([`crate::Store::settle_read_cache`]) after every
//!   state-changing request it answers, and a page shown after a save is never
//!   the one before it. (On SQLite the next lookup sees the new data version.)
//!
//! On either engine entries live at most [`TTL`], and each shelf holds at most
//! [`CAPACITY`] of them.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::AnyPool;
use sqlx::postgres::PgListener;

use crate::rows::Natives;
use crate::{Export, Session};

pub(crate) const CHANNEL: &str = "custodian_cache";
pub(crate) const TTL: Duration = Duration::from_secs(30);
pub(crate) const CAPACITY: usize = 4096;
const PING_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// Wait before listening again after the listener failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A cached session with what decides whether it is still valid. One due for
/// its `last_seen_at` touch is read again, so the idle timeout stays exact.
#[derive(Clone)]
pub(crate) struct CachedSession {
    pub session: Session,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

pub(crate) struct Cache {
    generation: AtomicU64,
    live: AtomicBool,
    /// On SQLite: the file whose data version stamps every entry.
    version: Option<Arc<Natives>>,
    /// Tells this cache's pings from other servers'.
    instance: u64,
    /// The number of the last ping sent, and the highest one heard.
    sent: AtomicU64,
    heard: tokio::sync::watch::Sender<u64>,
    /// By token hash.
    pub sessions: Shelf<Vec<u8>, CachedSession>,
    /// The customer's own dashboard, by customer id; shared, so that a hit
    /// copies it outside the lock.
    pub overviews: Shelf<i64, Arc<Export>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How the read cache is doing, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// In use now (on PostgreSQL: its listener hears the change notices).
    pub live: bool,
    /// Lookups answered from memory, and lookups that went to the database.
    pub hits: u64,
    pub misses: u64,
}

/// A proof that a read started at a known generation and data version.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    version: i64,
}

/// When an entry was made, at which data version, and its value.
type Entry<V> = (Instant, i64, V);

/// One kind of entry.
pub(crate) struct Shelf<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
}

impl<K: Hash + Eq, V: Clone> Shelf<K, V> {
    fn new() -> Self {
        Shelf { entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<V>>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `key` while younger than [`TTL`], made at the data
    /// version of `ticket`, and `usable`.
    pub fn get(&self, cache: &Cache, key: &K, ticket: Ticket, usable: impl Fn(&V) -> bool) -> Option<V> {
        let found = {
            let map = self.lock();
            map.get(key)
                .filter(|(at, version, v)| at.elapsed() < TTL && *version == ticket.version && usable(v))
                .map(|(_, _, v)| v.clone())
        };
        let counter = if found.is_some() { &cache.hits } else { &cache.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `value` if nothing was forgotten since `ticket` was taken.
    pub fn put(&self, cache: &Cache, ticket: Ticket, key: K, value: V) {
        let mut map = self.lock();
        // Checked under the lock: a forgetting bumps the generation before it
        // takes the lock, so it either stops this fill or removes it after.
        if !cache.live.load(Ordering::SeqCst) || cache.generation.load(Ordering::SeqCst) != ticket.generation {
            return;
        }
        let mut full = None;
        if map.len() >= CAPACITY {
            map.retain(|_, (at, _, _)| at.elapsed() < TTL);
            if map.len() >= CAPACITY {
                // Started afresh; the old entries are freed after the lock is
                // let go, so other requests do not wait for thousands of frees.
                full = Some(std::mem::take(&mut *map));
            }
        }
        map.insert(key, (Instant::now(), ticket.version, value));
        drop(map);
        drop(full);
    }

    fn forget(&self, key: &K) {
        self.lock().remove(key);
    }

    fn forget_where(&self, pred: impl Fn(&V) -> bool) {
        self.lock().retain(|_, (_, _, v)| !pred(v));
    }

    fn clear(&self) {
        // Freed after the lock is let go.
        let old = std::mem::take(&mut *self.lock());
        drop(old);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

/// What a notice on [`CHANNEL`] asks.
#[derive(Debug, PartialEq, Eq)]
enum Notice {
    Customer(i64),
    User(i64),
    Ping { instance: u64, n: u64 },
    Unknown,
}

impl Notice {
    fn parse(payload: &str) -> Notice {
        let parsed = match payload.split_once(':') {
            Some(("customer", id)) => id.parse().ok().map(Notice::Customer),
            Some(("user", id)) => id.parse().ok().map(Notice::User),
            Some(("ping", rest)) => rest.split_once(':').and_then(|(i, n)| {
                Some(Notice::Ping { instance: u64::from_str_radix(i, 16).ok()?, n: n.parse().ok()? })
            }),
            _ => None,
        };
        parsed.unwrap_or(Notice::Unknown)
    }
}

impl Cache {
    /// A cache kept current by change notices: off until its listener hears.
    pub fn listening() -> Cache {
        Cache::new(false, None)
    }

    /// A cache whose entries hold while the SQLite file's data version stays.
    pub fn versioned(natives: Arc<Natives>) -> Cache {
        Cache::new(true, Some(natives))
    }

    fn new(live: bool, version: Option<Arc<Natives>>) -> Cache {
        Cache {
            generation: AtomicU64::new(0),
            live: AtomicBool::new(live),
            version,
            instance: rand::random(),
            sent: AtomicU64::new(0),
            heard: tokio::sync::watch::channel(0).0,
            sessions: Shelf::new(),
            overviews: Shelf::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            live: self.is_live(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// A ticket for a read about to start, when the cache is in use (and on
    /// SQLite its data version could be read).
    pub fn ticket(&self) -> Option<Ticket> {
        if !self.live.load(Ordering::SeqCst) {
            return None;
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let version = match &self.version {
            Some(natives) => natives.data_version().ok()?,
            None => 0,
        };
        Some(Ticket { generation, version })
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn forget_all(&self) {
        self.bump();
        self.sessions.clear();
        self.overviews.clear();
    }

    fn apply(&self, notice: &Notice) {
        match *notice {
            Notice::Customer(id) => {
                self.bump();
                self.overviews.forget(&id);
            }
            Notice::User(id) => {
                self.bump();
                self.sessions.forget_where(|s| s.session.account.id == id);
            }
            Notice::Ping { .. } => {}
            Notice::Unknown => self.forget_all(),
        }
    }

    fn go_live(&self) {
        self.live.store(true, Ordering::SeqCst);
    }

    /// Sends a ping and waits until it is heard: every notice of a transaction
    /// committed before this call has then been applied. Says why when it is
    /// not heard in time.
    async fn ping(&self, pool: &AnyPool) -> Result<(), String> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        // Only hex digits and a number: nothing to quote.
        let sql = format!("NOTIFY {CHANNEL}, 'ping:{:x}:{n}'", self.instance);
        sqlx::raw_sql(&sql).execute(pool).await.map_err(|e| format!("cannot notify: {e}"))?;
        let mut heard = self.heard.subscribe();
        match tokio::time::timeout(PING_TIMEOUT, heard.wait_for(|&h| h >= n)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!("a notice was not heard within {} s", PING_TIMEOUT.as_secs())),
        }
    }

    /// Returns once every change committed before the call is reflected here
    /// (at once when the cache is off: it serves nothing then). If that cannot
    /// be shown in time, the cache is emptied.
    pub async fn settle(&self, pool: &AnyPool) {
        // A data version shows a commit to the next reader at once.
        if self.version.is_some() {
            return;
        }
        if self.is_live() && self.ping(pool).await.is_err() {
            self.forget_all();
        }
    }

    /// Off and empty: nothing may be served that a lost notice could have changed.
    fn go_dark(&self) {
        self.live.store(false, Ordering::SeqCst);
        self.forget_all();
    }
}

/// Starts the listener of `cache`; it ends when the cache is dropped.
pub(crate) fn spawn_listener(cache: &Arc<Cache>, url: String, pool: AnyPool) {
    let weak = Arc::downgrade(cache);
    tokio::spawn(async move {
        while weak.strong_count() > 0 {
            let outcome = listen(&weak, &url, &pool).await;
            let Some(cache) = weak.upgrade() else { return };
            if cache.is_live() {
                tracing::warn!("read cache off: its change notices stopped ({outcome}); reads go to the database");
            }
            cache.go_dark();
            drop(cache);
            tokio::time::sleep(RETRY_AFTER).await;
        }
    });
}

/// Listens until the notices can no longer be trusted; says why.
async fn listen(cache: &Weak<Cache>, url: &str, pool: &AnyPool) -> String {
    let mut listener = match PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => return format!("cannot connect: {e}"),
    };
    // A lost connection is reported at once, not mended silently.
    listener.eager_reconnect(false);
    if let Err(e) = listener.listen(CHANNEL).await {
        return format!("cannot listen: {e}");
    }
    let receive = async {
        loop {
            let notice = match listener.try_recv().await {
                Ok(Some(n)) => Notice::parse(n.payload()),
                Ok(None) => return "the connection was lost".to_string(),
                Err(e) => return e.to_string(),
            };
            let Some(cache) = cache.upgrade() else { return "the cache is gone".into() };
            match notice {
                Notice::Ping { instance, n } if instance == cache.instance => {
                    cache.heard.send_if_modified(|h| {
                        let newer = n > *h;
                        *h = (*h).max(n);
                        newer
                    });
                }
                ref other => cache.apply(other),
            }
        }
    };
    // Proves, over and over, that a notice sent now is heard; turns the cache
    // on once it is.
    let prove = async {
        loop {
            let Some(c) = cache.upgrade() else { return "the cache is gone".to_string() };
            if let Err(why) = c.ping(pool).await {
                return why;
            }
            c.go_live();
            drop(c);
            tokio::time::sleep(PING_EVERY).await;
        }
    };
    // Dropping the listener afterwards makes it safe to abandon `receive` midway.
    tokio::select! {
        why = receive => why,
        why = prove => why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_read_strictly() {
        assert_eq!(Notice::parse("customer:42"), Notice::Customer(42));
        assert_eq!(Notice::parse("user:7"), Notice::User(7));
        assert_eq!(Notice::parse("ping:ff:3"), Notice::Ping { instance: 255, n: 3 });
        for odd in ["", "customer:", "customer:x", "user", "ping:zz:1", "ping:ff", "other:1"] {
            assert_eq!(Notice::parse(odd), Notice::Unknown, "{odd:?}");
        }
    }

    #[test]
    fn a_fill_that_raced_with_a_change_is_not_kept() {
        let cache = Cache::listening();
        assert!(cache.ticket().is_none(), "a cache that has not heard its ping is off");
        cache.go_live();
        let before = cache.ticket().unwrap();
        cache.apply(&Notice::Customer(1));
        cache.overviews.put(&cache, before, 1, sample().into());
        assert_eq!(cache.overviews.len(), 0, "the change came in while the value was read");
        let after = cache.ticket().unwrap();
        cache.overviews.put(&cache, after, 1, sample().into());
        assert!(cache.overviews.get(&cache, &1, after, |_| true).is_some());
        cache.apply(&Notice::Customer(2));
        assert!(
            cache.overviews.get(&cache, &1, after, |_| true).is_some(),
            "another customer's change leaves this one"
        );
        cache.apply(&Notice::Customer(1));
        assert!(cache.overviews.get(&cache, &1, after, |_| true).is_none());
    }

    #[test]
    fn going_dark_empties_and_refuses_fills() {
        let cache = Cache::listening();
        cache.go_live();
        let t = cache.ticket().unwrap();
        cache.overviews.put(&cache, t, 1, sample().into());
        cache.go_dark();
        assert!(cache.overviews.get(&cache, &1, t, |_| true).is_none());
        assert!(cache.ticket().is_none());
        cache.overviews.put(&cache, t, 1, sample().into());
        assert_eq!(cache.overviews.len(), 0);
    }

    #[test]
    fn a_full_shelf_makes_room() {
        let cache = Cache::listening();
        cache.go_live();
        let t = cache.ticket().unwrap();
        for id in 0..CAPACITY as i64 + 10 {
            cache.overviews.put(&cache, t, id, sample().into());
        }
        assert!(cache.overviews.len() <= CAPACITY);
        assert!(cache.overviews.get(&cache, &(CAPACITY as i64 + 9), t, |_| true).is_some(), "the newest entry is kept");
    }

    fn sample() -> Export {
        Export {
            format: "custodian-export-v1",
            generated_at: 0,
            customer: crate::CustomerRecord {
                id: 1,
                kind: custodian_domain::model::CustomerKind::Business,
                status: "active".into(),
                entered_by: None,
                created_at: 0,
                updated_at: 0,
                fields: Default::default(),
                withheld: vec![],
            },
            contacts: vec![],
            services: vec![],
            invoices: None,
            statute_acceptances: vec![],
            access_log: None,
        }
    }
}
