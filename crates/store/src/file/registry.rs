//! The model registry in the file store: `<root>/models/<name>/` with `meta.yaml`,
//! `tags/`, `aliases/<alias>` (a file holding the version) and `version-<n>/`.
//! A deleted version keeps its folder in the `Deleted_Internal` stage, as MLflow's file
//! store does, so that its number is never given again.

use std::path::{Path, PathBuf};

use ferroflow_core::entities::{
    ModelVersion, ModelVersionStatus, Page, RegisteredModel, RegisteredModelAlias, Tag,
};
use ferroflow_core::model_uri::{ModelRef, ModelUri};
use ferroflow_core::registry::{
    MAX_SEARCH_MODEL_VERSIONS, MAX_SEARCH_REGISTERED_MODELS, STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL, STAGE_NONE, STAGE_PRODUCTION, STAGE_STAGING, alias_not_found,
    canonical_stage, parse_version, registered_model_exists, validate_alias, validate_description,
    validate_model_name, validate_registry_tag,
};
use ferroflow_core::rules::{model_version_not_found, registered_model_not_found};
use ferroflow_core::search::registry::{
    compare_model_versions, compare_registered_models, matches_model_version,
    matches_registered_model, model_version_search_order, parse_model_version_filter,
    parse_registered_model_filter, parse_registered_model_order_by,
};
use ferroflow_core::version_source::{
    self, SourceLookup, SourceModel, SourceRequest, SourceVersion,
};
use ferroflow_core::{Error, Result, now_millis, page_token, pyjson};
use serde_json::{Value, json};

use super::{Inner, MODELS, int, io_error, page, text, write_atomic};
use crate::{CreateModelVersion, RegistrySearch};

/// A registered model's name is a folder name here: it may not climb out of `models/`.
fn check_name(name: &str) -> Result<()> {
    validate_model_name(name)?;
    let norm = ferroflow_core::validation::normpath(name);
    if norm != name || norm.starts_with("..") || norm.starts_with('/') || name.contains('\\') {
        return Err(Error::invalid_param(format!(
            "Invalid registered model name '{name}': a file store keeps each model in a folder of that name"
        )));
    }
    Ok(())
}

fn check_page_size(max: i64, limit: i64) -> Result<()> {
    if max < 1 || max > limit {
        return Err(Error::invalid_param(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be at most {limit}, and at least 1."
        )));
    }
    Ok(())
}

impl Inner {
    fn models_dir(&self) -> PathBuf {
        self.root.join(MODELS)
    }

    fn model_dir(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        let dir = self.models_dir().join(name);
        if dir.join(super::META).is_file() {
            Ok(dir)
        } else {
            Err(registered_model_not_found(name))
        }
    }

    fn version_dirs(&self, model_dir: &Path) -> Vec<(i64, PathBuf)> {
        let mut out: Vec<(i64, PathBuf)> = self
            .subdirs(model_dir)
            .into_iter()
            .filter_map(|(n, p)| Some((n.strip_prefix("version-")?.parse().ok()?, p)))
            .collect();
        out.sort_by_key(|(v, _)| *v);
        out
    }

    fn aliases_of(&self, model_dir: &Path) -> Vec<RegisteredModelAlias> {
        self.read_values(&model_dir.join("aliases"))
            .into_iter()
            .map(|(alias, version)| RegisteredModelAlias {
                alias,
                version: version.trim().to_string(),
            })
            .collect()
    }

