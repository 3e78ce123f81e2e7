//! Reading rows on the hot path (the session check and the customer's
//! dashboard) with as few thread handoffs as possible.
//!
//! Through sqlx every SQLite statement is a trip to the connection's worker
//! thread and back, more for each row. On a SQLite file the hot reads therefore
//! run inline on rusqlite connections of their own: a point read from the page
//! cache takes microseconds, and in WAL mode a reader never waits for the
//! writer. PostgreSQL, and a SQLite database that is no file, keep the pool.
//! Decoders take any [`Get`], so both paths share them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use crate::StoreError;

/// A column value that both row kinds can produce.
pub(crate) trait Value: Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> {
    fn from_native(v: rusqlite::types::Value) -> Option<Self>;
    /// From a member of a JSON object built in SQL, bytes written as hex.
    fn from_json(v: &serde_json::Value) -> Option<Self>;
}

impl Value for i64 {
    fn from_native(v: rusqlite::types::Value) -> Option<Self> {
        match v {
            rusqlite::types::Value::Integer(i) => Some(i),
            _ => None,
        }
    }
    fn from_json(v: &serde_json::Value) -> Option<Self> {
        v.as_i64()
    }
}

impl Value for String {
    fn from_native(v: rusqlite::types::Value) -> Option<Self> {
        match v {
            rusqlite::types::Value::Text(s) => Some(s),
            _ => None,
        }
    }
    fn from_json(v: &serde_json::Value) -> Option<Self> {
        v.as_str().map(str::to_string)
    }
}

impl Value for Vec<u8> {
    fn from_native(v: rusqlite::types::Value) -> Option<Self> {
        match v {
            rusqlite::types::Value::Blob(b) => Some(b),
            _ => None,
        }
    }
    fn from_json(v: &serde_json::Value) -> Option<Self> {
        hex::decode(v.as_str()?).ok()
    }
}

impl<T: Value> Value for Option<T> {
    fn from_native(v: rusqlite::types::Value) -> Option<Self> {
        match v {
            rusqlite::types::Value::Null => Some(None),
            v => T::from_native(v).map(Some),
        }
    }
    fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Null => Some(None),
            v => T::from_json(v).map(Some),
        }
    }
}

/// Named column access, for a row of either kind.
pub(crate) trait Get {
    fn col<T: Value>(&self, name: &str) -> Result<T, StoreError>;
}

impl Get for AnyRow {
    fn col<T: Value>(&self, name: &str) -> Result<T, StoreError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

/// A row read through rusqlite, owning its values.
pub(crate) struct NativeRow {
    names: Arc<[String]>,
    values: Vec<rusqlite::types::Value>,
    /// Where the next column is looked for first: decoders mostly read in the
    /// order of the SELECT, so a wide row is not scanned for every column.
    next: std::sync::atomic::AtomicUsize,
}

impl NativeRow {
    fn position(&self, name: &str) -> Option<usize> {
        use std::sync::atomic::Ordering::Relaxed;
        let hint = self.next.load(Relaxed);
        let i = match self.names.get(hint) {
            Some(n) if n == name => hint,
            _ => self.names.iter().position(|n| n == name)?,
        };
        self.next.store(i + 1, Relaxed);
        Some(i)
    }
}

impl Get for NativeRow {
    fn col<T: Value>(&self, name: &str) -> Result<T, StoreError> {
        let i = self.position(name).ok_or_else(|| mismatch(name, "no such column"))?;
        T::from_native(self.values[i].clone()).ok_or_else(|| mismatch(name, "unexpected type"))
    }
}

fn mismatch(name: &str, what: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(format!("column {name}: {what}").into()))
}

/// A row from either reader.
pub(crate) enum Row {
    Native(NativeRow),
    Pool(AnyRow),
}

impl Get for Row {
    fn col<T: Value>(&self, name: &str) -> Result<T, StoreError> {
        match self {
            Row::Native(r) => r.col(name),
            Row::Pool(r) => r.col(name),
        }
    }
}

/// A parameter of a hot read.
#[derive(Clone, Copy)]
pub(crate) enum Bind<'a> {
    Int(i64),
    Blob(&'a [u8]),
}

