//! MLflow's validation limits and rules, in one place.
//!
//! Messages follow MLflow's wording so that clients and users see what they would see
//! with the reference server.

use crate::entities::{Metric, Param, Tag};
use crate::error::{Error, Result};

pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_DATASETS_PER_BATCH: usize = 1000;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
pub const MAX_EXPERIMENT_TAG_VAL_LENGTH: usize = 20000;
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_RUN_NAME_LENGTH: usize = 250;
pub const MAX_DATASET_NAME_SIZE: usize = 500;
pub const MAX_DATASET_DIGEST_SIZE: usize = 36;
pub const MAX_DATASET_SCHEMA_SIZE: usize = 1_048_575;
pub const MAX_DATASET_SOURCE_SIZE: usize = 65_535;
pub const MAX_DATASET_PROFILE_SIZE: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_SIZE: usize = 255;
pub const MAX_INPUT_TAG_VALUE_SIZE: usize = 500;
pub const MAX_RESULTS_SEARCH_RUNS: i64 = 50_000;
pub const MAX_RESULTS_SEARCH_EXPERIMENTS: i64 = 50_000;
pub const MAX_RESULTS_GET_METRIC_HISTORY: i64 = 25_000;
pub const DEFAULT_SEARCH_RUNS_MAX_RESULTS: i64 = 1000;
pub const DEFAULT_SEARCH_EXPERIMENTS_MAX_RESULTS: i64 = 1000;
pub const DEFAULT_SEARCH_LOGGED_MODELS_MAX_RESULTS: i64 = 50;

/// How long values are handled: MLflow truncates over-long param and tag values unless
/// `MLFLOW_TRUNCATE_LONG_VALUES=false`, in which case they are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongValues {
    Truncate,
    Reject,
}

/// `Invalid value "x" for parameter 'p' supplied: ...` as MLflow composes it.
pub fn invalid_value(path: &str, value: &str, message: Option<&str>) -> Error {
    let shown = serde_json::to_string(value).unwrap_or_default();
    match message {
        Some(m) => Error::invalid_param(format!(
            "Invalid value {shown} for parameter '{path}' supplied: {m}"
        )),
        None => Error::invalid_param(format!(
            "Invalid value {shown} for parameter '{path}' supplied."
        )),
    }
}

fn exceeds(path: &str, limit: usize) -> Error {
    Error::invalid_param(format!(
        "'{path}' exceeds the maximum length of {limit} characters"
    ))
}

fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

const BAD_CHARS: &str = "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";

/// Keys of params, metrics and tags: alphanumerics, `_ - . / :` and spaces, and no path
/// that would resolve to another name (`a/../b`, `./a`, `/a`, `..`).
pub fn validate_key(name: &str, path: &str) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ' | ':'));
    if !ok_chars {
        return Err(invalid_value(path, name, Some(BAD_CHARS)));
    }
    let norm = normpath(name);
    if norm != name || norm == "." || norm.starts_with("..") || norm.starts_with('/') {
        return Err(invalid_value(
            path,
            name,
            Some(&format!(
                "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{norm}'"
            )),
        ));
    }
    Ok(())
}

/// POSIX `normpath`: collapses `//`, `.` and `x/..`, keeps a leading `/`.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn check_len(path: &str, value: &str, limit: usize) -> Result<()> {
    if value.chars().count() > limit {
        Err(exceeds(path, limit))
    } else {
        Ok(())
    }
}

fn fit(path: &str, value: &mut String, limit: usize, long: LongValues) -> Result<()> {
    if value.chars().count() <= limit {
        return Ok(());
    }
    match long {
        LongValues::Truncate => {
            *value = value.chars().take(limit).collect();
            Ok(())
        }
        LongValues::Reject => Err(exceeds(path, limit)),
    }
}

pub fn validate_metric(m: &Metric, path: &str) -> Result<()> {
    validate_key(&m.key, &join_path(path, "name"))?;
    if m.timestamp < 0 {
        return Err(invalid_value(
            &join_path(path, "timestamp"),
            &m.timestamp.to_string(),
            Some(&format!(
                "metric '{}' (value={}). Timestamp must be a nonnegative long (64-bit integer) ",
                m.key, m.value
            )),
        ));
    }
    check_len("Metric name", &m.key, MAX_ENTITY_KEY_LENGTH)
}