    /// A version as stored (deleted ones included); `None` when unreadable.
    fn version_from(&self, dir: &Path) -> Option<ModelVersion> {
        let m = self.read_meta(dir)?;
        let version = int(&m, "version")?;
        Some(ModelVersion {
            name: text(&m, "name").unwrap_or_default(),
            version: version.to_string(),
            creation_timestamp: int(&m, "creation_timestamp"),
            last_updated_timestamp: int(&m, "last_updated_timestamp"),
            user_id: text(&m, "user_id").filter(|s| !s.is_empty()),
            current_stage: text(&m, "current_stage").unwrap_or_else(|| STAGE_NONE.into()),
            description: text(&m, "description").unwrap_or_default(),
            source: text(&m, "source").unwrap_or_default(),
            run_id: text(&m, "run_id").filter(|s| !s.is_empty()),
            status: text(&m, "status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(ModelVersionStatus::Ready),
            status_message: text(&m, "status_message").filter(|s| !s.is_empty()),
            tags: self
                .read_values(&dir.join("tags"))
                .into_iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect(),
            run_link: text(&m, "run_link").unwrap_or_default(),
            aliases: Vec::new(),
            // As the SQL store: the version's model id is in its source.
            model_id: None,
        })
    }

    /// The visible versions of a model folder, in version order.
    fn live_versions_of(&self, model_dir: &Path) -> Vec<ModelVersion> {
        self.version_dirs(model_dir)
            .into_iter()
            .filter_map(|(_, d)| self.version_from(&d))
            .filter(|v| v.current_stage != STAGE_DELETED_INTERNAL)
            .collect()
    }

    /// Every visible version of every registered model.
    pub(crate) fn live_versions(&self) -> Vec<ModelVersion> {
        self.subdirs(&self.models_dir())
            .into_iter()
            .flat_map(|(_, d)| self.live_versions_of(&d))
            .collect()
    }

    fn version_dir(&self, name: &str, version: i64) -> Result<(PathBuf, ModelVersion)> {
        let dir = self.model_dir(name)?.join(format!("version-{version}"));
        match self.version_from(&dir) {
            Some(v) if v.current_stage != STAGE_DELETED_INTERNAL => Ok((dir, v)),
            _ => Err(model_version_not_found(name, &version.to_string())),
        }
    }

    fn model_from(&self, dir: &Path) -> Option<RegisteredModel> {
        let m = self.read_meta(dir)?;
        let versions = self.live_versions_of(dir);
        // The newest version per stage, in version order.
        let mut latest: Vec<ModelVersion> = Vec::new();
        for v in versions.into_iter().rev() {
            if !latest.iter().any(|l| l.current_stage == v.current_stage) {
                latest.push(v);
            }
        }
        latest.sort_by_key(|v| v.version.parse::<i64>().unwrap_or(0));
        Some(RegisteredModel {
            name: text(&m, "name").unwrap_or_default(),
            creation_timestamp: int(&m, "creation_timestamp"),
            last_updated_timestamp: int(&m, "last_updated_timestamp"),
            user_id: None,
            description: text(&m, "description").filter(|d| !d.is_empty()),
            latest_versions: latest,
            tags: self
                .read_values(&dir.join("tags"))
                .into_iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect(),
            aliases: self.aliases_of(dir),
        })
    }

    fn write_model_meta(&self, dir: &Path, rm: &RegisteredModel) -> Result<()> {
        let mut m = self
            .read_meta(dir)
            .map(|m| (*m).clone())
            .unwrap_or_default();
        for k in ["tags", "latest_versions", "aliases"] {
            m.remove(k);
        }
        m.insert("name".into(), json!(rm.name));
        m.insert("creation_timestamp".into(), json!(rm.creation_timestamp));
        m.insert(
            "last_updated_timestamp".into(),
            json!(rm.last_updated_timestamp),
        );
        m.insert("description".into(), json!(rm.description));
        self.write_meta(dir, &m)
    }

    fn write_version_meta(
        &self,
        dir: &Path,
        v: &ModelVersion,
        storage: Option<&str>,
        model_id: Option<&str>,
    ) -> Result<()> {
        let mut m = self
            .read_meta(dir)
            .map(|m| (*m).clone())
            .unwrap_or_default();
        for k in ["tags", "aliases", "metrics", "params"] {
            m.remove(k);
        }
        let opt = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
        for (k, val) in [
            ("name", json!(v.name)),
            ("version", json!(v.version.parse::<i64>().unwrap_or(0))),
            ("creation_timestamp", json!(v.creation_timestamp)),
            ("last_updated_timestamp", json!(v.last_updated_timestamp)),
            ("user_id", json!(v.user_id)),
            ("current_stage", json!(v.current_stage)),
            ("description", opt(&v.description)),
            ("source", json!(v.source)),
            ("run_id", json!(v.run_id)),
            ("run_link", opt(&v.run_link)),
            ("status", json!(v.status.as_str())),
            ("status_message", json!(v.status_message)),
        ] {
            m.insert(k.into(), val);
        }
        if let Some(s) = storage {
            m.insert("storage_location".into(), json!(s));
        }
        if let Some(id) = model_id {
            m.insert("model_id".into(), json!(id));
        }
        self.write_meta(dir, &m)
    }

    fn touch_model(&self, dir: &Path, now: i64) -> Result<()> {
        let mut rm = self
            .model_from(dir)
            .ok_or_else(|| Error::internal(format!("unreadable {}", dir.display())))?;
        rm.last_updated_timestamp = Some(now);
        self.write_model_meta(dir, &rm)
    }

    fn versioned(&self, v: ModelVersion, model_dir: &Path) -> ModelVersion {
        let aliases = self
            .aliases_of(model_dir)
            .into_iter()
            .filter(|a| a.version == v.version)
            .map(|a| a.alias)
            .collect();
        ModelVersion { aliases, ..v }
    }

    pub(crate) fn create_registered_model(
        &self,
        name: &str,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        check_name(name)?;
        validate_description(description.as_deref())?;
        for t in &tags {
            validate_registry_tag(&t.key, &t.value)?;
        }
        let dir = self.models_dir().join(name);
        if dir.join(super::META).is_file() {
            return Err(registered_model_exists(name));
        }
        let now = now_millis();
        self.write_model_meta(
            &dir,
            &RegisteredModel {
                name: name.to_string(),
                creation_timestamp: Some(now),
                last_updated_timestamp: Some(now),
                user_id: None,
                description,
                latest_versions: Vec::new(),
                tags: Vec::new(),
                aliases: Vec::new(),
            },
        )?;
        for t in &tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        self.get_registered_model(name)
    }

    pub(crate) fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let dir = self.model_dir(name)?;
        self.model_from(&dir)
            .ok_or_else(|| registered_model_not_found(name))
    }

