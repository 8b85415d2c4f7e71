//! MLflow's auth configuration: the `[mlflow]` section of the INI file that
//! `MLFLOW_AUTH_CONFIG_PATH` names (MLflow's packaged defaults when unset), with
//! `MLFLOW_AUTH_ADMIN_USERNAME` and `MLFLOW_AUTH_ADMIN_PASSWORD` taking precedence.

use std::collections::HashMap;

use ferroflow_core::{Error, Result};

use crate::policy::Permission;

/// The one authorization function Ferroflow implements: MLflow's HTTP basic scheme.
pub const BASIC_AUTH_FUNCTION: &str = "mlflow.server.auth:authenticate_request_basic_auth";

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// What a user may do on a resource nobody granted them anything on.
    pub default_permission: Permission,
    /// The auth database (`sqlite:///basic_auth.db` by default, relative to the working
    /// directory).
    pub database_uri: String,
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
    /// Verified credentials are remembered this long (0: every request hashes).
    pub auth_cache_ttl_seconds: u64,
    pub auth_cache_max_size: usize,
}

impl AuthConfig {
    /// Reads the configuration as MLflow does, from the process environment.
    pub fn from_env() -> Result<AuthConfig> {
        let var = |k: &str| std::env::var(k).ok();
        let path = var("MLFLOW_AUTH_CONFIG_PATH").filter(|p| !p.is_empty());
        let text = match &path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| {
                Error::invalid_param(format!(
                    "Cannot read the auth configuration {p} (MLFLOW_AUTH_CONFIG_PATH): {e}"
                ))
            })?,
            None => String::new(),
        };
        Self::parse(
            &text,
            path.as_deref().unwrap_or("the default configuration"),
            var("MLFLOW_AUTH_ADMIN_USERNAME"),
            var("MLFLOW_AUTH_ADMIN_PASSWORD"),
        )
    }

    /// The configuration from the INI `text` (empty: MLflow's packaged defaults); admin
    /// settings from the environment override the file's even when empty.
    pub fn parse(
        text: &str,
        origin: &str,
        env_admin_username: Option<String>,
        env_admin_password: Option<String>,
    ) -> Result<AuthConfig> {
        let mut section = mlflow_section(text, origin)?;
        if text.trim().is_empty() {
            section.insert("default_permission".into(), "READ".into());
            section.insert("database_uri".into(), "sqlite:///basic_auth.db".into());
            section.insert("admin_username".into(), "admin".into());
        }
        let get = |k: &str| section.get(k).cloned();
        let required = |k: &str| {
            get(k).ok_or_else(|| {
                Error::invalid_param(format!("{origin}: [mlflow] has no '{k}' setting"))
            })
        };
        let default_permission = required("default_permission")?;
        let default_permission = Permission::parse(&default_permission).ok_or_else(|| {
            Error::invalid_param(format!(
                "{origin}: default_permission '{default_permission}' is not one of READ, USE, EDIT, MANAGE, NO_PERMISSIONS"
            ))
        })?;
        if let Some(f) = get("authorization_function").filter(|f| f != BASIC_AUTH_FUNCTION) {
            return Err(Error::invalid_param(format!(
                "{origin}: authorization_function '{f}' is a Python function; Ferroflow implements MLflow's HTTP basic scheme ({BASIC_AUTH_FUNCTION}) only"
            )));
        }
        let number = |k: &str, default: u64| -> Result<u64> {
            get(k).map_or(Ok(default), |v| {
                v.parse().map_err(|_| {
                    Error::invalid_param(format!("{origin}: {k} '{v}' is not a whole number"))
                })
            })
        };
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(AuthConfig {
            default_permission,
            database_uri: required("database_uri")?,
            admin_username: nonempty(env_admin_username.or_else(|| get("admin_username"))),
            admin_password: nonempty(env_admin_password.or_else(|| get("admin_password"))),
            auth_cache_ttl_seconds: number("auth_cache_ttl_seconds", 0)?,
            auth_cache_max_size: number("auth_cache_max_size", 10_000)? as usize,
        })
    }
}

/// The `[mlflow]` section of an INI file as Python's `configparser` reads it: `key = value`
/// or `key: value`, keys in lower case, `#` and `;` comment lines, indented continuation
/// lines joined with a newline.
fn mlflow_section(text: &str, origin: &str) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut in_mlflow = false;
    let mut last: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(v) = last
                .as_ref()
                .filter(|_| in_mlflow)
                .and_then(|k| out.get_mut(k))
            {
                let v: &mut String = v;
                v.push('\n');
                v.push_str(trimmed);
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            in_mlflow = name.trim() == "mlflow";
            last = None;
            continue;
        }
        let Some(i) = trimmed.find(['=', ':']) else {
            return Err(Error::invalid_param(format!(
                "{origin}, line {}: expected 'key = value', found '{trimmed}'",
                n + 1
            )));
        };
        if in_mlflow {
            let key = trimmed[..i].trim().to_lowercase();
            out.insert(key.clone(), trimmed[i + 1..].trim().to_string());
            last = Some(key);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = "[mlflow]\ndefault_permission = EDIT\ndatabase_uri = sqlite:///x.db\nadmin_username = root\n# a comment\nadmin_password: s3cret-password\nauth_cache_ttl_seconds = 60\n[other]\nadmin_password = no\n";

    #[test]
    fn reads_the_mlflow_section() {
        let c = AuthConfig::parse(INI, "t", None, None).unwrap();
        assert_eq!(c.default_permission, Permission::Edit);
        assert_eq!(c.database_uri, "sqlite:///x.db");
        assert_eq!(c.admin_username.as_deref(), Some("root"));
        assert_eq!(c.admin_password.as_deref(), Some("s3cret-password"));
        assert_eq!(c.auth_cache_ttl_seconds, 60);
    }

    #[test]
    fn environment_wins_even_when_empty() {
        let c = AuthConfig::parse(INI, "t", Some("boss".into()), Some(String::new())).unwrap();
        assert_eq!(c.admin_username.as_deref(), Some("boss"));
        assert_eq!(c.admin_password, None);
    }

    #[test]
    fn defaults_and_refusals() {
        let c = AuthConfig::parse("", "t", None, None).unwrap();
        assert_eq!(c.default_permission, Permission::Read);
        assert_eq!(c.database_uri, "sqlite:///basic_auth.db");
        assert_eq!(c.admin_password, None);
        let bad = "[mlflow]\ndefault_permission = ALL\ndatabase_uri = sqlite:///x.db\n";
        assert!(AuthConfig::parse(bad, "t", None, None).is_err());
        let custom = "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///x.db\nauthorization_function = my.mod:fn\n";
        assert!(AuthConfig::parse(custom, "t", None, None).is_err());
    }
}
