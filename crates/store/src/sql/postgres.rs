//! PostgreSQL behind [`Conn`], with the synchronous `postgres` client.
//!
//! Store code binds loosely typed [`Arg`]s, as SQLite takes them; PostgreSQL types every
//! parameter from the statement, so each argument is encoded as the type the server
//! inferred (an integer bound to a `boolean` column is a boolean, to a `varchar` its text).
//! Results decode the other way into [`Value`]s.
//!
//! A connection that dropped (a database restart, a failover, an idle timeout) is opened
//! again on its next use; a transaction that was open on it is lost and its caller gets
//! `TEMPORARILY_UNAVAILABLE`, so nothing is acknowledged that was not committed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use ferroflow_core::{Error, ErrorCode, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use super::Dialect;
use super::db::{Conn, Row, Value};
use super::pg_tls;
use super::query::{Arg, Sql};

/// How to reach a PostgreSQL database, parsed from an MLflow (SQLAlchemy) URL.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The URL without its password, for messages.
    pub display: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl PartialEq for PgTarget {
    fn eq(&self, other: &Self) -> bool {
        self.display == other.display
    }
}
impl Eq for PgTarget {}

/// Query parameters SQLAlchemy's PostgreSQL drivers take that change nothing here.
const IGNORED_PARAMS: &[&str] = &["client_encoding"];

impl PgTarget {
    /// Parses `postgresql[+driver]://user:password@host:port/database?sslmode=...&options=...`.
    pub fn parse(uri: &str) -> Result<PgTarget> {
        let (_, rest) = uri
            .split_once("://")
            .ok_or_else(|| Error::invalid_param(format!("Not a database URI: '{uri}'")))?;
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let display = ferroflow_core::uri::without_password(uri);
        let (mut sslmode, mut rootcert) = (None, None);
        let mut kept: Vec<&str> = Vec::new();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
            match key {
                "sslmode" => sslmode = Some(ferroflow_core::uri::percent_decode(value)),
                "sslrootcert" => rootcert = Some(ferroflow_core::uri::percent_decode(value)),
                "sslcert" | "sslkey" | "sslpassword" => {
                    return Err(pg_tls::invalid(
                        &display,
                        format!(
                            "{key}: client certificates are not supported yet; authenticate with a password"
                        ),
                    ));
                }
                k if IGNORED_PARAMS.contains(&k) => {}
                _ => kept.push(kv),
            }
        }
        let url = if kept.is_empty() {
            format!("postgresql://{base}")
        } else {
            format!("postgresql://{base}?{}", kept.join("&"))
        };
        let mut config: postgres::Config = url.parse().map_err(|e| {
            Error::invalid_param(format!("Invalid PostgreSQL URI '{display}': {e}"))
        })?;
        let tls = pg_tls::choose(sslmode.as_deref(), rootcert.as_deref())
            .map_err(|why| pg_tls::invalid(&display, why))?;
        config.ssl_mode(tls.mode);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("ferroflow");
        }
        config.keepalives(true);
        Ok(PgTarget {
            config,
            tls: tls.connector,
            display,
        })
    }

    /// The database name, for messages.
    pub fn database(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }
}

struct State {
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
}

pub struct PgConn {
    target: Arc<PgTarget>,
    state: RefCell<State>,
}

/// Maps a PostgreSQL error to an MLflow error; details go to the log.
pub fn pg_err(e: postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code {
            // serialization_failure, deadlock_detected, lock_not_available, admin/crash shutdown
            "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" => Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                "The database is busy; try again",
            ),
            // Another server on the same database wrote the same key in the meantime.
            "23505" => Error::new(
                ErrorCode::RESOURCE_ALREADY_EXISTS,
                format!(
                    "The object already exists: {}",
                    db.detail().unwrap_or(db.message())
                ),
            ),
            "53100" => Error::new(ErrorCode::RESOURCE_EXHAUSTED, "The database's disk is full"),
            "53300" => Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                "The database has too many connections; try again",
            ),
            "25006" | "42501" => {
                tracing::error!(error = %db, "database refused a write");
                Error::new(
                    ErrorCode::PERMISSION_DENIED,
                    format!("The database refused the operation: {}", db.message()),
                )
            }
            _ => {
                tracing::error!(error = %db, code, "database error");
                Error::internal(format!("Database error: {}", db.message()))
            }
        };
    }
    if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
        tracing::warn!(error = %e, "lost the connection to PostgreSQL");
        return Error::new(
            ErrorCode::TEMPORARILY_UNAVAILABLE,
            "The database is unreachable; try again",
        );
    }
    tracing::error!(error = %e, "database error");
    Error::internal(format!("Database error: {e}"))
}

