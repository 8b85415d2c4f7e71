//! Experiments, runs, metrics and datasets in the file store.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use ferroflow_core::entities::{
    Dataset, DatasetInput, DatasetSummary, Experiment, LifecycleStage, Metric, ModelInput,
    ModelOutput, Page, Point, Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus, Tag,
};
use ferroflow_core::rules::{self, RUN_NAME_TAG};
use ferroflow_core::search::runs::RunKey;
use ferroflow_core::search::{OrderBy, experiments as exp_search, runs as run_search};
use ferroflow_core::validation::{
    parse_experiment_id, validate_experiment_name, validate_experiment_tag,
    validate_search_experiments_max_results, validate_tag,
};
use ferroflow_core::{Error, Result, ids, now_millis, page_token};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::{Inner, META, MODELS, RESERVED, TRASH, int, io_error, page, text, write_atomic};
use crate::{CreateRun, ExperimentSearch, Garbage, MetricHistory, RunSearch, RunUpdate};

/// MLflow's integer codes for run statuses in `meta.yaml`.
fn status_code(s: RunStatus) -> i64 {
    match s {
        RunStatus::Running => 1,
        RunStatus::Scheduled => 2,
        RunStatus::Finished => 3,
        RunStatus::Failed => 4,
        RunStatus::Killed => 5,
    }
}

fn status_from(v: Option<&Value>) -> RunStatus {
    match v {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(2) => RunStatus::Scheduled,
            Some(3) => RunStatus::Finished,
            Some(4) => RunStatus::Failed,
            Some(5) => RunStatus::Killed,
            _ => RunStatus::Running,
        },
        Some(Value::String(s)) => s.parse().unwrap_or(RunStatus::Running),
        _ => RunStatus::Running,
    }
}

fn stage_from(m: &Map<String, Value>) -> LifecycleStage {
    text(m, "lifecycle_stage")
        .and_then(|s| s.parse().ok())
        .unwrap_or(LifecycleStage::Active)
}

/// A metric file's line: `timestamp value [step [run_id] [dataset_name dataset_digest]]`.
#[derive(Debug, Clone)]
pub(crate) struct MetricLine {
    pub timestamp: i64,
    pub value: f64,
    pub step: i64,
    pub run_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

/// Parses a metric file; `model` files (a logged model's) carry the run id after the step.
/// Lines that do not parse are counted, not returned.
pub(crate) fn parse_metric_lines(text: &str, model: bool) -> (Vec<MetricLine>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split(' ').collect();
        let parsed = (|| {
            let timestamp: i64 = parts.first()?.parse().ok()?;
            let value: f64 = parts.get(1)?.parse().ok()?;
            let (step, rest): (i64, &[&str]) = match parts.len() {
                2 if !model => (0, &[]),
                _ => (parts.get(2)?.parse().ok()?, &parts[3..]),
            };
            let (run_id, ds) = match (model, rest.len()) {
                (false, 0) => (None, None),
                (false, 2) => (None, Some((rest[0], rest[1]))),
                (true, 1) => (Some(rest[0]), None),
                (true, 3) => (Some(rest[0]), Some((rest[1], rest[2]))),
                _ => return None,
            };
            Some(MetricLine {
                timestamp,
                value,
                step,
                run_id: run_id.map(str::to_string),
                dataset_name: ds.map(|d| d.0.to_string()),
                dataset_digest: ds.map(|d| d.1.to_string()),
            })
        })();
        match parsed {
            Some(m) => out.push(m),
            None => bad += 1,
        }
    }
    (out, bad)
}

/// A float as Python's `str()` writes it, so that both MLflow and Ferroflow read it back.
pub(crate) fn py_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Appends `lines` to a metric file in one write (concurrent appenders never interleave
/// inside a line).
pub(crate) fn append_lines(path: &Path, lines: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error("open", path, e))?;
    f.write_all(lines.as_bytes())
        .map_err(|e| io_error("append to", path, e))
}

fn md5_hex(parts: &[&str]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new experiment id as MLflow's file store makes them: a random positive 63-bit integer.
fn new_experiment_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut n = 0u64;
    for b in &bytes[..8] {
        n = (n << 8) | u64::from(*b);
    }
    (n & (i64::MAX as u64)).to_string()
}

impl Inner {
    // ---- experiments ----

    /// Experiment folders: `(dir, in_trash)`.
    pub(crate) fn experiment_dirs(&self) -> Vec<(PathBuf, bool)> {
        let mut out: Vec<(PathBuf, bool)> = self
            .subdirs(&self.root)
            .into_iter()
            .filter(|(name, _)| name != TRASH && name != MODELS && !name.starts_with('.'))
            .map(|(_, p)| (p, false))
            .collect();
        out.extend(
            self.subdirs(&self.root.join(TRASH))
                .into_iter()
                .map(|(_, p)| (p, true)),
        );
        out
    }

    pub(crate) fn experiment_from(&self, dir: &Path, in_trash: bool) -> Option<Experiment> {
        let m = self.read_meta(dir)?;
        let Some(id) = text(&m, "experiment_id") else {
            self.warn(&dir.join(META), "no experiment_id");
            return None;
        };
        let stage = if in_trash {
            LifecycleStage::Deleted
        } else {
            stage_from(&m)
        };
        Some(Experiment {
            experiment_id: id,
            name: text(&m, "name").unwrap_or_default(),
            artifact_location: text(&m, "artifact_location").unwrap_or_default(),
            lifecycle_stage: stage,
            last_update_time: int(&m, "last_update_time"),
            creation_time: int(&m, "creation_time"),
            tags: self
                .read_values(&dir.join("tags"))
                .into_iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect(),
            workspace: None,
        })
    }

