//! A small SQL text + arguments builder, and the pieces every search compiles with.
//!
//! Statements are written once with `?` placeholders; a [`super::db::Conn`] for a
//! database with another placeholder style rewrites them with [`super::Dialect`].

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
    /// Consuming form of [`Sql::push`], for one-line statements.
    pub fn then(mut self, text: &str) -> Self {
        self.text.push_str(text);
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
    /// Appends `ORDER BY ... LIMIT max + 1 OFFSET offset`: one row more than a page, to
    /// tell whether another page follows (see [`page_of`]).
    pub fn push_page(&mut self, order_by: &[String], max: i64, offset: i64) -> &mut Self {
        self.push(" ORDER BY ").push(&order_by.join(", "));
        self.push(" LIMIT ? OFFSET ?").arg(max + 1).arg(offset)
    }
    /// Appends ` IN (?, ?, ...)` for a list of strings (an empty list matches nothing). On
    /// PostgreSQL a long list is ` = ANY(...)` of one array argument instead: one argument
    /// to bind and one statement text for every length, where a thousand arguments cost
    /// the server about a millisecond to bind and plan on each execution (a short list
    /// stays `IN`, which it plans faster).
    pub fn push_in<S: AsRef<str>>(
        &mut self,
        d: Dialect,
        items: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        const LONG_LIST: usize = 32;
        let items: Vec<S> = items.into_iter().collect();
        if d != Dialect::Postgres || items.len() <= LONG_LIST {
            self.text.push_str(" IN ");
            return self.push_list(items.iter().map(|s| s.as_ref().to_string()));
        }
        let mut array = String::from("{");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                array.push(',');
            }
            array.push('"');
            for ch in item.as_ref().chars() {
                if ch == '"' || ch == '\\' {
                    array.push('\\');
                }
                array.push(ch);
            }
            array.push('"');
        }
        array.push('}');
        self.push(" = ANY(CAST(CAST(? AS text) AS text[]))")
            .arg(array)
    }
    /// Appends `(?, ?, ...)` for a list of values; an empty list matches nothing.
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
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }
}

use ferroflow_core::search::{Cond, Expr, Op, Value};
use ferroflow_core::{Result, page_token};

use super::Dialect;

/// Compiles a filter's `AND`/`OR` structure into `sql`, calling `cond` for each comparison.
pub fn compile_expr<K>(
    f: &Expr<K>,
    sql: &mut Sql,
    cond: &mut dyn FnMut(&Cond<K>, &mut Sql) -> Result<()>,
) -> Result<()> {
    match f {
        Expr::And(parts) | Expr::Or(parts) => {
            let joiner = if matches!(f, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                compile_expr(p, sql, cond)?;
            }
            sql.push(")");
            Ok(())
        }
        Expr::Cond(c) => cond(c, sql),
    }
}

/// `col op value` for string comparisons, as every search does them.
pub fn string_cond(d: Dialect, col: &str, op: Op, value: &Value, sql: &mut Sql) {
    match (op, value) {
        (Op::Like, Value::Str(p)) => {
            sql.push(&d.like(col));
            for a in d.like_args(p) {
                sql.arg(a);
            }
        }
        (Op::ILike, Value::Str(p)) => {
            sql.push(&d.ilike(col)).arg(p);
        }
        (Op::In | Op::NotIn, Value::List(l)) => {
            sql.push(&format!("{} {} ", d.exact(col), op.as_str()))
                .push_list(l.iter().cloned());
        }
        (Op::Eq | Op::Ne, Value::Str(s)) => {
            let (text, binds) = d.equality(col, op.as_str());
            sql.push(&text);
            for _ in 0..binds {
                sql.arg(s);
            }
        }
        (_, Value::Str(s)) | (_, Value::Num(s)) => {
            sql.push(&format!("{col} {} ?", op.as_str())).arg(s);
        }
        _ => {
            sql.push("1 = 0");
        }
    }
}

/// A page from rows fetched with `LIMIT max + 1 OFFSET offset`: the first `max` rows,
/// and a token for the next page when there was one more.
pub fn page_of<T>(mut rows: Vec<T>, max: i64, offset: i64) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > max {
        rows.truncate(max as usize);
        (rows, Some(page_token::encode_offset(offset + max)))
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_are_one_array_argument_on_postgres_only() {
        let mut long = vec!["b\"c", "d\\e", "f,g"];
        long.extend(["a"; 30]);
        let mut pg = Sql::new("x");
        pg.push_in(Dialect::Postgres, &long);
        assert_eq!(pg.text, "x = ANY(CAST(CAST(? AS text) AS text[]))");
        let expected = format!(r#"{{"b\"c","d\\e","f,g"{}}}"#, r#","a""#.repeat(30));
        assert_eq!(pg.args, [Arg::Text(expected)]);
        let mut short = Sql::new("x");
        short.push_in(Dialect::Postgres, ["a", "b"]);
        assert_eq!(short.text, "x IN (?, ?)");
        let mut lite = Sql::new("x");
        lite.push_in(Dialect::Sqlite, ["a", "b"]);
        assert_eq!(lite.text, "x IN (?, ?)");
        let mut empty = Sql::new("x");
        empty.push_in(Dialect::Mysql, Vec::<String>::new());
        assert_eq!(empty.text, "x IN (NULL)");
    }
}
