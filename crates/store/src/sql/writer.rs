//! The write path: one writer thread and connection that groups concurrent writes into
//! one transaction (group commit).
//!
//! Each write runs inside its own savepoint, so a write that fails rolls back alone and
//! the others in its group still commit. Callers are answered only after the group's
//! `COMMIT` returned: an acknowledged write is in the database's log.

use std::panic::AssertUnwindSafe;

use ferroflow_core::{Error, Result};
use tokio::sync::{mpsc, oneshot};

use super::db::Conn;

type Completion = Box<dyn FnOnce(Option<Error>) + Send>;

/// Runs a write; returns whether it succeeded and how to answer its caller.
type RunWrite = dyn FnOnce(&dyn Conn) -> (bool, Completion) + Send;

struct Job {
    run: Box<RunWrite>,
}

/// How many queued writes one transaction may take.
const MAX_GROUP: usize = 512;

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn spawn(conn: Box<dyn Conn>) -> Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>(8192);
        std::thread::Builder::new()
            .name("ferroflow-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| Error::internal(format!("cannot start the database writer: {e}")))?;
        Ok(Writer { tx })
    }

    /// Runs `f` inside the next group transaction and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Conn) -> Result<T> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T>>();
        let run = Box::new(move |conn: &dyn Conn| {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(Error::internal("a write panicked; it was rolled back")));
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit_error| {
                let _ = done_tx.send(match commit_error {
                    Some(e) if ok => Err(e),
                    _ => result,
                });
            });
            (ok, completion)
        });
        self.tx
            .send(Job { run })
            .await
            .map_err(|_| Error::internal("the database writer has stopped"))?;
        done_rx
            .await
            .map_err(|_| Error::internal("the database writer dropped a write"))?
    }
}

fn run(conn: Box<dyn Conn>, mut rx: mpsc::Receiver<Job>) {
    let begin = conn.dialect().begin_write();
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_script(begin) {
            // Nothing ran: every caller gets the error.
            for job in jobs {
                let (_, completion) = (job.run)(&FailingConn(e.clone()));
                completion(Some(e.clone()));
            }
            continue;
        }
        let mut completions = Vec::with_capacity(jobs.len());
        let mut broken: Option<Error> = None;
        for job in jobs {
            if let Some(err) = &broken {
                let (_, completion) = (job.run)(&FailingConn(err.clone()));
                completions.push(completion);
                continue;
            }
            if let Err(e) = conn.execute_script("SAVEPOINT ff_write") {
                broken = Some(e.clone());
                let (_, completion) = (job.run)(&FailingConn(e));
                completions.push(completion);
                continue;
            }
            let (ok, completion) = (job.run)(&*conn);
            let end = if ok {
                conn.execute_script("RELEASE SAVEPOINT ff_write")
            } else {
                conn.execute_script("ROLLBACK TO SAVEPOINT ff_write; RELEASE SAVEPOINT ff_write")
            };
            if let Err(e) = end {
                broken = Some(e);
            }
            completions.push(completion);
        }
        let commit_error = match broken {
            Some(e) => {
                let _ = conn.execute_script("ROLLBACK");
                Some(e)
            }
            None => match conn.execute_script("COMMIT") {
                Ok(()) => None,
                Err(e) => {
                    let _ = conn.execute_script("ROLLBACK");
                    Some(e)
                }
            },
        };
        for c in completions {
            c(commit_error.clone());
        }
    }
}

/// Stands in for the connection when the transaction could not run: every statement
/// fails with the transaction's error, so the job reports it to its caller.
struct FailingConn(Error);

impl Conn for FailingConn {
    fn dialect(&self) -> super::Dialect {
        super::Dialect::Sqlite
    }
    fn execute(&self, _: &super::query::Sql) -> Result<u64> {
        Err(self.0.clone())
    }
    fn query_each(
        &self,
        _: &super::query::Sql,
        _: &mut dyn FnMut(super::db::Row) -> Result<bool>,
    ) -> Result<()> {
        Err(self.0.clone())
    }
    fn execute_script(&self, _: &str) -> Result<()> {
        Err(self.0.clone())
    }
}
