//! The differences between SQL databases, isolated.
//!
//! Store code writes one SQL text with `?` placeholders and asks the dialect for the few
//! constructs that differ: placeholders, locking transactions, pattern matching.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl Dialect {
    /// Rewrites `?` placeholders into the dialect's form (`$1`, `$2`, ... for PostgreSQL).
    /// Question marks inside string literals are left alone.
    pub fn placeholders(self, sql: &str) -> String {
        if self != Dialect::Postgres {
            return sql.to_string();
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        let mut in_str = false;
        for c in sql.chars() {
            match c {
                '\'' => {
                    in_str = !in_str;
                    out.push(c)
                }
                '?' if !in_str => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// Starts a transaction that takes the write lock at once, so that concurrent writers
    /// queue instead of failing with a busy error half-way.
    pub fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres | Dialect::Mysql => "BEGIN",
        }
    }

    /// An `ORDER BY` that returns a table's rows in the order they were written, for the
    /// lists inside an entity (a run's params, tags, inputs ...). SQLite already returns
    /// them so (by rowid within an index entry), and so does MySQL by primary key; a
    /// PostgreSQL plan may not, so there they are ordered by their place in the heap, as a
    /// scan of the table returns them.
    pub fn written_order(self, table: &str) -> String {
        match self {
            Dialect::Postgres => format!(" ORDER BY {table}.ctid"),
            Dialect::Sqlite | Dialect::Mysql => String::new(),
        }
    }

    /// The index a query on `table` is to read, after the table's name (`FROM metrics`).
    /// Only MySQL needs telling: MariaDB reads one run's metric history through MLflow's
    /// primary key, which starts with the key, and sorts all of it (ten times slower than
    /// walking `ferroflow_metrics_history` in order).
    pub fn use_index(self, index: &str) -> String {
        match self {
            Dialect::Mysql => format!(" FORCE INDEX ({index})"),
            Dialect::Sqlite | Dialect::Postgres => String::new(),
        }
    }

    /// The clause that locks the rows a `SELECT` reads until the transaction ends.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres | Dialect::Mysql => " FOR UPDATE",
        }
    }

    /// `INSERT` that skips rows a constraint would refuse, as (before the table, after
    /// the values). SQLite's `OR IGNORE` also spares a multi-row statement its statement
    /// journal, which `ON CONFLICT DO NOTHING` (uniqueness only) does not.
    pub fn insert_ignoring(self) -> (&'static str, &'static str) {
        match self {
            Dialect::Sqlite => ("INSERT OR IGNORE INTO ", ""),
            Dialect::Postgres => ("INSERT INTO ", " ON CONFLICT DO NOTHING"),
            Dialect::Mysql => ("INSERT IGNORE INTO ", ""),
        }
    }

    /// The tail of an `INSERT` that updates `set` from the new row when a row with the same
    /// `conflict` key exists (MySQL finds the key itself: any unique key of the table).
    ///
    /// On MySQL a key that differs only in case is the same key; the row then takes the
    /// key as this insert spells it, as MLflow's `session.merge` leaves it there.
    pub fn upsert(self, conflict: &str, set: &[&str]) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => {
                let set: Vec<String> = set.iter().map(|c| format!("{c} = excluded.{c}")).collect();
                format!(" ON CONFLICT ({conflict}) DO UPDATE SET {}", set.join(", "))
            }
            Dialect::Mysql => {
                let set: Vec<String> = conflict
                    .split(", ")
                    .chain(set.iter().copied())
                    .map(|c| format!("{c} = VALUES({c})"))
                    .collect();
                format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
            }
        }
    }

    /// The tail of an `INSERT` that skips rows whose unique key exists already, and only
    /// those (MySQL's `INSERT IGNORE` would also pass over other errors). `col` is any
    /// column of the table, for MySQL's assignment that changes nothing.
    pub fn skip_duplicates(self, col: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => " ON CONFLICT DO NOTHING".to_string(),
            Dialect::Mysql => format!(" ON DUPLICATE KEY UPDATE {col} = {col}"),
        }
    }

    /// The tail of an `INSERT` into `table` that replaces the row with the same `conflict`
    /// key only when the new row is greater in `order` (compared column by column, as a
    /// tuple), copying `order` and `also` from it.
    ///
    /// MySQL has no condition on the update as a whole; each assignment carries it, and
    /// MySQL evaluates assignments left to right, each seeing the ones before. So `also`
    /// goes first and `order` last, least significant column first: when the new row is
    /// greater, the columns already assigned equal the new row's, and the comparison that
    /// remains is that of the columns not assigned yet, which is true exactly when the
    /// column being assigned still differs.
    pub fn upsert_if_greater(
        self,
        table: &str,
        conflict: &str,
        order: &[&str],
        also: &[&str],
    ) -> String {
        let new: Vec<String> = order
            .iter()
            .map(|c| match self {
                Dialect::Mysql => format!("VALUES({c})"),
                _ => format!("excluded.{c}"),
            })
            .collect();
        match self {
            Dialect::Sqlite | Dialect::Postgres => {
                let set: Vec<String> = also
                    .iter()
                    .chain(order)
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                let old: Vec<String> = order.iter().map(|c| format!("{table}.{c}")).collect();
                format!(
                    " ON CONFLICT ({conflict}) DO UPDATE SET {} WHERE ({}) > ({})",
                    set.join(", "),
                    new.join(", "),
                    old.join(", ")
                )
            }
            Dialect::Mysql => {
                let greater = format!("({}) > ({})", new.join(", "), order.join(", "));
                let set: Vec<String> = also
                    .iter()
                    .chain(order.iter().rev())
                    .map(|c| format!("{c} = IF({greater}, VALUES({c}), {c})"))
                    .collect();
                format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
            }
        }
    }

    /// `col` compared byte for byte: MySQL's collations ignore case (and trailing spaces),
    /// its `BINARY` does not. Search filters compare so on every database, as MLflow's do.
    pub fn exact(self, col: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => col.to_string(),
            Dialect::Mysql => format!("BINARY {col}"),
        }
    }

    /// `col = ?` or `col != ?` (`op`), compared byte for byte, and how many times the
    /// value is bound. On MySQL the comparison under the collation comes first, so that
    /// an index on `col` still serves it.
    pub fn equality(self, col: &str, op: &str) -> (String, usize) {
        match (self, op) {
            (Dialect::Mysql, "=") => (format!("({col} = ? AND BINARY {col} = ?)"), 2),
            (Dialect::Mysql, _) => (format!("({col} {op} ? OR BINARY {col} {op} ?)"), 2),
            _ => (format!("{col} {op} ?"), 1),
        }
    }

    /// A case-sensitive `LIKE` of `col` against one bound pattern.
    ///
    /// SQLite's `LIKE` ignores ASCII case, so there the pattern is translated to `GLOB`.
    pub fn like(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{col} GLOB ?"),
            Dialect::Postgres => format!("{col} LIKE ?"),
            Dialect::Mysql => format!("({col} LIKE ? AND BINARY {col} LIKE BINARY ?)"),
        }
    }

    /// The bound value(s) for [`Dialect::like`].
    pub fn like_args(self, pattern: &str) -> Vec<String> {
        match self {
            Dialect::Sqlite => vec![like_to_glob(pattern)],
            Dialect::Postgres => vec![pattern.to_string()],
            Dialect::Mysql => vec![pattern.to_string(), pattern.to_string()],
        }
    }

    /// A case-insensitive `LIKE`.
    pub fn ilike(self, col: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Mysql => format!("LOWER({col}) LIKE LOWER(?)"),
            Dialect::Postgres => format!("{col} ILIKE ?"),
        }
    }
}

/// Translates a SQL `LIKE` pattern (`%`, `_`) to an equivalent SQLite `GLOB` pattern,
/// escaping GLOB's own wildcards.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders() {
        assert_eq!(
            Dialect::Postgres.placeholders("a = ? AND b = '?' AND c = ?"),
            "a = $1 AND b = '?' AND c = $2"
        );
        assert_eq!(Dialect::Sqlite.placeholders("a = ?"), "a = ?");
    }

    #[test]
    fn glob_translation() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("x*y?[z"), "x[*]y[?][[]z");
    }
}
