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
