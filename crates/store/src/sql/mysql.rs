//! MySQL and MariaDB behind [`Conn`], with the synchronous `mysql` client.
//!
//! Each session is set up so that the store's one SQL text means the same here as on
//! SQLite and PostgreSQL: `ANSI_QUOTES` and `PIPES_AS_CONCAT` are added to the server's
//! `sql_mode` (`"name"` is an identifier, `||` concatenates), and transactions read
//! committed data, as on PostgreSQL. MLflow's column `key` is a reserved word here; the
//! statement text is rewritten once per text to quote it (see [`quote_reserved`]).
//!
//! A connection that dropped is opened again on its next use; a transaction that was
//! open on it is lost and its caller gets `TEMPORARILY_UNAVAILABLE`, as on PostgreSQL.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use ferroflow_core::{Error, ErrorCode, Result};
use mysql::consts::ColumnType;
use mysql::prelude::Queryable;

use super::Dialect;
use super::db::{Conn, Row, Value};
use super::query::{Arg, Sql};

/// How to reach a MySQL or MariaDB database, parsed from an MLflow (SQLAlchemy) URL.
#[derive(Clone)]
pub struct MyTarget {
    opts: mysql::Opts,
    /// TLS was asked for only if the server offers it (`ssl_mode=PREFERRED`).
    tls_optional: bool,
    /// The URL without its password, for messages.
    pub display: String,
}

impl std::fmt::Debug for MyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl PartialEq for MyTarget {
    fn eq(&self, other: &Self) -> bool {
        self.display == other.display
    }
}
impl Eq for MyTarget {}

/// Added to the server's `sql_mode` on every session. `NO_AUTO_VALUE_ON_ZERO` lets the
/// `Default` experiment have the id 0, as MLflow gives it on MySQL.
const SESSION_SETUP: &[&str] = &[
    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'ANSI_QUOTES', 'PIPES_AS_CONCAT', 'NO_AUTO_VALUE_ON_ZERO')",
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
];

fn invalid(display: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid_param(format!("Invalid MySQL URI '{display}': {why}"))
}

fn seconds(display: &str, key: &str, value: &str) -> Result<std::time::Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| invalid(display, format!("{key}={value} is not a number of seconds")))
}

fn truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

