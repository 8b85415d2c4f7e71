//! `python_function` models, served by a pool of Python worker processes.
//!
//! Each worker runs `pyfunc_worker.py`, loads the model once with the installed `mlflow`,
//! and answers batches of requests over its stdin/stdout. Rust keeps everything else:
//! requests wait in one queue; a free worker takes the oldest and every other waiting one
//! (up to `max_batch`), which the worker predicts in one call when they are frames with the
//! same columns. A worker that takes longer than `timeout` is killed and restarted (its
//! requests answer 503); one that dies is restarted (its requests answer 500 with what it
//! printed). A model that raises answers 500 with the Python error.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::input::Input;
use crate::predictor::{PredictError, PredictFuture, Predictor};

const WORKER: &str = include_str!("pyfunc_worker.py");

/// A model's own exception, as MLflow's scoring server reports it: an `MlflowException`
/// keeps its message and code; anything else gets MLflow's message, then the error.
fn rejected(result: &Value, err: &Value) -> PredictError {
    let err = err.as_str().unwrap_or("the model raised an error");
    let trace = result["traceback"].as_str().map(str::to_string);
    match result["error_code"].as_str() {
        Some(code) => PredictError::rejected(
            result["message"].as_str().unwrap_or(err),
            Some(code.to_string()),
            trace,
        ),
        None => PredictError::rejected(
            format!(
                "Encountered an unexpected error while evaluating the model. Verify that the serialized input Dataframe is compatible with the model for inference. ({err})"
            ),
            None,
            trace,
        ),
    }
}

/// How to run the workers.
#[derive(Debug, Clone)]
pub struct PyfuncOptions {
    /// The interpreter (with `mlflow` and the model's dependencies installed).
    pub python: PathBuf,
    pub model_dir: PathBuf,
    pub workers: usize,
    /// Longest a prediction may take before its worker is restarted.
    pub timeout: Duration,
    /// Longest loading the model may take.
    pub load_timeout: Duration,
    /// Most requests one worker predicts at once.
    pub max_batch: usize,
    /// Extra environment for the workers (PATH, VIRTUAL_ENV of a built environment).
    pub env: Vec<(String, String)>,
}

struct Job {
    item: Value,
    reply: oneshot::Sender<Result<Value, PredictError>>,
}

/// The pool; cheap to share.
pub struct PyfuncPool {
    queue: mpsc::Sender<Job>,
    ready: Arc<AtomicUsize>,
    workers: usize,
}

impl PyfuncPool {
    /// Starts the workers and waits until the first has loaded the model; a model that
    /// cannot load is an error with Python's message.
    pub async fn start(opts: PyfuncOptions) -> Result<PyfuncPool, String> {
        // The first worker loads before the others start, so that an error is reported once.
        let first = Worker::spawn(&opts).await?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let rx = Arc::new(Mutex::new(rx));
        let ready = Arc::new(AtomicUsize::new(1));
        let opts = Arc::new(opts);
        tokio::spawn(serve(Some(first), opts.clone(), rx.clone(), ready.clone()));
        for _ in 1..opts.workers.max(1) {
            tokio::spawn(serve(None, opts.clone(), rx.clone(), ready.clone()));
        }
        Ok(PyfuncPool {
            queue: tx,
            ready,
            workers: opts.workers.max(1),
        })
    }
}

impl Predictor for PyfuncPool {
    fn predict(&self, input: Input, params: Option<Value>) -> PredictFuture<'_> {
        Box::pin(async move {
            let item = match input {
                Input::Frame(f) => {
                    json!({"kind": "frame", "columns": f.columns, "data": f.rows, "params": params})
                }
                Input::Tensor(t) => json!({"kind": "tensor", "data": t, "params": params}),
            };
            let (reply, answer) = oneshot::channel();
            self.queue
                .send(Job { item, reply })
                .await
                .map_err(|_| PredictError::unavailable("the Python workers have stopped"))?;
            answer.await.unwrap_or_else(|_| {
                Err(PredictError::unavailable(
                    "the Python worker stopped before answering",
                ))
            })
        })
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) > 0
    }

    fn describe(&self) -> String {
        format!(
            "pyfunc, {} Python worker{}",
            self.workers,
            if self.workers == 1 { "" } else { "s" }
        )
    }
}

