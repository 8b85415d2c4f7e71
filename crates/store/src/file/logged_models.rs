//! Logged models (MLflow 3) in the file store: `<experiment>/models/<model_id>/`.

use std::path::{Path, PathBuf};

use ferroflow_core::entities::{
    LifecycleStage, LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus, Metric, Page,
    Param, Tag,
};
use ferroflow_core::rules;
use ferroflow_core::search::logged_models::{
    LoggedModelAttr, LoggedModelKey, bind_logged_model_order_field, matches, on_datasets,
    parse_logged_model_filter,
};
use ferroflow_core::validation::{parse_experiment_id, validate_key};
use ferroflow_core::{Error, Result, ids, now_millis, page_token};
use serde_json::{Map, Value, json};

use super::{Inner, MODELS, int, page, text, write_atomic};
use crate::{CreateLoggedModel, LoggedModelSearch};

fn stage(m: &Map<String, Value>) -> LifecycleStage {
    text(m, "lifecycle_stage")
        .and_then(|s| s.parse().ok())
        .unwrap_or(LifecycleStage::Active)
}

impl Inner {
    /// The folder of a logged model (deleted or not).
    pub(crate) fn logged_model_dir(&self, model_id: &str) -> Result<PathBuf> {
        if model_id.is_empty() || model_id.contains(['/', '\\']) || model_id.starts_with('.') {
            return Err(rules::logged_model_not_found(model_id));
        }
        self.experiment_dirs()
            .into_iter()
            .map(|(d, _)| d.join(MODELS).join(model_id))
            .find(|d| d.join(super::META).is_file())
            .ok_or_else(|| rules::logged_model_not_found(model_id))
    }

    fn logged_model_from(&self, dir: &Path) -> Option<(LoggedModel, LifecycleStage)> {
        let m = self.read_meta(dir)?;
        let model_id = text(&m, "model_id")?;
        let info = LoggedModelInfo {
            model_id: model_id.clone(),
            experiment_id: text(&m, "experiment_id").unwrap_or_default(),
            name: text(&m, "name").unwrap_or_default(),
            creation_timestamp_ms: int(&m, "creation_timestamp").unwrap_or(0),
            last_updated_timestamp_ms: int(&m, "last_updated_timestamp").unwrap_or(0),
            artifact_uri: text(&m, "artifact_location").unwrap_or_default(),
            status: match m.get("status") {
                Some(Value::String(s)) => s.parse().unwrap_or(LoggedModelStatus::Unspecified),
                _ => LoggedModelStatus::from_code(int(&m, "status").unwrap_or(0)),
            },
            model_type: text(&m, "model_type").unwrap_or_default(),
            source_run_id: text(&m, "source_run_id").filter(|s| !s.is_empty()),
            status_message: text(&m, "status_message").filter(|s| !s.is_empty()),
            tags: self
                .read_values(&dir.join("tags"))
                .into_iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect(),
            registrations: Vec::new(),
        };
        let mut metrics = Vec::new();
        for (key, path) in self.metric_files(dir) {
            for l in self.metric_lines(&path, true) {
                let mut metric = Metric::new(key.clone(), l.value, l.timestamp, l.step);
                metric.run_id = l.run_id;
                metric.dataset_name = l.dataset_name;
                metric.dataset_digest = l.dataset_digest;
                metric.model_id = Some(model_id.clone());
                metrics.push(metric);
            }
        }
        let data = LoggedModelData {
            params: self
                .read_values(&dir.join("params"))
                .into_iter()
                .map(|(k, v)| Param::new(k, v))
                .collect(),
            metrics,
        };
        Some((LoggedModel { info, data }, stage(&m)))
    }

    /// An active logged model and its folder.
    fn active_logged_model(&self, model_id: &str) -> Result<(PathBuf, LoggedModel)> {
        let dir = self.logged_model_dir(model_id)?;
        match self.logged_model_from(&dir) {
            Some((m, LifecycleStage::Active)) => Ok((dir, m)),
            _ => Err(rules::logged_model_not_found(model_id)),
        }
    }

    /// A logged model's artifact location and source run, deleted or not.
    pub(crate) fn logged_model_any(&self, model_id: &str) -> Option<LoggedModel> {
        let dir = self.logged_model_dir(model_id).ok()?;
        self.logged_model_from(&dir).map(|(m, _)| m)
    }

