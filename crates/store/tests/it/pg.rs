//! Test databases on a real PostgreSQL server.
//!
//! `FERROFLOW_TEST_POSTGRES_URI` names a role that may create databases (CI starts
//! Debian's PostgreSQL on loopback and sets it); each test gets a database of its own,
//! dropped afterwards. Without it the PostgreSQL variants return at once, except under
//! `CI`, where a missing server is a failure rather than a silent pass.

/// A database made for one test; dropped with it.
pub struct Database {
    admin: String,
    name: String,
    /// The database's URI, in MLflow's spelling.
    pub uri: String,
}

fn admin_uri() -> Option<String> {
    match std::env::var("FERROFLOW_TEST_POSTGRES_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the store contract on PostgreSQL: set FERROFLOW_TEST_POSTGRES_URI")
        }
        _ => None,
    }
}

/// Whether the PostgreSQL variants run here.
pub fn configured() -> bool {
    admin_uri().is_some()
}

/// Runs `sql` on the admin connection, on a thread of its own (the synchronous client
/// must not run on an async worker).
fn admin(uri: &str, sql: String) {
    let uri = uri.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&uri, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {uri}: {e}"));
        client.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

impl Database {
    pub fn create() -> Option<Database> {
        let admin_uri = admin_uri()?;
        let name = format!("ff_test_{}", uuid::Uuid::new_v4().simple());
        admin(&admin_uri, format!("CREATE DATABASE {name}"));
        let base = admin_uri
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin_uri.clone());
        Some(Database {
            uri: format!("{base}/{name}"),
            admin: admin_uri,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        admin(
            &self.admin,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
