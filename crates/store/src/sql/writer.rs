//! The write path: one writer thread and connection that groups concurrent writes into
//! one transaction (group commit).
//!
//! Every queued write runs inside the group's transaction; callers are answered only
//! after its `COMMIT` returned, so an acknowledged write is in the database's log.
//!
//! Two kinds of writes are queued. A *closure* is any write. A *mergeable* write (the
//! metric points of `log-batch`, the hot path of a training loop) is data: all those in
//! a group are handed to one merge function together, which writes them with a few
//! multi-row statements and updates each run's latest values once.
//!
//! Writes normally run back to back. If one fails in a way that may have left partial
//! changes, the group is rolled back and run again with a savepoint around each write,
//! so that the failed write rolls back alone and the others still commit — closures may
//! therefore run more than once, and must only touch the database.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use ferroflow_core::{Error, Result};
use tokio::sync::oneshot;

use super::db::{Conn, WAL_RESTART_FRAMES};

/// Writes a set of mergeable items inside the current transaction. The outer error means
/// the transaction may hold partial changes; otherwise one result per item, where an
/// item's error means it changed nothing.
pub type MergeFn<M> = Box<dyn Fn(&dyn Conn, &[&M]) -> Result<Vec<Result<()>>> + Send>;

/// Runs a write and keeps its result; says whether it succeeded.
type Attempt = dyn FnMut(&dyn Conn) -> bool + Send;
/// Answers the caller with the kept result, or with the commit's error.
type Finish = dyn FnOnce(Option<Error>) + Send;

enum Job<M> {
    Closure {
        attempt: Box<Attempt>,
        finish: Box<Finish>,
    },
    Merge {
        item: M,
        result: Option<Result<()>>,
        done: oneshot::Sender<Result<()>>,
    },
}

/// How many queued writes one transaction may take.
const MAX_GROUP: usize = 512;

pub struct Writer<M> {
    tx: mpsc::Sender<Job<M>>,
}

impl<M: Send + 'static> Writer<M> {
    /// Starts the writer thread on `conn`. `log_frames` is the write-ahead log's length as
    /// the background checkpointer last saw it; past [`WAL_RESTART_FRAMES`] the writer
    /// finishes a checkpoint between groups.
    pub fn spawn(
        conn: Box<dyn Conn>,
        log_frames: Option<Arc<AtomicI64>>,
        merge: MergeFn<M>,
    ) -> Result<Writer<M>> {
        let (tx, rx) = mpsc::channel::<Job<M>>();
        std::thread::Builder::new()
            .name("ferroflow-writer".into())
            .spawn(move || run(conn, rx, log_frames, merge))
            .map_err(|e| Error::internal(format!("cannot start the database writer: {e}")))?;
        Ok(Writer { tx })
    }

    /// Runs `f` inside the next group transaction and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&dyn Conn) -> Result<T> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T>>();
        let kept: Arc<Mutex<Option<Result<T>>>> = Arc::new(Mutex::new(None));
        let slot = kept.clone();
        let attempt = Box::new(move |conn: &dyn Conn| {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(Error::internal("a write panicked; it was rolled back")));
            let ok = result.is_ok();
            if let Ok(mut s) = slot.lock() {
                *s = Some(result);
            }
            ok
        });
        let finish = Box::new(move |commit_error: Option<Error>| {
            let result = kept.lock().ok().and_then(|mut s| s.take());
            let answer = match (result, commit_error) {
                (Some(Err(e)), _) => Err(e),
                (_, Some(e)) => Err(e),
                (Some(ok), None) => ok,
                (None, None) => Err(Error::internal("a write was never run")),
            };
            let _ = done_tx.send(answer);
        });
        self.tx
            .send(Job::Closure { attempt, finish })
            .map_err(|_| Error::internal("the database writer has stopped"))?;
        done_rx
            .await
            .map_err(|_| Error::internal("the database writer dropped a write"))?
    }

    /// Queues a mergeable write and returns once it is committed.
    pub async fn merge(&self, item: M) -> Result<()> {
        let (done, done_rx) = oneshot::channel();
        self.tx
            .send(Job::Merge {
                item,
                result: None,
                done,
            })
            .map_err(|_| Error::internal("the database writer has stopped"))?;
        done_rx
            .await
            .map_err(|_| Error::internal("the database writer dropped a write"))?
    }
}