impl MyTarget {
    /// Parses `mysql[+driver]://user:password@host:port/database?charset=...&ssl_ca=...`
    /// (and `mariadb[+driver]://`), with the query parameters of PyMySQL and mysqlclient.
    pub fn parse(uri: &str) -> Result<MyTarget> {
        let display = ferroflow_core::uri::without_password(uri);
        let (_, rest) = uri
            .split_once("://")
            .ok_or_else(|| Error::invalid_param(format!("Not a database URI: '{uri}'")))?;
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = base.split_once('/').unwrap_or((base, ""));
        let database = ferroflow_core::uri::percent_decode(database);
        if database.is_empty() {
            return Err(invalid(
                &display,
                "it names no database; add one, as in mysql://user:password@host:3306/mlflow",
            ));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, pass) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((u, p)) => (
                    Some(ferroflow_core::uri::percent_decode(u)),
                    Some(ferroflow_core::uri::percent_decode(p)),
                ),
                None => (Some(ferroflow_core::uri::percent_decode(u)), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| invalid(&display, "an IPv6 host lacks its closing ']'"))?;
            (h.to_string(), after.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (hostport.to_string(), ""),
            }
        };
        let port: u16 = if port.is_empty() {
            3306
        } else {
            port.parse()
                .map_err(|_| invalid(&display, format!("'{port}' is not a port")))?
        };
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            ferroflow_core::uri::percent_decode(&host)
        };

        let mut builder = mysql::OptsBuilder::new()
            .ip_or_hostname(Some(host))
            .tcp_port(port)
            .user(user)
            .pass(pass)
            .db_name(Some(database))
            .tcp_connect_timeout(Some(std::time::Duration::from_secs(10)))
            .tcp_keepalive_time_ms(Some(60_000))
            .stmt_cache_size(Some(128))
            .prefer_socket(false)
            .init(SESSION_SETUP.to_vec());
        let (mut ssl_mode, mut ca, mut cert, mut key) = (None::<String>, None, None, None);
        let mut verify_cert = None::<bool>;
        let mut verify_identity = None::<bool>;
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = ferroflow_core::uri::percent_decode(v);
            match k {
                "charset" => {
                    if !matches!(
                        v.to_ascii_lowercase().as_str(),
                        "utf8mb4" | "utf8" | "utf8mb3"
                    ) {
                        return Err(invalid(
                            &display,
                            format!("charset={v}: Ferroflow speaks utf8mb4 only"),
                        ));
                    }
                }
                "unix_socket" => builder = builder.socket(Some(v)).prefer_socket(true),
                "connect_timeout" => {
                    builder = builder.tcp_connect_timeout(Some(seconds(&display, k, &v)?))
                }
                "read_timeout" => builder = builder.read_timeout(Some(seconds(&display, k, &v)?)),
                "write_timeout" => builder = builder.write_timeout(Some(seconds(&display, k, &v)?)),
                "ssl_mode" | "ssl-mode" => ssl_mode = Some(v.to_ascii_uppercase()),
                "ssl_disabled" if truthy(&v) => ssl_mode = Some("DISABLED".into()),
                "ssl_disabled" => {}
                "ssl_ca" | "ssl-ca" => ca = Some(v),
                "ssl_cert" | "ssl-cert" => cert = Some(v),
                "ssl_key" | "ssl-key" => key = Some(v),
                "ssl_verify_cert" => verify_cert = Some(truthy(&v)),
                "ssl_verify_identity" | "ssl_check_hostname" => verify_identity = Some(truthy(&v)),
                // Options of the Python drivers that change nothing here.
                "binary_prefix" | "local_infile" | "autocommit" | "program_name" => {}
                other => {
                    return Err(invalid(
                        &display,
                        format!(
                            "unknown parameter '{other}' (known: charset, unix_socket, connect_timeout, read_timeout, write_timeout, ssl_mode, ssl_disabled, ssl_ca, ssl_cert, ssl_key, ssl_verify_cert, ssl_verify_identity, ssl_check_hostname)"
                        ),
                    ));
                }
            }
        }
        if cert.is_some() != key.is_some() {
            return Err(invalid(
                &display,
                "ssl_cert and ssl_key go together: give both or neither",
            ));
        }
        // As PyMySQL and libmysqlclient: no TLS unless asked for; a CA given means the
        // server's certificate and name are checked against it.
        let asked = ca.is_some() || cert.is_some() || verify_cert == Some(true);
        let mode = match ssl_mode.as_deref() {
            None if !asked => "DISABLED",
            None if ca.is_some() || verify_cert == Some(true) => {
                if verify_identity == Some(false) {
                    "VERIFY_CA"
                } else {
                    "VERIFY_IDENTITY"
                }
            }
            None => "REQUIRED",
            Some(m) => m,
        };
        let tls_optional = mode == "PREFERRED";
        let (check_chain, check_name) = match mode {
            "DISABLED" => (None, false),
            "PREFERRED" | "REQUIRED" => (Some(false), false),
            "VERIFY_CA" => (Some(true), false),
            "VERIFY_IDENTITY" => (Some(true), true),
            other => {
                return Err(invalid(
                    &display,
                    format!(
                        "ssl_mode={other}: expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                    ),
                ));
            }
        };
        if let Some(check_chain) = check_chain {
            for path in [&ca, &cert, &key].into_iter().flatten() {
                if !std::path::Path::new(path).is_file() {
                    return Err(invalid(&display, format!("the file {path} does not exist")));
                }
            }
            let mut ssl = mysql::SslOpts::default()
                .with_danger_accept_invalid_certs(!check_chain)
                .with_danger_skip_domain_validation(!check_name);
            if let Some(ca) = ca {
                ssl = ssl.with_root_cert_path(Some(std::path::PathBuf::from(ca)));
            }
            if let (Some(cert), Some(key)) = (cert, key) {
                ssl = ssl.with_client_identity(Some(mysql::ClientIdentity::new(
                    std::path::PathBuf::from(cert),
                    std::path::PathBuf::from(key),
                )));
            }
            builder = builder.ssl_opts(Some(ssl));
        }
        Ok(MyTarget {
            opts: builder.into(),
            tls_optional,
            display,
        })
    }

    /// The database name, for messages.
    pub fn database(&self) -> &str {
        self.opts.get_db_name().unwrap_or("")
    }
}

