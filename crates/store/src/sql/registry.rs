//! The model registry on MLflow's tables: registered models, versions, tags, aliases.
//!
//! Versions are numbered inside the writer's transaction (the highest number ever given
//! plus one), so concurrent registrations of one name never collide or skip. A deleted
//! version keeps its row in the `Deleted_Internal` stage, as MLflow does: its number is
//! never given again, and it is invisible everywhere else.

use std::collections::HashMap;

use ferroflow_core::entities::{
    ModelVersion, ModelVersionStatus, Page, RegisteredModel, RegisteredModelAlias, Tag,
};
use ferroflow_core::model_uri::{ModelRef, ModelUri};
use ferroflow_core::pyjson;
use ferroflow_core::registry::{
    MAX_SEARCH_MODEL_VERSIONS, MAX_SEARCH_REGISTERED_MODELS, STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL, STAGE_NONE, STAGE_PRODUCTION, STAGE_STAGING, canonical_stage,
    parse_version, validate_alias, validate_model_name, validate_registry_tag,
};
use ferroflow_core::search::registry::{
    ModelVersionKey, ModelVersionOrder, RegisteredModelKey, RegisteredModelOrder,
    model_version_search_order, parse_model_version_filter, parse_registered_model_filter,
    parse_registered_model_order_by,
};
use ferroflow_core::search::{Op, Value};
use ferroflow_core::version_source::{
    self, SourceLookup, SourceModel, SourceRequest, SourceVersion,
};
use ferroflow_core::{Error, ErrorCode, Result, now_millis, page_token};

use super::db::{Conn, Row};
use super::query::{Arg, Sql, compile_expr, string_cond};
use super::{Dialect, SqlStore};
use crate::{CreateModelVersion, RegistrySearch};

/// The tag that marks a registered model as a prompt (MLflow's prompt registry).
const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

const VERSION_COLUMNS: &str = "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, mv.user_id, \
     mv.current_stage, mv.source, mv.run_id, mv.status, mv.status_message, mv.run_link, mv.storage_location";

fn version_from_row(r: &Row) -> Result<ModelVersion> {
    let source = r.str("source")?;
    Ok(ModelVersion {
        name: r.str("name")?,
        version: r.i64("version")?.to_string(),
        creation_timestamp: r.opt_i64("creation_time")?,
        last_updated_timestamp: r.opt_i64("last_updated_time")?,
        user_id: r.opt_str("user_id")?.filter(|s| !s.is_empty()),
        current_stage: r
            .opt_str("current_stage")?
            .unwrap_or_else(|| STAGE_NONE.into()),
        description: r.str("description")?,
        // MLflow's schema keeps no model id for a version (it is in `source`), and its
        // server does not return one.
        model_id: None,
        source,
        run_id: r.opt_str("run_id")?.filter(|s| !s.is_empty()),
        status: r
            .opt_str("status")?
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(ModelVersionStatus::Ready),
        status_message: r.opt_str("status_message")?.filter(|s| !s.is_empty()),
        tags: Vec::new(),
        run_link: r.str("run_link")?,
        aliases: Vec::new(),
    })
}

fn model_not_found(name: &str) -> Error {
    ferroflow_core::rules::registered_model_not_found(name)
}

fn version_not_found(name: &str, version: &str) -> Error {
    ferroflow_core::rules::model_version_not_found(name, version)
}

/// Locks a registered model's row for the rest of the write transaction (SQLite's
/// transactions already hold the whole database).
fn lock_model(c: &dyn Conn, name: &str) -> Result<()> {
    let mut sql =
        Sql::new("SELECT name FROM registered_models WHERE workspace = 'default' AND name = ?");
    sql.push(c.dialect().for_update()).arg(name);
    c.query_opt(&sql)?.ok_or_else(|| model_not_found(name))?;
    Ok(())
}

