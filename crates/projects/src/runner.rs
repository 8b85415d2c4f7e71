//! Running an entry point: everything is checked and the environment built before the
//! MLflow run exists; then the run is created with MLflow's project tags and parameters,
//! the command runs with `MLFLOW_RUN_ID`, `MLFLOW_TRACKING_URI` and `MLFLOW_EXPERIMENT_ID`
//! so that the script's own `mlflow.start_run()` attaches to that run, and the run ends
//! FINISHED, FAILED or (on Ctrl-C or SIGTERM) KILLED.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use ferroflow_core::entities::{LifecycleStage, RunStatus, Tag};
use ferroflow_core::now_millis;
use ferroflow_store::{Batch, CreateRun, RunUpdate, TrackingStore};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

use crate::env::{self, EnvManager};
use crate::error::{Error, Result};
use crate::{params, source, spec};

/// What `ferroflow run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// A directory or git URL, with an optional `#subdirectory`.
    pub uri: String,
    pub entry_point: String,
    /// A git commit, branch or tag.
    pub version: Option<String>,
    /// `-P key=value`, in order.
    pub params: Vec<(String, String)>,
    pub experiment_id: Option<String>,
    pub experiment_name: Option<String>,
    pub run_name: Option<String>,
    pub env_manager: Option<EnvManager>,
    /// The tracking URI the command logs to (absolute, since it runs elsewhere).
    pub tracking_uri: String,
    /// Holds git mirrors and built environments.
    pub cache_dir: PathBuf,
    /// Where relative `path` parameters are taken from.
    pub cwd: PathBuf,
    pub user: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub run_id: String,
    pub experiment_id: String,
    pub status: RunStatus,
    /// The command's exit code (128 + the signal when a signal ended it).
    pub exit_code: i32,
}

/// The user MLflow records: `$USER`, `$LOGNAME`, else the account's name.
pub fn current_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Tag with the reason a project run failed before or outside its command.
pub const FAILURE_TAG: &str = "ferroflow.project.failure";

/// Downloads what a URI names (`runs:/`, `models:/`, `mlflow-artifacts:/`, ...) into a
/// directory, answering the local path: how `path` parameters given as URIs arrive.
pub trait Fetcher: Send + Sync {
    fn fetch<'a>(
        &'a self,
        uri: &'a str,
        dest: &'a Path,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<PathBuf, String>> + Send + 'a>>;
}

/// Runs `req` against `store`, reporting progress through `say`.
pub async fn run(
    store: &dyn TrackingStore,
    fetcher: &dyn Fetcher,
    req: RunRequest,
    say: &dyn Fn(&str),
) -> Result<Outcome> {
    let src = source::fetch(&req.uri, req.version.as_deref(), &req.cache_dir, say)?;
    let project = spec::load(&src.dir)?;
    let entry = project.entry_point(&req.entry_point)?;
    // Everything else about the parameters is checked before anything is downloaded.
    let remote = params::remote_paths(&entry, &req.params);
    let pending: Vec<(String, PathBuf)> = remote
        .iter()
        .map(|(k, _)| (k.clone(), PathBuf::new()))
        .collect();
    params::invoke(&entry, &req.params, &req.cwd, &pending)?;
    let storage = tempfile::Builder::new()
        .prefix("ferroflow-params-")
        .tempdir()
        .map_err(|e| {
            Error::Env(format!(
                "cannot create a directory for downloaded parameters: {e}"
            ))
        })?;
    let mut fetched = Vec::new();
    for (i, (name, uri)) in remote.iter().enumerate() {
        let dest = storage.path().join(format!("param_{i}"));
        std::fs::create_dir_all(&dest)
            .map_err(|e| Error::Env(format!("cannot create {}: {e}", dest.display())))?;
        say(&format!("Downloading {uri} for parameter '{name}'"));
        let local = fetcher.fetch(uri, &dest).await.map_err(|e| {
            Error::Usage(format!(
                "parameter '{name}' (type path): cannot download {uri}: {e}"
            ))
        })?;
        fetched.push((name.clone(), local));
    }
    let invocation = params::invoke(&entry, &req.params, &req.cwd, &fetched)?;
    let manager = EnvManager::choose(req.env_manager, &project.env)?;
    let experiment_id = experiment(store, &req, say).await?;
    let prepared = env::prepare(manager, &project.env, &project.dir, &req.cache_dir, say)?;

    // From here on a Ctrl-C must end the run as KILLED, not end ferroflow.
    let signals = Signals::listen()?;
    let mut tags = vec![
        Tag::new("mlflow.user", &req.user),
        Tag::new("mlflow.source.name", &src.name),
        Tag::new("mlflow.source.type", "PROJECT"),
        Tag::new("mlflow.project.entryPoint", &entry.name),
        Tag::new("mlflow.project.backend", "local"),
        Tag::new("mlflow.project.env", manager.as_str()),
    ];
    if let Some(g) = &src.git {
        tags.push(Tag::new("mlflow.source.git.commit", &g.commit));
        if let Some(url) = &g.repo_url {
            tags.push(Tag::new("mlflow.source.git.repoURL", url));
            tags.push(Tag::new("mlflow.gitRepoURL", url));
        }
        if let Some(b) = &g.branch {
            tags.push(Tag::new("mlflow.source.git.branch", b));
        }
    }
    let run = store
        .create_run(CreateRun {
            experiment_id: experiment_id.clone(),
            user_id: Some(req.user.clone()),
            run_name: req.run_name.clone(),
            start_time: Some(now_millis()),
            tags,
        })
        .await?;
    let run_id = run.info.run_uuid.clone();
    let logged = Batch {
        params: invocation
            .logged
            .iter()
            .map(|(k, v)| Tag::new(k, v))
            .collect(),
        ..Default::default()
    };
    if let Err(e) = store.log_batch(&run_id, logged).await {
        fail(
            store,
            &run_id,
            &format!("the parameters could not be logged: {}", e.message),
        )
        .await;
        return Err(e.into());
    }
    say(&format!(
        "Run {run_id} (experiment {experiment_id}, entry point {}): {}",
        entry.name, invocation.command
    ));

    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(&invocation.command)
        .current_dir(&project.dir)
        .env("MLFLOW_RUN_ID", &run_id)
        .env("MLFLOW_TRACKING_URI", &req.tracking_uri)
        .env("MLFLOW_EXPERIMENT_ID", &experiment_id)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // Its own process group, so that a signal reaches the whole command (bash and
        // what it started) and only when ferroflow forwards it.
        .process_group(0);
    if let Some(bin) = &prepared.bin_dir {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined =
            std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path)))
                .map_err(|e| Error::Env(format!("cannot put {} on PATH: {e}", bin.display())))?;
        cmd.env("PATH", joined);
    }
    if let Some(root) = &prepared.root {
        cmd.env("VIRTUAL_ENV", root).env_remove("PYTHONHOME");
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("cannot start bash: {e}");
            fail(store, &run_id, &reason).await;
            return Err(Error::Env(reason));
        }
    };
    let (status, exit_code) = supervise(&mut child, signals).await;
    finish(store, &run_id, status, exit_code).await?;
    Ok(Outcome {
        run_id,
        experiment_id,
        status,
        exit_code,
    })
}

