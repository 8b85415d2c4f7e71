//! Test databases on real database servers: PostgreSQL and MySQL (MariaDB).
//!
//! `FERROFLOW_TEST_POSTGRES_URI` names a PostgreSQL role, `FERROFLOW_TEST_MYSQL_URI` a MySQL
//! user (without a database), that may create databases; CI starts Debian's servers on
//! loopback and sets both. Each test gets a database of its own, dropped afterwards.
//! Without a server its variants return at once, except under `CI`, where a missing
//! server is a failure rather than a silent pass.

use mysql::prelude::Queryable;

/// A kind of database server the contract runs on.
#[derive(Clone, Copy)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    fn admin_uri(self) -> Option<String> {
        let (var, what) = match self {
            Engine::Postgres => ("FERROFLOW_TEST_POSTGRES_URI", "PostgreSQL"),
            Engine::Mysql => ("FERROFLOW_TEST_MYSQL_URI", "MariaDB"),
        };
        match std::env::var(var) {
            Ok(uri) if !uri.is_empty() => Some(uri.trim_end_matches('/').to_string()),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI runs the store contract on {what}: set {var}")
            }
            _ => None,
        }
    }

    /// Whether this engine's variants run here.
    pub fn configured(self) -> bool {
        self.admin_uri().is_some()
    }

    /// Runs `sql` on an admin connection, on a thread of its own (the synchronous clients
    /// must not run on an async worker).
    fn admin(self, uri: &str, sql: String) {
        let uri = uri.to_string();
        std::thread::spawn(move || match self {
            Engine::Postgres => {
                let mut client = postgres::Client::connect(&uri, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {uri}: {e}"));
                // `DROP DATABASE ... WITH (FORCE)` cannot end an autovacuum worker (it is not
                // this role's): the database is dropped once the worker has finished.
                let mut tries = 0;
                while let Err(e) = client.batch_execute(&sql) {
                    tries += 1;
                    let busy = e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
                        || e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE);
                    assert!(busy && tries < 50, "{sql}: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
            Engine::Mysql => {
                let mut conn = mysql::Conn::new(mysql::Opts::from_url(&uri).unwrap())
                    .unwrap_or_else(|e| panic!("cannot reach the test MySQL at {uri}: {e}"));
                conn.query_drop(&sql).unwrap();
            }
        })
        .join()
        .unwrap();
    }
}

/// A database made for one test; dropped with it.
pub struct Database {
    engine: Engine,
    admin: String,
    name: String,
    /// The database's URI, in MLflow's spelling.
    pub uri: String,
}

impl Database {
    pub fn create(engine: Engine) -> Option<Database> {
        let admin = engine.admin_uri()?;
        let name = format!("ff_test_{}", uuid::Uuid::new_v4().simple());
        engine.admin(&admin, format!("CREATE DATABASE {name}"));
        // A PostgreSQL role's URI names a database to log in to; a MySQL user's names none.
        let base = match engine {
            Engine::Postgres => admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b),
            Engine::Mysql => admin.as_str(),
        };
        Some(Database {
            uri: format!("{base}/{name}"),
            engine,
            admin,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let force = match self.engine {
            Engine::Postgres => " WITH (FORCE)",
            Engine::Mysql => "",
        };
        self.engine.admin(
            &self.admin,
            format!("DROP DATABASE IF EXISTS {}{force}", self.name),
        );
    }
}