fn model_row(c: &dyn Conn, name: &str) -> Result<RegisteredModel> {
    let row = c
        .query_opt(
            &Sql::new("SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE workspace = 'default' AND name = ?")
                .with(name),
        )?
        .ok_or_else(|| model_not_found(name))?;
    Ok(RegisteredModel {
        name: row.str("name")?,
        creation_timestamp: row.opt_i64("creation_time")?,
        last_updated_timestamp: row.opt_i64("last_updated_time")?,
        user_id: None,
        description: row.opt_str("description")?.filter(|d| !d.is_empty()),
        latest_versions: Vec::new(),
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

/// A visible (not deleted) version.
fn version_row(c: &dyn Conn, name: &str, version: i64) -> Result<ModelVersion> {
    c.query_opt(
        &Sql::new(format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' AND mv.name = ? AND mv.version = ? AND mv.current_stage != ?"
        ))
        .with(name)
        .with(version)
        .with(STAGE_DELETED_INTERNAL),
    )?
    .as_ref()
    .map(version_from_row)
    .transpose()?
    .ok_or_else(|| version_not_found(name, &version.to_string()))
}

/// Adds tags to versions, and their aliases when `with_aliases` (MLflow shows aliases on a
/// version fetched alone, not in lists).
fn complete_versions(
    c: &dyn Conn,
    mut versions: Vec<ModelVersion>,
    with_aliases: bool,
) -> Result<Vec<ModelVersion>> {
    if versions.is_empty() {
        return Ok(versions);
    }
    let mut names: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
    names.sort();
    names.dedup();
    let mut tags: HashMap<(String, String), Vec<Tag>> = HashMap::new();
    let mut sql = Sql::new(
        "SELECT name, version, key, value FROM model_version_tags WHERE workspace = 'default' AND name IN ",
    );
    sql.push_list(names.iter().cloned());
    sql.push(&c.dialect().written_order("model_version_tags"));
    for r in c.query(&sql)? {
        tags.entry((r.str("name")?, r.i64("version")?.to_string()))
            .or_default()
            .push(Tag::new(r.str("key")?, r.str("value")?));
    }
    let mut aliases: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut sql = Sql::new(
        "SELECT name, alias, version FROM registered_model_aliases WHERE workspace = 'default' AND name IN ",
    );
    sql.push_list(names.iter().cloned());
    sql.push(&c.dialect().written_order("registered_model_aliases"));
    let alias_rows = if with_aliases {
        c.query(&sql)?
    } else {
        Vec::new()
    };
    for r in alias_rows {
        aliases
            .entry((r.str("name")?, r.i64("version")?.to_string()))
            .or_default()
            .push(r.str("alias")?);
    }
    for v in versions.iter_mut() {
        let key = (v.name.clone(), v.version.clone());
        v.tags = tags.remove(&key).unwrap_or_default();
        v.aliases = aliases.remove(&key).unwrap_or_default();
    }
    Ok(versions)
}

/// Adds the newest version per stage, tags and aliases to registered models.
fn complete_models(c: &dyn Conn, mut models: Vec<RegisteredModel>) -> Result<Vec<RegisteredModel>> {
    if models.is_empty() {
        return Ok(models);
    }
    let names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
    let mut sql = Sql::new(format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' AND mv.current_stage != ? AND mv.name IN "
    ));
    sql.arg(STAGE_DELETED_INTERNAL)
        .push_list(names.iter().cloned());
    sql.push(
        " AND mv.version = (SELECT MAX(m2.version) FROM model_versions m2 \
         WHERE m2.workspace = mv.workspace AND m2.name = mv.name AND m2.current_stage = mv.current_stage) ORDER BY mv.name, mv.version",
    );
    let newest = c
        .query(&sql)?
        .iter()
        .map(version_from_row)
        .collect::<Result<Vec<_>>>()?;
    let mut latest: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    for v in complete_versions(c, newest, false)? {
        latest.entry(v.name.clone()).or_default().push(v);
    }
    let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
    let mut sql = Sql::new(
        "SELECT name, key, value FROM registered_model_tags WHERE workspace = 'default' AND name IN ",
    );
    sql.push_list(names.iter().cloned());
    sql.push(&c.dialect().written_order("registered_model_tags"));
    for r in c.query(&sql)? {
        tags.entry(r.str("name")?)
            .or_default()
            .push(Tag::new(r.str("key")?, r.str("value")?));
    }
    let mut aliases: HashMap<String, Vec<RegisteredModelAlias>> = HashMap::new();
    let mut sql = Sql::new(
        "SELECT name, alias, version FROM registered_model_aliases WHERE workspace = 'default' AND name IN ",
    );
    sql.push_list(names.iter().cloned());
    sql.push(&c.dialect().written_order("registered_model_aliases"));
    for r in c.query(&sql)? {
        aliases
            .entry(r.str("name")?)
            .or_default()
            .push(RegisteredModelAlias {
                alias: r.str("alias")?,
                version: r.i64("version")?.to_string(),
            });
    }
    for m in models.iter_mut() {
        m.latest_versions = latest.remove(&m.name).unwrap_or_default();
        m.tags = tags.remove(&m.name).unwrap_or_default();
        m.aliases = aliases.remove(&m.name).unwrap_or_default();
    }
    Ok(models)
}

fn get_model(c: &dyn Conn, name: &str) -> Result<RegisteredModel> {
    Ok(complete_models(c, vec![model_row(c, name)?])?.remove(0))
}

fn get_version(c: &dyn Conn, name: &str, version: i64) -> Result<ModelVersion> {
    Ok(complete_versions(c, vec![version_row(c, name, version)?], true)?.remove(0))
}

/// Sets columns of one version and its `last_updated_time`: `set` names them with `?`
/// placeholders, which `args` fill in order.
fn update_version(
    c: &dyn Conn,
    name: &str,
    v: i64,
    set: &str,
    args: Vec<Arg>,
    now: i64,
) -> Result<()> {
    let mut sql = Sql::new(format!(
        "UPDATE model_versions SET {set}, last_updated_time = ? WHERE workspace = 'default' AND name = ? AND version = ?"
    ));
    sql.args = args;
    c.execute(&sql.with(now).with(name).with(v))?;
    Ok(())
}

fn touch_model(c: &dyn Conn, name: &str, now: i64) -> Result<()> {
    c.execute(&Sql::new("UPDATE registered_models SET last_updated_time = ? WHERE workspace = 'default' AND name = ?").with(now).with(name))?;
    Ok(())
}

fn check_description(d: &Option<String>) -> Result<()> {
    ferroflow_core::registry::validate_description(d.as_deref())
}

pub async fn create_registered_model(
    store: &SqlStore,
    name: &str,
    tags: Vec<Tag>,
    description: Option<String>,
) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    check_description(&description)?;
    for t in &tags {
        validate_registry_tag(&t.key, &t.value)?;
    }
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            if model_row(c, &name).is_ok() {
                return Err(ferroflow_core::registry::registered_model_exists(&name));
            }
            let now = now_millis();
            c.execute(
                &Sql::new("INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) VALUES (?, ?, ?, ?, 'default')")
                    .with(&name)
                    .with(now)
                    .with(now)
                    .with(description.clone()),
            )?;
            for t in &tags {
                set_model_tag(c, &name, t)?;
            }
            get_model(c, &name)
        })
        .await
}

