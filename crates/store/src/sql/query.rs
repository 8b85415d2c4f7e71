//! A small SQL text + arguments builder, and row decoding helpers.

use ferroflow_core::{Error, Result};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Executor, Row};

use super::Dialect;

/// A bound argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(i64),
    Float(f64),
    Text(String),
    Null,
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Self {
        v.map_or(Arg::Null, Into::into)
    }
}

/// SQL text with `?` placeholders and its arguments, built up together.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    pub fn arg(&mut self, a: impl Into<Arg>) -> &mut Self {
        self.args.push(a.into());
        self
    }
    /// Consuming form of [`Sql::arg`], for one-line statements.
    pub fn with(mut self, a: impl Into<Arg>) -> Self {
        self.args.push(a.into());
        self
    }
    /// Appends `text` and binds `args` to its placeholders.
    pub fn push_args(&mut self, text: &str, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.text.push_str(text);
        self.args.extend(args);
        self
    }
    /// Appends `(?, ?, ...)` for a list of values.
    pub fn push_list<A: Into<Arg>>(&mut self, items: impl IntoIterator<Item = A>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for item in items {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.text.push('?');
            self.args.push(item.into());
        }
        if first {
            // An empty IN list: match nothing, portably.
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }
    /// Rewrites the placeholders for `dialect`; call once, before [`Sql::query`].
    pub fn for_dialect(mut self, dialect: Dialect) -> Self {
        self.text = dialect.placeholders(&self.text);
        self
    }
    /// The sqlx query with every argument bound.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(self.text.as_str());
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Float(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::Null => q.bind(Option::<String>::None),
            };
        }
        q
    }
}

/// Maps a database error to an MLflow error, keeping the details in the log only.
pub fn db_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.message().contains("is not a database") => {
            Error::invalid_state(format!(
                "The database file is not a SQLite database: {}",
                d.message()
            ))
        }
        sqlx::Error::Database(d)
            if d.message().contains("database is locked") || d.message().contains("busy") =>
        {
            Error::new(
                ferroflow_core::ErrorCode::TEMPORARILY_UNAVAILABLE,
                "The database is busy; try again",
            )
        }
        _ => {
            tracing::error!(error = %e, "database error");
            Error::internal(format!("Database error: {e}"))
        }
    }
}

pub fn get_str(row: &AnyRow, col: &str) -> Result<String> {
    Ok(get_opt_str(row, col)?.unwrap_or_default())
}

pub fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col).map_err(db_err)
}

pub fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(get_opt_i64(row, col)?.unwrap_or(0))
}

pub fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    match row.try_get::<Option<i64>, _>(col) {
        Ok(v) => Ok(v),
        // Some drivers hand small integers back as 32-bit.
        Err(_) => row
            .try_get::<Option<i32>, _>(col)
            .map(|v| v.map(i64::from))
            .map_err(db_err),
    }
}

pub fn get_f64(row: &AnyRow, col: &str) -> Result<f64> {
    match row.try_get::<Option<f64>, _>(col) {
        Ok(v) => Ok(v.unwrap_or(0.0)),
        Err(_) => Ok(get_opt_i64(row, col)?.unwrap_or(0) as f64),
    }
}

pub fn get_opt_f64(row: &AnyRow, col: &str) -> Result<Option<f64>> {
    match row.try_get::<Option<f64>, _>(col) {
        Ok(v) => Ok(v),
        Err(_) => Ok(get_opt_i64(row, col)?.map(|v| v as f64)),
    }
}

pub fn get_bool(row: &AnyRow, col: &str) -> Result<bool> {
    match row.try_get::<Option<bool>, _>(col) {
        Ok(v) => Ok(v.unwrap_or(false)),
        Err(_) => Ok(get_opt_i64(row, col)?.unwrap_or(0) != 0),
    }
}

pub async fn fetch_all<'e, E: Executor<'e, Database = Any>>(
    e: E,
    d: Dialect,
    sql: Sql,
) -> Result<Vec<AnyRow>> {
    let sql = sql.for_dialect(d);
    sql.query().fetch_all(e).await.map_err(db_err)
}

pub async fn fetch_optional<'e, E: Executor<'e, Database = Any>>(
    e: E,
    d: Dialect,
    sql: Sql,
) -> Result<Option<AnyRow>> {
    let sql = sql.for_dialect(d);
    sql.query().fetch_optional(e).await.map_err(db_err)
}

/// Executes a statement and returns the number of rows it affected.
pub async fn execute<'e, E: Executor<'e, Database = Any>>(
    e: E,
    d: Dialect,
    sql: Sql,
) -> Result<u64> {
    let sql = sql.for_dialect(d);
    sql.query()
        .execute(e)
        .await
        .map(|r| r.rows_affected())
        .map_err(db_err)
}
