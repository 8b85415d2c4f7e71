//! Test databases on a real MySQL or MariaDB server.
//!
//! `FERROFLOW_TEST_MYSQL_URI` names a user that may create databases, without a database
//! (CI starts Debian's MariaDB on loopback and sets it); each test gets a database of its
//! own, dropped afterwards. Without it the MySQL variants return at once, except under
//! `CI`, where a missing server is a failure rather than a silent pass.

use mysql::prelude::Queryable;

/// A database made for one test; dropped with it.
pub struct Database {
    admin: String,
    name: String,
    /// The database's URI, in MLflow's spelling.
    pub uri: String,
}

fn admin_uri() -> Option<String> {
    match std::env::var("FERROFLOW_TEST_MYSQL_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri.trim_end_matches('/').to_string()),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the store contract on MariaDB: set FERROFLOW_TEST_MYSQL_URI")
        }
        _ => None,
    }
}

/// Whether the MySQL variants run here.
pub fn configured() -> bool {
    admin_uri().is_some()
}

/// Runs `sql` on an admin connection, on a thread of its own (the synchronous client
/// must not run on an async worker).
fn admin(uri: &str, sql: String) {
    let uri = uri.to_string();
    std::thread::spawn(move || {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(&uri).unwrap())
            .unwrap_or_else(|e| panic!("cannot reach the test MySQL at {uri}: {e}"));
        conn.query_drop(&sql).unwrap();
    })
    .join()
    .unwrap();
}

impl Database {
    pub fn create() -> Option<Database> {
        let admin_uri = admin_uri()?;
        let name = format!("ff_test_{}", uuid::Uuid::new_v4().simple());
        admin(&admin_uri, format!("CREATE DATABASE {name}"));
        Some(Database {
            uri: format!("{admin_uri}/{name}"),
            admin: admin_uri,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        admin(
            &self.admin,
            format!("DROP DATABASE IF EXISTS {}", self.name),
        );
    }
}