pub async fn get_registered_model(store: &SqlStore, name: &str) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    let name = name.to_string();
    store.read.read(move |c| get_model(c, &name)).await
}

pub async fn rename_registered_model(
    store: &SqlStore,
    name: &str,
    new_name: &str,
) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    if new_name.trim().is_empty() {
        return Err(Error::missing("new_name"));
    }
    validate_model_name(new_name)?;
    let (name, new_name) = (name.to_string(), new_name.to_string());
    store
        .writer
        .write(move |c| {
            model_row(c, &name)?;
            if new_name != name && model_row(c, &new_name).is_ok() {
                return Err(ferroflow_core::registry::registered_model_exists(&new_name));
            }
            let now = now_millis();
            // Versions, tags and aliases follow through MLflow's ON UPDATE CASCADE keys.
            c.execute(
                &Sql::new("UPDATE registered_models SET name = ?, last_updated_time = ? WHERE workspace = 'default' AND name = ?")
                    .with(&new_name)
                    .with(now)
                    .with(&name),
            )?;
            c.execute(
                &Sql::new("UPDATE model_versions SET last_updated_time = ? WHERE workspace = 'default' AND name = ?").with(now).with(&new_name),
            )?;
            get_model(c, &new_name)
        })
        .await
}

pub async fn update_registered_model(
    store: &SqlStore,
    name: &str,
    description: Option<String>,
) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    check_description(&description)?;
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            model_row(c, &name)?;
            c.execute(
                &Sql::new("UPDATE registered_models SET description = ?, last_updated_time = ? WHERE workspace = 'default' AND name = ?")
                    .with(description.clone())
                    .with(now_millis())
                    .with(&name),
            )?;
            get_model(c, &name)
        })
        .await
}

pub async fn delete_registered_model(store: &SqlStore, name: &str) -> Result<()> {
    validate_model_name(name)?;
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            model_row(c, &name)?;
            for stmt in [
                "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ?",
                "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?",
                "DELETE FROM model_versions WHERE workspace = 'default' AND name = ?",
                "DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = ?",
                "DELETE FROM registered_models WHERE workspace = 'default' AND name = ?",
            ] {
                c.execute(&Sql::new(stmt).with(&name))?;
            }
            Ok(())
        })
        .await
}

