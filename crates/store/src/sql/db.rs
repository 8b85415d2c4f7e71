//! The database connection layer: one small interface ([`Conn`]) that store code is
//! written against, a pool of reader connections, and the SQLite implementation.
//!
//! Store operations are synchronous closures over a `&dyn Conn`; [`Pool::read`] runs
//! them on tokio's blocking pool with a pooled connection, and the writer runs write
//! closures on its own thread (see `writer.rs`). One closure, one request: all the
//! queries of an operation run back to back on one connection, without a hop per query.

use std::sync::{Arc, Mutex};

use ferroflow_core::{Error, ErrorCode, Result};
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::Dialect;
use super::query::{Arg, Sql};

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A result row: values by column name.
#[derive(Debug, Clone)]
pub struct Row {
    cols: Arc<Vec<String>>,
    vals: Vec<Value>,
}

fn column_error(col: &str, what: &str) -> Error {
    Error::internal(format!("database column '{col}': {what}"))
}

impl Row {
    pub(crate) fn new(cols: Arc<Vec<String>>, vals: Vec<Value>) -> Row {
        Row { cols, vals }
    }

    fn value(&self, col: &str) -> Result<&Value> {
        self.cols
            .iter()
            .position(|c| c == col)
            .map(|i| &self.vals[i])
            .ok_or_else(|| column_error(col, "not in the result"))
    }

    pub fn opt_str(&self, col: &str) -> Result<Option<String>> {
        Ok(match self.value(col)? {
            Value::Null => None,
            Value::Text(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Real(f) => Some(f.to_string()),
        })
    }
    pub fn str(&self, col: &str) -> Result<String> {
        Ok(self.opt_str(col)?.unwrap_or_default())
    }
    pub fn opt_i64(&self, col: &str) -> Result<Option<i64>> {
        match self.value(col)? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            Value::Real(f) => Ok(Some(*f as i64)),
            Value::Text(s) => s
                .parse()
                .map(Some)
                .map_err(|_| column_error(col, "not an integer")),
        }
    }
    pub fn i64(&self, col: &str) -> Result<i64> {
        Ok(self.opt_i64(col)?.unwrap_or(0))
    }
    pub fn opt_f64(&self, col: &str) -> Result<Option<f64>> {
        match self.value(col)? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(*i as f64)),
            Value::Real(f) => Ok(Some(*f)),
            Value::Text(s) => s
                .parse()
                .map(Some)
                .map_err(|_| column_error(col, "not a number")),
        }
    }
    pub fn f64(&self, col: &str) -> Result<f64> {
        Ok(self.opt_f64(col)?.unwrap_or(0.0))
    }
    pub fn bool(&self, col: &str) -> Result<bool> {
        Ok(self.opt_i64(col)?.unwrap_or(0) != 0)
    }
}

/// What store code needs from a database connection.
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs a statement and returns how many rows it changed.
    fn execute(&self, sql: &Sql) -> Result<u64>;
    /// Calls `f` for each result row until it returns `false`.
    fn query_each(&self, sql: &Sql, f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()>;
    /// Runs several `;`-separated statements without arguments.
    fn execute_script(&self, sql: &str) -> Result<()>;

    /// Copies committed log frames into the database file without blocking anyone, for
    /// databases with a write-ahead log; returns the frames in the log afterwards.
    fn checkpoint(&self) -> Result<Option<i64>> {
        Ok(None)
    }

    /// Runs an `INSERT` of one row into a table whose `id_col` the database numbers, and
    /// returns the number it gave.
    fn insert_returning_id(&self, sql: Sql, id_col: &str) -> Result<i64> {
        let sql = sql.then(" RETURNING ").then(id_col);
        self.query_opt(&sql)?
            .ok_or_else(|| Error::internal("an insert returned no id"))?
            .i64(id_col)
    }

    fn query(&self, sql: &Sql) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        self.query_each(sql, &mut |r| {
            rows.push(r);
            Ok(true)
        })?;
        Ok(rows)
    }
    fn query_opt(&self, sql: &Sql) -> Result<Option<Row>> {
        let mut first = None;
        self.query_each(sql, &mut |r| {
            first = Some(r);
            Ok(false)
        })?;
        Ok(first)
    }
}

// ---- SQLite ----

pub struct SqliteConn {
    conn: rusqlite::Connection,
}

/// Maps a SQLite error to an MLflow error; details go to the log.
pub fn sqlite_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == C::NotADatabase => {
            Error::invalid_state("The backend store file exists but is not a SQLite database")
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, C::DatabaseBusy | C::DatabaseLocked) =>
        {
            Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                "The database is busy; try again",
            )
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == C::DiskFull => {
            Error::new(ErrorCode::RESOURCE_EXHAUSTED, "The database's disk is full")
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == C::ReadOnly => {
            Error::new(ErrorCode::PERMISSION_DENIED, "The database is read-only")
        }
        _ => {
            tracing::error!(error = %e, "database error");
            Error::internal(format!("Database error: {e}"))
        }
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(v) => ToSqlOutput::from(*v),
            Arg::Float(v) => ToSqlOutput::from(*v),
            Arg::Text(v) => ToSqlOutput::from(v.as_str()),
            Arg::Null => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

/// Runs `f` until it does not fail with SQLITE_BUSY/LOCKED, for at most 30 seconds.
pub fn retry_while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

impl SqliteConn {
    /// Opens `path` (creating it), in WAL mode, with foreign keys on as MLflow sets them.
    pub fn open(path: &str) -> Result<SqliteConn> {
        let conn = rusqlite::Connection::open(path).map_err(|e| {
            Error::invalid_state(format!("Cannot open the SQLite database {path}: {e}"))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sqlite_err)?;
        // Reading the schema first fails at once on a file that is not a database. Switching
        // a new database to WAL needs a moment alone with the file: when several processes
        // open it at once, those that find it busy try again.
        retry_while_busy(|| {
            conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
                 PRAGMA cache_size = -8192; PRAGMA mmap_size = 268435456; PRAGMA journal_size_limit = 67108864; PRAGMA wal_autocheckpoint = 0;",
            )
        })
        .map_err(sqlite_err)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqliteConn { conn })
    }
}