/// SIGINT and SIGTERM, caught.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Signals> {
        let catch =
            |kind| signal(kind).map_err(|e| Error::Env(format!("cannot listen for signals: {e}")));
        Ok(Signals {
            int: catch(SignalKind::interrupt())?,
            term: catch(SignalKind::terminate())?,
        })
    }
}

/// Waits for the command; a SIGINT or SIGTERM to ferroflow goes on to the command's
/// process group, which gets ten seconds to stop before it is killed.
async fn supervise(child: &mut tokio::process::Child, mut signals: Signals) -> (RunStatus, i32) {
    let group = child.id().map(|id| Pid::from_raw(id as i32));
    let received = tokio::select! {
        status = child.wait() => {
            let code = status.map(exit_code).unwrap_or(1);
            return (if code == 0 { RunStatus::Finished } else { RunStatus::Failed }, code);
        }
        _ = signals.int.recv() => Signal::SIGINT,
        _ = signals.term.recv() => Signal::SIGTERM,
    };
    if let Some(g) = group {
        let _ = killpg(g, received);
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        if let Some(g) = group {
            let _ = killpg(g, Signal::SIGKILL);
        }
        let _ = child.wait().await;
    }
    (RunStatus::Killed, 128 + received as i32)
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Ends the run with `status`, unless the command already ended it itself.
async fn finish(
    store: &dyn TrackingStore,
    run_id: &str,
    status: RunStatus,
    exit_code: i32,
) -> Result<()> {
    let current = store.get_run(run_id).await?;
    if current.info.status != RunStatus::Running {
        return Ok(());
    }
    if status == RunStatus::Failed {
        let tag = Batch {
            tags: vec![Tag::new(
                FAILURE_TAG,
                format!("the command exited with status {exit_code}"),
            )],
            ..Default::default()
        };
        store.log_batch(run_id, tag).await?;
    }
    store
        .update_run(
            run_id,
            RunUpdate {
                status: Some(status),
                end_time: Some(now_millis()),
                run_name: None,
            },
        )
        .await?;
    Ok(())
}

/// Marks a created run FAILED with `reason`, as far as the store lets it.
async fn fail(store: &dyn TrackingStore, run_id: &str, reason: &str) {
    let tag = Batch {
        tags: vec![Tag::new(FAILURE_TAG, reason)],
        ..Default::default()
    };
    let _ = store.log_batch(run_id, tag).await;
    let _ = finish(store, run_id, RunStatus::Failed, 1).await;
}

/// The experiment to run in: by name (created when missing), by id (must be active), or
/// the default experiment.
async fn experiment(
    store: &dyn TrackingStore,
    req: &RunRequest,
    say: &dyn Fn(&str),
) -> Result<String> {
    if let Some(name) = &req.experiment_name {
        return match store.get_experiment_by_name(name).await? {
            Some(e) if e.lifecycle_stage == LifecycleStage::Deleted => Err(Error::Usage(format!(
                "experiment '{name}' (id {}) is deleted; restore it first (ferroflow experiments restore -x {})",
                e.experiment_id, e.experiment_id
            ))),
            Some(e) => Ok(e.experiment_id),
            None => {
                let id = store.create_experiment(name, None, Vec::new()).await?;
                say(&format!("Created experiment '{name}' (id {id})"));
                Ok(id)
            }
        };
    }
    let id = req.experiment_id.clone().unwrap_or_else(|| "0".into());
    let e = store.get_experiment(&id).await?;
    if e.lifecycle_stage == LifecycleStage::Deleted {
        return Err(Error::Usage(format!(
            "experiment {id} ('{}') is deleted; restore it first (ferroflow experiments restore -x {id})",
            e.name
        )));
    }
    Ok(id)
}
