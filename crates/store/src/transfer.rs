//! Moving MLflow's file store into a database: `ferroflow migrate-filestore`.
//!
//! The file store is read as it is served (`file::export`, the same parsing that serves
//! it, so every layout MLflow 1.x–3.x writes is understood), into plain records that
//! mirror MLflow's tables; `sql::import` writes them with MLflow's column mapping. Ids,
//! timestamps, lifecycle stages, deleted runs and experiments, the registry with its
//! deleted versions, and the links between runs, datasets and logged models are kept.
//!
//! Runs are read on every core while one thread writes. The database is built under a
//! temporary name beside the target and renamed into place after its one transaction
//! commits: the target is either absent or complete, never half-written, and a failed
//! or interrupted migration leaves the source and any previous target untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferroflow_core::{Error, Result};

/// An experiment, with its tags.
#[derive(Debug, Clone)]
pub(crate) struct ExperimentRecord {
    pub id: i64,
    pub name: String,
    pub artifact_location: Option<String>,
    pub lifecycle_stage: &'static str,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    pub tags: Vec<(String, String)>,
}

/// One point of a run's metric.
#[derive(Debug, Clone)]
pub(crate) struct PointRecord {
    pub timestamp: i64,
    pub value: f64,
    pub step: i64,
}

/// A link in MLflow's `inputs` table: a dataset or model used by a run, or a model it
/// produced.
#[derive(Debug, Clone)]
pub(crate) struct LinkRecord {
    pub source_type: &'static str,
    pub source_id: String,
    pub destination_type: &'static str,
    pub destination_id: String,
    pub step: i64,
    pub tags: Vec<(String, String)>,
}

/// A run with everything logged to it.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    /// The run's folder, for what is reported about it.
    pub dir: PathBuf,
    pub run_uuid: String,
    pub experiment_id: i64,
    pub name: Option<String>,
    pub source_type: &'static str,
    pub source_name: String,
    pub entry_point_name: String,
    pub source_version: String,
    pub user_id: Option<String>,
    pub status: &'static str,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub deleted_time: Option<i64>,
    pub lifecycle_stage: &'static str,
    pub artifact_uri: Option<String>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub metrics: Vec<(String, Vec<PointRecord>)>,
    pub links: Vec<LinkRecord>,
}

#[derive(Debug, Clone)]
pub(crate) struct DatasetRecord {
    pub uuid: String,
    pub experiment_id: i64,
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ModelMetricRecord {
    pub name: String,
    pub timestamp: i64,
    pub step: i64,
    pub value: f64,
    pub run_id: String,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct LoggedModelRecord {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub artifact_location: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub status: i64,
    pub lifecycle_stage: &'static str,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub status_message: Option<String>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub metrics: Vec<ModelMetricRecord>,
}

#[derive(Debug, Clone)]
pub(crate) struct VersionRecord {
    pub version: i64,
    pub creation_time: Option<i64>,
    pub last_updated_time: Option<i64>,
    pub description: Option<String>,
    pub user_id: Option<String>,
    pub current_stage: String,
    pub source: Option<String>,
    pub storage_location: Option<String>,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub status: String,
    pub status_message: Option<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct RegisteredModelRecord {
    pub name: String,
    pub creation_time: Option<i64>,
    pub last_updated_time: Option<i64>,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
    pub aliases: Vec<(String, i64)>,
    pub versions: Vec<VersionRecord>,
}

/// One experiment folder's content other than its runs.
#[derive(Debug, Clone)]
pub(crate) struct ExperimentContent {
    pub experiment: ExperimentRecord,
    pub run_dirs: Vec<PathBuf>,
    pub datasets: Vec<DatasetRecord>,
    pub logged_models: Vec<LoggedModelRecord>,
}

/// What a migration wrote, table by table, and what it could not read.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    /// The file-store folder that was read (`<source>/mlruns` or `<source>` itself).
    pub source: PathBuf,
    /// Rows written, by MLflow table name, in the order MLflow reports them.
    pub migrated: Vec<(&'static str, u64)>,
    /// Rows found in the new database, by the same names.
    pub in_database: BTreeMap<&'static str, u64>,
    /// Files and folders that were skipped, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Where a migration is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Reading the experiments' folders, before any run.
    Scanning { experiments: usize },
    /// `done` of `total` runs written.
    Runs { done: usize, total: usize },
    /// Writing the registry.
    Registry { models: usize },
    /// Committing and moving the database into place.
    Finishing,
}

/// Counts of rows, kept as MLflow's migration names them.
#[derive(Debug, Default)]
pub(crate) struct Counts(BTreeMap<&'static str, u64>);

/// MLflow's order for the summary.
pub(crate) const TABLES: &[&str] = &[
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
    "outputs",
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "registered_model_aliases",
    "model_versions",
    "model_version_tags",
];

impl Counts {
    pub fn add(&mut self, table: &'static str, n: u64) {
        *self.0.entry(table).or_default() += n;
    }
    fn into_ordered(self) -> Vec<(&'static str, u64)> {
        TABLES
            .iter()
            .filter_map(|t| self.0.get(t).filter(|n| **n > 0).map(|n| (*t, *n)))
            .collect()
    }
}

/// The file-store folder under `source`: `source/mlruns` when there is one, else
/// `source` itself when it holds experiments, `.trash` or `models`.
pub fn resolve_source(source: &Path) -> Result<PathBuf> {
    let nested = source.join("mlruns");
    if nested.is_dir() {
        return Ok(nested);
    }
    let looks_like_store = std::fs::read_dir(source).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            e.path().is_dir()
                && (name.bytes().all(|b| b.is_ascii_digit())
                    || name == crate::file::TRASH
                    || name == crate::file::MODELS)
        })
    });
    if looks_like_store {
        Ok(source.to_path_buf())
    } else {
        Err(Error::invalid_param(format!(
            "Cannot find mlruns directory in '{}'",
            source.display()
        )))
    }
}