    /// The folder of experiment `id` and whether it is in the trash.
    pub(crate) fn experiment_dir(&self, id: &str) -> Result<(PathBuf, bool)> {
        let num = parse_experiment_id(id)?;
        let name = num.to_string();
        let active = self.root.join(&name);
        if active.join(META).is_file() {
            return Ok((active, false));
        }
        let trashed = self.root.join(TRASH).join(&name);
        if trashed.join(META).is_file() {
            return Ok((trashed, true));
        }
        Err(rules::experiment_not_found(id))
    }

    pub(crate) fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let (dir, trash) = self.experiment_dir(id)?;
        self.experiment_from(&dir, trash)
            .ok_or_else(|| rules::experiment_not_found(id))
    }

    fn active_experiment(&self, id: &str) -> Result<(PathBuf, Experiment)> {
        let (dir, trash) = self.experiment_dir(id)?;
        let exp = self
            .experiment_from(&dir, trash)
            .ok_or_else(|| rules::experiment_not_found(id))?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(rules::experiment_not_active(id, exp.lifecycle_stage));
        }
        Ok((dir, exp))
    }

    pub(crate) fn all_experiments(&self) -> Vec<Experiment> {
        self.experiment_dirs()
            .iter()
            .filter_map(|(d, t)| self.experiment_from(d, *t))
            .collect()
    }

    pub(crate) fn experiment_by_name(&self, name: &str) -> Option<Experiment> {
        self.all_experiments().into_iter().find(|e| e.name == name)
    }

    fn write_experiment_meta(&self, dir: &Path, e: &Experiment) -> Result<()> {
        let mut m = self
            .read_meta(dir)
            .map(|m| (*m).clone())
            .unwrap_or_default();
        m.remove("tags");
        for (k, v) in [
            ("experiment_id", json!(e.experiment_id)),
            ("name", json!(e.name)),
            ("artifact_location", json!(e.artifact_location)),
            ("lifecycle_stage", json!(e.lifecycle_stage.as_str())),
            ("creation_time", json!(e.creation_time)),
            ("last_update_time", json!(e.last_update_time)),
        ] {
            m.insert(k.into(), v);
        }
        self.write_meta(dir, &m)
    }

    pub(crate) fn ensure_default_experiment(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root).map_err(|e| io_error("create", &self.root, e))?;
        if self.root.join("0").join(META).is_file()
            || self.root.join(TRASH).join("0").join(META).is_file()
        {
            return Ok(());
        }
        let now = now_millis();
        let exp = Experiment {
            experiment_id: "0".into(),
            name: "Default".into(),
            artifact_location: ferroflow_core::uri::join(&self.artifact_root, "0"),
            lifecycle_stage: LifecycleStage::Active,
            last_update_time: Some(now),
            creation_time: Some(now),
            tags: Vec::new(),
            workspace: None,
        };
        self.write_experiment_meta(&self.root.join("0"), &exp)
    }

    pub(crate) fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<String> {
        let given = rules::new_experiment(name, artifact_location, &tags)?;
        if let Some(e) = self.experiment_by_name(name) {
            return Err(rules::experiment_name_taken(
                name,
                e.lifecycle_stage == LifecycleStage::Deleted,
            ));
        }
        let mut id = new_experiment_id();
        while self.experiment_dir(&id).is_ok() {
            id = new_experiment_id();
        }
        let location = given.unwrap_or_else(|| ferroflow_core::uri::join(&self.artifact_root, &id));
        let now = now_millis();
        let dir = self.root.join(&id);
        self.write_experiment_meta(
            &dir,
            &Experiment {
                experiment_id: id.clone(),
                name: name.to_string(),
                artifact_location: location,
                lifecycle_stage: LifecycleStage::Active,
                last_update_time: Some(now),
                creation_time: Some(now),
                tags: Vec::new(),
                workspace: None,
            },
        )?;
        for t in &tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        Ok(id)
    }

    pub(crate) fn search_experiments(&self, s: ExperimentSearch) -> Result<Page<Experiment>> {
        validate_search_experiments_max_results(s.max_results)?;
        let filter = exp_search::parse_experiment_filter(&s.filter)?;
        let order = exp_search::parse_experiment_order_by(&s.order_by)?;
        let stages = s.view.stages();
        let mut found: Vec<Experiment> = self
            .all_experiments()
            .into_iter()
            .filter(|e| stages.contains(&e.lifecycle_stage))
            .filter(|e| filter.as_ref().is_none_or(|f| exp_search::matches(f, e)))
            .collect();
        found.sort_by(|a, b| exp_search::compare(&order, a, b));
        page(found, s.max_results, s.page_token.as_deref())
    }

    pub(crate) fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        validate_experiment_name(new_name)?;
        let (dir, trash) = self.experiment_dir(id)?;
        let mut exp = self
            .experiment_from(&dir, trash)
            .ok_or_else(|| rules::experiment_not_found(id))?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::invalid_param(
                "Cannot rename a non-active experiment.",
            ));
        }
        if exp.name == new_name {
            return Ok(());
        }
        if self.experiment_by_name(new_name).is_some() {
            return Err(rules::experiment_name_taken(new_name, false));
        }
        exp.name = new_name.to_string();
        exp.last_update_time = Some(now_millis());
        self.write_experiment_meta(&dir, &exp)
    }

    pub(crate) fn set_experiment_lifecycle(&self, id: &str, to: LifecycleStage) -> Result<()> {
        let (dir, trash) = self.experiment_dir(id)?;
        let mut exp = self
            .experiment_from(&dir, trash)
            .ok_or_else(|| rules::experiment_not_found(id))?;
        let from = match to {
            LifecycleStage::Deleted => LifecycleStage::Active,
            LifecycleStage::Active => LifecycleStage::Deleted,
        };
        let num = parse_experiment_id(id)?.to_string();
        if exp.lifecycle_stage != from {
            return Err(rules::experiment_stage_error(&num, to));
        }
        if num == "0" && to == LifecycleStage::Deleted {
            return Err(rules::default_experiment_undeletable());
        }
        let target = match to {
            LifecycleStage::Deleted => self.root.join(TRASH).join(&num),
            LifecycleStage::Active => self.root.join(&num),
        };
        if target.exists() {
            return Err(Error::invalid_param(format!(
                "Cannot move experiment {num}: {} already exists",
                target.display()
            )));
        }
        let now = now_millis();
        exp.lifecycle_stage = to;
        exp.last_update_time = Some(now);
        self.write_experiment_meta(&dir, &exp)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
        }
        std::fs::rename(&dir, &target).map_err(|e| io_error("move", &dir, e))?;
        self.run_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        // As the SQL store: the experiment's runs follow it.
        for run_dir in self.run_dirs_of(&target) {
            let Some(meta) = self.read_meta(&run_dir) else {
                continue;
            };
            let mut meta = (*meta).clone();
            meta.insert("lifecycle_stage".into(), json!(to.as_str()));
            meta.insert(
                "deleted_time".into(),
                if to == LifecycleStage::Deleted {
                    json!(now)
                } else {
                    Value::Null
                },
            );
            self.write_meta(&run_dir, &meta)?;
        }
        Ok(())
    }

    pub(crate) fn set_experiment_tag(&self, id: &str, tag: Tag) -> Result<()> {
        validate_experiment_tag(&tag)?;
        let (dir, mut exp) = self.active_experiment(id)?;
        write_atomic(&dir.join("tags").join(&tag.key), tag.value.as_bytes())?;
        exp.last_update_time = Some(now_millis());
        self.write_experiment_meta(&dir, &exp)
    }

    pub(crate) fn delete_experiment_tag(&self, id: &str, key: &str) -> Result<()> {
        let (dir, _) = self.active_experiment(id)?;
        let path = dir.join("tags").join(key);
        if ferroflow_core::validation::validate_key(key, "key").is_err() || !path.is_file() {
            return Err(rules::experiment_tag_not_found(
                &parse_experiment_id(id)?.to_string(),
                key,
            ));
        }
        std::fs::remove_file(&path).map_err(|e| io_error("delete", &path, e))
    }

    // ---- runs ----

    /// The run folders of an experiment folder.
    pub(crate) fn run_dirs_of(&self, exp_dir: &Path) -> Vec<PathBuf> {
        self.subdirs(exp_dir)
            .into_iter()
            .filter(|(name, _)| !RESERVED.contains(&name.as_str()) && !name.starts_with('.'))
            .filter_map(|(_, p)| {
                if p.join(META).is_file() {
                    Some(p)
                } else {
                    self.warn(&p.join(META), "a run folder without meta.yaml");
                    None
                }
            })
            .collect()
    }

    pub(crate) fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        if ferroflow_core::validation::validate_run_id(run_id).is_err() {
            return Err(rules::run_not_found(run_id));
        }
        if let Some(d) = self
            .run_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(run_id)
            && d.join(META).is_file()
        {
            return Ok(d.clone());
        }
        for (exp_dir, _) in self.experiment_dirs() {
            let d = exp_dir.join(run_id);
            if d.join(META).is_file() {
                self.run_dirs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(run_id.to_string(), d.clone());
                return Ok(d);
            }
        }
        Err(rules::run_not_found(run_id))
    }

    pub(crate) fn run_info_from(&self, dir: &Path) -> Option<RunInfo> {
        let m = self.read_meta(dir)?;
        let dir_name = dir.file_name()?.to_str()?.to_string();
        let run_id = text(&m, "run_id")
            .or_else(|| text(&m, "run_uuid"))
            .unwrap_or(dir_name);
        let experiment_id = text(&m, "experiment_id")
            .or_else(|| dir.parent()?.file_name()?.to_str().map(str::to_string))?;
        let run_name = text(&m, "run_name")
            .filter(|n| !n.is_empty())
            .or_else(|| {
                let tag = dir.join("tags").join(RUN_NAME_TAG);
                std::fs::read_to_string(tag).ok()
            })
            .or_else(|| text(&m, "name").filter(|n| !n.is_empty()));
        Some(RunInfo {
            run_uuid: run_id.clone(),
            experiment_id,
            run_name,
            user_id: text(&m, "user_id").unwrap_or_default(),
            status: status_from(m.get("status")),
            start_time: int(&m, "start_time").unwrap_or(0),
            end_time: int(&m, "end_time"),
            artifact_uri: text(&m, "artifact_uri").unwrap_or_default(),
            lifecycle_stage: stage_from(&m),
            run_id,
        })
    }

    fn run_info(&self, run_id: &str) -> Result<(PathBuf, RunInfo)> {
        let dir = self.run_dir(run_id)?;
        let info = self
            .run_info_from(&dir)
            .ok_or_else(|| rules::run_not_found(run_id))?;
        Ok((dir, info))
    }

    fn active_run(&self, run_id: &str) -> Result<(PathBuf, RunInfo)> {
        let (dir, info) = self.run_info(run_id)?;
        if info.lifecycle_stage != LifecycleStage::Active {
            return Err(rules::run_not_active(run_id, info.lifecycle_stage));
        }
        Ok((dir, info))
    }

    /// The metric files of a run (or logged model) folder, by key.
    pub(crate) fn metric_files(&self, dir: &Path) -> Vec<(String, PathBuf)> {
        super::walk_files(&dir.join("metrics"))
    }

    /// Every point of one metric file, with a warning naming the file for skipped lines.
    pub(crate) fn metric_lines(&self, path: &Path, model: bool) -> Vec<MetricLine> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        let (lines, bad) = parse_metric_lines(&text, model);
        if bad > 0 {
            self.warn(path, &format!("{bad} malformed metric line(s)"));
        }
        lines
    }

    /// The latest point of a run's metric file (highest step, then timestamp, then value).
    fn latest_metric(&self, key: &str, path: &Path) -> Option<Metric> {
        let latest = self.cached(path, |bytes| {
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            let (lines, bad) = parse_metric_lines(text, false);
            let best = lines
                .into_iter()
                .map(|l| Metric::new(key, l.value, l.timestamp, l.step))
                .max_by(rules::metric_order);
            Ok::<_, String>((best, bad))
        })?;
        match latest {
            Ok(v) => {
                if v.1 > 0 {
                    self.warn(path, &format!("{} malformed metric line(s)", v.1));
                }
                v.0.clone()
            }
            Err(e) => {
                self.warn(path, &e);
                None
            }
        }
    }

    pub(crate) fn dataset(&self, exp_dir: &Path, dataset_id: &str) -> Option<Dataset> {
        let m = self.read_meta(&exp_dir.join("datasets").join(dataset_id))?;
        Some(Dataset {
            name: text(&m, "name").unwrap_or_default(),
            digest: text(&m, "digest").unwrap_or_default(),
            source_type: text(&m, "source_type").unwrap_or_default(),
            source: text(&m, "source").unwrap_or_default(),
            schema: text(&m, "schema"),
            profile: text(&m, "profile"),
        })
    }

    fn inputs_of(&self, dir: &Path) -> RunInputs {
        let mut inputs = RunInputs::default();
        let exp_dir = dir.parent().unwrap_or(dir);
        for (_, input_dir) in self.subdirs(&dir.join("inputs")) {
            let Some(m) = self.read_meta(&input_dir) else {
                continue;
            };
            let source = text(&m, "source_id").unwrap_or_default();
            match text(&m, "source_type").as_deref() {
                Some("DATASET") => {
                    let Some(dataset) = self.dataset(exp_dir, &source) else {
                        continue;
                    };
                    let tags = match m.get("tags") {
                        Some(Value::Object(t)) => t
                            .iter()
                            .map(|(k, v)| {
                                Tag::new(
                                    k.clone(),
                                    v.as_str().map_or(v.to_string(), str::to_string),
                                )
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    inputs.dataset_inputs.push(DatasetInput { tags, dataset });
                }
                Some("MODEL") => inputs.model_inputs.push(ModelInput { model_id: source }),
                _ => {}
            }
        }
        inputs
    }

    fn outputs_of(&self, dir: &Path) -> RunOutputs {
        let mut outputs = RunOutputs::default();
        for (_, out_dir) in self.subdirs(&dir.join("outputs")) {
            let Some(m) = self.read_meta(&out_dir) else {
                continue;
            };
            if let Some(model_id) = text(&m, "source_id") {
                outputs.model_outputs.push(ModelOutput {
                    model_id,
                    step: int(&m, "step").unwrap_or(0),
                });
            }
        }
        outputs
    }

    pub(crate) fn full_run(&self, dir: &Path, info: RunInfo) -> Run {
        let pairs = |sub: &str| -> Vec<Tag> {
            self.read_values(&dir.join(sub))
                .into_iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect()
        };
        let metrics = self
            .metric_files(dir)
            .iter()
            .filter_map(|(k, p)| self.latest_metric(k, p))
            .collect();
        Run {
            info,
            data: RunData {
                metrics,
                params: pairs("params"),
                tags: pairs("tags"),
            },
            inputs: self.inputs_of(dir),
            outputs: self.outputs_of(dir),
        }
    }

    pub(crate) fn get_run(&self, run_id: &str) -> Result<Run> {
        let (dir, info) = self.run_info(run_id)?;
        Ok(self.full_run(&dir, info))
    }

    fn write_run_meta(&self, dir: &Path, info: &RunInfo, deleted_time: Option<i64>) -> Result<()> {
        let mut m = self
            .read_meta(dir)
            .map(|m| (*m).clone())
            .unwrap_or_else(|| {
                let mut m = Map::new();
                for (k, v) in [
                    ("entry_point_name", json!("")),
                    ("source_name", json!("")),
                    ("source_type", json!(4)),
                    ("source_version", json!("")),
                    ("tags", json!([])),
                ] {
                    m.insert(k.into(), v);
                }
                m
            });
        for (k, v) in [
            ("run_id", json!(info.run_id)),
            ("run_uuid", json!(info.run_id)),
            ("run_name", json!(info.run_name.clone().unwrap_or_default())),
            ("experiment_id", json!(info.experiment_id)),
            ("user_id", json!(info.user_id)),
            ("status", json!(status_code(info.status))),
            ("start_time", json!(info.start_time)),
            ("end_time", json!(info.end_time)),
            ("artifact_uri", json!(info.artifact_uri)),
            ("lifecycle_stage", json!(info.lifecycle_stage.as_str())),
            ("deleted_time", json!(deleted_time)),
        ] {
            m.insert(k.into(), v);
        }
        self.write_meta(dir, &m)
    }

    fn deleted_time(&self, dir: &Path) -> Option<i64> {
        self.read_meta(dir).and_then(|m| int(&m, "deleted_time"))
    }

    pub(crate) fn create_run(&self, req: CreateRun) -> Result<Run> {
        let mut tags = req.tags;
        for (i, t) in tags.iter_mut().enumerate() {
            validate_tag(t, &format!("tags[{i}]"), self.long_values)?;
        }
        let name = rules::new_run_name(req.run_name, &mut tags)?;
        let (exp_dir, exp) = self.active_experiment(&req.experiment_id)?;
        let run_id = ids::new_run_id();
        let dir = exp_dir.join(&run_id);
        let info = RunInfo {
            run_uuid: run_id.clone(),
            experiment_id: exp.experiment_id.clone(),
            run_name: Some(name),
            user_id: req.user_id.unwrap_or_default(),
            status: RunStatus::Running,
            start_time: req.start_time.unwrap_or_else(now_millis),
            end_time: None,
            artifact_uri: ferroflow_core::uri::join(
                &exp.artifact_location,
                &format!("{run_id}/artifacts"),
            ),
            lifecycle_stage: LifecycleStage::Active,
            run_id: run_id.clone(),
        };
        for sub in ["metrics", "params", "artifacts", "tags"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| io_error("create", &d, e))?;
        }
        self.write_run_meta(&dir, &info, None)?;
        for t in &tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        self.run_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run_id.clone(), dir.clone());
        Ok(self.full_run(&dir, info))
    }

    pub(crate) fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        rules::check_new_run_name(update.run_name.as_deref())?;
        let (dir, mut info) = self.active_run(run_id)?;
        if let Some(s) = update.status {
            info.status = s;
        }
        if let Some(e) = update.end_time {
            info.end_time = Some(e);
        }
        if let Some(n) = update.run_name.filter(|n| !n.is_empty()) {
            write_atomic(&dir.join("tags").join(RUN_NAME_TAG), n.as_bytes())?;
            info.run_name = Some(n);
        }
        let deleted = self.deleted_time(&dir);
        self.write_run_meta(&dir, &info, deleted)?;
        Ok(info)
    }

    pub(crate) fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        let (dir, mut info) = self.run_info(run_id)?;
        info.lifecycle_stage = stage;
        let deleted = (stage == LifecycleStage::Deleted).then(now_millis);
        self.write_run_meta(&dir, &info, deleted)
    }

    pub(crate) fn log_batch(&self, run_id: &str, mut batch: crate::Batch) -> Result<()> {
        rules::validate_log_batch(
            &batch.metrics,
            &mut batch.params,
            &mut batch.tags,
            self.long_values,
        )?;
        let (dir, mut info) = self.active_run(run_id)?;
        let params_dir = dir.join("params");
        for p in &batch.params {
            if let Ok(old) = std::fs::read_to_string(params_dir.join(&p.key))
                && old != p.value
            {
                return Err(rules::param_changed(run_id, &p.key, &old, &p.value));
            }
        }
        for p in &batch.params {
            let path = params_dir.join(&p.key);
            if !path.exists() {
                write_atomic(&path, p.value.as_bytes())?;
            }
        }
        let mut by_key: HashMap<&str, String> = HashMap::new();
        let mut by_model: HashMap<(&str, &str), String> = HashMap::new();
        for m in &batch.metrics {
            let mut line = format!("{} {} {}", m.timestamp, py_float(m.value), m.step);
            let ds = match (&m.dataset_name, &m.dataset_digest) {
                (Some(n), Some(d)) if !n.contains(' ') && !d.contains(' ') => format!(" {n} {d}"),
                _ => String::new(),
            };
            if let Some(model_id) = m.model_id.as_deref().filter(|s| !s.is_empty()) {
                by_model
                    .entry((model_id, m.key.as_str()))
                    .or_default()
                    .push_str(&format!("{line} {run_id}{ds}\n"));
            }
            line.push_str(&ds);
            line.push('\n');
            by_key.entry(m.key.as_str()).or_default().push_str(&line);
        }
        for (key, lines) in by_key {
            append_lines(&dir.join("metrics").join(key), &lines)?;
        }
        for ((model_id, key), lines) in by_model {
            if let Ok(model_dir) = self.logged_model_dir(model_id) {
                append_lines(&model_dir.join("metrics").join(key), &lines)?;
            }
        }
        for t in &batch.tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        if let Some(t) = batch.tags.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
            info.run_name = Some(t.value.clone());
            let deleted = self.deleted_time(&dir);
            self.write_run_meta(&dir, &info, deleted)?;
        }
        Ok(())
    }

    pub(crate) fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let (dir, _) = self.active_run(run_id)?;
        let path = dir.join("tags").join(key);
        if ferroflow_core::validation::validate_key(key, "key").is_err() || !path.is_file() {
            return Err(rules::run_tag_not_found(run_id, key));
        }
        std::fs::remove_file(&path).map_err(|e| io_error("delete", &path, e))
    }

    pub(crate) fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> Result<()> {
        rules::validate_log_inputs(&datasets)?;
        let (dir, _) = self.active_run(run_id)?;
        let exp_dir = dir.parent().unwrap_or(&dir).to_path_buf();
        for input in &datasets {
            let ds = &input.dataset;
            let dataset_id = md5_hex(&[&ds.name, &ds.digest]);
            let ds_dir = exp_dir.join("datasets").join(&dataset_id);
            if !ds_dir.join(META).is_file() {
                let mut m = Map::new();
                m.insert("name".into(), json!(ds.name));
                m.insert("digest".into(), json!(ds.digest));
                m.insert("source_type".into(), json!(ds.source_type));
                m.insert("source".into(), json!(ds.source));
                m.insert("schema".into(), json!(ds.schema));
                m.insert("profile".into(), json!(ds.profile));
                self.write_meta(&ds_dir, &m)?;
            }
            let input_dir = dir.join("inputs").join(md5_hex(&[&dataset_id, run_id]));
            if !input_dir.join(META).is_file() {
                let tags: Map<String, Value> = input
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), json!(t.value)))
                    .collect();
                self.write_meta(
                    &input_dir,
                    &vertex("DATASET", &dataset_id, "RUN", Value::Object(tags), None),
                )?;
            }
        }
        for m in &models {
            let input_dir = dir.join("inputs").join(md5_hex(&[&m.model_id, run_id]));
            if !input_dir.join(META).is_file() {
                self.write_meta(
                    &input_dir,
                    &vertex("MODEL", &m.model_id, "RUN", json!({}), None),
                )?;
            }
        }
        Ok(())
    }

    pub(crate) fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        let (dir, _) = self.active_run(run_id)?;
        for m in &models {
            if ferroflow_core::validation::validate_key(&m.model_id, "model_id").is_err()
                || m.model_id.contains('/')
            {
                return Err(Error::invalid_param(format!(
                    "Invalid model id '{}'",
                    m.model_id
                )));
            }
            let out_dir = dir.join("outputs").join(&m.model_id);
            self.write_meta(
                &out_dir,
                &vertex(
                    "RUN_OUTPUT",
                    &m.model_id,
                    "MODEL_OUTPUT",
                    json!({}),
                    Some(m.step),
                ),
            )?;
        }
        Ok(())
    }

    pub(crate) fn search_runs(&self, s: RunSearch) -> Result<Page<Run>> {
        rules::validate_search_runs_max_results(s.max_results)?;
        let filter = run_search::parse_run_filter(&s.filter)?;
        let order = run_search::parse_run_order_by(&s.order_by)?;
        page_token::decode_offset(s.page_token.as_deref())?;
        let stages = s.view.stages();
        let mut dirs = Vec::new();
        let mut seen = HashSet::new();
        for id in &s.experiment_ids {
            let num = parse_experiment_id(id)?.to_string();
            if !seen.insert(num.clone()) {
                continue;
            }
            if let Ok((exp_dir, _)) = self.experiment_dir(&num) {
                dirs.extend(self.run_dirs_of(&exp_dir));
            }
        }
        // Each run is read only as far as the filter and order need; the page's runs are
        // read whole afterwards. Reading is file system calls: spread over the cores.
        let needs = Needs::of(filter.as_ref(), &order);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let chunk = dirs.len().div_ceil(threads).max(1);
        let mut runs: Vec<(&PathBuf, Run)> = std::thread::scope(|scope| {
            let handles: Vec<_> = dirs
                .chunks(chunk)
                .map(|part| {
                    let (filter, needs) = (&filter, &needs);
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|dir| {
                                let info = self.run_info_from(dir)?;
                                if !stages.contains(&info.lifecycle_stage) {
                                    return None;
                                }
                                let run = self.partial_run(dir, info, needs);
                                filter
                                    .as_ref()
                                    .is_none_or(|f| run_search::matches(f, &run))
                                    .then_some((dir, run))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        runs.sort_by(|a, b| run_search::compare(&order, &a.1, &b.1));
        let found = page(runs, s.max_results, s.page_token.as_deref())?;
        Ok(Page {
            items: found
                .items
                .into_iter()
                .map(|(dir, run)| self.full_run(dir, run.info))
                .collect(),
            next_page_token: found.next_page_token,
        })
    }

    /// A run with only the metrics, params and tags `needs` names (and its dataset inputs
    /// when it names datasets): enough to filter and order it.
    fn partial_run(&self, dir: &Path, info: RunInfo, needs: &Needs) -> Run {
        let value = |sub: &str, key: &str| -> Option<String> {
            if ferroflow_core::validation::validate_key(key, "key").is_err() {
                return None;
            }
            let path = dir.join(sub).join(key);
            match self.cached(&path, |b| {
                String::from_utf8(b.to_vec()).map_err(|_| "not UTF-8 text".to_string())
            })? {
                Ok(v) => Some(v.as_ref().clone()),
                Err(e) => {
                    self.warn(&path, &e);
                    None
                }
            }
        };
        let pairs = |sub: &str, keys: &[String]| -> Vec<Tag> {
            keys.iter()
                .filter_map(|k| value(sub, k).map(|v| Tag::new(k.clone(), v)))
                .collect()
        };
        let metrics = needs
            .metrics
            .iter()
            .filter(|k| ferroflow_core::validation::validate_key(k, "key").is_ok())
            .filter_map(|k| self.latest_metric(k, &dir.join("metrics").join(k)))
            .collect();
        Run {
            info,
            data: RunData {
                metrics,
                params: pairs("params", &needs.params),
                tags: pairs("tags", &needs.tags),
            },
            inputs: if needs.datasets {
                self.inputs_of(dir)
            } else {
                RunInputs::default()
            },
            outputs: RunOutputs::default(),
        }
    }

    /// A run's points of `key`, in (step, timestamp, value) order.
    fn points(&self, run_id: &str, key: &str) -> Vec<Point> {
        let Ok(dir) = self.run_dir(run_id) else {
            return Vec::new();
        };
        if ferroflow_core::validation::validate_key(key, "key").is_err() {
            return Vec::new();
        }
        let mut pts: Vec<Point> = self
            .metric_lines(&dir.join("metrics").join(key), false)
            .into_iter()
            .map(|l| Point {
                value: l.value,
                timestamp: l.timestamp,
                step: l.step,
            })
            .collect();
        pts.sort_by(|a, b| {
            (a.step, a.timestamp).cmp(&(b.step, b.timestamp)).then(
                a.value
                    .partial_cmp(&b.value)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
        });
        pts
    }

    pub(crate) fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        token: Option<&str>,
    ) -> Result<MetricHistory> {
        if let Some(m) = max_results
            && m <= 0
        {
            return Err(Error::invalid_param(format!(
                "Invalid value {m} for parameter 'max_results' supplied. It must be a positive integer."
            )));
        }
        let offset = page_token::decode_offset(token)?.max(0) as usize;
        let all = self.points(run_id, key);
        let total = all.len();
        let pts: Vec<Point> = all
            .into_iter()
            .skip(offset)
            .take(max_results.map_or(usize::MAX, |m| m as usize))
            .collect();
        let next = (offset + pts.len() < total)
            .then(|| page_token::encode_offset((offset + pts.len()) as i64));
        Ok(history_of(pts, next))
    }

    pub(crate) fn metric_history_from(
        &self,
        run_id: &str,
        key: &str,
        start_step: i64,
    ) -> Result<MetricHistory> {
        let pts: Vec<Point> = self
            .points(run_id, key)
            .into_iter()
            .filter(|p| p.step >= start_step)
            .collect();
        Ok(history_of(pts, None))
    }

    pub(crate) fn metric_history_bulk(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        let ids: BTreeSet<&String> = run_ids.iter().collect();
        let mut out = Vec::new();
        for id in ids {
            let mut pts = self.points(id, key);
            pts.sort_by(|a, b| {
                (a.timestamp, a.step).cmp(&(b.timestamp, b.step)).then(
                    a.value
                        .partial_cmp(&b.value)
                        .unwrap_or(std::cmp::Ordering::Equal),
                )
            });
            out.extend(pts.into_iter().map(|p| {
                let mut m = Metric::new(key, p.value, p.timestamp, p.step);
                m.run_id = Some(id.clone());
                m
            }));
        }
        out.truncate(max_results.max(0) as usize);
        Ok(out)
    }

    pub(crate) fn metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        start_step: Option<i64>,
        end_step: Option<i64>,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        let mut out = Vec::new();
        for id in run_ids {
            let pts: Vec<Point> = self
                .points(id, key)
                .into_iter()
                .filter(|p| match (start_step, end_step) {
                    (Some(s), Some(e)) => p.step >= s && p.step <= e,
                    _ => true,
                })
                .collect();
            let steps: Vec<i64> = pts
                .iter()
                .map(|p| p.step)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let chosen = crate::sql::sample_steps(&steps, max_results.max(1) as usize);
            out.extend(
                pts.into_iter()
                    .filter(|p| chosen.contains(&p.step))
                    .map(|p| {
                        let mut m = Metric::new(key, p.value, p.timestamp, p.step);
                        m.run_id = Some(id.clone());
                        m
                    }),
            );
        }
        Ok(out)
    }

    pub(crate) fn dataset_summaries(
        &self,
        experiment_ids: &[String],
    ) -> Result<Vec<DatasetSummary>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for id in experiment_ids {
            let num = parse_experiment_id(id)?.to_string();
            let Ok((exp_dir, _)) = self.experiment_dir(&num) else {
                continue;
            };
            for dir in self.run_dirs_of(&exp_dir) {
                for input in self.inputs_of(&dir).dataset_inputs {
                    let context = input
                        .tags
                        .iter()
                        .find(|t| t.key == "mlflow.data.context")
                        .map(|t| t.value.clone());
                    let s = DatasetSummary {
                        experiment_id: num.clone(),
                        name: input.dataset.name,
                        digest: input.dataset.digest,
                        context,
                    };
                    if seen.insert((
                        s.name.clone(),
                        s.digest.clone(),
                        s.context.clone(),
                        num.clone(),
                    )) {
                        out.push(s);
                    }
                    if out.len() >= 1000 {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    // ---- maintenance ----

    pub(crate) fn garbage(&self, older_than_ms: Option<i64>) -> Result<Garbage> {
        let cutoff = older_than_ms.map(|age| now_millis() - age);
        let mut runs = Vec::new();
        let mut experiment_ids = Vec::new();
        for (exp_dir, trash) in self.experiment_dirs() {
            if trash && let Some(e) = self.experiment_from(&exp_dir, true) {
                experiment_ids.push(e.experiment_id);
            }
            for dir in self.run_dirs_of(&exp_dir) {
                let Some(info) = self.run_info_from(&dir) else {
                    continue;
                };
                if info.lifecycle_stage != LifecycleStage::Deleted {
                    continue;
                }
                if let Some(c) = cutoff
                    && self.deleted_time(&dir).unwrap_or(0) > c
                {
                    continue;
                }
                runs.push(info);
            }
        }
        let mut backing: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for v in self.live_versions() {
            if let Some(r) = &v.run_id
                && runs.iter().any(|i| &i.run_id == r)
            {
                backing
                    .entry(r.clone())
                    .or_default()
                    .push(format!("{}/{}", v.name, v.version));
            }
        }
        runs.retain(|r| !backing.contains_key(&r.run_id));
        Ok(Garbage {
            runs,
            experiment_ids,
            kept_runs: backing.into_iter().collect(),
        })
    }

    pub(crate) fn purge_run(&self, run_id: &str) -> Result<()> {
        let (dir, info) = self.run_info(run_id)?;
        if info.lifecycle_stage != LifecycleStage::Deleted {
            return Err(Error::invalid_param(format!(
                "Run {run_id} is not deleted; only deleted runs can be purged"
            )));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| io_error("delete", &dir, e))?;
        self.run_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(run_id);
        Ok(())
    }

    pub(crate) fn purge_experiment(&self, id: &str) -> Result<()> {
        let (dir, trash) = self.experiment_dir(id)?;
        let num = parse_experiment_id(id)?;
        if !trash {
            return Err(Error::invalid_param(format!(
                "Experiment {num} is not deleted; only deleted experiments can be purged"
            )));
        }
        if !self.run_dirs_of(&dir).is_empty() {
            return Err(Error::invalid_param(format!(
                "Experiment {num} still has runs; purge them first"
            )));
        }
        let models: Vec<String> = self
            .subdirs(&dir.join(MODELS))
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if let Some(v) = self.live_versions().into_iter().find(|v| {
            v.source
                .strip_prefix("models:/")
                .is_some_and(|m| models.iter().any(|id| id == m))
        }) {
            return Err(Error::invalid_param(format!(
                "Experiment {num} holds the artifacts of registered model version {}/{}; delete that version first",
                v.name, v.version
            )));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| io_error("delete", &dir, e))
    }
}

/// A history already read: one batch, and its page token.
/// The keys a run search's filter and order read.
#[derive(Debug, Default)]
struct Needs {
    metrics: Vec<String>,
    params: Vec<String>,
    tags: Vec<String>,
    datasets: bool,
}

impl Needs {
    fn of(filter: Option<&run_search::RunFilter>, order: &[OrderBy<RunKey>]) -> Needs {
        let mut needs = Needs::default();
        let keys = filter
            .map(|f| f.conds().into_iter().map(|c| &c.key).collect::<Vec<_>>())
            .unwrap_or_default();
        for key in keys.into_iter().chain(order.iter().map(|o| &o.key)) {
            let (list, k) = match key {
                RunKey::Metric(k) => (&mut needs.metrics, k),
                RunKey::Param(k) => (&mut needs.params, k),
                RunKey::Tag(k) => (&mut needs.tags, k),
                RunKey::Dataset(_) => {
                    needs.datasets = true;
                    continue;
                }
                RunKey::Attr(_) => continue,
            };
            if !list.contains(k) {
                list.push(k.clone());
            }
        }
        needs
    }
}

fn history_of(points: Vec<Point>, next: Option<String>) -> MetricHistory {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _ = tx.send(next);
    MetricHistory {
        points: futures_util::stream::iter(vec![Ok(points)]).boxed(),
        next_page_token: rx,
    }
}

/// An input or output's `meta.yaml`, as MLflow writes it (its destination id is the
/// source id, as MLflow's file store records it).
fn vertex(
    source_type: &str,
    source_id: &str,
    dest_type: &str,
    tags: Value,
    step: Option<i64>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("source_type".into(), json!(source_type));
    m.insert("source_id".into(), json!(source_id));
    m.insert("destination_type".into(), json!(dest_type));
    m.insert("destination_id".into(), json!(source_id));
    m.insert("tags".into(), tags);
    if let Some(s) = step {
        m.insert("step".into(), json!(s));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_of_every_mlflow_version() {
        let (lines, bad) = parse_metric_lines(
            "1000 0.5\n1001 0.25 3\n1002 nan 4 train abc\n1003 x 5\n\n1004 1.0 6 extra\n",
            false,
        );
        assert_eq!(bad, 2);
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0].step, lines[1].step), (0, 3));
        assert!(lines[2].value.is_nan());
        assert_eq!(lines[2].dataset_name.as_deref(), Some("train"));
        let (model, bad) = parse_metric_lines("1 2.0 0 r1\n1 2.0 0 r1 d e\n1 2.0 0\n", true);
        assert_eq!((model.len(), bad), (2, 1));
        assert_eq!(model[0].run_id.as_deref(), Some("r1"));
    }

    #[test]
    fn floats_as_python_prints_them() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(f64::NAN), "nan");
        assert_eq!(py_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(
            "1e-05".parse::<f64>().unwrap(),
            py_float(1e-5).parse::<f64>().unwrap()
        );
    }
}
