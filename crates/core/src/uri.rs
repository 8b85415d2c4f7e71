//! Tracking and artifact URIs.

use crate::error::{Error, Result};

/// Where tracking data lives, from `MLFLOW_TRACKING_URI` or `--backend-store-uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingUri {
    /// A Ferroflow or MLflow server.
    Http(String),
    /// A SQL database URL (`sqlite:///mlflow.db`, `postgresql://...`, `mysql://...`).
    Database(String),
    /// MLflow's legacy file store (a directory of `meta.yaml` files).
    File(String),
}

impl TrackingUri {
    pub fn parse(uri: &str) -> Result<TrackingUri> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(Error::invalid_param("The tracking URI is empty"));
        }
        let scheme = uri.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        Ok(match scheme.as_deref() {
            Some("http" | "https") => TrackingUri::Http(uri.trim_end_matches('/').to_string()),
            Some(s)
                if s == "sqlite"
                    || s.starts_with("postgres")
                    || s.starts_with("mysql")
                    || s.starts_with("mssql") =>
            {
                TrackingUri::Database(uri.to_string())
            }
            Some("file") => TrackingUri::File(uri.trim_start_matches("file://").to_string()),
            Some(other) => {
                return Err(Error::invalid_param(format!(
                    "Unsupported tracking URI scheme '{other}' in '{uri}'. Use http(s)://host:port, sqlite:///path.db, or a directory path"
                )));
            }
            None if uri.starts_with("databricks") => {
                return Err(Error::invalid_param(format!(
                    "Databricks tracking URIs are not supported: '{uri}'"
                )));
            }
            None => TrackingUri::File(uri.trim_start_matches("file:").to_string()),
        })
    }
}

/// The path of an `mlflow-artifacts:` URI relative to the server's artifact root:
/// `mlflow-artifacts:/1/abc/artifacts` and `mlflow-artifacts://host:5000/1/abc/artifacts`
/// both give `1/abc/artifacts`.
pub fn mlflow_artifacts_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = if let Some(after) = rest.strip_prefix("//") {
        after.find('/').map(|i| &after[i..]).unwrap_or("")
    } else {
        rest
    };
    Some(path.trim_start_matches('/'))
}

/// Joins a base URI and a relative path with exactly one `/` between them.
pub fn join(base: &str, rel: &str) -> String {
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        return base.to_string();
    }
    if base.ends_with('/') {
        format!("{base}{rel}")
    } else {
        format!("{base}/{rel}")
    }
}

/// A local filesystem path from a `file:` URI or a plain path.
pub fn local_path(uri: &str) -> Option<String> {
    if let Some(p) = uri.strip_prefix("file://") {
        // file:///abs/path or file://localhost/abs/path
        let p = p.strip_prefix("localhost").unwrap_or(p);
        return Some(percent_decode(p));
    }
    if let Some(p) = uri.strip_prefix("file:") {
        return Some(percent_decode(p));
    }
    if uri.contains("://") || uri.starts_with("mlflow-artifacts:") {
        return None;
    }
    Some(uri.to_string())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_uris() {
        assert_eq!(
            TrackingUri::parse("http://127.0.0.1:5000/").unwrap(),
            TrackingUri::Http("http://127.0.0.1:5000".into())
        );
        assert_eq!(
            TrackingUri::parse("sqlite:///mlflow.db").unwrap(),
            TrackingUri::Database("sqlite:///mlflow.db".into())
        );
        assert_eq!(
            TrackingUri::parse("./mlruns").unwrap(),
            TrackingUri::File("./mlruns".into())
        );
        assert_eq!(
            TrackingUri::parse("file:///tmp/mlruns").unwrap(),
            TrackingUri::File("/tmp/mlruns".into())
        );
        assert!(TrackingUri::parse("ftp://x").is_err());
        assert!(TrackingUri::parse("").is_err());
    }

    #[test]
    fn artifact_paths() {
        assert_eq!(
            mlflow_artifacts_path("mlflow-artifacts:/1/abc/artifacts"),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            mlflow_artifacts_path("mlflow-artifacts://h:5000/1/abc"),
            Some("1/abc")
        );
        assert_eq!(mlflow_artifacts_path("s3://b/k"), None);
        assert_eq!(join("mlflow-artifacts:/", "1"), "mlflow-artifacts:/1");
        assert_eq!(join("/a/b", "c"), "/a/b/c");
        assert_eq!(local_path("file:///tmp/a%20b"), Some("/tmp/a b".into()));
        assert_eq!(local_path("/tmp/x"), Some("/tmp/x".into()));
        assert_eq!(local_path("s3://x"), None);
    }
}