/// Quotes MLflow's column names that MySQL reserves (`key`) wherever they stand bare
/// outside string literals, quoted identifiers and `--` comments, so that one SQL text
/// serves every dialect. Keywords in the store's SQL are upper case (`ON DUPLICATE KEY
/// UPDATE`), column names lower case.
pub fn quote_reserved(sql: &str) -> String {
    const RESERVED: &[&str] = &["key"];
    let mut out = String::with_capacity(sql.len() + 8);
    let bytes = sql.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    // Text up to `copied` is in `out`; every split falls on an ASCII byte.
    let (mut i, mut copied, mut quote) = (0, 0, None::<u8>);
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
        } else if matches!(b, b'\'' | b'"' | b'`') {
            quote = Some(b);
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = (i..bytes.len())
                .find(|&j| bytes[j] == b'\n')
                .unwrap_or(bytes.len());
            continue;
        } else if ident(b) && (i == 0 || !ident(bytes[i - 1])) {
            let end = (i..bytes.len())
                .find(|&j| !ident(bytes[j]))
                .unwrap_or(bytes.len());
            if RESERVED.contains(&&sql[i..end]) {
                out.push_str(&sql[copied..i]);
                out.push('"');
                out.push_str(&sql[i..end]);
                out.push('"');
                copied = end;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);
    out
}

struct State {
    conn: Option<mysql::Conn>,
    texts: HashMap<String, Arc<str>>,
    in_transaction: bool,
}

pub struct MyConn {
    target: Arc<MyTarget>,
    state: RefCell<State>,
}

/// Whether the error means the connection is gone.
fn is_dead(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(m) => matches!(m.code, 1053 | 1927 | 2006 | 2013 | 4031),
        other => other.is_connectivity_error(),
    }
}

/// Maps a MySQL error to an MLflow error; details go to the log.
pub fn my_err(e: mysql::Error) -> Error {
    match &e {
        mysql::Error::MySqlError(m) => match m.code {
            // lock wait timeout, deadlock, too many connections, shutdown, killed
            1205 | 1213 | 1040 | 1203 | 1053 | 1927 | 4031 => Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                "The database is busy; try again",
            ),
            // Another server on the same database wrote the same key in the meantime.
            1062 | 1586 => Error::new(
                ErrorCode::RESOURCE_ALREADY_EXISTS,
                format!("The object already exists: {}", m.message),
            ),
            1021 | 1114 => Error::new(ErrorCode::RESOURCE_EXHAUSTED, "The database's disk is full"),
            1044 | 1142 | 1143 | 1227 | 1290 | 1792 => {
                tracing::error!(error = %m, "database refused a write");
                Error::new(
                    ErrorCode::PERMISSION_DENIED,
                    format!("The database refused the operation: {}", m.message),
                )
            }
            1406 => Error::invalid_param(format!("A value is too long: {}", m.message)),
            code => {
                tracing::error!(error = %m, code, "database error");
                Error::internal(format!("Database error: {}", m.message))
            }
        },
        e if is_dead(e) => {
            tracing::warn!(error = %e, "lost the connection to MySQL");
            Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                "The database is unreachable; try again",
            )
        }
        _ => {
            tracing::error!(error = %e, "database error");
            Error::internal(format!("Database error: {e}"))
        }
    }
}

impl MyConn {
    /// Connects now, so that a wrong address or password is reported at start.
    pub fn connect(target: Arc<MyTarget>) -> Result<MyConn> {
        let conn = Self::open(&target)?;
        Ok(MyConn {
            target,
            state: RefCell::new(State {
                conn: Some(conn),
                texts: HashMap::new(),
                in_transaction: false,
            }),
        })
    }

