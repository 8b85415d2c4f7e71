//! Tracking and artifact URIs.

use crate::error::{Error, Result};

/// Where tracking data lives, from `MLFLOW_TRACKING_URI` or `--backend-store-uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingUri {
    /// A Ferroflow or MLflow server.
    Http(String),
    /// A SQL database URL (`sqlite:///mlflow.db`, `postgresql://...`, `mysql://...`;
    /// also `mariadb://...`, which SQLAlchemy knows and MLflow itself refuses).
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
                    || s.starts_with("mariadb")
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
        // file:///abs/path or file://localhost/abs/path (any host: the path is local)
        let p = match p.find('/') {
            Some(i) => &p[i..],
            None => "",
        };
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

/// An authority whose port is not a number from 0 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidPort;

/// The parts of a URI as Python's `urllib.parse.urlparse` splits them, which is how MLflow
/// reads every artifact URI: `scheme:` (lower-cased; empty for a plain path), the
/// authority after `//`, then path, query and fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriParts<'a> {
    pub scheme: String,
    pub netloc: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub fragment: &'a str,
}

impl<'a> UriParts<'a> {
    pub fn parse(uri: &'a str) -> UriParts<'a> {
        let mut rest = uri;
        let mut scheme = String::new();
        if let Some(i) = uri.find(':') {
            let s = &uri[..i];
            let mut chars = s.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if valid {
                scheme = s.to_ascii_lowercase();
                rest = &uri[i + 1..];
            }
        }
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (netloc, path) = match rest.strip_prefix("//") {
            Some(after) => match after.find('/') {
                Some(i) => after.split_at(i),
                None => (after, ""),
            },
            None => ("", rest),
        };
        UriParts {
            scheme,
            netloc,
            path,
            query,
            fragment,
        }
    }

    /// The host of the authority, lower-cased, without user info, port or IPv6 brackets.
    pub fn hostname(&self) -> String {
        let host = self.netloc.rsplit('@').next().unwrap_or("");
        let host = if let Some(v6) = host.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            host.split(':').next().unwrap_or("")
        };
        host.to_ascii_lowercase()
    }

    /// The port of the authority: `Ok(None)` when it has none, `Err` when it is not a port.
    pub fn port(&self) -> std::result::Result<Option<u16>, InvalidPort> {
        let host = self.netloc.rsplit('@').next().unwrap_or("");
        let after = match host.rfind(']') {
            Some(i) => &host[i + 1..],
            None => host,
        };
        match after.rsplit_once(':') {
            None => Ok(None),
            Some((_, "")) => Ok(None),
            Some((_, p)) => p.parse::<u16>().map(Some).map_err(|_| InvalidPort),
        }
    }
}

/// Whether `uri` names the local filesystem (a plain path or a `file:` URI), as MLflow's
/// `is_local_uri` decides for a server.
pub fn is_local(uri: &str) -> bool {
    let parts = UriParts::parse(uri);
    match parts.scheme.as_str() {
        "" => true,
        "file" => {
            let host = parts.hostname();
            host.is_empty()
                || host == "."
                || host.starts_with("localhost")
                || host.starts_with("127.0.0.1")
        }
        // A Windows drive letter reads as a one-letter scheme.
        s => s.len() == 1,
    }
}

/// A relative local path or `file:` URI made absolute against `cwd`, as MLflow stores an
/// experiment's artifact location (`my_location` becomes `<cwd>/my_location`,
/// `file:rel` becomes `file://<cwd>/rel`); anything else unchanged. Not normalized.
pub fn resolve_if_local(uri: &str, cwd: &str) -> String {
    if !is_local(uri) {
        return uri.to_string();
    }
    let Some(path) = local_path(uri) else {
        return uri.to_string();
    };
    if path.starts_with('/') {
        return uri.to_string();
    }
    // pathlib drops empty and `.` segments (not `..`).
    let rel: Vec<&str> = path
        .split('/')
        .filter(|seg| !seg.is_empty() && *seg != ".")
        .collect();
    let joined = join(cwd.trim_end_matches('/'), &rel.join("/"));
    let parts = UriParts::parse(uri);
    if parts.scheme.is_empty() {
        return joined;
    }
    let mut out = format!("{}://{joined}", parts.scheme);
    if !parts.query.is_empty() {
        out = format!("{out}?{}", parts.query);
    }
    if !parts.fragment.is_empty() {
        out = format!("{out}#{}", parts.fragment);
    }
    out
}

/// The URI with the password of its user info masked, for messages and logs:
/// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`.
pub fn without_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => uri.to_string(),
        },
        None => uri.to_string(),
    }
}

pub fn percent_decode(s: &str) -> String {
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
    fn passwords_are_masked() {
        assert_eq!(
            without_password("postgresql+psycopg2://u:p@ss@h:5432/db?sslmode=disable"),
            "postgresql+psycopg2://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(without_password("mysql://u@h/db"), "mysql://u@h/db");
        assert_eq!(
            without_password("sqlite:///mlflow.db"),
            "sqlite:///mlflow.db"
        );
    }

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

    #[test]
    fn relative_locations_resolve_against_the_working_directory() {
        let cwd = "/srv/ml";
        assert_eq!(resolve_if_local("my_location", cwd), "/srv/ml/my_location");
        assert_eq!(resolve_if_local("./a/../b", cwd), "/srv/ml/a/../b");
        assert_eq!(resolve_if_local("file:rel", cwd), "file:///srv/ml/rel");
        assert_eq!(resolve_if_local("/abs/x", cwd), "/abs/x");
        assert_eq!(resolve_if_local("file:///abs", cwd), "file:///abs");
        assert_eq!(resolve_if_local("s3://b/k", cwd), "s3://b/k");
        assert_eq!(
            resolve_if_local("mlflow-artifacts:/1", cwd),
            "mlflow-artifacts:/1"
        );
        assert_eq!(resolve_if_local("~/x", cwd), "/srv/ml/~/x");
        assert_eq!(resolve_if_local("a//./b/", cwd), "/srv/ml/a/b");
    }

    #[test]
    fn uri_parts_as_python_splits_them() {
        let p = UriParts::parse("HTTP://u@Host:5000/api/x?q=1#f");
        assert_eq!(p.scheme, "http");
        assert_eq!(p.netloc, "u@Host:5000");
        assert_eq!(p.path, "/api/x");
        assert_eq!((p.query, p.fragment), ("q=1", "f"));
        assert_eq!(p.hostname(), "host");
        assert_eq!(p.port(), Ok(Some(5000)));
        assert_eq!(UriParts::parse("http://[::1]:80/").hostname(), "::1");
        assert_eq!(UriParts::parse("http://h:x/").port(), Err(InvalidPort));
        assert_eq!(UriParts::parse("/a/b").scheme, "");
        assert_eq!(UriParts::parse("mlflow-artifacts:/1").netloc, "");
        assert!(is_local("rel/x") && is_local("file:///x") && !is_local("s3://b"));
    }
}