fn run<M>(
    conn: Box<dyn Conn>,
    rx: mpsc::Receiver<Job<M>>,
    log_frames: Option<Arc<AtomicI64>>,
    merge: MergeFn<M>,
) {
    let begin = conn.dialect().begin_write();
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter().take(MAX_GROUP - 1));
        let commit_error = commit_group(&*conn, begin, &mut jobs, &merge);
        for job in jobs {
            match job {
                Job::Closure { finish, .. } => finish(commit_error.clone()),
                Job::Merge { result, done, .. } => {
                    let answer = match (result, &commit_error) {
                        (Some(Err(e)), _) => Err(e),
                        (_, Some(e)) => Err(e.clone()),
                        (Some(Ok(())), None) => Ok(()),
                        (None, None) => Err(Error::internal("a write was never run")),
                    };
                    let _ = done.send(answer);
                }
            }
        }
        if let Some(frames) = &log_frames
            && frames.load(Ordering::Relaxed) > WAL_RESTART_FRAMES
        {
            match conn.checkpoint() {
                Ok(n) => frames.store(n.unwrap_or(0), Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    }
}

/// Runs every mergeable item of `jobs` through `merge`, recording each one's result.
/// Returns `false` when the transaction may hold partial changes.
fn run_merges<M>(conn: &dyn Conn, jobs: &mut [Job<M>], merge: &MergeFn<M>) -> bool {
    let items: Vec<&M> = jobs
        .iter()
        .filter_map(|j| {
            if let Job::Merge { item, .. } = j {
                Some(item)
            } else {
                None
            }
        })
        .collect();
    if items.is_empty() {
        return true;
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| merge(conn, &items)))
        .unwrap_or_else(|_| Err(Error::internal("a write panicked; it was rolled back")));
    match outcome {
        Ok(results) => {
            let mut results = results.into_iter();
            for job in jobs.iter_mut() {
                if let Job::Merge { result, .. } = job {
                    *result =
                        Some(results.next().unwrap_or_else(|| {
                            Err(Error::internal("a merged write has no result"))
                        }));
                }
            }
            true
        }
        Err(e) => {
            for job in jobs.iter_mut() {
                if let Job::Merge { result, .. } = job {
                    *result = Some(Err(e.clone()));
                }
            }
            false
        }
    }
}

/// Runs a group in one transaction; returns the error that kept it from committing.
fn commit_group<M>(
    conn: &dyn Conn,
    begin: &str,
    jobs: &mut [Job<M>],
    merge: &MergeFn<M>,
) -> Option<Error> {
    if let Err(e) = conn.execute_script(begin) {
        return Some(e);
    }
    // Fast path: merged writes together, then every closure; no savepoints.
    let merged_ok = run_merges(conn, jobs, merge);
    let all_ok = merged_ok
        && jobs.iter_mut().all(|job| match job {
            Job::Closure { attempt, .. } => attempt(conn),
            Job::Merge { .. } => true,
        });
    if all_ok {
        return commit(conn);
    }
    if let Err(e) = conn.execute_script("ROLLBACK") {
        return Some(e);
    }
    if jobs.len() == 1 {
        // Its result (an error) is kept; nothing to commit.
        return None;
    }
    // Slow path: again, each write in a savepoint of its own.
    if let Err(e) = conn.execute_script(begin) {
        return Some(e);
    }
    for i in 0..jobs.len() {
        if let Err(e) = conn.execute_script("SAVEPOINT ff_write") {
            let _ = conn.execute_script("ROLLBACK");
            return Some(e);
        }
        let ok = match &mut jobs[i] {
            Job::Closure { attempt, .. } => attempt(conn),
            Job::Merge { .. } => run_merges(conn, &mut jobs[i..=i], merge),
        };
        let end = if ok {
            conn.execute_script("RELEASE SAVEPOINT ff_write")
        } else {
            conn.execute_script("ROLLBACK TO SAVEPOINT ff_write; RELEASE SAVEPOINT ff_write")
        };
        if let Err(e) = end {
            let _ = conn.execute_script("ROLLBACK");
            return Some(e);
        }
    }
    commit(conn)
}

fn commit(conn: &dyn Conn) -> Option<Error> {
    match conn.execute_script("COMMIT") {
        Ok(()) => None,
        Err(e) => {
            let _ = conn.execute_script("ROLLBACK");
            Some(e)
        }
    }
}