/// The tags of registered models (aliased `rm` in searches).
const MODEL_TAGS: &str =
    "registered_model_tags t WHERE t.workspace = rm.workspace AND t.name = rm.name";
/// The tags of model versions (aliased `mv` in searches).
const VERSION_TAGS: &str = "model_version_tags t WHERE t.workspace = mv.workspace AND t.name = mv.name AND t.version = mv.version";

/// `[NOT] EXISTS` a tag `key` in `tags` (a table and its join) whose value satisfies `op value`.
fn tag_cond(d: Dialect, tags: &str, key: &str, op: Op, value: &Value, negate: bool, sql: &mut Sql) {
    let not = if negate { "NOT " } else { "" };
    sql.push(&format!(
        "{not}EXISTS (SELECT 1 FROM {tags} AND t.key = ? AND "
    ))
    .arg(key);
    string_cond(d, "COALESCE(t.value, '')", op, value, sql);
    sql.push(")");
}

fn order_clause(col: &str, ascending: bool) -> String {
    format!("{col} {}", if ascending { "ASC" } else { "DESC" })
}

fn check_page_size(max: i64, limit: i64) -> Result<()> {
    if max < 1 || max > limit {
        return Err(Error::invalid_param(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be at most {limit}, and at least 1."
        )));
    }
    Ok(())
}

pub async fn search_registered_models(
    store: &SqlStore,
    s: RegistrySearch,
) -> Result<Page<RegisteredModel>> {
    check_page_size(s.max_results, MAX_SEARCH_REGISTERED_MODELS)?;
    let filter = parse_registered_model_filter(&s.filter)?;
    let order = parse_registered_model_order_by(&s.order_by)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let d = store.dialect;
    let mut sql = Sql::new(
        "SELECT rm.name, rm.creation_time, rm.last_updated_time, rm.description FROM registered_models rm WHERE rm.workspace = 'default'",
    );
    if let Some(f) = &filter {
        sql.push(" AND ");
        compile_expr(f, &mut sql, &mut |c, sql| {
            match &c.key {
                RegisteredModelKey::Name => string_cond(d, "rm.name", c.op, &c.value, sql),
                // The client hides prompts (models tagged as such) with this filter; a model
                // without the tag is not a prompt, so it matches, as in MLflow.
                RegisteredModelKey::Tag(k) if k == PROMPT_TAG && c.op == Op::Ne => {
                    tag_cond(d, MODEL_TAGS, k, Op::Eq, &c.value, true, sql)
                }
                RegisteredModelKey::Tag(k) => {
                    tag_cond(d, MODEL_TAGS, k, c.op, &c.value, false, sql)
                }
            }
            Ok(())
        })?;
    }
    let mut clauses: Vec<String> = order
        .iter()
        .map(|o| {
            let col = match o.key {
                RegisteredModelOrder::Name => "rm.name",
                RegisteredModelOrder::CreationTimestamp => "rm.creation_time",
                RegisteredModelOrder::LastUpdatedTimestamp => "rm.last_updated_time",
            };
            order_clause(col, o.ascending)
        })
        .collect();
    if !order.iter().any(|o| o.key == RegisteredModelOrder::Name) {
        clauses.push("rm.name ASC".into());
    }
    sql.push_page(&clauses, s.max_results, offset);
    store
        .read_page(
            sql,
            s.max_results,
            offset,
            |r| {
                Ok(RegisteredModel {
                    name: r.str("name")?,
                    creation_timestamp: r.opt_i64("creation_time")?,
                    last_updated_timestamp: r.opt_i64("last_updated_time")?,
                    user_id: None,
                    description: r.opt_str("description")?.filter(|d| !d.is_empty()),
                    latest_versions: Vec::new(),
                    tags: Vec::new(),
                    aliases: Vec::new(),
                })
            },
            complete_models,
        )
        .await
}

pub async fn get_latest_versions(
    store: &SqlStore,
    name: &str,
    stages: Vec<String>,
) -> Result<Vec<ModelVersion>> {
    validate_model_name(name)?;
    let stages = stages
        .iter()
        .map(|s| canonical_stage(s))
        .collect::<Result<Vec<_>>>()?;
    let name = name.to_string();
    store
        .read
        .read(move |c| {
            let model = get_model(c, &name)?;
            let mut versions: Vec<ModelVersion> = model
                .latest_versions
                .into_iter()
                .filter(|v| stages.is_empty() || stages.contains(&v.current_stage.as_str()))
                .collect();
            versions.sort_by_key(|v| v.version.parse::<i64>().unwrap_or(0));
            Ok(versions)
        })
        .await
}

