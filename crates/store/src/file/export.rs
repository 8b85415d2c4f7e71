//! Reading a whole file store into the records a migration writes (`crate::transfer`).
//!
//! The file store's own readers are used, so what is migrated is what it serves; fields
//! the served entities leave out (a run's `deleted_time` and 1.x source fields, a
//! version's storage location) are read from the same `meta.yaml`. Nothing here writes.

use std::path::{Path, PathBuf};

use ferroflow_core::entities::{LifecycleStage, LoggedModelStatus, RunStatus};
use serde_json::{Map, Value};

use super::{Inner, META, MODELS, int, text};
use crate::transfer::{
    DatasetRecord, ExperimentContent, ExperimentRecord, LinkRecord, LoggedModelRecord,
    ModelMetricRecord, PointRecord, RegisteredModelRecord, RunRecord, VersionRecord,
};

/// A read-only view of a file store for migration.
pub(crate) struct Exporter {
    inner: Inner,
    /// Each dataset's uuid by experiment and folder name, which run inputs refer to.
    datasets: std::sync::Mutex<std::collections::HashMap<(i64, String), String>>,
}

fn stage_name(s: LifecycleStage) -> &'static str {
    match s {
        LifecycleStage::Active => "active",
        LifecycleStage::Deleted => "deleted",
    }
}

fn status_name(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "RUNNING",
        RunStatus::Scheduled => "SCHEDULED",
        RunStatus::Finished => "FINISHED",
        RunStatus::Failed => "FAILED",
        RunStatus::Killed => "KILLED",
    }
}

/// MLflow's `SourceType`, stored as its integer in 1.x and 2.x `meta.yaml` files.
fn source_type(v: Option<&Value>) -> &'static str {
    const NAMES: &[&str] = &["NOTEBOOK", "JOB", "PROJECT", "LOCAL", "UNKNOWN"];
    match v {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(1) => "NOTEBOOK",
            Some(2) => "JOB",
            Some(3) => "PROJECT",
            Some(1000) => "UNKNOWN",
            _ => "LOCAL",
        },
        Some(Value::String(s)) => NAMES
            .iter()
            .find(|n| n.eq_ignore_ascii_case(s))
            .copied()
            .unwrap_or("UNKNOWN"),
        _ => "LOCAL",
    }
}

/// A YAML mapping's string pairs (a run input's `tags`).
fn string_pairs(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(t)) => t
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
            .collect(),
        _ => Vec::new(),
    }
}

impl Exporter {
    pub fn new(root: &Path) -> Exporter {
        let mut inner = Inner::new(
            super::absolute(root),
            String::new(),
            ferroflow_core::validation::LongValues::Truncate,
        );
        // What is skipped is in the migration's report.
        inner.log_warnings = false;
        Exporter {
            inner,
            datasets: Default::default(),
        }
    }

    /// Every file that was skipped so far, with why.
    pub fn skipped(&self) -> Vec<(PathBuf, String)> {
        self.inner.warnings()
    }

    /// Every experiment (deleted ones included) with its datasets, logged models and the
    /// folders of its runs, in id order.
    pub fn experiments(&self) -> Vec<ExperimentContent> {
        let s = &self.inner;
        let mut out: Vec<ExperimentContent> = Vec::new();
        for (dir, in_trash) in s.experiment_dirs() {
            let Some(e) = s.experiment_from(&dir, in_trash) else {
                continue;
            };
            let Ok(id) = e.experiment_id.parse::<i64>() else {
                s.warn(
                    &dir.join(META),
                    &format!(
                        "experiment id '{}' is not an integer, as a database requires",
                        e.experiment_id
                    ),
                );
                continue;
            };
            if out.iter().any(|c| c.experiment.id == id) {
                s.warn(
                    &dir.join(META),
                    &format!(
                        "experiment id {id} is another folder's too (in .trash and outside it?)"
                    ),
                );
                continue;
            }
            let traces = s.subdirs(&dir.join("traces")).len();
            if traces > 0 {
                s.warn(
                    &dir.join("traces"),
                    &format!(
                        "{traces} trace(s) not migrated: Ferroflow does not serve MLflow's traces"
                    ),
                );
            }
            let meta = s.read_meta(&dir);
            let experiment = ExperimentRecord {
                id,
                name: e.name,
                artifact_location: meta.as_deref().and_then(|m| text(m, "artifact_location")),
                lifecycle_stage: stage_name(e.lifecycle_stage),
                creation_time: e.creation_time,
                last_update_time: e.last_update_time,
                tags: e.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            };
            out.push(ExperimentContent {
                experiment,
                run_dirs: s.run_dirs_of(&dir),
                datasets: self.datasets(&dir, id),
                logged_models: self.logged_models(&dir, id),
            });
        }
        out.sort_by_key(|c| c.experiment.id);
        out
    }