impl SqliteConn {
    /// Creates a new database file for a bulk load: larger pages, no journal, no syncing,
    /// foreign keys unchecked, a large page cache and sorter threads. Only for a file
    /// that nobody else has open and that is thrown away if the load fails.
    pub fn create_for_bulk_load(path: &str) -> Result<SqliteConn> {
        let conn = rusqlite::Connection::open(path).map_err(|e| {
            Error::invalid_state(format!("Cannot create the SQLite database {path}: {e}"))
        })?;
        conn.execute_batch(
            "PRAGMA page_size = 16384; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
             PRAGMA foreign_keys = OFF; PRAGMA cache_size = -524288; PRAGMA temp_store = FILE; \
             PRAGMA threads = 4;",
        )
        .map_err(sqlite_err)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqliteConn { conn })
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &Sql) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(&sql.text).map_err(sqlite_err)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(sql.args.iter()))
            .map_err(sqlite_err)?;
        Ok(n as u64)
    }

    fn query_each(&self, sql: &Sql, f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(&sql.text).map_err(sqlite_err)?;
        let cols: Arc<Vec<String>> =
            Arc::new(stmt.column_names().iter().map(|c| c.to_string()).collect());
        let mut rows = stmt
            .query(rusqlite::params_from_iter(sql.args.iter()))
            .map_err(sqlite_err)?;
        while let Some(r) = rows.next().map_err(sqlite_err)? {
            let mut vals = Vec::with_capacity(cols.len());
            for i in 0..cols.len() {
                vals.push(match r.get_ref(i).map_err(sqlite_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
                });
            }
            if !f(Row {
                cols: cols.clone(),
                vals,
            })? {
                break;
            }
        }
        Ok(())
    }

    fn execute_script(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(sqlite_err)
    }

    fn checkpoint(&self) -> Result<Option<i64>> {
        let (_busy, log) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(sqlite_err)?;
        Ok(Some(log))
    }
}

// ---- checkpoints ----

/// Keeps SQLite's write-ahead log short without stalling commits.
///
/// A background thread copies committed frames into the database file every few tens of
/// milliseconds, beside the writer. Copying never catches up with a writer that keeps
/// appending, so the log could not restart from its beginning on its own; when it has
/// grown past [`WAL_RESTART_FRAMES`], the writer runs one more checkpoint between two
/// groups — by then nearly every frame is copied, so this is short — and the next commit
/// starts the log over.
pub struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Frames in the log at the last background checkpoint.
    pub log_frames: Arc<std::sync::atomic::AtomicI64>,
}

/// Log length (in pages) past which the writer finishes a checkpoint itself.
pub const WAL_RESTART_FRAMES: i64 = 2000;

impl Checkpointer {
    pub fn spawn(conn: Box<dyn Conn>) -> Result<Checkpointer> {
        use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let log_frames = Arc::new(AtomicI64::new(0));
        let (flag, frames) = (stop.clone(), log_frames.clone());
        std::thread::Builder::new()
            .name("ferroflow-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                    match conn.checkpoint() {
                        Ok(Some(n)) => frames.store(n, Ordering::Relaxed),
                        Ok(None) => return,
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                }
            })
            .map_err(|e| Error::internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { stop, log_frames })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

// ---- the reader pool ----

pub type Opener = dyn Fn() -> Result<Box<dyn Conn>> + Send + Sync;

/// Reader connections, used one closure at a time on tokio's blocking pool.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    idle: Mutex<Vec<Box<dyn Conn>>>,
    permits: Arc<tokio::sync::Semaphore>,
    open: Box<Opener>,
}

impl Pool {
    pub fn new(size: usize, open: Box<Opener>) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(tokio::sync::Semaphore::new(size.max(1))),
                open,
            }),
        }
    }

    fn take(&self) -> Result<Box<dyn Conn>> {
        let pooled = self.inner.idle.lock().ok().and_then(|mut v| v.pop());
        match pooled {
            Some(c) => Ok(c),
            None => (self.inner.open)(),
        }
    }

    /// Adds an already open connection to the idle ones.
    pub fn give(&self, conn: Box<dyn Conn>) {
        self.give_back(conn)
    }

    fn give_back(&self, conn: Box<dyn Conn>) {
        if let Ok(mut v) = self.inner.idle.lock() {
            v.push(conn);
        }
    }

    /// Runs `f` with a reader connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Conn) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("the reader pool is closed"))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&*conn)));
            pool.give_back(conn);
            result.unwrap_or_else(|_| Err(Error::internal("a database read panicked")))
        })
        .await
        .map_err(|e| Error::internal(format!("a database read failed: {e}")))?
    }

    /// Runs `f` with a reader connection on the blocking pool, without waiting for it:
    /// for streams that feed a channel.
    pub async fn spawn<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&dyn Conn) + Send + 'static,
    {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("the reader pool is closed"))?;
        let pool = self.clone();
        let conn = tokio::task::spawn_blocking({
            let pool = pool.clone();
            move || pool.take()
        })
        .await
        .map_err(|e| Error::internal(format!("cannot open a reader: {e}")))??;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&*conn)));
            pool.give_back(conn);
        });
        Ok(())
    }
}