impl PgConn {
    /// Connects now, so that a wrong address or password is reported at start.
    pub fn connect(target: Arc<PgTarget>) -> Result<PgConn> {
        let client = Self::open_client(&target)?;
        Ok(PgConn {
            target,
            state: RefCell::new(State {
                client: Some(client),
                statements: HashMap::new(),
                in_transaction: false,
            }),
        })
    }

    fn open_client(target: &PgTarget) -> Result<Client> {
        let connected = match &target.tls {
            Some(tls) => target.config.connect(tls.clone()),
            None => target.config.connect(NoTls),
        };
        connected.map_err(|e| {
            let why = match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.to_string()),
            };
            Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                format!(
                    "Cannot connect to the PostgreSQL database {}: {why}",
                    target.display
                ),
            )
        })
    }

    /// Runs `f` on a live client, reconnecting first if the last one dropped outside a
    /// transaction.
    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut Client, &mut HashMap<String, Statement>) -> Result<T>,
    ) -> Result<T> {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        if st.client.as_ref().is_none_or(|c| c.is_closed()) {
            st.client = None;
            st.statements.clear();
            if st.in_transaction {
                return Err(Error::new(
                    ErrorCode::TEMPORARILY_UNAVAILABLE,
                    "The connection to the database was lost during a transaction; try again",
                ));
            }
            st.client = Some(Self::open_client(&self.target)?);
        }
        let client = st.client.as_mut().expect("connected above");
        f(client, &mut st.statements)
    }

    /// Like [`PgConn::with_client`], and once more on a new connection when this one
    /// turned out to be dead (the server restarted, or ended idle sessions) and `again`
    /// says nothing was done yet: outside a transaction, nothing is lost by retrying.
    fn with_live_client<T>(
        &self,
        again: impl Fn() -> bool,
        mut f: impl FnMut(&mut Client, &mut HashMap<String, Statement>) -> Result<T>,
    ) -> Result<T> {
        let first = self.with_client(&mut f);
        let retry = first.is_err() && {
            let st = self.state.borrow();
            !st.in_transaction && st.client.as_ref().is_some_and(|c| c.is_closed())
        };
        if retry && again() {
            tracing::info!(database = %self.target.display, "reconnecting to PostgreSQL");
            return self.with_client(f);
        }
        first
    }

    fn prepared(
        client: &mut Client,
        cache: &mut HashMap<String, Statement>,
        sql: &str,
    ) -> Result<Statement> {
        if let Some(s) = cache.get(sql) {
            return Ok(s.clone());
        }
        let stmt = client
            .prepare(&Dialect::Postgres.placeholders(sql))
            .map_err(pg_err)?;
        if cache.len() >= 512 {
            cache.clear();
        }
        cache.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

impl Drop for PgConn {
    /// The synchronous client closes its connection on its own runtime, which must not
    /// happen on an async worker thread: there it is closed on a thread of its own.
    fn drop(&mut self) {
        let client = self.state.get_mut().client.take();
        if let Some(client) = client
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("ferroflow-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

fn params(args: &[Arg]) -> impl ExactSizeIterator<Item = &dyn ToSql> {
    args.iter().map(|a| a as &dyn ToSql)
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &Sql) -> Result<u64> {
        self.with_client(|client, cache| {
            let stmt = Self::prepared(client, cache, &sql.text)?;
            let args: Vec<&(dyn ToSql + Sync)> =
                sql.args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
            client.execute(&stmt, &args).map_err(pg_err)
        })
    }

    fn query_each(&self, sql: &Sql, f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
        let delivered = std::cell::Cell::new(false);
        self.with_live_client(
            || !delivered.get(),
            |client, cache| {
                let stmt = Self::prepared(client, cache, &sql.text)?;
                let cols: Arc<Vec<String>> = Arc::new(
                    stmt.columns()
                        .iter()
                        .map(|c| c.name().to_string())
                        .collect(),
                );
                let mut rows = client.query_raw(&stmt, params(&sql.args)).map_err(pg_err)?;
                while let Some(r) = rows.next().map_err(pg_err)? {
                    let mut vals = Vec::with_capacity(cols.len());
                    for i in 0..cols.len() {
                        vals.push(r.try_get::<_, Value>(i).map_err(pg_err)?);
                    }
                    delivered.set(true);
                    if !f(Row::new(cols.clone(), vals))? {
                        break;
                    }
                }
                Ok(())
            },
        )
    }

    fn execute_script(&self, sql: &str) -> Result<()> {
        let head = sql.trim_start().get(..8).unwrap_or("").to_ascii_uppercase();
        // A `BEGIN` on a dead connection is retried on a new one; nothing else is.
        let result = self.with_live_client(
            || head.starts_with("BEGIN"),
            |client, _| client.batch_execute(sql).map_err(pg_err),
        );
        let mut st = self.state.borrow_mut();
        if head.starts_with("BEGIN") {
            st.in_transaction = result.is_ok();
        } else if head.starts_with("COMMIT")
            || head.starts_with("ROLLBACK") && !head.starts_with("ROLLBACK T")
        {
            st.in_transaction = false;
        }
        if result.is_err() && st.client.as_ref().is_some_and(|c| c.is_closed()) {
            // The transaction is gone with the connection.
            st.in_transaction = false;
        }
        result
    }
}

// ---- typed parameters and results ----

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Arg {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_string().as_str().to_sql(&Type::TEXT, out),
            },
            Arg::Float(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::INT8 => (*v as i64).to_sql(ty, out),
                Type::INT4 => (*v as i32).to_sql(ty, out),
                Type::BOOL => (*v != 0.0).to_sql(ty, out),
                _ => v.to_string().as_str().to_sql(&Type::TEXT, out),
            },
            Arg::Text(s) => match *ty {
                Type::INT8 => s.trim().parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.trim().parse::<i32>()?.to_sql(ty, out),
                Type::INT2 => s.trim().parse::<i16>()?.to_sql(ty, out),
                Type::FLOAT8 => s.trim().parse::<f64>()?.to_sql(ty, out),
                Type::BOOL => {
                    matches!(s.as_str(), "1" | "t" | "true" | "TRUE" | "True").to_sql(ty, out)
                }
                _ => s.as_str().to_sql(&Type::TEXT, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Value, BoxError> {
        Ok(match *ty {
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)? as i64),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)? as i64),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)? as i64),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::OID => Value::Int(u32::from_sql(ty, raw)? as i64),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)? as f64),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::NUMERIC => numeric(raw)?,
            _ => Value::Text(String::from_utf8_lossy(raw).into_owned()),
        })
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes PostgreSQL's binary `numeric` (what `SUM` of integers returns): base-10000
/// digits with a weight, a sign and a display scale.
fn numeric(raw: &[u8]) -> std::result::Result<Value, BoxError> {
    let word = |i: usize| -> std::result::Result<i16, BoxError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let (ndigits, weight, sign, scale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let mut value = 0f64;
    for i in 0..ndigits.max(0) as usize {
        value += word(4 + i)? as f64 * 10000f64.powi(weight as i32 - i as i32);
    }
    if sign == 0x4000 {
        value = -value;
    }
    Ok(if scale == 0 && value.abs() < 9.0e15 {
        Value::Int(value as i64)
    } else {
        Value::Real(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_mlflow_spells_them() {
        let t =
            PgTarget::parse("postgresql+psycopg2://u:secret@127.0.0.1:5433/mlflow?sslmode=disable")
                .unwrap();
        assert_eq!(
            t.display,
            "postgresql+psycopg2://u:***@127.0.0.1:5433/mlflow?sslmode=disable"
        );
        assert_eq!(t.database(), "mlflow");
        assert_eq!(t.config.get_ports(), &[5433]);
        let t = PgTarget::parse(
            "postgresql://u@localhost/db?options=-csearch_path%3Dother&client_encoding=utf8",
        )
        .unwrap();
        assert_eq!(t.config.get_options(), Some("-csearch_path=other"));
        let e = PgTarget::parse("postgresql://u:pw@h/db?nonsense=1").unwrap_err();
        assert!(e.message.contains("u:***@h"), "{}", e.message);
        assert!(!e.message.contains("pw"), "{}", e.message);
    }

    #[test]
    fn sslmodes_as_libpq_reads_them() {
        for mode in ["disable", "allow", "prefer", "require"] {
            PgTarget::parse(&format!("postgresql://u@h/db?sslmode={mode}")).unwrap();
        }
        let e = PgTarget::parse("postgresql://u@h/db?sslmode=verify-full&sslrootcert=/nope.crt")
            .unwrap_err();
        assert!(
            e.message
                .contains("root certificate file \"/nope.crt\" does not exist"),
            "{}",
            e.message
        );
        PgTarget::parse("postgresql://u@h/db?sslmode=verify-full&sslrootcert=system").unwrap();
        let e = PgTarget::parse("postgresql://u@h/db?sslmode=maybe").unwrap_err();
        assert!(e.message.contains("sslmode 'maybe'"), "{}", e.message);
    }

    #[test]
    fn numerics_decode() {
        // 12345 = [1, 2345] with weight 1
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0x09, 0x29];
        assert_eq!(numeric(&raw).unwrap(), Value::Int(12345));
        let zero = [0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(numeric(&zero).unwrap(), Value::Int(0));
    }
}