    fn datasets(&self, exp_dir: &Path, experiment_id: i64) -> Vec<DatasetRecord> {
        let s = &self.inner;
        s.subdirs(&exp_dir.join("datasets"))
            .into_iter()
            .filter_map(|(folder, dir)| {
                let d = s.dataset(exp_dir, &folder)?;
                let uuid = s
                    .read_meta(&dir)
                    .and_then(|m| text(&m, "dataset_uuid"))
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                self.datasets
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((experiment_id, folder), uuid.clone());
                Some(DatasetRecord {
                    uuid,
                    experiment_id,
                    name: d.name,
                    digest: d.digest,
                    source_type: d.source_type,
                    source: d.source,
                    schema: d.schema,
                    profile: d.profile,
                })
            })
            .collect()
    }

    /// One run folder, read whole; `None` (with a warning) when its metadata is unreadable.
    pub fn run(&self, experiment_id: i64, dir: &Path) -> Option<RunRecord> {
        let s = &self.inner;
        let m = s.read_meta(dir)?;
        let info = s.run_info_from(dir)?;
        let run_uuid = info.run_uuid.clone();
        let pairs = |sub: &str| s.read_values(&dir.join(sub));
        let metrics = s
            .metric_files(dir)
            .into_iter()
            .map(|(key, path)| {
                let points = s
                    .metric_lines(&path, false)
                    .into_iter()
                    .map(|l| PointRecord {
                        timestamp: l.timestamp,
                        value: l.value,
                        step: l.step,
                    })
                    .collect();
                (key, points)
            })
            .collect();
        Some(RunRecord {
            dir: dir.to_path_buf(),
            experiment_id,
            name: info.run_name,
            source_type: source_type(m.get("source_type")),
            source_name: text(&m, "source_name").unwrap_or_default(),
            entry_point_name: text(&m, "entry_point_name").unwrap_or_default(),
            source_version: text(&m, "source_version").unwrap_or_default(),
            user_id: text(&m, "user_id"),
            status: status_name(info.status),
            start_time: int(&m, "start_time"),
            end_time: info.end_time,
            deleted_time: int(&m, "deleted_time"),
            lifecycle_stage: stage_name(info.lifecycle_stage),
            artifact_uri: text(&m, "artifact_uri"),
            params: pairs("params"),
            tags: pairs("tags"),
            metrics,
            links: self.links(dir, &run_uuid, experiment_id),
            run_uuid,
        })
    }