fn set_model_tag(c: &dyn Conn, name: &str, t: &Tag) -> Result<()> {
    c.execute(
        &Sql::new(
            "INSERT INTO registered_model_tags (key, value, name, workspace) VALUES (?, ?, ?, 'default')",
        )
        .then(&c.dialect().upsert("workspace, key, name", &["value"]))
        .with(&t.key)
        .with(&t.value)
        .with(name),
    )?;
    Ok(())
}

pub async fn set_registered_model_tag(store: &SqlStore, name: &str, tag: Tag) -> Result<()> {
    validate_model_name(name)?;
    validate_registry_tag(&tag.key, &tag.value)?;
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            model_row(c, &name)?;
            set_model_tag(c, &name, &tag)
        })
        .await
}

pub async fn delete_registered_model_tag(store: &SqlStore, name: &str, key: &str) -> Result<()> {
    validate_model_name(name)?;
    let (name, key) = (name.to_string(), key.to_string());
    store
        .writer
        .write(move |c| {
            model_row(c, &name)?;
            // Deleting a tag that is not there succeeds, as in MLflow.
            c.execute(
                &Sql::new("DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = ? AND key = ?").with(&name).with(&key),
            )?;
            Ok(())
        })
        .await
}

/// The facts MLflow's source rules need, read inside the writer's transaction.
struct ConnLookup<'a> {
    c: &'a dyn Conn,
}

