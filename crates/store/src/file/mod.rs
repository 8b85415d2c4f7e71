//! MLflow's file store: the `./mlruns` directory every MLflow 1.x and 2.x client writes
//! when no tracking URI is set, read and written in place.
//!
//! The layout is MLflow's: `<experiment_id>/meta.yaml` and `tags/`, a folder per run with
//! `meta.yaml`, `params/`, `metrics/`, `tags/`, `inputs/`, `outputs/` and `artifacts/`,
//! `datasets/` and `models/` (logged models) per experiment, `.trash/` for deleted
//! experiments, and `models/` at the root for the registry. Files are the truth: a script
//! writing the same directory directly is seen at the next read. Parsed files are cached
//! and a cached entry is used only while the file's modification time and size are
//! unchanged. Writes from this process are serialized; every `meta.yaml` is written to a
//! temporary file and renamed into place, so no reader (in any process) sees half of one.
//! A file that cannot be read (a truncated `meta.yaml`, a malformed metric line) is
//! skipped with a warning that names it; the rest is served.

mod export;
mod logged_models;
mod registry;
mod tracking;

pub(crate) use export::Exporter;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use ferroflow_core::entities::{
    DatasetInput, DatasetSummary, Experiment, LifecycleStage, LoggedModel, LoggedModelStatus,
    Metric, ModelInput, ModelOutput, ModelVersion, Page, Param, RegisteredModel, Run, RunInfo, Tag,
};
use ferroflow_core::validation::LongValues;
use ferroflow_core::{Error, Result, page_token};
use serde_json::{Map, Value};

use crate::{
    Batch, CreateLoggedModel, CreateModelVersion, CreateRun, ExperimentSearch, Garbage,
    LoggedModelSearch, MetricHistory, RegistrySearch, RegistryStore, RunSearch, RunUpdate,
    TrackingStore,
};

pub const META: &str = "meta.yaml";
pub const TRASH: &str = ".trash";
/// The registry's folder at the root, and the logged models' folder in an experiment.
pub const MODELS: &str = "models";
/// Folders of an experiment that are not runs.
const RESERVED: &[&str] = &["tags", "datasets", "traces", "models"];

/// Whether `dir` holds MLflow file-store content: an experiment folder with a `meta.yaml`.
pub fn is_file_store(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            name != TRASH && name != MODELS && e.path().join(META).is_file()
        })
    })
}

/// How a [`FileStore`] is opened.
#[derive(Debug, Clone)]
pub struct FileStoreOptions {
    /// Where new experiments put their artifacts; `None` for `<root>/<experiment_id>`,
    /// as MLflow's file store does.
    pub default_artifact_root: Option<String>,
    pub long_values: LongValues,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            default_artifact_root: None,
            long_values: LongValues::Truncate,
        }
    }
}

/// A parsed file, valid while the file keeps its modification time and size.
struct Cached {
    modified: SystemTime,
    len: u64,
    value: Arc<dyn std::any::Any + Send + Sync>,
}

pub struct FileStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub root: PathBuf,
    pub artifact_root: String,
    pub long_values: LongValues,
    /// Serializes this process's writes (other processes rename whole files).
    write: Mutex<()>,
    cache: Mutex<HashMap<PathBuf, Cached>>,
    /// Where each run seen so far lives.
    run_dirs: Mutex<HashMap<String, PathBuf>>,
    /// Files already warned about, with the modification time they had and why.
    warned: Mutex<HashMap<PathBuf, (Option<SystemTime>, String)>>,
    /// Whether warnings go to the log too (a migration reports them itself).
    log_warnings: bool,
}

/// An absolute path, with `.` components dropped.
fn absolute(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    abs.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

pub(crate) fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("cannot {what} {}: {e}", path.display()))
}

impl FileStore {
    /// Opens the file store at `root` (a path, `file:///abs` or `file:rel`), creating it
    /// with the default experiment when it is new.
    pub async fn open(root: &str, opts: FileStoreOptions) -> Result<FileStore> {
        let path = root
            .strip_prefix("file://")
            .or_else(|| root.strip_prefix("file:"))
            .unwrap_or(root);
        let root = absolute(Path::new(path));
        let artifact_root = opts
            .default_artifact_root
            .unwrap_or_else(|| format!("file://{}", root.display()));
        let inner = Arc::new(Inner::new(root, artifact_root, opts.long_values));
        let store = FileStore { inner };
        store.blocking(|s| s.ensure_default_experiment()).await?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Error::internal(format!("a file store task failed: {e}")))?
    }

    /// Runs `f` holding this process's write lock.
    async fn writing<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        self.blocking(move |s| {
            let _guard = s.write.lock().unwrap_or_else(|p| p.into_inner());
            f(s)
        })
        .await
    }
}