    fn write_logged_model_meta(
        &self,
        dir: &Path,
        i: &LoggedModelInfo,
        stage: LifecycleStage,
    ) -> Result<()> {
        let mut m = self
            .read_meta(dir)
            .map(|m| (*m).clone())
            .unwrap_or_default();
        for (k, v) in [
            ("model_id", json!(i.model_id)),
            ("experiment_id", json!(i.experiment_id)),
            ("name", json!(i.name)),
            ("artifact_location", json!(i.artifact_uri)),
            ("creation_timestamp", json!(i.creation_timestamp_ms)),
            ("last_updated_timestamp", json!(i.last_updated_timestamp_ms)),
            ("status", json!(i.status.code())),
            ("status_message", json!(i.status_message)),
            ("model_type", json!(i.model_type)),
            ("source_run_id", json!(i.source_run_id)),
            ("lifecycle_stage", json!(stage.as_str())),
        ] {
            m.insert(k.into(), v);
        }
        self.write_meta(dir, &m)
    }

    pub(crate) fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModel> {
        parse_experiment_id(&req.experiment_id)?;
        for t in &req.tags {
            validate_key(&t.key, "tags.key")?;
        }
        for p in &req.params {
            validate_key(&p.key, "params.key")?;
        }
        let (exp_dir, exp) = {
            let (dir, trash) = self.experiment_dir(&req.experiment_id)?;
            let exp = self
                .experiment_from(&dir, trash)
                .ok_or_else(|| rules::experiment_not_found(&req.experiment_id))?;
            if exp.lifecycle_stage != LifecycleStage::Active {
                return Err(rules::experiment_not_active(
                    &req.experiment_id,
                    exp.lifecycle_stage,
                ));
            }
            (dir, exp)
        };
        let model_id = ids::new_logged_model_id();
        let now = now_millis();
        let info = LoggedModelInfo {
            model_id: model_id.clone(),
            experiment_id: exp.experiment_id.clone(),
            name: req
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(ids::random_run_name),
            creation_timestamp_ms: now,
            last_updated_timestamp_ms: now,
            artifact_uri: ferroflow_core::uri::join(
                &exp.artifact_location,
                &format!("models/{model_id}/artifacts"),
            ),
            status: LoggedModelStatus::Pending,
            model_type: req.model_type.unwrap_or_default(),
            source_run_id: req.source_run_id.filter(|s| !s.is_empty()),
            status_message: None,
            tags: Vec::new(),
            registrations: Vec::new(),
        };
        let dir = exp_dir.join(MODELS).join(&model_id);
        for sub in ["metrics", "params", "tags", "artifacts"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| super::io_error("create", &d, e))?;
        }
        self.write_logged_model_meta(&dir, &info, LifecycleStage::Active)?;
        for p in &req.params {
            write_atomic(&dir.join("params").join(&p.key), p.value.as_bytes())?;
        }
        for t in &req.tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        self.get_logged_model(&model_id)
    }

    pub(crate) fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.active_logged_model(model_id).map(|(_, m)| m)
    }

    pub(crate) fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let (dir, mut m) = self.active_logged_model(model_id)?;
        m.info.status = status;
        m.info.last_updated_timestamp_ms = now_millis();
        self.write_logged_model_meta(&dir, &m.info, LifecycleStage::Active)?;
        self.get_logged_model(model_id)
    }

    pub(crate) fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        let (dir, mut m) = self.active_logged_model(model_id)?;
        m.info.last_updated_timestamp_ms = now_millis();
        self.write_logged_model_meta(&dir, &m.info, LifecycleStage::Deleted)
    }

    pub(crate) fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()> {
        for t in &tags {
            validate_key(&t.key, "key")?;
        }
        let (dir, _) = self.active_logged_model(model_id)?;
        for t in &tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        Ok(())
    }

    pub(crate) fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let (dir, _) = self.active_logged_model(model_id)?;
        let path = dir.join("tags").join(key);
        if validate_key(key, "key").is_err() || !path.is_file() {
            return Err(Error::not_found(format!(
                "No tag with key '{key}' found for logged model with ID '{model_id}'."
            )));
        }
        std::fs::remove_file(&path).map_err(|e| super::io_error("delete", &path, e))
    }

    pub(crate) fn log_logged_model_params(&self, model_id: &str, params: Vec<Param>) -> Result<()> {
        for p in &params {
            validate_key(&p.key, "key")?;
        }
        let (dir, _) = self.active_logged_model(model_id)?;
        for p in &params {
            write_atomic(&dir.join("params").join(&p.key), p.value.as_bytes())?;
        }
        Ok(())
    }

    pub(crate) fn search_logged_models(&self, s: LoggedModelSearch) -> Result<Page<LoggedModel>> {
        rules::validate_search_logged_models_max_results(s.max_results)?;
        let exp_ids = s
            .experiment_ids
            .iter()
            .map(|e| parse_experiment_id(e).map(|n| n.to_string()))
            .collect::<Result<Vec<_>>>()?;
        let filter = parse_logged_model_filter(&s.filter)?;
        page_token::decode_offset(s.page_token.as_deref())?;
        let order = s
            .order_by
            .iter()
            .map(|(field, asc)| {
                let key = bind_logged_model_order_field(field)?;
                if matches!(key, LoggedModelKey::Param(_) | LoggedModelKey::Tag(_)) {
                    return Err(Error::invalid_param(format!(
                        "Ordering logged models by '{field}' is not supported"
                    )));
                }
                Ok((key, *asc))
            })
            .collect::<Result<Vec<_>>>()?;
        let metric_filtered = filter.as_ref().is_some_and(|f| {
            f.conds()
                .iter()
                .any(|c| matches!(c.key, LoggedModelKey::Metric(_)))
        });
        let mut found = Vec::new();
        for id in &exp_ids {
            let Ok((exp_dir, _)) = self.experiment_dir(id) else {
                continue;
            };
            for (_, dir) in self.subdirs(&exp_dir.join(MODELS)) {
                let Some((m, LifecycleStage::Active)) = self.logged_model_from(&dir) else {
                    continue;
                };
                if filter
                    .as_ref()
                    .is_some_and(|f| !matches(f, &m, &s.datasets))
                {
                    continue;
                }
                if !s.datasets.is_empty()
                    && !metric_filtered
                    && !m.data.metrics.iter().any(|p| on_datasets(p, &s.datasets))
                {
                    continue;
                }
                found.push(m);
            }
        }
        found.sort_by(|a, b| {
            for (key, asc) in &order {
                let ord = match key {
                    LoggedModelKey::Metric(k) => {
                        let best = |m: &LoggedModel| {
                            m.data
                                .metrics
                                .iter()
                                .filter(|p| &p.key == k && !p.value.is_nan())
                                .map(|p| p.value)
                                .fold(None, |acc: Option<f64>, v| {
                                    Some(acc.map_or(v, |a| a.max(v)))
                                })
                        };
                        match (best(a), best(b)) {
                            (None, None) => std::cmp::Ordering::Equal,
                            // Models without the metric come last, whatever the direction.
                            (None, Some(_)) => return std::cmp::Ordering::Greater,
                            (Some(_), None) => return std::cmp::Ordering::Less,
                            (Some(x), Some(y)) => {
                                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                            }
                        }
                    }
                    LoggedModelKey::Attr(attr) => {
                        let (x, y) = (&a.info, &b.info);
                        match attr {
                            LoggedModelAttr::CreationTimestamp => {
                                x.creation_timestamp_ms.cmp(&y.creation_timestamp_ms)
                            }
                            LoggedModelAttr::LastUpdatedTimestamp => x
                                .last_updated_timestamp_ms
                                .cmp(&y.last_updated_timestamp_ms),
                            LoggedModelAttr::Status => x.status.code().cmp(&y.status.code()),
                            LoggedModelAttr::Name => x.name.cmp(&y.name),
                            LoggedModelAttr::ModelId => x.model_id.cmp(&y.model_id),
                            LoggedModelAttr::ModelType => x.model_type.cmp(&y.model_type),
                            LoggedModelAttr::SourceRunId => x
                                .source_run_id
                                .as_deref()
                                .unwrap_or("")
                                .cmp(y.source_run_id.as_deref().unwrap_or("")),
                        }
                    }
                    _ => std::cmp::Ordering::Equal,
                };
                let ord = if *asc { ord } else { ord.reverse() };
                if ord.is_ne() {
                    return ord;
                }
            }
            b.info
                .creation_timestamp_ms
                .cmp(&a.info.creation_timestamp_ms)
                .then_with(|| a.info.model_id.cmp(&b.info.model_id))
        });
        page(found, s.max_results, s.page_token.as_deref())
    }
}