    /// A run's inputs (datasets and models it used) and outputs (models it produced).
    fn links(&self, dir: &Path, run_uuid: &str, experiment_id: i64) -> Vec<LinkRecord> {
        let s = &self.inner;
        let mut out = Vec::new();
        for (folder, input_dir) in s.subdirs(&dir.join("inputs")) {
            let Some(m) = s.read_meta(&input_dir) else {
                continue;
            };
            let source_id = text(&m, "source_id").unwrap_or(folder);
            let tags = string_pairs(m.get("tags"));
            match text(&m, "source_type").as_deref().unwrap_or("DATASET") {
                "DATASET" => {
                    let uuid = self
                        .datasets
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&(experiment_id, source_id.clone()))
                        .cloned();
                    let Some(uuid) = uuid else {
                        s.warn(
                            &input_dir.join(META),
                            &format!("dataset '{source_id}' is not in the experiment's datasets"),
                        );
                        continue;
                    };
                    out.push(LinkRecord {
                        source_type: "DATASET",
                        source_id: uuid,
                        destination_type: "RUN",
                        destination_id: run_uuid.to_string(),
                        step: 0,
                        tags,
                    })
                }
                "MODEL" => out.push(LinkRecord {
                    source_type: "RUN_INPUT",
                    source_id: run_uuid.to_string(),
                    destination_type: "MODEL_INPUT",
                    destination_id: source_id,
                    step: 0,
                    tags,
                }),
                other => s.warn(
                    &input_dir.join(META),
                    &format!("unknown input source type '{other}'"),
                ),
            }
        }
        for (folder, out_dir) in s.subdirs(&dir.join("outputs")) {
            let Some(m) = s.read_meta(&out_dir) else {
                continue;
            };
            out.push(LinkRecord {
                source_type: "RUN_OUTPUT",
                source_id: run_uuid.to_string(),
                destination_type: "MODEL_OUTPUT",
                destination_id: text(&m, "source_id").unwrap_or(folder),
                step: int(&m, "step").unwrap_or(0),
                tags: Vec::new(),
            });
        }
        out
    }

    fn logged_models(&self, exp_dir: &Path, experiment_id: i64) -> Vec<LoggedModelRecord> {
        let s = &self.inner;
        let mut out = Vec::new();
        for (folder, dir) in s.subdirs(&exp_dir.join(MODELS)) {
            let Some(m) = s.read_meta(&dir) else {
                continue;
            };
            let model_id = text(&m, "model_id").unwrap_or(folder);
            let status = match m.get("status") {
                Some(Value::String(st)) => st
                    .parse::<LoggedModelStatus>()
                    .map_or(LoggedModelStatus::Pending.code(), |st| st.code()),
                _ => int(&m, "status").unwrap_or(LoggedModelStatus::Pending.code()),
            };
            let mut metrics = Vec::new();
            for (name, path) in s.metric_files(&dir) {
                for l in s.metric_lines(&path, true) {
                    metrics.push(ModelMetricRecord {
                        name: name.clone(),
                        timestamp: l.timestamp,
                        step: l.step,
                        value: l.value,
                        run_id: l.run_id.unwrap_or_default(),
                        dataset_name: l.dataset_name,
                        dataset_digest: l.dataset_digest,
                    });
                }
            }
            out.push(LoggedModelRecord {
                model_id,
                experiment_id,
                name: text(&m, "name").unwrap_or_default(),
                artifact_location: text(&m, "artifact_location").unwrap_or_default(),
                creation_timestamp_ms: int(&m, "creation_timestamp").unwrap_or(0),
                last_updated_timestamp_ms: int(&m, "last_updated_timestamp").unwrap_or(0),
                status,
                lifecycle_stage: match text(&m, "lifecycle_stage").as_deref() {
                    Some("deleted") => "deleted",
                    _ => "active",
                },
                model_type: text(&m, "model_type"),
                source_run_id: text(&m, "source_run_id"),
                status_message: text(&m, "status_message"),
                params: s.read_values(&dir.join("params")),
                tags: s.read_values(&dir.join("tags")),
                metrics,
            });
        }
        out
    }

    /// Every registered model, with its versions (deleted ones included), in name order.
    pub fn registered_models(&self) -> Vec<RegisteredModelRecord> {
        let s = &self.inner;
        let mut out = Vec::new();
        for (folder, dir) in s.subdirs(&s.root.join(MODELS)) {
            let Some(m) = s.read_meta(&dir) else {
                continue;
            };
            let versions = s
                .subdirs(&dir)
                .into_iter()
                .filter(|(n, _)| n.starts_with("version-"))
                .filter_map(|(_, vdir)| self.version(&vdir))
                .collect();
            let aliases_dir = dir.join("aliases");
            let aliases = s
                .read_values(&aliases_dir)
                .into_iter()
                .filter_map(|(alias, v)| match v.trim().parse::<i64>() {
                    Ok(v) => Some((alias, v)),
                    Err(_) => {
                        s.warn(&aliases_dir.join(&alias), "not a version number");
                        None
                    }
                })
                .collect();
            out.push(RegisteredModelRecord {
                name: text(&m, "name").unwrap_or(folder),
                creation_time: int(&m, "creation_timestamp"),
                last_updated_time: int(&m, "last_updated_timestamp"),
                description: text(&m, "description"),
                tags: s.read_values(&dir.join("tags")),
                aliases,
                versions,
            });
        }
        out
    }

    fn version(&self, dir: &Path) -> Option<VersionRecord> {
        let s = &self.inner;
        let m: std::sync::Arc<Map<String, Value>> = s.read_meta(dir)?;
        let Some(version) = int(&m, "version") else {
            s.warn(&dir.join(META), "no version number");
            return None;
        };
        Some(VersionRecord {
            version,
            creation_time: int(&m, "creation_timestamp"),
            last_updated_time: int(&m, "last_updated_timestamp"),
            description: text(&m, "description"),
            user_id: text(&m, "user_id"),
            current_stage: text(&m, "current_stage").unwrap_or_else(|| "None".into()),
            source: text(&m, "source"),
            storage_location: text(&m, "storage_location"),
            run_id: text(&m, "run_id"),
            run_link: text(&m, "run_link"),
            status: text(&m, "status").unwrap_or_else(|| "READY".into()),
            status_message: text(&m, "status_message"),
            tags: s.read_values(&dir.join("tags")),
        })
    }
}