impl Inner {
    fn new(root: PathBuf, artifact_root: String, long_values: LongValues) -> Inner {
        Inner {
            root,
            artifact_root,
            long_values,
            write: Mutex::new(()),
            cache: Mutex::new(HashMap::new()),
            run_dirs: Mutex::new(HashMap::new()),
            warned: Mutex::new(HashMap::new()),
            log_warnings: true,
        }
    }

    /// Warns once per version of a file that it was skipped.
    pub fn warn(&self, path: &Path, why: &str) {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.get(path).map(|w| w.0) != Some(modified) {
            warned.insert(path.to_path_buf(), (modified, why.to_string()));
            if self.log_warnings {
                tracing::warn!("skipped {}: {why}", path.display());
            }
        }
    }

    /// Every file warned about so far, with why, in path order.
    pub fn warnings(&self) -> Vec<(PathBuf, String)> {
        let warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(PathBuf, String)> = warned
            .iter()
            .map(|(p, (_, why))| (p.clone(), why.clone()))
            .collect();
        out.sort();
        out
    }

    /// The parsed content of `path`, from the cache while the file is unchanged; `None`
    /// when it does not exist. `parse` errors are returned (callers decide to skip).
    pub fn cached<T, F>(&self, path: &Path, parse: F) -> Option<std::result::Result<Arc<T>, String>>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&[u8]) -> std::result::Result<T, String>,
    {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let (modified, len) = (meta.modified().ok()?, meta.len());
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(path)
                && c.modified == modified
                && c.len == len
                && let Ok(v) = c.value.clone().downcast::<T>()
            {
                return Some(Ok(v));
            }
        }
        let bytes = std::fs::read(path).ok()?;
        match parse(&bytes) {
            Ok(v) => {
                let v = Arc::new(v);
                // A file written in the same instant as it was read may change again
                // without its time moving: only settled files are kept.
                let settled = SystemTime::now()
                    .duration_since(modified)
                    .is_ok_and(|d| d.as_millis() > 20);
                if settled {
                    self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
                        path.to_path_buf(),
                        Cached {
                            modified,
                            len,
                            value: v.clone(),
                        },
                    );
                }
                Some(Ok(v))
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// A `meta.yaml` as a mapping; `None` (with a warning) when missing or unreadable.
    pub fn read_meta(&self, dir: &Path) -> Option<Arc<Map<String, Value>>> {
        let path = dir.join(META);
        match self.cached(&path, |bytes| {
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            match ferroflow_core::yaml::to_json(text)? {
                Value::Object(m) => Ok(m),
                _ => Err("not a YAML mapping".to_string()),
            }
        }) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                self.warn(&path, &e);
                None
            }
            None => {
                if dir.is_dir() {
                    self.warn(&path, "missing");
                }
                None
            }
        }
    }

    /// Writes `dir/meta.yaml` atomically: a temporary file renamed into place.
    pub fn write_meta(&self, dir: &Path, meta: &Map<String, Value>) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
        write_atomic(&dir.join(META), ferroflow_core::yaml::dump(meta).as_bytes())
    }

    /// The keys and values of a params or tags folder (keys with `/` are nested folders).
    pub fn read_values(&self, dir: &Path) -> Vec<(String, String)> {
        walk_files(dir)
            .into_iter()
            .filter_map(|(key, path)| {
                match self.cached(&path, |b| {
                    String::from_utf8(b.to_vec()).map_err(|_| "not UTF-8 text".to_string())
                }) {
                    Some(Ok(v)) => Some((key, v.as_ref().clone())),
                    Some(Err(e)) => {
                        self.warn(&path, &e);
                        None
                    }
                    None => None,
                }
            })
            .collect()
    }

    /// The sub-folders of `dir`, by name.
    pub fn subdirs(&self, dir: &Path) -> Vec<(String, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
            .collect();
        out.sort();
        out
    }
}

/// The files below `dir` by key, their path relative to `dir` with `/` (MLflow keeps a
/// key `a/b` as the file `b` in the folder `a`), in key order; temporary files left out.
pub(crate) fn walk_files(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let path = e.path();
            if path.is_dir() {
                walk(&path, &key, out);
            } else if !name.starts_with(".ferroflow-") {
                out.push((key, path));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

/// Writes `path` through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    let tmp = dir.join(format!(
        ".ferroflow-{}.tmp",
        ferroflow_core::ids::new_uuid()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("write", path, e));
    }
    Ok(())
}