/// Read-only rusqlite connections to one SQLite file, each leased by one
/// [`Reader`] at a time.
pub(crate) struct Natives {
    path: PathBuf,
    idle: Mutex<Vec<NativeConn>>,
    /// The one connection that asks for the data version: its answers are
    /// comparable only with its own earlier ones.
    versions: Mutex<Option<rusqlite::Connection>>,
}

/// A read-only connection and the column names of the statements it ran, so a
/// row's names are not read out of SQLite and copied again for every statement.
struct NativeConn {
    conn: rusqlite::Connection,
    names: std::collections::HashMap<String, Arc<[String]>>,
}

/// Statements whose column names a connection keeps (the hot reads are fewer).
const NAMED_STATEMENTS: usize = 64;

/// Idle connections kept; more are opened when needed and closed after use.
const IDLE_NATIVES: usize = 8;

impl Natives {
    pub(crate) fn new(path: PathBuf) -> Natives {
        Natives { path, idle: Mutex::new(Vec::new()), versions: Mutex::new(None) }
    }

    fn open(&self) -> Result<rusqlite::Connection, StoreError> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags).map_err(native_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(native_error)?;
        Ok(conn)
    }

    fn lease(&self) -> Result<NativeConn, StoreError> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(conn);
        }
        Ok(NativeConn { conn: self.open()?, names: Default::default() })
    }

    /// SQLite's data version: it changes whenever any other connection, in
    /// this process or another, committed a change to the file since the last
    /// call.
    pub(crate) fn data_version(&self) -> Result<i64, StoreError> {
        let mut slot = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(self.open()?),
        };
        let version = conn.prepare_cached("PRAGMA data_version").and_then(|mut s| s.query_row([], |r| r.get(0)));
        if version.is_err() {
            // Reopened next time rather than trusted.
            *slot = None;
        }
        version.map_err(native_error)
    }

    /// One statement outside any transaction: it is its own snapshot, and
    /// skips the BEGIN and COMMIT a [`Lease`] spends on consistency.
    pub(crate) fn read_one(&self, sql: &str, binds: &[Bind<'_>]) -> Result<Option<Row>, StoreError> {
        let mut conn = self.lease()?;
        // On an error the connection is closed rather than reused.
        let rows = run(&mut conn, sql, binds)?;
        self.give_back(conn);
        Ok(rows.into_iter().next())
    }

    fn give_back(&self, conn: NativeConn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_NATIVES {
            idle.push(conn);
        }
    }
}

/// A leased connection inside one read transaction: all reads of a request see
/// one snapshot, and take SQLite's read lock once instead of per statement.
pub(crate) struct Lease {
    natives: Arc<Natives>,
    conn: Option<NativeConn>,
}

impl Lease {
    fn conn(&mut self) -> Result<&mut NativeConn, StoreError> {
        match &mut self.conn {
            Some(conn) => Ok(conn),
            empty => {
                let conn = self.natives.lease()?;
                conn.conn.prepare_cached("BEGIN").and_then(|mut s| s.execute([])).map_err(native_error)?;
                Ok(empty.insert(conn))
            }
        }
    }

    fn all(&mut self, sql: &str, binds: &[Bind<'_>]) -> Result<Vec<Row>, StoreError> {
        let rows = run(self.conn()?, sql, binds);
        if rows.is_err() {
            // A connection that failed is closed rather than reused.
            self.conn = None;
        }
        rows
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && conn.conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).is_ok()
        {
            self.natives.give_back(conn);
        }
    }
}

/// The names of the first parameters, so the hot path formats none.
const PARAMETERS: [&str; 4] = ["$1", "$2", "$3", "$4"];