    fn open(target: &MyTarget) -> Result<mysql::Conn> {
        let mut connected = mysql::Conn::new(target.opts.clone());
        if target.tls_optional
            && matches!(
                connected,
                Err(mysql::Error::DriverError(
                    mysql::DriverError::TlsNotSupported
                ))
            )
        {
            connected =
                mysql::Conn::new(mysql::OptsBuilder::from_opts(target.opts.clone()).ssl_opts(None));
        }
        connected.map_err(|e| {
            let why = match &e {
                mysql::Error::MySqlError(m) => m.message.clone(),
                mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((
                    addr,
                    desc,
                    _,
                )))) => format!("{addr}: {desc}"),
                other => other.to_string(),
            };
            Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                format!(
                    "Cannot connect to the MySQL database {}: {why}",
                    target.display
                ),
            )
        })
    }

    /// Runs `f` on a live connection with the statement text rewritten for MySQL,
    /// reconnecting first if the last one dropped outside a transaction.
    fn with_conn<T>(
        &self,
        sql: &str,
        f: impl FnOnce(&mut mysql::Conn, &str) -> std::result::Result<T, mysql::Error>,
    ) -> Result<T> {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        if st.conn.is_none() {
            if st.in_transaction {
                return Err(Error::new(
                    ErrorCode::TEMPORARILY_UNAVAILABLE,
                    "The connection to the database was lost during a transaction; try again",
                ));
            }
            st.conn = Some(Self::open(&self.target)?);
        }
        let text = match st.texts.get(sql) {
            Some(t) => t.clone(),
            None => {
                if st.texts.len() >= 512 {
                    st.texts.clear();
                }
                let t: Arc<str> = quote_reserved(sql).into();
                st.texts.insert(sql.to_string(), t.clone());
                t
            }
        };
        let conn = st.conn.as_mut().expect("connected above");
        match f(conn, &text) {
            Ok(v) => Ok(v),
            Err(e) => {
                if is_dead(&e) {
                    st.conn = None;
                }
                Err(my_err(e))
            }
        }
    }

    /// Like [`MyConn::with_conn`], and once more on a new connection when this one turned
    /// out to be dead and `again` says nothing was done yet.
    fn with_live_conn<T>(
        &self,
        sql: &str,
        again: impl Fn() -> bool,
        mut f: impl FnMut(&mut mysql::Conn, &str) -> std::result::Result<T, mysql::Error>,
    ) -> Result<T> {
        let first = self.with_conn(sql, &mut f);
        let retry = first.is_err() && {
            let st = self.state.borrow();
            !st.in_transaction && st.conn.is_none()
        };
        if retry && again() {
            tracing::info!(database = %self.target.display, "reconnecting to MySQL");
            return self.with_conn(sql, f);
        }
        first
    }
}

fn param(a: &Arg) -> mysql::Value {
    match a {
        Arg::Null => mysql::Value::NULL,
        Arg::Int(v) => mysql::Value::Int(*v),
        Arg::Float(v) => mysql::Value::Double(*v),
        Arg::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
    }
}

fn params(args: &[Arg]) -> mysql::Params {
    if args.is_empty() {
        mysql::Params::Empty
    } else {
        mysql::Params::Positional(args.iter().map(param).collect())
    }
}

/// A result value as store code reads it. The text protocol (statements without
/// arguments) sends every value as text; the column's type says what it was.
fn value(v: mysql::Value, ty: ColumnType) -> Value {
    use ColumnType::*;
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Bytes(b) => {
            let text = String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            let number = || -> Option<Value> {
                match ty {
                    MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_INT24
                    | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR => text.parse().ok().map(Value::Int),
                    MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => text.parse().ok().map(Value::Real),
                    MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => text
                        .parse()
                        .ok()
                        .map(Value::Int)
                        .or_else(|| text.parse().ok().map(Value::Real)),
                    _ => None,
                }
            };
            number().unwrap_or(Value::Text(text))
        }
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => Value::Int(i64::try_from(u).unwrap_or(i64::MAX)),
        mysql::Value::Float(f) => Value::Real(f64::from(f)),
        mysql::Value::Double(f) => Value::Real(f),
        other => Value::Text(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn each_row<P: mysql::prelude::Protocol>(
    result: mysql::QueryResult<'_, '_, '_, P>,
    f: &mut dyn FnMut(Row) -> Result<bool>,
    delivered: &std::cell::Cell<bool>,
    failed: &mut Option<Error>,
) -> std::result::Result<(), mysql::Error> {
    let columns = result.columns();
    let cols: Arc<Vec<String>> = Arc::new(
        columns
            .as_ref()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect(),
    );
    let types: Vec<ColumnType> = columns.as_ref().iter().map(|c| c.column_type()).collect();
    for row in result {
        let vals = row?
            .unwrap()
            .into_iter()
            .zip(&types)
            .map(|(v, ty)| value(v, *ty))
            .collect();
        delivered.set(true);
        match f(Row::new(cols.clone(), vals)) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                *failed = Some(e);
                break;
            }
        }
    }
    Ok(())
}

impl Conn for MyConn {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn execute(&self, sql: &Sql) -> Result<u64> {
        self.with_conn(&sql.text, |conn, text| {
            if sql.args.is_empty() {
                conn.query_iter(text).map(|r| r.affected_rows())
            } else {
                conn.exec_iter(text, params(&sql.args))
                    .map(|r| r.affected_rows())
            }
        })
    }