impl SourceLookup for ConnLookup<'_> {
    fn run_artifact_uri(&mut self, run_id: &str) -> Result<Option<String>> {
        self.c
            .query_opt(&Sql::new("SELECT artifact_uri FROM runs WHERE run_uuid = ?").with(run_id))?
            .map(|r| r.str("artifact_uri"))
            .transpose()
    }

    fn logged_model(&mut self, model_id: &str) -> Result<Option<SourceModel>> {
        self.c
            .query_opt(
                &Sql::new(
                    "SELECT artifact_location, source_run_id FROM logged_models WHERE model_id = ?",
                )
                .with(model_id),
            )?
            .map(|r| {
                Ok(SourceModel {
                    artifact_location: r.str("artifact_location")?,
                    source_run_id: r.opt_str("source_run_id")?.filter(|s| !s.is_empty()),
                })
            })
            .transpose()
    }

    fn model_version(&mut self, uri: &ModelUri) -> Result<SourceVersion> {
        let c = self.c;
        let (name, version) = match &uri.model {
            ModelRef::Version { name, version } => {
                model_row(c, name)?;
                (name.clone(), *version)
            }
            ModelRef::Alias { name, alias } => {
                model_row(c, name)?;
                let row = c
                    .query_opt(
                        &Sql::new("SELECT version FROM registered_model_aliases WHERE workspace = 'default' AND name = ? AND alias = ?")
                            .with(name)
                            .with(alias),
                    )?
                    .ok_or_else(|| Error::invalid_param(format!("Registered model alias {alias} not found.")))?;
                (name.clone(), row.i64("version")?)
            }
            ModelRef::Stage { name, .. } | ModelRef::Latest { name } => {
                model_row(c, name)?;
                let mut sql = Sql::new(
                    "SELECT MAX(version) AS v FROM model_versions WHERE workspace = 'default' AND name = ? AND current_stage != ?",
                );
                sql.arg(name).arg(STAGE_DELETED_INTERNAL);
                if let ModelRef::Stage { stage, .. } = &uri.model {
                    sql.push(" AND current_stage = ?").arg(*stage);
                }
                let v = c
                    .query_opt(&sql)?
                    .and_then(|r| r.opt_i64("v").transpose())
                    .transpose()?
                    .ok_or_else(|| {
                        Error::not_found(format!(
                            "No versions of registered model '{name}' match '{}'",
                            uri_text(uri)
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
        let v = version_row(c, &name, version)?;
        Ok(SourceVersion {
            name,
            version,
            run_id: v.run_id,
            model_id: None,
            download_uri: download_location(c, &v.name, version)?,
        })
    }

    fn real_path(&mut self, path: &str) -> String {
        real_path(path)
    }
}

fn uri_text(uri: &ModelUri) -> String {
    match &uri.model {
        ModelRef::Stage { name, stage } => format!("models:/{name}/{stage}"),
        ModelRef::Latest { name } => format!("models:/{name}/latest"),
        _ => String::new(),
    }
}

/// A local path made absolute against the working directory, with `.`, `..` and the
/// symbolic links of its existing part resolved, as Python's `Path.resolve()` does.
pub(crate) fn real_path(path: &str) -> String {
    use std::path::{Component, Path, PathBuf};
    let p = Path::new(path);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::from("/");
    for comp in abs.components() {
        match comp {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(seg) => {
                out.push(seg);
                if let Ok(real) = std::fs::canonicalize(&out) {
                    out = real;
                }
            }
        }
    }
    out.display().to_string()
}

/// Where a version's artifacts are: its storage location, else its source.
fn download_location(c: &dyn Conn, name: &str, version: i64) -> Result<String> {
    let r = c
        .query_opt(
            &Sql::new(
                "SELECT source, storage_location FROM model_versions WHERE workspace = 'default' AND name = ? AND version = ? AND current_stage != ?",
            )
            .with(name)
            .with(version)
            .with(STAGE_DELETED_INTERNAL),
        )?
        .ok_or_else(|| version_not_found(name, &version.to_string()))?;
    Ok(r.opt_str("storage_location")?
        .filter(|s| !s.is_empty())
        .unwrap_or(r.str("source")?))
}

/// Records the new version on the logged model it came from, as MLflow does.
fn note_version_on_logged_model(
    c: &dyn Conn,
    model_id: &str,
    name: &str,
    version: i64,
) -> Result<()> {
    const KEY: &str = "mlflow.modelVersions";
    let Some(row) = c.query_opt(
        &Sql::new("SELECT experiment_id FROM logged_models WHERE model_id = ?").with(model_id),
    )?
    else {
        return Ok(());
    };
    let exp = row.i64("experiment_id")?;
    let current = c
        .query_opt(
            &Sql::new("SELECT tag_value FROM logged_model_tags WHERE model_id = ? AND tag_key = ?")
                .with(model_id)
                .with(KEY),
        )?
        .map(|r| r.str("tag_value"))
        .transpose()?;
    let mut list: Vec<serde_json::Value> = current
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    list.push(serde_json::json!({"name": name, "version": version}));
    let tag = Tag::new(KEY, pyjson::dumps(&serde_json::Value::Array(list)));
    super::logged_models::upsert_tags(c, model_id, exp, &[tag])
}

pub async fn create_model_version(
    store: &SqlStore,
    req: CreateModelVersion,
) -> Result<ModelVersion> {
    validate_model_name(&req.name)?;
    check_description(&req.description)?;
    for t in &req.tags {
        validate_registry_tag(&t.key, &t.value)?;
    }
    store
        .writer
        .write(move |c| {
            // Other processes on the same database number versions too: the model's row
            // stays locked until this transaction ends, so theirs wait for this number.
            lock_model(c, &req.name)?;
            let src = version_source::resolve(
                &SourceRequest {
                    source: req.source.trim().to_string(),
                    run_id: req.run_id.clone(),
                    model_id: req.model_id.clone(),
                },
                &mut ConnLookup { c },
            )?;
            let max = c
                .query_opt(&Sql::new("SELECT MAX(version) AS v FROM model_versions WHERE workspace = 'default' AND name = ?").with(&req.name))?
                .map(|r| r.opt_i64("v"))
                .transpose()?
                .flatten()
                .unwrap_or(0);
            let version = max + 1;
            let now = now_millis();
            c.execute(
                &Sql::new(
                    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, workspace) \
                     VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, 'READY', NULL, ?, ?, 'default')",
                )
                .with(&req.name)
                .with(version)
                .with(now)
                .with(now)
                .with(req.description.clone().unwrap_or_default())
                .with(STAGE_NONE)
                .with(&src.source)
                .with(src.run_id.clone())
                .with(req.run_link.clone().unwrap_or_default())
                .with(&src.storage_location),
            )?;
            for t in &req.tags {
                set_version_tag(c, &req.name, version, t)?;
            }
            touch_model(c, &req.name, now)?;
            if let Some(id) = &src.model_id {
                note_version_on_logged_model(c, id, &req.name, version)?;
            }
            get_version(c, &req.name, version)
        })
        .await
}

pub async fn get_model_version(
    store: &SqlStore,
    name: &str,
    version: &str,
) -> Result<ModelVersion> {
    validate_model_name(name)?;
    let v = parse_version(version)?;
    let name = name.to_string();
    store.read.read(move |c| get_version(c, &name, v)).await
}

pub async fn update_model_version(
    store: &SqlStore,
    name: &str,
    version: &str,
    description: Option<String>,
) -> Result<ModelVersion> {
    validate_model_name(name)?;
    check_description(&description)?;
    let v = parse_version(version)?;
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            version_row(c, &name, v)?;
            let description = description.clone().unwrap_or_default();
            update_version(
                c,
                &name,
                v,
                "description = ?",
                vec![description.into()],
                now_millis(),
            )?;
            get_version(c, &name, v)
        })
        .await
}

pub async fn transition_stage(
    store: &SqlStore,
    name: &str,
    version: &str,
    stage: &str,
    archive_existing: bool,
) -> Result<ModelVersion> {
    validate_model_name(name)?;
    let v = parse_version(version)?;
    let stage = canonical_stage(stage)?;
    if archive_existing && !(stage == STAGE_STAGING || stage == STAGE_PRODUCTION) {
        return Err(Error::invalid_param(format!(
            "Model version transition cannot archive existing model versions because '{stage}' is not an Active stage. Valid stages are {STAGE_STAGING}, {STAGE_PRODUCTION}"
        )));
    }
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            version_row(c, &name, v)?;
            let now = now_millis();
            if archive_existing {
                c.execute(
                    &Sql::new(
                        "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE workspace = 'default' AND name = ? AND version != ? AND current_stage = ?",
                    )
                    .with(STAGE_ARCHIVED)
                    .with(now)
                    .with(&name)
                    .with(v)
                    .with(stage),
                )?;
            }
            update_version(c, &name, v, "current_stage = ?", vec![stage.into()], now)?;
            touch_model(c, &name, now)?;
            get_version(c, &name, v)
        })
        .await
}

