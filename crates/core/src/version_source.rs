//! Where a new model version may come from: MLflow 3.17.2's rules for the `source` of
//! `model-versions/create`, over a [`SourceLookup`] that each store answers from its own
//! data. A source must lie inside the artifacts of the run (or logged model) the request
//! names, so nobody registers, and then serves, files from elsewhere on the server; object
//! store URIs and `models:/<name>/<version>` copies are taken as they are, as MLflow does.

use crate::error::{Error, Result};
use crate::model_uri::{ModelRef, ModelUri};
use crate::uri::{UriParts, is_local, local_path, percent_decode};

/// What a request asks: the source, and the run and logged model it names. `None` is a
/// field the request left out; an empty string one it sent empty.
#[derive(Debug, Clone, Default)]
pub struct SourceRequest {
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
}

/// A registered version another version's `models:/<name>/<ref>` source names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceVersion {
    pub name: String,
    pub version: i64,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    /// Where its artifacts are (its storage location, else its source).
    pub download_uri: String,
}

/// A logged model, as far as a source check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceModel {
    pub artifact_location: String,
    pub source_run_id: Option<String>,
}

/// The facts a store supplies to check a source.
pub trait SourceLookup {
    /// A run's artifact URI; `None` when there is no such run.
    fn run_artifact_uri(&mut self, run_id: &str) -> Result<Option<String>>;
    /// A logged model; `None` when there is none.
    fn logged_model(&mut self, model_id: &str) -> Result<Option<SourceModel>>;
    /// The version a `models:/` registry URI names (the registry's own errors when none).
    fn model_version(&mut self, uri: &ModelUri) -> Result<SourceVersion>;
    /// A local path made absolute and free of `.`, `..` and symbolic links, as Python's
    /// `pathlib.Path.resolve` makes it.
    fn real_path(&mut self, path: &str) -> String;
}

/// A checked source: what the new version stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSource {
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    /// Where its artifacts are read from (`get-download-uri`).
    pub storage_location: String,
}

fn must_identify(source: &str, id_name: &str) -> Error {
    Error::invalid_param(format!(
        "Invalid model version source: '{source}'. The {id_name} request parameter must identify the resource that contains the source."
    ))
}

fn local_outside(source: &str, id_name: &str) -> Error {
    Error::invalid_param(format!(
        "Invalid model version source: '{source}'. To use a local path as a model version source, the {id_name} request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the {id_name}."
    ))
}

/// Python's `urllib.parse.unquote_plus`, repeated until nothing changes.
fn unquote_fully(s: &str) -> String {
    let mut cur = s.to_string();
    loop {
        let next = percent_decode(&cur.replace('+', " "));
        if next == cur {
            return cur;
        }
        cur = next;
    }
}

