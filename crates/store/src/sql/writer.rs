//! The write path: one writer connection that groups concurrent writes into one
//! transaction (group commit).
//!
//! Each write runs inside its own savepoint, so a write that fails rolls back alone and
//! the others in its group still commit. Callers are answered only after the group's
//! `COMMIT` returned: an acknowledged write is in the database's log.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use ferroflow_core::{Error, Result};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, AnyPool, Executor};
use tokio::sync::{mpsc, oneshot};

use super::Dialect;
use super::query::db_err;

type Completion = Box<dyn FnOnce(Option<Error>) + Send>;
type RunFn =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, (bool, Completion)> + Send>;

struct Job {
    run: RunFn,
    /// Answers the caller with an error when the job never got to run.
    fail: Box<dyn FnOnce(Error) + Send>,
}

/// How many queued writes one transaction may take.
const MAX_GROUP: usize = 512;

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `pool` (a pool of exactly one connection).
    pub fn spawn(pool: AnyPool, dialect: Dialect) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(run(pool, dialect, rx));
        Writer { tx }
    }

    /// Runs `f` inside the next group transaction and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T>>();
        let slot = Arc::new(Mutex::new(Some(done_tx)));
        let fail_slot = slot.clone();
        let run: RunFn = Box::new(move |conn| {
            Box::pin(async move {
                let outcome = AssertUnwindSafe(f(conn)).catch_unwind().await;
                let result = outcome.unwrap_or_else(|_| {
                    Err(Error::internal("a write panicked; it was rolled back"))
                });
                let ok = result.is_ok();
                let completion: Completion = Box::new(move |commit_error| {
                    if let Some(tx) = slot.lock().ok().and_then(|mut s| s.take()) {
                        let _ = tx.send(match commit_error {
                            Some(e) if ok => Err(e),
                            _ => result,
                        });
                    }
                });
                (ok, completion)
            })
        });
        let fail = Box::new(move |e: Error| {
            if let Some(tx) = fail_slot.lock().ok().and_then(|mut s| s.take()) {
                let _ = tx.send(Err(e));
            }
        });
        self.tx
            .send(Job { run, fail })
            .await
            .map_err(|_| Error::internal("the database writer has stopped"))?;
        done_rx
            .await
            .map_err(|_| Error::internal("the database writer dropped a write"))?
    }
}

async fn run(pool: AnyPool, dialect: Dialect, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut conn = match pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                fail_all(jobs, db_err(e));
                continue;
            }
        };
        if let Err(e) = conn.execute(dialect.begin_write()).await {
            fail_all(jobs, db_err(e));
            continue;
        }
        let mut completions = Vec::with_capacity(jobs.len());
        let mut broken: Option<Error> = None;
        for job in jobs {
            if let Some(err) = &broken {
                (job.fail)(err.clone());
                continue;
            }
            if let Err(e) = conn.execute("SAVEPOINT ff_write").await {
                let err = db_err(e);
                (job.fail)(err.clone());
                broken = Some(err);
                continue;
            }
            let (ok, completion) = (job.run)(&mut conn).await;
            let end = if ok {
                conn.execute("RELEASE SAVEPOINT ff_write").await.map(|_| ())
            } else {
                match conn.execute("ROLLBACK TO SAVEPOINT ff_write").await {
                    Ok(_) => conn.execute("RELEASE SAVEPOINT ff_write").await.map(|_| ()),
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = end {
                broken = Some(db_err(e));
            }
            completions.push(completion);
        }
        let commit_error = match broken {
            Some(e) => {
                let _ = conn.execute("ROLLBACK").await;
                Some(e)
            }
            None => match conn.execute("COMMIT").await {
                Ok(_) => None,
                Err(e) => {
                    let _ = conn.execute("ROLLBACK").await;
                    Some(db_err(e))
                }
            },
        };
        drop(conn);
        for c in completions {
            c(commit_error.clone());
        }
    }
}

fn fail_all(jobs: Vec<Job>, err: Error) {
    tracing::error!(error = %err, count = jobs.len(), "cannot start a write transaction");
    for job in jobs {
        (job.fail)(err.clone());
    }
}