pub async fn delete_model_version(store: &SqlStore, name: &str, version: &str) -> Result<()> {
    validate_model_name(name)?;
    let v = parse_version(version)?;
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            version_row(c, &name, v)?;
            let now = now_millis();
            c.execute(&Sql::new("DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ? AND version = ?").with(&name).with(v))?;
            // The row stays, so that its number is never given again; what it said is gone.
            update_version(
                c,
                &name,
                v,
                "current_stage = ?, description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', \
                 run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', status_message = NULL",
                vec![STAGE_DELETED_INTERNAL.into()],
                now,
            )?;
            touch_model(c, &name, now)
        })
        .await
}

pub async fn search_model_versions(
    store: &SqlStore,
    s: RegistrySearch,
) -> Result<Page<ModelVersion>> {
    check_page_size(s.max_results, MAX_SEARCH_MODEL_VERSIONS)?;
    let filter = parse_model_version_filter(&s.filter)?;
    let order = model_version_search_order(&s.order_by)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let d = store.dialect;
    let mut sql = Sql::new(format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' AND mv.current_stage != ?"
    ));
    sql.arg(STAGE_DELETED_INTERNAL);
    if let Some(f) = &filter {
        sql.push(" AND ");
        compile_expr(f, &mut sql, &mut |c, sql| {
            match &c.key {
                ModelVersionKey::Name => string_cond(d, "mv.name", c.op, &c.value, sql),
                ModelVersionKey::RunId => {
                    string_cond(d, "COALESCE(mv.run_id, '')", c.op, &c.value, sql)
                }
                ModelVersionKey::SourcePath => {
                    string_cond(d, "COALESCE(mv.source, '')", c.op, &c.value, sql)
                }
                ModelVersionKey::VersionNumber => version_cond(c.op, &c.value, sql),
                ModelVersionKey::Tag(k) => tag_cond(d, VERSION_TAGS, k, c.op, &c.value, false, sql),
            }
            Ok(())
        })?;
    }
    let clauses: Vec<String> = order
        .iter()
        .map(|o| {
            let col = match o.key {
                ModelVersionOrder::Name => "mv.name",
                ModelVersionOrder::VersionNumber => "mv.version",
                ModelVersionOrder::CreationTimestamp => "mv.creation_time",
                ModelVersionOrder::LastUpdatedTimestamp => "mv.last_updated_time",
            };
            order_clause(col, o.ascending)
        })
        .collect();
    sql.push_page(&clauses, s.max_results, offset);
    store
        .read_page(
            sql,
            s.max_results,
            offset,
            version_from_row,
            |c, versions| complete_versions(c, versions, false),
        )
        .await
}