/// A string field of a meta mapping (numbers as their text).
pub(crate) fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer field of a meta mapping.
pub(crate) fn int(m: &Map<String, Value>, key: &str) -> Option<i64> {
    match m.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A page of `items` (already in order) at `offset`, with MLflow's offset page token.
pub(crate) fn page<T>(
    items: Vec<T>,
    max_results: i64,
    page_token: Option<&str>,
) -> Result<Page<T>> {
    let offset = page_token::decode_offset(page_token)?.max(0) as usize;
    let max = max_results.max(0) as usize;
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next_page_token =
        (offset + items.len() < total).then(|| page_token::encode_offset((offset + max) as i64));
    Ok(Page {
        items,
        next_page_token,
    })
}

fn owned(ids: &[String]) -> Vec<String> {
    ids.to_vec()
}

#[async_trait]
impl TrackingStore for FileStore {
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<String> {
        let (name, loc) = (name.to_string(), artifact_location.map(str::to_string));
        self.writing(move |s| s.create_experiment(&name, loc.as_deref(), tags))
            .await
    }
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = experiment_id.to_string();
        self.blocking(move |s| s.get_experiment(&id)).await
    }
    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let name = name.to_string();
        self.blocking(move |s| Ok(s.experiment_by_name(&name)))
            .await
    }
    async fn search_experiments(&self, search: ExperimentSearch) -> Result<Page<Experiment>> {
        self.blocking(move |s| s.search_experiments(search)).await
    }
    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        let (id, name) = (experiment_id.to_string(), new_name.to_string());
        self.writing(move |s| s.rename_experiment(&id, &name)).await
    }
    async fn set_experiment_lifecycle(
        &self,
        experiment_id: &str,
        stage: LifecycleStage,
    ) -> Result<()> {
        let id = experiment_id.to_string();
        self.writing(move |s| s.set_experiment_lifecycle(&id, stage))
            .await
    }
    async fn set_experiment_tag(&self, experiment_id: &str, tag: Tag) -> Result<()> {
        let id = experiment_id.to_string();
        self.writing(move |s| s.set_experiment_tag(&id, tag)).await
    }
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let (id, key) = (experiment_id.to_string(), key.to_string());
        self.writing(move |s| s.delete_experiment_tag(&id, &key))
            .await
    }

    async fn create_run(&self, req: CreateRun) -> Result<Run> {
        self.writing(move |s| s.create_run(req)).await
    }
    async fn get_run(&self, run_id: &str) -> Result<Run> {
        let id = run_id.to_string();
        self.blocking(move |s| s.get_run(&id)).await
    }
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        let id = run_id.to_string();
        self.writing(move |s| s.update_run(&id, update)).await
    }
    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        let id = run_id.to_string();
        self.writing(move |s| s.set_run_lifecycle(&id, stage)).await
    }
    async fn log_batch(&self, run_id: &str, batch: Batch) -> Result<()> {
        let id = run_id.to_string();
        self.writing(move |s| s.log_batch(&id, batch)).await
    }
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let (id, key) = (run_id.to_string(), key.to_string());
        self.writing(move |s| s.delete_run_tag(&id, &key)).await
    }
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> Result<()> {
        let id = run_id.to_string();
        self.writing(move |s| s.log_inputs(&id, datasets, models))
            .await
    }
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        let id = run_id.to_string();
        self.writing(move |s| s.log_outputs(&id, models)).await
    }
    async fn search_runs(&self, search: RunSearch) -> Result<Page<Run>> {
        self.blocking(move |s| s.search_runs(search)).await
    }
    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<MetricHistory> {
        let (id, key) = (run_id.to_string(), key.to_string());
        self.blocking(move |s| s.metric_history(&id, &key, max_results, page_token.as_deref()))
            .await
    }
    async fn metric_history_from(
        &self,
        run_id: &str,
        key: &str,
        start_step: i64,
    ) -> Result<MetricHistory> {
        let (id, key) = (run_id.to_string(), key.to_string());
        self.blocking(move |s| s.metric_history_from(&id, &key, start_step))
            .await
    }
    async fn metric_history_bulk(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        let (ids, key) = (owned(run_ids), key.to_string());
        self.blocking(move |s| s.metric_history_bulk(&ids, &key, max_results))
            .await
    }
    async fn search_dataset_summaries(
        &self,
        experiment_ids: &[String],
    ) -> Result<Vec<DatasetSummary>> {
        let ids = owned(experiment_ids);
        self.blocking(move |s| s.dataset_summaries(&ids)).await
    }
    async fn metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        start_step: Option<i64>,
        end_step: Option<i64>,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        let (ids, key) = (owned(run_ids), key.to_string());
        self.blocking(move |s| {
            s.metric_history_bulk_interval(&ids, &key, start_step, end_step, max_results)
        })
        .await
    }

    async fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModel> {
        self.writing(move |s| s.create_logged_model(req)).await
    }
    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let id = model_id.to_string();
        self.blocking(move |s| s.get_logged_model(&id)).await
    }
    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let id = model_id.to_string();
        self.writing(move |s| s.finalize_logged_model(&id, status))
            .await
    }
    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        let id = model_id.to_string();
        self.writing(move |s| s.delete_logged_model(&id)).await
    }
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()> {
        let id = model_id.to_string();
        self.writing(move |s| s.set_logged_model_tags(&id, tags))
            .await
    }
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let (id, key) = (model_id.to_string(), key.to_string());
        self.writing(move |s| s.delete_logged_model_tag(&id, &key))
            .await
    }
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Param>) -> Result<()> {
        let id = model_id.to_string();
        self.writing(move |s| s.log_logged_model_params(&id, params))
            .await
    }
    async fn search_logged_models(&self, search: LoggedModelSearch) -> Result<Page<LoggedModel>> {
        self.blocking(move |s| s.search_logged_models(search)).await
    }

    async fn garbage(&self, older_than_ms: Option<i64>) -> Result<Garbage> {
        self.blocking(move |s| s.garbage(older_than_ms)).await
    }
    async fn purge_run(&self, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.writing(move |s| s.purge_run(&id)).await
    }
    async fn purge_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = experiment_id.to_string();
        self.writing(move |s| s.purge_experiment(&id)).await
    }
}