/// One worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Worker {
    async fn spawn(opts: &PyfuncOptions) -> Result<Worker, String> {
        let mut cmd = Command::new(&opts.python);
        cmd.arg("-c")
            .arg(WORKER)
            .arg(&opts.model_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("PYTHONUNBUFFERED", "1")
            .kill_on_drop(true);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {} for the model's Python workers: {e}",
                opts.python.display()
            )
        })?;
        let stdin = child.stdin.take().ok_or("the worker has no stdin")?;
        let stdout = child.stdout.take().ok_or("the worker has no stdout")?;
        let mut w = Worker {
            child,
            stdin,
            stdout,
        };
        let hello = match tokio::time::timeout(opts.load_timeout, w.receive()).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let status = w.exit_status().await;
                return Err(format!(
                    "the Python worker exited while loading the model ({status}): {e}; is mlflow installed for {}?",
                    opts.python.display()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "loading the model took longer than {} s",
                    opts.load_timeout.as_secs()
                ));
            }
        };
        if hello["loaded"].as_bool() != Some(true) {
            return Err(format!(
                "the model failed to load: {}",
                hello["error"].as_str().unwrap_or("unknown error")
            ));
        }
        Ok(w)
    }

    /// How the process ended (waiting for it to end).
    async fn exit_status(&mut self) -> String {
        self.child
            .wait()
            .await
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    async fn send(&mut self, v: &Value) -> std::io::Result<()> {
        let data = serde_json::to_vec(v)?;
        let len =
            u32::try_from(data.len()).map_err(|_| std::io::Error::other("a request over 4 GiB"))?;
        self.stdin.write_all(&len.to_be_bytes()).await?;
        self.stdin.write_all(&data).await?;
        self.stdin.flush().await
    }

    async fn receive(&mut self) -> std::io::Result<Value> {
        let mut head = [0u8; 4];
        self.stdout.read_exact(&mut head).await?;
        let mut data = vec![0u8; u32::from_be_bytes(head) as usize];
        self.stdout.read_exact(&mut data).await?;
        serde_json::from_slice(&data).map_err(std::io::Error::other)
    }
}

/// A worker's life: take batches from the queue, answer them, restart the process when
/// it dies or hangs.
async fn serve(
    mut worker: Option<Worker>,
    opts: Arc<PyfuncOptions>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    ready: Arc<AtomicUsize>,
) {
    loop {
        let mut w = match worker.take() {
            Some(w) => w,
            None => match Worker::spawn(&opts).await {
                Ok(w) => {
                    ready.fetch_add(1, Ordering::Relaxed);
                    w
                }
                Err(e) => {
                    tracing::error!("a Python worker could not start: {e}; retrying in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            },
        };
        loop {
            let mut batch = {
                let mut q = queue.lock().await;
                let Some(first) = q.recv().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < opts.max_batch.max(1) {
                    match q.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                batch
            };
            // The payloads move into the message; each job keeps only its reply.
            let items: Vec<Value> = batch.iter_mut().map(|j| j.item.take()).collect();
            let outcome = tokio::time::timeout(opts.timeout, async {
                w.send(&json!({"items": items})).await?;
                w.receive().await
            })
            .await;
            match outcome {
                Ok(Ok(answer)) => {
                    let results = answer["results"].as_array().cloned().unwrap_or_default();
                    for (job, r) in batch
                        .into_iter()
                        .zip(results.into_iter().chain(std::iter::repeat(Value::Null)))
                    {
                        let _ = job.reply.send(match (r.get("ok"), r.get("error")) {
                            (Some(ok), _) => Ok(ok.clone()),
                            (_, Some(err)) => Err(rejected(&r, err)),
                            _ => Err(PredictError::model(
                                "the Python worker gave no answer for this request",
                            )),
                        });
                    }
                    continue;
                }
                Ok(Err(e)) => {
                    let status = w.exit_status().await;
                    tracing::error!("a Python worker died ({status}): {e}; restarting it");
                    for job in batch {
                        let _ = job.reply.send(Err(PredictError::model(format!(
                            "the Python worker serving the model died ({status}) while predicting; it has been restarted"
                        ))));
                    }
                }
                Err(_) => {
                    tracing::error!(
                        "a prediction took longer than {} s; restarting its worker",
                        opts.timeout.as_secs()
                    );
                    let _ = w.child.kill().await;
                    for job in batch {
                        let _ = job.reply.send(Err(PredictError::unavailable(format!(
                            "the prediction took longer than {} s (--timeout); its worker has been restarted",
                            opts.timeout.as_secs()
                        ))));
                    }
                }
            }
            ready.fetch_sub(1, Ordering::Relaxed);
            break;
        }
    }
}