/// The name a database is built under before it is moved to `target`.
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".ferroflow-partial");
    target.with_file_name(name)
}

/// Migrates the file store under `source` into a new SQLite database at `target`
/// (replacing the file there, if any, only once the new one is complete).
pub fn migrate_file_store(
    source: &Path,
    target: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<MigrationReport> {
    let root = resolve_source(source)?;
    let reader = crate::file::Exporter::new(&root);
    let partial = partial_path(target);
    remove_database(&partial)?;
    let mut skipped = Vec::new();
    let result = (|| {
        let mut import = crate::sql::Importer::create(&partial)?;
        let mut counts = Counts::default();

        let experiments = reader.experiments();
        progress(Progress::Scanning {
            experiments: experiments.len(),
        });
        let mut runs: Vec<(i64, PathBuf)> = Vec::new();
        let mut later = Vec::new();
        for content in experiments {
            import.experiment(&content.experiment, &mut counts)?;
            runs.extend(
                content
                    .run_dirs
                    .iter()
                    .map(|d| (content.experiment.id, d.clone())),
            );
            for d in &content.datasets {
                import.dataset(d, &mut counts)?;
            }
            later.push(content.logged_models);
        }

        // Runs are read on every core and written here, in one transaction.
        let total = runs.len();
        let next = AtomicUsize::new(0);
        let duplicates = &mut skipped;
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8);
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<RunRecord>(64);
            for _ in 0..workers {
                let tx = tx.clone();
                let (runs, next, reader) = (&runs, &next, &reader);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((exp_id, dir)) = runs.get(i) else {
                            break;
                        };
                        if let Some(rec) = reader.run(*exp_id, dir)
                            && tx.send(rec).is_err()
                        {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut done = 0;
            progress(Progress::Runs { done, total });
            for rec in rx {
                match import.run(&rec, &mut counts) {
                    Ok(true) => {}
                    Ok(false) => duplicates.push((
                        rec.dir.join(crate::file::META),
                        format!(
                            "run {} is already in another experiment's folder",
                            rec.run_uuid
                        ),
                    )),
                    Err(e) => {
                        // Stop the readers: nothing more will be written.
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                done += 1;
                if done % 16 == 0 || done == total {
                    progress(Progress::Runs { done, total });
                }
            }
            Ok(())
        })?;

        for models in later {
            for m in &models {
                import.logged_model(m, &mut counts)?;
            }
        }
        let registry = reader.registered_models();
        progress(Progress::Registry {
            models: registry.len(),
        });
        for m in &registry {
            import.registered_model(m, &mut counts)?;
        }
        progress(Progress::Finishing);
        let in_database = import.finish()?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::internal(format!("cannot sync {}: {e}", partial.display())))?;
        Ok((counts, in_database))
    })();
    let (counts, in_database) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = remove_database(&partial);
            return Err(e);
        }
    };
    // The old target's journal files would otherwise be taken for the new one's.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = target.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    std::fs::rename(&partial, target).map_err(|e| {
        Error::internal(format!(
            "cannot move {} to {}: {e}",
            partial.display(),
            target.display()
        ))
    })?;
    Ok(MigrationReport {
        source: root,
        migrated: counts.into_ordered(),
        in_database,
        skipped: {
            skipped.extend(reader.skipped());
            skipped.sort();
            skipped
        },
    })
}

/// Removes a SQLite database file and its journal files, if present.
fn remove_database(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot remove {}: {e}",
                    Path::new(&name).display()
                )));
            }
        }
    }
    Ok(())
}