fn run(native: &mut NativeConn, sql: &str, binds: &[Bind<'_>]) -> Result<Vec<Row>, StoreError> {
    let mut stmt = native.conn.prepare_cached(sql).map_err(native_error)?;
    // `$N` is a named parameter to SQLite, numbered in order of first use.
    for (i, b) in binds.iter().enumerate() {
        let name: std::borrow::Cow<str> =
            PARAMETERS.get(i).map_or_else(|| format!("${}", i + 1).into(), |n| (*n).into());
        let Some(at) = stmt.parameter_index(&name).map_err(native_error)? else { continue };
        match *b {
            Bind::Int(v) => stmt.raw_bind_parameter(at, v),
            Bind::Blob(v) => stmt.raw_bind_parameter(at, v),
        }
        .map_err(native_error)?;
    }
    let names = match native.names.get(sql) {
        Some(names) => names.clone(),
        None => {
            let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_string).collect();
            if native.names.len() >= NAMED_STATEMENTS {
                native.names.clear();
            }
            native.names.insert(sql.to_string(), names.clone());
            names
        }
    };
    let width = names.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(native_error)? {
        let values = (0..width).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect::<Result<_, _>>();
        let values = values.map_err(native_error)?;
        out.push(Row::Native(NativeRow { names: names.clone(), values, next: Default::default() }));
    }
    Ok(out)
}

fn native_error(e: rusqlite::Error) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(format!("sqlite: {e}")))
}

/// Runs the hot reads of one request: inline through rusqlite on a SQLite file,
/// otherwise on one pooled connection.
pub(crate) enum Reader {
    Native(Lease),
    Pool(PoolConnection<Any>),
}

impl Reader {
    pub(crate) async fn new(natives: &Option<Arc<Natives>>, pool: &AnyPool) -> Result<Reader, StoreError> {
        Ok(match natives {
            Some(n) => Reader::Native(Lease { natives: n.clone(), conn: None }),
            None => Reader::Pool(pool.acquire().await?),
        })
    }

    pub(crate) async fn all(&mut self, sql: &str, binds: &[Bind<'_>]) -> Result<Vec<Row>, StoreError> {
        match self {
            Reader::Native(lease) => lease.all(sql, binds),
            Reader::Pool(conn) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = match *b {
                        Bind::Int(v) => q.bind(v),
                        Bind::Blob(v) => q.bind(v.to_vec()),
                    };
                }
                Ok(q.fetch_all(&mut **conn).await?.into_iter().map(Row::Pool).collect())
            }
        }
    }

    pub(crate) async fn optional(&mut self, sql: &str, binds: &[Bind<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.all(sql, binds).await?.into_iter().next())
    }

    /// Data key `id`, through this reader's own connection when it holds one
    /// of the pool's: taking a second while holding one deadlocks a busy pool
    /// (every connection held by a request that waits for another).
    pub(crate) async fn data_key(
        &mut self,
        keys: &crate::keys::Keyring,
        pool: &AnyPool,
        id: i64,
    ) -> Result<crate::Key, StoreError> {
        match self {
            Reader::Native(_) => keys.data_key(pool, id).await,
            Reader::Pool(conn) => keys.data_key(&mut **conn, id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both readers bind `$N` by number (even when used out of order), decode
    /// the same values, and name a missing column or a wrong type.
    #[tokio::test]
    async fn both_readers_bind_by_number_and_decode_alike() {
        for db in custodian_testkit::databases().await {
            let store = crate::Store::open(&db.url, 2, crate::Key::generate()).await.unwrap();
            assert_eq!(store.natives.is_some(), db.name() == "sqlite", "a SQLite file is read natively");
            let mut reader = store.reader().await.unwrap();
            let sql = "SELECT $2 - $1 AS diff, CAST('x' AS TEXT) AS t, NULL AS n, $3 AS b";
            let row = reader
                .optional(sql, &[Bind::Int(2), Bind::Int(44), Bind::Blob(b"\x01\x02")])
                .await
                .unwrap()
                .expect("one row");
            assert_eq!(row.col::<i64>("diff").unwrap(), 42, "{}", db.name());
            assert_eq!(row.col::<String>("t").unwrap(), "x");
            assert_eq!(row.col::<Option<i64>>("n").unwrap(), None);
            assert_eq!(row.col::<Vec<u8>>("b").unwrap(), vec![1, 2]);
            assert!(row.col::<i64>("t").is_err(), "{}: text is no integer", db.name());
            assert!(row.col::<i64>("missing").is_err());
            let none = reader.optional("SELECT id FROM customers WHERE id = $1", &[Bind::Int(-1)]).await.unwrap();
            assert!(none.is_none());
            drop(reader);
            store.close().await;
            db.finish().await;
        }
    }
}