/// Lexical normalization of an absolute or relative `/` path: no `.`, no empty segments,
/// `..` taking one segment off (never above the root).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Refuses a non-local source whose path holds relative references (`..`, `.`, `%2e`,
/// `//`, NUL): MLflow's guard against reaching local files through a URI.
fn reject_relative_references(source: &str) -> Result<()> {
    let bad = || {
        Error::invalid_param(format!(
            "Invalid model version source: '{source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path."
        ))
    };
    let decoded = unquote_fully(source);
    let raw_path = UriParts::parse(&decoded)
        .path
        .trim_end_matches('/')
        .to_string();
    let mut path = String::with_capacity(raw_path.len());
    for c in raw_path.chars() {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    if path.contains('\0') || decoded.split('/').any(|p| p == "..") {
        return Err(bad());
    }
    // Python resolves "" to the working directory, which never equals "".
    if path.is_empty() || normalize(&path) != path || !path.starts_with('/') {
        return Err(bad());
    }
    Ok(())
}

/// The scheme, authority and unquoted path segments MLflow compares URIs by.
fn uri_parts(uri: &str) -> (String, String, Vec<String>) {
    let p = UriParts::parse(uri);
    let parts = p
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(unquote_once_fully)
        .collect();
    (p.scheme, p.netloc.to_ascii_lowercase(), parts)
}

fn unquote_once_fully(s: &str) -> String {
    let mut cur = s.to_string();
    loop {
        let next = percent_decode(&cur);
        if next == cur {
            return cur;
        }
        cur = next;
    }
}

/// Whether `source` is `root` or lies below it.
fn within_root(source: &str, root: &str) -> bool {
    let (s_scheme, s_auth, s_parts) = uri_parts(source);
    let (r_scheme, r_auth, r_parts) = uri_parts(root);
    s_scheme == r_scheme
        && s_auth == r_auth
        && !r_parts.is_empty()
        && s_parts.len() >= r_parts.len()
        && s_parts[..r_parts.len()] == r_parts[..]
}

/// An artifact URI the tracking server's own proxy serves: `mlflow-artifacts:` or an
/// http(s) URI through `/api/2.0/mlflow-artifacts/artifacts`.
fn is_proxied_artifact(source: &str) -> bool {
    let (scheme, _, parts) = uri_parts(source);
    if scheme == "mlflow-artifacts" {
        return true;
    }
    const ROUTE: [&str; 4] = ["api", "2.0", "mlflow-artifacts", "artifacts"];
    (scheme == "http" || scheme == "https") && parts.windows(4).any(|w| w == ROUTE)
}

/// The run id of `runs:/<run_id>/<path>`.
fn runs_uri_run_id(source: &str) -> String {
    let p = UriParts::parse(source);
    p.path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// `models:/<id>` (a logged model) as MLflow's parser reads it: one path segment that is
/// not `name@alias`.
fn models_uri_model_id(source: &str) -> Result<Option<String>> {
    match ModelUri::parse(source) {
        Ok(ModelUri {
            model: ModelRef::LoggedModel { model_id },
            ..
        }) => Ok(Some(model_id)),
        Ok(_) => Ok(None),
        Err(e) => {
            let rest = source.trim_start_matches("models:").trim_start_matches('/');
            if !rest.is_empty() && !rest.contains('/') && !rest.contains('@') {
                Ok(Some(rest.to_string()))
            } else {
                Err(e)
            }
        }
    }
}

fn check_local<L: SourceLookup>(
    source: &str,
    root: Option<String>,
    id_name: &str,
    lookup: &mut L,
) -> Result<()> {
    // Without a run (or model) to hold it, MLflow names the source as given.
    let (Some(path), Some(_)) = (local_path(source), root.as_ref()) else {
        return Err(local_outside(source, id_name));
    };
    let resolved = lookup.real_path(&path);
    if let Some(root) = root.filter(|r| is_local(r))
        && let Some(root_path) = local_path(&root)
    {
        let root = lookup.real_path(&root_path);
        if resolved == root || resolved.starts_with(&format!("{}/", root.trim_end_matches('/'))) {
            return Ok(());
        }
    }
    Err(local_outside(&resolved, id_name))
}

/// The run a request names, as a source check sees it: a run that does not exist makes
/// the source unidentified.
fn run_root<L: SourceLookup>(run_id: &str, source: &str, lookup: &mut L) -> Result<String> {
    lookup
        .run_artifact_uri(run_id)?
        .ok_or_else(|| must_identify(source, "run_id"))
}

fn model_root<L: SourceLookup>(
    model_id: &str,
    source: &str,
    lookup: &mut L,
) -> Result<SourceModel> {
    lookup
        .logged_model(model_id)?
        .ok_or_else(|| must_identify(source, "model_id"))
}

/// A `file://` URI naming another host, which MLflow refuses outright.
fn refuse_remote_file(source: &str) -> Result<()> {
    let p = UriParts::parse(source);
    let host = p.hostname();
    if p.scheme == "file"
        && !host.is_empty()
        && host != "."
        && !host.starts_with("localhost")
        && !host.starts_with("127.0.0.1")
    {
        return Err(Error::invalid_param(format!(
            "{source} is not a valid remote uri. For remote access on windows, please consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>)."
        )));
    }
    Ok(())
}

fn check_against_run<L: SourceLookup>(
    source: &str,
    run_id: Option<&str>,
    lookup: &mut L,
) -> Result<()> {
    refuse_remote_file(source)?;
    if is_local(source) {
        let root = match run_id {
            Some(id) => Some(run_root(id, source, lookup)?),
            None => None,
        };
        return check_local(source, root, "run_id", lookup);
    }
    reject_relative_references(source)?;
    let parts = UriParts::parse(source);
    match parts.scheme.as_str() {
        "runs" => {
            if !parts.netloc.is_empty() || run_id != Some(runs_uri_run_id(source).as_str()) {
                return Err(must_identify(source, "run_id"));
            }
            return Ok(());
        }
        "models" if !parts.netloc.is_empty() || models_uri_model_id(source)?.is_some() => {
            return Err(must_identify(source, "model_id"));
        }
        _ => {}
    }
    if is_proxied_artifact(source) {
        let inside = match run_id {
            Some(id) => within_root(source, &run_root(id, source, lookup)?),
            None => false,
        };
        if !inside {
            return Err(must_identify(source, "run_id"));
        }
    }
    Ok(())
}

fn check_against_model<L: SourceLookup>(
    source: &str,
    model_id: &str,
    lookup: &mut L,
) -> Result<()> {
    refuse_remote_file(source)?;
    if is_local(source) {
        let root = model_root(model_id, source, lookup)?.artifact_location;
        return check_local(source, Some(root), "model_id", lookup);
    }
    reject_relative_references(source)?;
    let parts = UriParts::parse(source);
    match parts.scheme.as_str() {
        "models" => {
            if !parts.netloc.is_empty() {
                return Err(must_identify(source, "model_id"));
            }
            if let Some(id) = models_uri_model_id(source)? {
                if id == model_id {
                    return Ok(());
                }
                return Err(must_identify(source, "model_id"));
            }
        }
        "runs" => return Err(must_identify(source, "model_id")),
        _ => {}
    }
    if is_proxied_artifact(source) {
        let root = model_root(model_id, source, lookup)?.artifact_location;
        if !within_root(source, &root) {
            return Err(must_identify(source, "model_id"));
        }
    }
    Ok(())
}

/// Checks a new version's source and works out what it stores, as MLflow 3.17.2 does:
/// a `models:/<name>/<ref>` source is a copy of that version (and takes its lineage);
/// with a `model_id` the source must be inside that logged model, else inside the run.
pub fn resolve<L: SourceLookup>(req: &SourceRequest, lookup: &mut L) -> Result<ResolvedSource> {
    let mut source = req.source.clone();
    if source.is_empty() {
        return Err(Error::missing("source"));
    }
    let mut run_id = req.run_id.clone();
    let mut model_id = req.model_id.clone();
    let mut copied: Option<SourceVersion> = None;
    let parts = UriParts::parse(&source);
    if parts.scheme == "models" {
        if !parts.netloc.is_empty() {
            return Err(Error::invalid_param(format!(
                "Invalid model version source: '{source}'. Registered model sources must use the active model registry."
            )));
        }
        if models_uri_model_id(&source)
            .map_err(|_| must_identify(&source, "model_id"))?
            .is_none()
        {
            let uri = ModelUri::parse(&source).map_err(|_| must_identify(&source, "model_id"))?;
            let v = lookup.model_version(&uri)?;
            let differs = |asked: &Option<String>, has: &Option<String>| {
                asked
                    .as_deref()
                    .is_some_and(|a| a != has.as_deref().unwrap_or(""))
            };
            if differs(&req.run_id, &v.run_id) || differs(&req.model_id, &v.model_id) {
                return Err(Error::invalid_param(format!(
                    "Invalid model version source: '{source}'. The run_id and model_id request parameters must match the referenced model version."
                )));
            }
            source = format!("models:/{}/{}", v.name, v.version);
            if req.run_id.is_none() {
                run_id = v.run_id.clone();
            }
            if req.model_id.is_none() {
                model_id = v.model_id.clone();
            }
            copied = Some(v);
        }
    }
    let run_id = run_id.filter(|r| !r.is_empty());
    let model_id = model_id.filter(|m| !m.is_empty());
    match &model_id {
        Some(m) => check_against_model(&source, m, lookup)?,
        None => check_against_run(&source, run_id.as_deref(), lookup)?,
    }
    // What the version's artifacts are read from, and the run it came from.
    let mut run_id = run_id;
    let storage_location = if let Some(v) = copied {
        v.download_uri
    } else if let Some(id) = models_uri_model_id(&source)
        .ok()
        .flatten()
        .filter(|_| source.starts_with("models:"))
    {
        let m = lookup
            .logged_model(&id)?
            .ok_or_else(|| Error::not_found(format!("Logged model with ID '{id}' not found.")))?;
        if run_id.is_none() {
            run_id = m.source_run_id.clone();
        }
        m.artifact_location
    } else {
        source.clone()
    };
    if run_id.is_none()
        && let Some(id) = &model_id
        && let Some(m) = lookup.logged_model(id)?
    {
        run_id = m.source_run_id;
    }
    Ok(ResolvedSource {
        source,
        run_id,
        model_id,
        storage_location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs and models under `/srv/art` (local) and the proxy.
    struct Fake;

    impl SourceLookup for Fake {
        fn run_artifact_uri(&mut self, run_id: &str) -> Result<Option<String>> {
            Ok(match run_id {
                "local" => Some("/srv/art/1/local/artifacts".into()),
                "proxied" => Some("mlflow-artifacts:/1/proxied/artifacts".into()),
                _ => None,
            })
        }
        fn logged_model(&mut self, model_id: &str) -> Result<Option<SourceModel>> {
            Ok((model_id == "m-1").then(|| SourceModel {
                artifact_location: "mlflow-artifacts:/1/models/m-1/artifacts".into(),
                source_run_id: Some("proxied".into()),
            }))
        }
        fn model_version(&mut self, uri: &ModelUri) -> Result<SourceVersion> {
            match &uri.model {
                ModelRef::Version { name, version: 1 } if name == "wine" => Ok(SourceVersion {
                    name: "wine".into(),
                    version: 1,
                    run_id: Some("proxied".into()),
                    model_id: None,
                    download_uri: "mlflow-artifacts:/1/proxied/artifacts/model".into(),
                }),
                _ => Err(Error::not_found("Registered Model with name=x not found")),
            }
        }
        fn real_path(&mut self, path: &str) -> String {
            normalize(&if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/cwd/{path}")
            })
        }
    }

    fn check(source: &str, run_id: Option<&str>, model_id: Option<&str>) -> Result<ResolvedSource> {
        resolve(
            &SourceRequest {
                source: source.into(),
                run_id: run_id.map(Into::into),
                model_id: model_id.map(Into::into),
            },
            &mut Fake,
        )
    }

    #[test]
    fn accepted_as_the_reference_accepts_them() {
        for (source, run, model) in [
            ("runs:/abc/model", Some("abc"), None),
            ("s3://bucket/x", Some("abcdef"), None),
            ("s3://b/k", None, None),
            ("/srv/art/1/local/artifacts", Some("local"), None),
            ("/srv/art/1/local/artifacts/model", Some("local"), None),
            ("/srv/art/1/local/artifacts/.", Some("local"), None),
            ("/srv/art/1/local/artifacts/model/..", Some("local"), None),
            (
                "file:///srv/art/1/local/artifacts/model",
                Some("local"),
                None,
            ),
            (
                "mlflow-artifacts:/1/proxied/artifacts/model",
                Some("proxied"),
                None,
            ),
            ("models:/m-1", None, Some("m-1")),
            (
                "mlflow-artifacts:/1/models/m-1/artifacts",
                None,
                Some("m-1"),
            ),
            ("models:/wine/1", None, None),
        ] {
            assert!(
                check(source, run, model).is_ok(),
                "{source}: {:?}",
                check(source, run, model)
            );
        }
    }

    #[test]
    fn refused_with_the_references_messages() {
        let msg = |s: &str, r: Option<&str>, m: Option<&str>| check(s, r, m).unwrap_err().message;
        assert!(msg("/tmp/x", Some("abcdef"), None).ends_with(
            "The run_id request parameter must identify the resource that contains the source."
        ));
        assert!(
            msg("/etc", Some("local"), None)
                .contains("To use a local path as a model version source")
        );
        assert!(
            msg("model", None, None)
                .starts_with("Invalid model version source: 'model'. To use a local path")
        );
        assert_eq!(
            msg(
                "/srv/art/1/local/artifacts/model/../..",
                Some("local"),
                None
            ),
            "Invalid model version source: '/srv/art/1/local'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id."
        );
        for relative in [
            "mlflow-artifacts:/1/proxied/artifacts/.",
            "mlflow-artifacts:/1/proxied/artifacts/model/..",
            "s3://bucket/a/%2e%2e/b",
            "s3://bucket",
        ] {
            assert!(
                msg(relative, Some("proxied"), None).contains("without relative path references"),
                "{relative}"
            );
        }
        assert!(
            msg(
                "mlflow-artifacts:/1/other/artifacts/model",
                Some("proxied"),
                None
            )
            .contains("The run_id request parameter")
        );
        assert!(
            msg("runs:/other/model", Some("proxied"), None)
                .contains("The run_id request parameter")
        );
        assert!(msg("runs:/other/model", None, None).contains("The run_id request parameter"));
        assert!(msg("mlflow-artifacts:/x/y", None, None).contains("The run_id request parameter"));
        assert!(msg("models:/m-1", None, None).contains("The model_id request parameter"));
        assert!(
            msg("runs:/proxied/model", None, Some("m-1"))
                .contains("The model_id request parameter")
        );
        assert!(
            msg("models:/wine/1", Some("other"), None)
                .contains("must match the referenced model version")
        );
        assert!(msg("models://host/wine/1", None, None).contains("active model registry"));
        assert!(msg("", None, None).starts_with("Missing value for required parameter 'source'"));
        assert!(
            msg("file://123.456.789.123/path/to/source", Some("local"), None)
                .contains("is not a valid remote uri")
        );
    }

    #[test]
    fn lineage_and_storage_follow_the_source() {
        let copy = check("models:/wine/1", None, None).unwrap();
        assert_eq!(copy.source, "models:/wine/1");
        assert_eq!(copy.run_id.as_deref(), Some("proxied"));
        assert_eq!(
            copy.storage_location,
            "mlflow-artifacts:/1/proxied/artifacts/model"
        );
        let logged = check("models:/m-1", None, Some("m-1")).unwrap();
        assert_eq!(
            logged.storage_location,
            "mlflow-artifacts:/1/models/m-1/artifacts"
        );
        assert_eq!(logged.run_id.as_deref(), Some("proxied"));
        let run = check("runs:/abc/model", Some("abc"), None).unwrap();
        assert_eq!(run.storage_location, "runs:/abc/model");
    }
}
