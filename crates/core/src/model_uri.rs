//! `models:/` URIs: the one parser every command that takes a model URI uses.
//!
//! ```text
//! models:/<name>/<version>      a version number
//! models:/<name>/<stage>        the newest version in a stage (None, Staging, Production, Archived)
//! models:/<name>/latest         the newest version of any stage
//! models:/<name>@<alias>        the version an alias points to
//! models:/<model_id>            a logged model (MLflow 3), e.g. models:/m-0123...
//! ```
//!
//! Any of the registry forms may be followed by a path inside the model's artifacts:
//! `models:/wine/1/MLmodel`.

use crate::error::{Error, Result};
use crate::registry::canonical_stage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    Version { name: String, version: i64 },
    Stage { name: String, stage: &'static str },
    Latest { name: String },
    Alias { name: String, alias: String },
    LoggedModel { model_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUri {
    pub model: ModelRef,
    /// A path inside the model's artifacts, possibly empty.
    pub path: String,
}

fn bad(uri: &str, why: &str) -> Error {
    Error::invalid_param(format!(
        "Not a valid models:/ URI: '{uri}'. {why} Use models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest, models:/<name>@<alias> or models:/<model_id>."
    ))
}

/// Whether `s` has the form of a logged model id (`m-` and 32 hex digits).
pub fn is_logged_model_id(s: &str) -> bool {
    s.len() == 34 && s.starts_with("m-") && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<ModelUri> {
        let rest = uri
            .strip_prefix("models:")
            .ok_or_else(|| bad(uri, "It does not start with models:/."))?;
        let rest = match rest.strip_prefix("//") {
            // models://<profile>/... names another registry, which Ferroflow does not reach.
            Some(after) if !after.is_empty() && !after.starts_with('/') => {
                return Err(bad(
                    uri,
                    "Remote registries (models://<host>/...) are not supported.",
                ));
            }
            Some(after) => after,
            None => rest
                .strip_prefix('/')
                .ok_or_else(|| bad(uri, "It does not start with models:/."))?,
        };
        let rest = rest.trim_start_matches('/');
        let mut parts = rest.splitn(2, '/');
        let first = parts.next().unwrap_or("");
        let after = parts.next().unwrap_or("");
        if first.is_empty() {
            return Err(bad(uri, "It names no model."));
        }
        if let Some((name, alias)) = first.split_once('@') {
            if name.is_empty() || alias.is_empty() {
                return Err(bad(uri, "An alias needs a name before and after '@'."));
            }
            return Ok(ModelUri {
                model: ModelRef::Alias {
                    name: name.to_string(),
                    alias: alias.to_string(),
                },
                path: after.to_string(),
            });
        }
        if after.is_empty() {
            if is_logged_model_id(first) {
                return Ok(ModelUri {
                    model: ModelRef::LoggedModel {
                        model_id: first.to_string(),
                    },
                    path: String::new(),
                });
            }
            return Err(bad(uri, "It names a model but no version, stage or alias."));
        }
        let mut parts = after.splitn(2, '/');
        let which = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("").to_string();
        let name = first.to_string();
        let model = if let Ok(version) = which.parse::<i64>() {
            if version < 1 {
                return Err(bad(uri, "Versions start at 1."));
            }
            ModelRef::Version { name, version }
        } else if which.eq_ignore_ascii_case("latest") {
            ModelRef::Latest { name }
        } else if let Ok(stage) = canonical_stage(which) {
            ModelRef::Stage { name, stage }
        } else {
            return Err(bad(
                uri,
                &format!("'{which}' is not a version number, a stage or 'latest'."),
            ));
        };
        Ok(ModelUri { model, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(uri: &str) -> ModelRef {
        ModelUri::parse(uri).unwrap().model
    }

    #[test]
    fn forms() {
        assert_eq!(
            m("models:/wine/1"),
            ModelRef::Version {
                name: "wine".into(),
                version: 1
            }
        );
        assert_eq!(
            m("models:/wine/production"),
            ModelRef::Stage {
                name: "wine".into(),
                stage: "Production"
            }
        );
        assert_eq!(
            m("models:/wine/Latest"),
            ModelRef::Latest {
                name: "wine".into()
            }
        );
        assert_eq!(
            m("models:/wine@champion"),
            ModelRef::Alias {
                name: "wine".into(),
                alias: "champion".into()
            }
        );
        assert_eq!(
            m("models:///wine/2"),
            ModelRef::Version {
                name: "wine".into(),
                version: 2
            }
        );
        let id = "m-0123456789abcdef0123456789abcdef";
        assert_eq!(
            m(&format!("models:/{id}")),
            ModelRef::LoggedModel {
                model_id: id.into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/wine/1/MLmodel").unwrap().path,
            "MLmodel"
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            "models:/",
            "models:/wine",
            "models:/wine/0",
            "models:/wine/bogus",
            "models:/@x",
            "models:/wine@",
            "runs:/x/y",
            "models://host/wine/1",
        ] {
            let e = ModelUri::parse(bad).unwrap_err();
            assert!(e.message.contains("models:/"), "{bad}: {}", e.message);
        }
    }
}