#[async_trait]
impl RegistryStore for FileStore {
    async fn create_registered_model(
        &self,
        name: &str,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.writing(move |s| s.create_registered_model(&name, tags, description))
            .await
    }
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.blocking(move |s| s.get_registered_model(&name)).await
    }
    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        let (name, new_name) = (name.to_string(), new_name.to_string());
        self.writing(move |s| s.rename_registered_model(&name, &new_name))
            .await
    }
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.writing(move |s| s.update_registered_model(&name, description))
            .await
    }
    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.writing(move |s| s.delete_registered_model(&name))
            .await
    }
    async fn search_registered_models(
        &self,
        search: RegistrySearch,
    ) -> Result<Page<RegisteredModel>> {
        self.blocking(move |s| s.search_registered_models(search))
            .await
    }
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>> {
        let name = name.to_string();
        self.blocking(move |s| s.get_latest_versions(&name, stages))
            .await
    }
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()> {
        let name = name.to_string();
        self.writing(move |s| s.set_registered_model_tag(&name, tag))
            .await
    }
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.writing(move |s| s.delete_registered_model_tag(&name, &key))
            .await
    }
    async fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        self.writing(move |s| s.create_model_version(req)).await
    }
    async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let (name, version) = (name.to_string(), version.to_string());
        self.blocking(move |s| s.get_model_version(&name, &version))
            .await
    }
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        let (name, version) = (name.to_string(), version.to_string());
        self.writing(move |s| s.update_model_version(&name, &version, description))
            .await
    }
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        let (name, version, stage) = (name.to_string(), version.to_string(), stage.to_string());
        self.writing(move |s| {
            s.transition_stage(&name, &version, &stage, archive_existing_versions)
        })
        .await
    }
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        let (name, version) = (name.to_string(), version.to_string());
        self.writing(move |s| s.delete_model_version(&name, &version))
            .await
    }
    async fn search_model_versions(&self, search: RegistrySearch) -> Result<Page<ModelVersion>> {
        self.blocking(move |s| s.search_model_versions(search))
            .await
    }
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        let (name, version) = (name.to_string(), version.to_string());
        self.blocking(move |s| s.download_uri(&name, &version))
            .await
    }
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()> {
        let (name, version) = (name.to_string(), version.to_string());
        self.writing(move |s| s.set_model_version_tag(&name, &version, tag))
            .await
    }
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        let (name, version, key) = (name.to_string(), version.to_string(), key.to_string());
        self.writing(move |s| s.delete_model_version_tag(&name, &version, &key))
            .await
    }
    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        let (name, alias, version) = (name.to_string(), alias.to_string(), version.to_string());
        self.writing(move |s| s.set_alias(&name, &alias, &version))
            .await
    }
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.writing(move |s| s.delete_alias(&name, &alias)).await
    }
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.blocking(move |s| s.get_by_alias(&name, &alias)).await
    }
}