pub fn validate_param(p: &mut Param, path: &str, long: LongValues) -> Result<()> {
    validate_key(&p.key, &join_path(path, "key"))?;
    check_len("Param key", &p.key, MAX_ENTITY_KEY_LENGTH)?;
    fit("Param value", &mut p.value, MAX_PARAM_VAL_LENGTH, long)
}

pub fn validate_tag(t: &mut Tag, path: &str, long: LongValues) -> Result<()> {
    let key_path = join_path(path, "key");
    validate_key(&t.key, &key_path)?;
    check_len(&key_path, &t.key, MAX_ENTITY_KEY_LENGTH)?;
    fit(
        &join_path(path, "value"),
        &mut t.value,
        MAX_TAG_VAL_LENGTH,
        long,
    )
}

pub fn validate_experiment_tag(t: &Tag) -> Result<()> {
    validate_key(&t.key, "key")?;
    check_len("key", &t.key, MAX_EXPERIMENT_TAG_KEY_LENGTH)?;
    check_len("value", &t.value, MAX_EXPERIMENT_TAG_VAL_LENGTH)
}

pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_param(format!(
            "Invalid experiment name: '{name}'"
        )));
    }
    check_len("name", name, MAX_EXPERIMENT_NAME_LENGTH)
}

/// Run ids: a letter or digit, then up to 255 word characters or dashes.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let mut chars = run_id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && run_id.len() <= 256
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid_value("run_id", run_id, None))
    }
}

/// Experiment ids are integers in the SQL store.
pub fn parse_experiment_id(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        Error::invalid_param(format!(
            "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
        ))
    })
}

pub fn validate_batch_limits(metrics: usize, params: usize, tags: usize) -> Result<()> {
    let check = |name: &str, limit: usize, n: usize| {
        if n > limit {
            Err(Error::invalid_param(format!(
                "A batch logging request can contain at most {limit} {name}. Got {n} {name}. Please split up {name} across multiple requests and try again."
            )))
        } else {
            Ok(())
        }
    };
    check("metrics", MAX_METRICS_PER_BATCH, metrics)?;
    check("params", MAX_PARAMS_TAGS_PER_BATCH, params)?;
    check("tags", MAX_PARAMS_TAGS_PER_BATCH, tags)?;
    check(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        metrics + params + tags,
    )
}

/// A batch may not carry the same param key twice.
pub fn validate_param_keys_unique(params: &[Param]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let dupes: Vec<&str> = params
        .iter()
        .filter(|p| !seen.insert(p.key.as_str()))
        .map(|p| p.key.as_str())
        .collect();
    if dupes.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_param(format!(
            "Duplicate parameter keys have been submitted: {dupes:?}. Please ensure the request contains only one param value per param key."
        )))
    }
}

pub fn validate_dataset_input(d: &crate::entities::DatasetInput) -> Result<()> {
    let ds = &d.dataset;
    check_len("Dataset name", &ds.name, MAX_DATASET_NAME_SIZE)?;
    check_len("Dataset digest", &ds.digest, MAX_DATASET_DIGEST_SIZE)?;
    check_len("Dataset source", &ds.source, MAX_DATASET_SOURCE_SIZE)?;
    if let Some(s) = &ds.schema {
        check_len("Dataset schema", s, MAX_DATASET_SCHEMA_SIZE)?;
    }
    if let Some(p) = &ds.profile {
        check_len("Dataset profile", p, MAX_DATASET_PROFILE_SIZE)?;
    }
    for t in &d.tags {
        check_len("Input tag key", &t.key, MAX_INPUT_TAG_KEY_SIZE)?;
        check_len("Input tag value", &t.value, MAX_INPUT_TAG_VALUE_SIZE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_resolve_elsewhere_are_rejected() {
        for bad in ["../a", "a/../b", "./a", "/a", "a//b", ".", "a/"] {
            assert!(validate_key(bad, "key").is_err(), "{bad}");
        }
        for good in ["a", "a.b", "a/b", "my metric", "m:1", "a-b_c"] {
            assert!(validate_key(good, "key").is_ok(), "{good}");
        }
        assert!(validate_key("a$b", "key").is_err());
    }

    #[test]
    fn normpath_matches_posix() {
        assert_eq!(normpath("a/./b"), "a/b");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath("/../a"), "/a");
        assert_eq!(normpath(""), ".");
    }

    #[test]
    fn long_param_values_truncate_or_reject() {
        let mut p = Param::new("k", "x".repeat(6001));
        validate_param(&mut p, "", LongValues::Truncate).unwrap();
        assert_eq!(p.value.len(), 6000);
        let mut p = Param::new("k", "x".repeat(6001));
        assert!(validate_param(&mut p, "", LongValues::Reject).is_err());
    }

    #[test]
    fn batch_limits() {
        assert!(validate_batch_limits(1000, 0, 0).is_ok());
        assert!(validate_batch_limits(1001, 0, 0).is_err());
        assert!(validate_batch_limits(0, 101, 0).is_err());
        assert!(validate_batch_limits(0, 0, 101).is_err());
        assert!(validate_batch_limits(900, 100, 1).is_err());
    }

    #[test]
    fn run_ids() {
        assert!(validate_run_id("0ea2586a48c4468b97c2426971aa0c5f").is_ok());
        assert!(validate_run_id("").is_err());
        assert!(validate_run_id("../x").is_err());
    }
}

/// The page size of an experiment search, as MLflow bounds it.
pub fn validate_search_experiments_max_results(n: i64) -> Result<()> {
    if n < 1 {
        return Err(Error::invalid_param(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
        )));
    }
    if n > MAX_RESULTS_SEARCH_EXPERIMENTS {
        return Err(Error::invalid_param(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be at most {MAX_RESULTS_SEARCH_EXPERIMENTS}"
        )));
    }
    Ok(())
}