    pub(crate) fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel> {
        check_name(name)?;
        if new_name.trim().is_empty() {
            return Err(Error::missing("new_name"));
        }
        check_name(new_name)?;
        let dir = self.model_dir(name)?;
        let target = self.models_dir().join(new_name);
        if new_name != name && target.exists() {
            return Err(registered_model_exists(new_name));
        }
        let now = now_millis();
        if new_name != name {
            std::fs::rename(&dir, &target).map_err(|e| io_error("rename", &dir, e))?;
        }
        let mut rm = self
            .model_from(&target)
            .ok_or_else(|| registered_model_not_found(new_name))?;
        rm.name = new_name.to_string();
        rm.last_updated_timestamp = Some(now);
        self.write_model_meta(&target, &rm)?;
        for (_, vdir) in self.version_dirs(&target) {
            if let Some(mut meta) = self.read_meta(&vdir).map(|m| (*m).clone()) {
                meta.insert("name".into(), json!(new_name));
                meta.insert("last_updated_timestamp".into(), json!(now));
                self.write_meta(&vdir, &meta)?;
            }
        }
        self.get_registered_model(new_name)
    }

    pub(crate) fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        check_name(name)?;
        validate_description(description.as_deref())?;
        let dir = self.model_dir(name)?;
        let mut rm = self
            .model_from(&dir)
            .ok_or_else(|| registered_model_not_found(name))?;
        rm.description = description;
        rm.last_updated_timestamp = Some(now_millis());
        self.write_model_meta(&dir, &rm)?;
        self.get_registered_model(name)
    }

    pub(crate) fn delete_registered_model(&self, name: &str) -> Result<()> {
        let dir = self.model_dir(name)?;
        std::fs::remove_dir_all(&dir).map_err(|e| io_error("delete", &dir, e))
    }

    pub(crate) fn search_registered_models(
        &self,
        s: RegistrySearch,
    ) -> Result<Page<RegisteredModel>> {
        check_page_size(s.max_results, MAX_SEARCH_REGISTERED_MODELS)?;
        let filter = parse_registered_model_filter(&s.filter)?;
        let order = parse_registered_model_order_by(&s.order_by)?;
        page_token::decode_offset(s.page_token.as_deref())?;
        let mut found: Vec<RegisteredModel> = self
            .subdirs(&self.models_dir())
            .into_iter()
            .filter_map(|(_, d)| self.model_from(&d))
            .filter(|m| {
                filter
                    .as_ref()
                    .is_none_or(|f| matches_registered_model(f, m))
            })
            .collect();
        found.sort_by(|a, b| compare_registered_models(&order, a, b));
        page(found, s.max_results, s.page_token.as_deref())
    }

    pub(crate) fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>> {
        check_name(name)?;
        let stages = stages
            .iter()
            .map(|s| canonical_stage(s))
            .collect::<Result<Vec<_>>>()?;
        let model = self.get_registered_model(name)?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| stages.is_empty() || stages.contains(&v.current_stage.as_str()))
            .collect())
    }

    pub(crate) fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()> {
        check_name(name)?;
        validate_registry_tag(&tag.key, &tag.value)?;
        let dir = self.model_dir(name)?;
        write_atomic(&dir.join("tags").join(&tag.key), tag.value.as_bytes())
    }

    pub(crate) fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        let dir = self.model_dir(name)?;
        // Deleting a tag that is not there succeeds, as in MLflow.
        if ferroflow_core::validation::validate_key(key, "key").is_ok() {
            let _ = std::fs::remove_file(dir.join("tags").join(key));
        }
        Ok(())
    }

    pub(crate) fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        check_name(&req.name)?;
        validate_description(req.description.as_deref())?;
        for t in &req.tags {
            validate_registry_tag(&t.key, &t.value)?;
        }
        let model_dir = self.model_dir(&req.name)?;
        let src = version_source::resolve(
            &SourceRequest {
                source: req.source.trim().to_string(),
                run_id: req.run_id.clone(),
                model_id: req.model_id.clone(),
            },
            &mut FileLookup { s: self },
        )?;
        let version = self
            .version_dirs(&model_dir)
            .last()
            .map_or(1, |(v, _)| v + 1);
        let now = now_millis();
        let v = ModelVersion {
            name: req.name.clone(),
            version: version.to_string(),
            creation_timestamp: Some(now),
            last_updated_timestamp: Some(now),
            user_id: None,
            current_stage: STAGE_NONE.into(),
            description: req.description.clone().unwrap_or_default(),
            source: src.source.clone(),
            run_id: src.run_id.clone(),
            status: ModelVersionStatus::Ready,
            status_message: None,
            tags: Vec::new(),
            run_link: req.run_link.clone().unwrap_or_default(),
            aliases: Vec::new(),
            model_id: None,
        };
        let dir = model_dir.join(format!("version-{version}"));
        self.write_version_meta(
            &dir,
            &v,
            Some(&src.storage_location),
            src.model_id.as_deref(),
        )?;
        for t in &req.tags {
            write_atomic(&dir.join("tags").join(&t.key), t.value.as_bytes())?;
        }
        self.touch_model(&model_dir, now)?;
        if let Some(id) = &src.model_id {
            self.note_version_on_logged_model(id, &req.name, version)?;
        }
        self.get_model_version(&req.name, &version.to_string())
    }

    /// Records a new version on the logged model it came from, as MLflow does.
    fn note_version_on_logged_model(&self, model_id: &str, name: &str, version: i64) -> Result<()> {
        const KEY: &str = "mlflow.modelVersions";
        let Ok(dir) = self.logged_model_dir(model_id) else {
            return Ok(());
        };
        let path = dir.join("tags").join(KEY);
        let mut list: Vec<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        list.push(json!({"name": name, "version": version}));
        write_atomic(&path, pyjson::dumps(&Value::Array(list)).as_bytes())
    }

    pub(crate) fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        check_name(name)?;
        let v = parse_version(version)?;
        let (_, mv) = self.version_dir(name, v)?;
        Ok(self.versioned(mv, &self.model_dir(name)?))
    }

    fn update_version(
        &self,
        name: &str,
        version: &str,
        change: impl FnOnce(&mut ModelVersion),
    ) -> Result<ModelVersion> {
        check_name(name)?;
        let num = parse_version(version)?;
        let (dir, mut v) = self.version_dir(name, num)?;
        change(&mut v);
        v.last_updated_timestamp = Some(now_millis());
        self.write_version_meta(&dir, &v, None, None)?;
        self.get_model_version(name, version)
    }

    pub(crate) fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        validate_description(description.as_deref())?;
        self.update_version(name, version, |v| {
            v.description = description.unwrap_or_default();
        })
    }

    pub(crate) fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        check_name(name)?;
        let num = parse_version(version)?;
        let stage = canonical_stage(stage)?;
        if archive_existing && !(stage == STAGE_STAGING || stage == STAGE_PRODUCTION) {
            return Err(Error::invalid_param(format!(
                "Model version transition cannot archive existing model versions because '{stage}' is not an Active stage. Valid stages are {STAGE_STAGING}, {STAGE_PRODUCTION}"
            )));
        }
        let model_dir = self.model_dir(name)?;
        self.version_dir(name, num)?;
        let now = now_millis();
        if archive_existing {
            for other in self.live_versions_of(&model_dir) {
                if other.current_stage == stage && other.version != num.to_string() {
                    let dir = model_dir.join(format!("version-{}", other.version));
                    let mut o = other;
                    o.current_stage = STAGE_ARCHIVED.into();
                    o.last_updated_timestamp = Some(now);
                    self.write_version_meta(&dir, &o, None, None)?;
                }
            }
        }
        let v = self.update_version(name, version, |v| v.current_stage = stage.to_string())?;
        self.touch_model(&model_dir, now)?;
        Ok(v)
    }

    pub(crate) fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        check_name(name)?;
        let num = parse_version(version)?;
        let model_dir = self.model_dir(name)?;
        let (dir, mut v) = self.version_dir(name, num)?;
        for a in self.aliases_of(&model_dir) {
            if a.version == v.version {
                let _ = std::fs::remove_file(model_dir.join("aliases").join(&a.alias));
            }
        }
        let now = now_millis();
        v.current_stage = STAGE_DELETED_INTERNAL.into();
        v.last_updated_timestamp = Some(now);
        self.write_version_meta(&dir, &v, None, None)?;
        self.touch_model(&model_dir, now)
    }

    pub(crate) fn search_model_versions(&self, s: RegistrySearch) -> Result<Page<ModelVersion>> {
        check_page_size(s.max_results, MAX_SEARCH_MODEL_VERSIONS)?;
        let filter = parse_model_version_filter(&s.filter)?;
        let order = model_version_search_order(&s.order_by)?;
        page_token::decode_offset(s.page_token.as_deref())?;
        let mut found: Vec<ModelVersion> = self
            .live_versions()
            .into_iter()
            .filter(|v| filter.as_ref().is_none_or(|f| matches_model_version(f, v)))
            .collect();
        found.sort_by(|a, b| compare_model_versions(&order, a, b));
        page(found, s.max_results, s.page_token.as_deref())
    }

    pub(crate) fn download_uri(&self, name: &str, version: &str) -> Result<String> {
        check_name(name)?;
        let num = parse_version(version)?;
        let (dir, v) = self.version_dir(name, num)?;
        Ok(self
            .read_meta(&dir)
            .and_then(|m| text(&m, "storage_location"))
            .filter(|s| !s.is_empty())
            .unwrap_or(v.source))
    }

    pub(crate) fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()> {
        check_name(name)?;
        validate_registry_tag(&tag.key, &tag.value)?;
        let (dir, _) = self.version_dir(name, parse_version(version)?)?;
        write_atomic(&dir.join("tags").join(&tag.key), tag.value.as_bytes())
    }

    pub(crate) fn delete_model_version_tag(
        &self,
        name: &str,
        version: &str,
        key: &str,
    ) -> Result<()> {
        check_name(name)?;
        let (dir, _) = self.version_dir(name, parse_version(version)?)?;
        if ferroflow_core::validation::validate_key(key, "key").is_ok() {
            let _ = std::fs::remove_file(dir.join("tags").join(key));
        }
        Ok(())
    }

    pub(crate) fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        check_name(name)?;
        validate_alias(alias)?;
        let num = parse_version(version)?;
        self.version_dir(name, num)?;
        let model_dir = self.model_dir(name)?;
        write_atomic(
            &model_dir.join("aliases").join(alias),
            num.to_string().as_bytes(),
        )?;
        self.touch_model(&model_dir, now_millis())
    }

    pub(crate) fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        let model_dir = self.model_dir(name)?;
        let path = model_dir.join("aliases").join(alias);
        if validate_alias(alias).is_ok() && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| io_error("delete", &path, e))?;
            self.touch_model(&model_dir, now_millis())?;
        }
        Ok(())
    }

    pub(crate) fn get_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        check_name(name)?;
        if alias.is_empty() {
            return Err(Error::invalid_param(
                "Registered model alias name cannot be empty.",
            ));
        }
        let model_dir = self.model_dir(name)?;
        let version = self
            .aliases_of(&model_dir)
            .into_iter()
            .find(|a| a.alias == alias)
            .ok_or_else(|| alias_not_found(alias))?
            .version;
        self.get_model_version(name, &version)
    }
}