fn version_cond(op: Op, value: &Value, sql: &mut Sql) {
    let ints = |v: &Value| -> Vec<Arg> {
        match v {
            Value::Num(n) | Value::Str(n) => vec![Arg::Int(n.parse().unwrap_or(-1))],
            Value::List(l) => l
                .iter()
                .map(|n| Arg::Int(n.parse().unwrap_or(-1)))
                .collect(),
            Value::None => vec![],
        }
    };
    match op {
        Op::In | Op::NotIn => {
            sql.push(&format!("mv.version {} ", op.as_str()))
                .push_list(ints(value));
        }
        _ => {
            sql.push(&format!("mv.version {} ?", op.as_str()))
                .arg(ints(value).pop().unwrap_or(Arg::Int(-1)));
        }
    }
}

pub async fn get_download_uri(store: &SqlStore, name: &str, version: &str) -> Result<String> {
    validate_model_name(name)?;
    let v = parse_version(version)?;
    let name = name.to_string();
    store
        .read
        .read(move |c| download_location(c, &name, v))
        .await
}

fn set_version_tag(c: &dyn Conn, name: &str, version: i64, t: &Tag) -> Result<()> {
    c.execute(
        &Sql::new(
            "INSERT INTO model_version_tags (key, value, name, version, workspace) VALUES (?, ?, ?, ?, 'default')",
        )
        .then(&c.dialect().upsert("workspace, key, name, version", &["value"]))
        .with(&t.key)
        .with(&t.value)
        .with(name)
        .with(version),
    )?;
    Ok(())
}

pub async fn set_model_version_tag(
    store: &SqlStore,
    name: &str,
    version: &str,
    tag: Tag,
) -> Result<()> {
    validate_model_name(name)?;
    validate_registry_tag(&tag.key, &tag.value)?;
    let v = parse_version(version)?;
    let name = name.to_string();
    store
        .writer
        .write(move |c| {
            version_row(c, &name, v)?;
            set_version_tag(c, &name, v, &tag)
        })
        .await
}

pub async fn delete_model_version_tag(
    store: &SqlStore,
    name: &str,
    version: &str,
    key: &str,
) -> Result<()> {
    validate_model_name(name)?;
    let v = parse_version(version)?;
    let (name, key) = (name.to_string(), key.to_string());
    store
        .writer
        .write(move |c| {
            version_row(c, &name, v)?;
            c.execute(
                &Sql::new("DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ? AND version = ? AND key = ?")
                    .with(&name)
                    .with(v)
                    .with(&key),
            )?;
            Ok(())
        })
        .await
}

pub async fn set_alias(store: &SqlStore, name: &str, alias: &str, version: &str) -> Result<()> {
    validate_model_name(name)?;
    validate_alias(alias)?;
    let v = parse_version(version)?;
    let (name, alias) = (name.to_string(), alias.to_string());
    store
        .writer
        .write(move |c| {
            version_row(c, &name, v)?;
            c.execute(
                &Sql::new(
                    "INSERT INTO registered_model_aliases (alias, version, name, workspace) VALUES (?, ?, ?, 'default')",
                )
                .then(&c.dialect().upsert("workspace, name, alias", &["version"]))
                .with(&alias)
                .with(v)
                .with(&name),
            )?;
            touch_model(c, &name, now_millis())
        })
        .await
}

pub async fn delete_alias(store: &SqlStore, name: &str, alias: &str) -> Result<()> {
    validate_model_name(name)?;
    let (name, alias) = (name.to_string(), alias.to_string());
    store
        .writer
        .write(move |c| {
            model_row(c, &name)?;
            let n = c.execute(
                &Sql::new("DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ? AND alias = ?").with(&name).with(&alias),
            )?;
            if n > 0 {
                touch_model(c, &name, now_millis())?;
            }
            Ok(())
        })
        .await
}

pub async fn get_by_alias(store: &SqlStore, name: &str, alias: &str) -> Result<ModelVersion> {
    validate_model_name(name)?;
    if alias.is_empty() {
        return Err(Error::invalid_param(
            "Registered model alias name cannot be empty.",
        ));
    }
    let (name, alias) = (name.to_string(), alias.to_string());
    store
        .read
        .read(move |c| {
            model_row(c, &name)?;
            let row = c
                .query_opt(
                    &Sql::new("SELECT version FROM registered_model_aliases WHERE workspace = 'default' AND name = ? AND alias = ?")
                        .with(&name)
                        .with(&alias),
                )?
                .ok_or_else(|| Error::new(ErrorCode::INVALID_PARAMETER_VALUE, format!("Registered model alias {alias} not found.")))?;
            get_version(c, &name, row.i64("version")?)
        })
        .await
}