/// The longest artifact location an experiment may be given (MLflow's
/// `MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH` default).
pub const MAX_ARTIFACT_LOCATION_LENGTH: usize = 2048;

/// MLflow's checks of an artifact location a client gives a new experiment, after the
/// host policy: no fragment or `;params`, no `..` in the query, not a `runs:/` URI, not
/// longer than `max_len`. Beyond MLflow, a NUL byte (raw or `%00`) is refused here, since
/// no storage can hold such a path.
pub fn validate_artifact_location(location: &str, max_len: usize) -> Result<()> {
    use crate::uri::{UriParts, percent_decode};
    let parts = UriParts::parse(location);
    // Schemes whose last path segment can carry `;params` in Python's urlparse.
    const PARAMS: &[&str] = &[
        "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip",
        "sips", "mms", "sftp", "tel",
    ];
    let last = parts.path.rsplit('/').next().unwrap_or("");
    if !parts.fragment.is_empty()
        || location.contains('#')
        || (PARAMS.contains(&parts.scheme.as_str()) && last.contains(';'))
    {
        return Err(Error::invalid_param(
            "'artifact_location' URL can't include fragments or params.",
        ));
    }
    let mut query = parts.query.to_string();
    for _ in 0..10 {
        let decoded = percent_decode(&query);
        if decoded == query {
            break;
        }
        query = decoded;
    }
    if query.contains("..") {
        return Err(Error::invalid_param("Invalid query string"));
    }
    let mut decoded = location.to_string();
    for _ in 0..10 {
        let next = percent_decode(&decoded);
        if next == decoded {
            break;
        }
        decoded = next;
    }
    if decoded.contains('\0') {
        return Err(Error::invalid_param(format!(
            "Invalid artifact location '{}': it contains a NUL byte.",
            location.replace('\0', "\\0")
        )));
    }
    if location.starts_with("runs:") {
        return Err(Error::invalid_param(format!(
            "Artifact location cannot be a runs:/ URI. Given: '{location}'"
        )));
    }
    if location.len() > max_len {
        return Err(Error::invalid_param(format!(
            "Invalid artifact path length. The length of the artifact path cannot be greater than {max_len} characters. To configure this limit, please set the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod artifact_location_tests {
    use super::*;

    #[test]
    fn locations_mlflow_refuses() {
        let check = |l: &str| validate_artifact_location(l, MAX_ARTIFACT_LOCATION_LENGTH);
        for ok in [
            "my_location",
            "/abs/x",
            "s3://b/k",
            "file:///x",
            "mlflow-artifacts:/1",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        let msg = |l: &str| check(l).unwrap_err().message;
        assert_eq!(
            msg("s3://b/k#f"),
            "'artifact_location' URL can't include fragments or params."
        );
        assert_eq!(
            msg("/tmp/a;b"),
            "'artifact_location' URL can't include fragments or params."
        );
        assert_eq!(msg("s3://b/k?x=%2e%2e/y"), "Invalid query string");
        assert!(msg("runs:/abc/x").starts_with("Artifact location cannot be a runs:/ URI."));
        assert!(msg("file:///x%00y").contains("NUL"));
        assert!(msg("/x\0y").contains("NUL"));
        assert!(msg(&"a".repeat(2049)).starts_with("Invalid artifact path length."));
    }
}