/// The facts MLflow's source rules need, read from the files.
struct FileLookup<'a> {
    s: &'a Inner,
}

impl SourceLookup for FileLookup<'_> {
    fn run_artifact_uri(&mut self, run_id: &str) -> Result<Option<String>> {
        Ok(self
            .s
            .run_dir(run_id)
            .ok()
            .and_then(|d| self.s.run_info_from(&d))
            .map(|i| i.artifact_uri))
    }

    fn logged_model(&mut self, model_id: &str) -> Result<Option<SourceModel>> {
        Ok(self.s.logged_model_any(model_id).map(|m| SourceModel {
            artifact_location: m.info.artifact_uri,
            source_run_id: m.info.source_run_id,
        }))
    }

    fn model_version(&mut self, uri: &ModelUri) -> Result<SourceVersion> {
        let s = self.s;
        let (name, version) = match &uri.model {
            ModelRef::Version { name, version } => (name.clone(), *version),
            ModelRef::Alias { name, alias } => {
                let dir = s.model_dir(name)?;
                let v = s
                    .aliases_of(&dir)
                    .into_iter()
                    .find(|a| &a.alias == alias)
                    .ok_or_else(|| alias_not_found(alias))?;
                (name.clone(), v.version.parse().unwrap_or(0))
            }
            ModelRef::Stage { name, .. } | ModelRef::Latest { name } => {
                let dir = s.model_dir(name)?;
                let v = s
                    .live_versions_of(&dir)
                    .into_iter()
                    .filter(|v| match &uri.model {
                        ModelRef::Stage { stage, .. } => v.current_stage == *stage,
                        _ => true,
                    })
                    .filter_map(|v| v.version.parse::<i64>().ok())
                    .max()
                    .ok_or_else(|| {
                        let text = match &uri.model {
                            ModelRef::Stage { name, stage } => format!("models:/{name}/{stage}"),
                            _ => format!("models:/{name}/latest"),
                        };
                        Error::not_found(format!(
                            "No versions of registered model '{name}' match '{text}'"
                        ))
                    })?;
                (name.clone(), v)
            }
            ModelRef::LoggedModel { model_id } => {
                return Err(Error::invalid_param(format!(
                    "Invalid model version source: 'models:/{model_id}'. The model_id request parameter must identify the resource that contains the source."
                )));
            }
        };
        let (_, v) = s.version_dir(&name, version)?;
        Ok(SourceVersion {
            name: name.clone(),
            version,
            run_id: v.run_id,
            model_id: None,
            download_uri: s.download_uri(&name, &version.to_string())?,
        })
    }

    fn real_path(&mut self, path: &str) -> String {
        crate::sql::real_path(path)
    }
}
