//! Artifact URIs whose scheme makes a server connect to the host they name (`http`,
//! `https`, `mlflow-artifacts://host`, `ftp`, `sftp`, `hdfs`, ...). A location a client
//! stores (an experiment's `artifact_location`, a model version's `source`) must not make
//! the server reach an arbitrary host, so, as MLflow 3.17.2 does, such a URI is accepted
//! only when it names the host of the server's own `--default-artifact-root` or
//! `--artifacts-destination`, or when its scheme is listed in
//! `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`.

use crate::error::{Error, Result};
use crate::uri::UriParts;

const SCHEMES: &[&str] = &[
    "ftp",
    "sftp",
    "hdfs",
    "viewfs",
    "http",
    "https",
    "mlflow-artifacts",
    "r2",
    "b2",
    "abfss",
];

/// The environment variable that allows schemes, comma-separated.
pub const ALLOWED_SCHEMES_VAR: &str = "MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES";

/// (scheme family, host, port): one place a URI makes the server connect to.
type Target = (String, String, Option<u16>);

/// The targets `uri` may make a server connect to, or `None` when it selects no host.
fn targets(uri: &str) -> Option<Vec<Target>> {
    let parts = UriParts::parse(uri);
    let scheme = parts.scheme.as_str();
    if !SCHEMES.contains(&scheme) || (scheme == "mlflow-artifacts" && parts.netloc.is_empty()) {
        return None;
    }
    let malformed = || {
        Some(vec![(
            "malformed".to_string(),
            parts.netloc.to_string(),
            None,
        )])
    };
    if parts.netloc.contains('\\') || parts.netloc.chars().any(char::is_whitespace) {
        return malformed();
    }
    let Ok(port) = parts.port() else {
        return malformed();
    };
    let family = match scheme {
        "viewfs" => "hdfs",
        "https" | "mlflow-artifacts" => "http",
        s => s,
    };
    let defaults: &[u16] = match scheme {
        "ftp" => &[21],
        "sftp" => &[22],
        "http" => &[80],
        "https" | "r2" | "b2" | "abfss" => &[443],
        "mlflow-artifacts" => &[80, 443],
        _ => &[],
    };
    let host = parts.hostname();
    let ports: Vec<Option<u16>> = match port {
        Some(p) => vec![Some(p)],
        None if defaults.is_empty() => vec![None],
        None => defaults.iter().map(|p| Some(*p)).collect(),
    };
    Some(
        ports
            .into_iter()
            .map(|p| (family.to_string(), host.clone(), p))
            .collect(),
    )
}

/// Which host-addressed URIs a server accepts from its clients.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    trusted: Vec<Target>,
    allowed: Vec<String>,
}

impl HostPolicy {
    /// The policy of a server configured with these artifact locations (its default
    /// artifact root and artifacts destination) and the allowed schemes (the value of
    /// [`ALLOWED_SCHEMES_VAR`]).
    pub fn new(configured: &[&str], allowed_schemes: &str) -> HostPolicy {
        HostPolicy {
            trusted: configured
                .iter()
                .filter_map(|u| targets(u))
                .flatten()
                .collect(),
            allowed: allowed_schemes
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// The scheme of `uri` when the server must not connect to the host it names.
    fn rejected(&self, uri: &str) -> Option<String> {
        let targets = targets(uri)?;
        let scheme = UriParts::parse(uri).scheme;
        if self.allowed.contains(&scheme) || targets.iter().any(|t| self.trusted.contains(t)) {
            return None;
        }
        Some(scheme)
    }

    fn reason(scheme: &str) -> String {
        format!(
            "the '{scheme}' scheme addresses a host other than the tracking server's configured artifact storage, so the server would connect to the host named in the URI. Set the {ALLOWED_SCHEMES_VAR} environment variable on the server to allow it."
        )
    }

    /// Refuses `uri`, given in the request field `field`, when it names a foreign host.
    pub fn check_field(&self, uri: &str, field: &str) -> Result<()> {
        match self.rejected(uri) {
            None => Ok(()),
            Some(scheme) => Err(Error::invalid_param(format!(
                "'{field}' cannot use the '{scheme}' scheme: {}",
                Self::reason(&scheme)
            ))),
        }
    }

    /// Refuses to read a stored location that names a foreign host.
    pub fn check_stored(&self, uri: &str) -> Result<()> {
        match self.rejected(uri) {
            None => Ok(()),
            Some(scheme) => Err(Error::invalid_param(format!(
                "The tracking server does not connect to artifact location '{uri}': {}",
                Self::reason(&scheme)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_hosts_are_refused_and_the_servers_own_are_not() {
        let p = HostPolicy::new(
            &[
                "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts",
                "./mlruns",
            ],
            "",
        );
        for ok in [
            "/tmp/x",
            "file:///x",
            "s3://bucket/x",
            "mlflow-artifacts:/1/x",
            "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1",
            "mlflow-artifacts://127.0.0.1:5000/1",
        ] {
            assert!(p.check_field(ok, "artifact_location").is_ok(), "{ok}");
        }
        for bad in [
            "http://localhost:5055/x",
            "https://127.0.0.1/x",
            "mlflow-artifacts://otherhost/x",
            "ftp://h/x",
            "http://h\\@127.0.0.1:5000/",
            "http://127.0.0.1:99999/",
        ] {
            let e = p.check_field(bad, "artifact_location").unwrap_err();
            assert!(
                e.message
                    .starts_with("'artifact_location' cannot use the '"),
                "{bad}"
            );
        }
        let allowed = HostPolicy::new(&[], "HTTP, ftp");
        assert!(allowed.check_field("http://anywhere/x", "source").is_ok());
        assert!(allowed.check_field("https://anywhere/x", "source").is_err());
        assert!(
            p.check_stored("sftp://h/x")
                .unwrap_err()
                .message
                .contains("'sftp://h/x'")
        );
    }
}