    fn query_each(&self, sql: &Sql, f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
        let delivered = std::cell::Cell::new(false);
        let mut failed = None;
        self.with_live_conn(
            &sql.text,
            || !delivered.get(),
            |conn, text| {
                if sql.args.is_empty() {
                    each_row(conn.query_iter(text)?, f, &delivered, &mut failed)
                } else {
                    each_row(
                        conn.exec_iter(text, params(&sql.args))?,
                        f,
                        &delivered,
                        &mut failed,
                    )
                }
            },
        )?;
        failed.map_or(Ok(()), Err)
    }

    fn insert_returning_id(&self, sql: Sql, id_col: &str) -> Result<i64> {
        let id = self.with_conn(&sql.text, |conn, text| {
            conn.exec_iter(text, params(&sql.args))
                .map(|r| r.last_insert_id())
        })?;
        id.and_then(|id| i64::try_from(id).ok())
            .filter(|id| *id > 0)
            .ok_or_else(|| Error::internal(format!("the insert gave no {id_col}")))
    }

    fn execute_script(&self, sql: &str) -> Result<()> {
        let head = sql.trim_start().get(..8).unwrap_or("").to_ascii_uppercase();
        let begins = head.starts_with("BEGIN");
        let result = self.with_live_conn(
            sql,
            || begins,
            |conn, text| {
                let mut result = conn.query_iter(text)?;
                while let Some(set) = result.iter() {
                    for row in set {
                        row?;
                    }
                }
                Ok(())
            },
        );
        let mut st = self.state.borrow_mut();
        if begins {
            st.in_transaction = result.is_ok();
        } else if head.starts_with("COMMIT")
            || head.starts_with("ROLLBACK") && !head.starts_with("ROLLBACK T")
        {
            st.in_transaction = false;
        }
        if result.is_err() && st.conn.is_none() {
            st.in_transaction = false;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_column_names_are_quoted_outside_strings() {
        assert_eq!(
            quote_reserved(
                "INSERT INTO tags (key, value) VALUES (?, 'key') ON DUPLICATE KEY UPDATE value = VALUES(value)"
            ),
            "INSERT INTO tags (\"key\", value) VALUES (?, 'key') ON DUPLICATE KEY UPDATE value = VALUES(value)"
        );
        assert_eq!(
            quote_reserved("SELECT t.key, mkey, key_x FROM t WHERE \"key\" = ?"),
            "SELECT t.\"key\", mkey, key_x FROM t WHERE \"key\" = ?"
        );
        assert_eq!(
            quote_reserved("a = 'é' AND key = ?"),
            "a = 'é' AND \"key\" = ?"
        );
        assert_eq!(
            quote_reserved("-- the key's value\nCREATE TABLE t (`key` int, key int)"),
            "-- the key's value\nCREATE TABLE t (`key` int, \"key\" int)"
        );
    }

    #[test]
    fn urls_as_mlflow_spells_them() {
        let t = MyTarget::parse("mysql+pymysql://u:p%40ss@db.example:3307/mlflow?charset=utf8mb4")
            .unwrap();
        assert_eq!(t.opts.get_tcp_port(), 3307);
        assert_eq!(t.opts.get_pass(), Some("p@ss"));
        assert_eq!(t.database(), "mlflow");
        assert!(t.opts.get_ssl_opts().is_none());
        assert!(!t.display.contains("p%40ss"));
        let t = MyTarget::parse("mariadb://u@localhost/m?ssl_mode=REQUIRED").unwrap();
        assert_eq!(t.opts.get_tcp_port(), 3306);
        assert!(t.opts.get_ssl_opts().unwrap().accept_invalid_certs());
        for bad in [
            "mysql://u:p@h:3306",
            "mysql://u:p@h:x/db",
            "mysql://u:p@h/db?charset=latin1",
            "mysql://u:p@h/db?ssl_mode=SOMETIMES",
            "mysql://u:p@h/db?ssl_ca=/nope.pem",
            "mysql://u:p@h/db?ssl_cert=/a.pem",
            "mysql://u:p@h/db?frobnicate=1",
        ] {
            let e = MyTarget::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::INVALID_PARAMETER_VALUE, "{bad}");
            assert!(!e.message.contains(":p@"), "{}", e.message);
        }
    }
}
