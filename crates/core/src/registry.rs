//! Model registry rules: stages, and what names, versions and aliases may be.

use crate::error::{Error, Result};
use crate::validation::{invalid_value, normpath};

pub const STAGE_NONE: &str = "None";
pub const STAGE_STAGING: &str = "Staging";
pub const STAGE_PRODUCTION: &str = "Production";
pub const STAGE_ARCHIVED: &str = "Archived";
/// What a deleted version's stage becomes; such versions are invisible.
pub const STAGE_DELETED_INTERNAL: &str = "Deleted_Internal";

pub const ALL_STAGES: [&str; 4] = [STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED];

pub const MAX_ALIAS_LENGTH: usize = 255;
pub const MAX_REGISTRY_TAG_KEY_LENGTH: usize = 250;
pub const MAX_REGISTRY_TAG_VALUE_LENGTH: usize = 100_000;
pub const MAX_DESCRIPTION_LENGTH: usize = 5000;
pub const DEFAULT_SEARCH_REGISTERED_MODELS: i64 = 100;
pub const MAX_SEARCH_REGISTERED_MODELS: i64 = 1000;
pub const DEFAULT_SEARCH_MODEL_VERSIONS: i64 = 10_000;
pub const MAX_SEARCH_MODEL_VERSIONS: i64 = 200_000;

/// A stage as stored, from any capitalization of its name.
pub fn canonical_stage(stage: &str) -> Result<&'static str> {
    ALL_STAGES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .copied()
        .ok_or_else(|| {
            Error::invalid_param(format!(
                "Invalid Model Version stage: {stage}. Value must be one of {}.",
                ALL_STAGES.join(", ")
            ))
        })
}

/// Registered model names: not empty, no `/` or `:`, nothing that resolves to another path.
pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::missing("name"));
    }
    if name.contains('/') || name.contains(':') {
        return Err(Error::invalid_param(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    let norm = normpath(name);
    if norm != name || norm == "." || norm.starts_with("..") {
        return Err(invalid_value(
            "name",
            name,
            Some(&format!(
                "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{norm}'"
            )),
        ));
    }
    Ok(())
}

/// A version number given as a string.
pub fn parse_version(version: &str) -> Result<i64> {
    version.trim().parse::<i64>().map_err(|_| {
        Error::invalid_param(format!(
            "Parameter 'version' must be an integer, got '{version}'."
        ))
    })
}

/// Aliases: word characters and dashes, not empty, not `latest`, not like a version (`v3`).
pub fn validate_alias(alias: &str) -> Result<()> {
    if alias.is_empty() {
        return Err(Error::invalid_param(
            "Registered model alias name cannot be empty.",
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid_param(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )));
    }
    if alias.chars().count() > MAX_ALIAS_LENGTH {
        return Err(Error::invalid_param(format!(
            "'Registered model alias name' exceeds the maximum length of {MAX_ALIAS_LENGTH} characters"
        )));
    }
    if alias.eq_ignore_ascii_case("latest") {
        return Err(Error::invalid_param(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && chars.clone().next().is_some()
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(Error::invalid_param(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

pub fn validate_registry_tag(key: &str, value: &str) -> Result<()> {
    crate::validation::validate_key(key, "key")?;
    if key.chars().count() > MAX_REGISTRY_TAG_KEY_LENGTH {
        return Err(Error::invalid_param(format!(
            "'key' exceeds the maximum length of {MAX_REGISTRY_TAG_KEY_LENGTH} characters"
        )));
    }
    if value.chars().count() > MAX_REGISTRY_TAG_VALUE_LENGTH {
        return Err(Error::invalid_param(format!(
            "'value' exceeds the maximum length of {MAX_REGISTRY_TAG_VALUE_LENGTH} characters"
        )));
    }
    Ok(())
}

/// A registered model's or version's description must fit MLflow's column.
pub fn validate_description(d: Option<&str>) -> crate::error::Result<()> {
    if d.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LENGTH) {
        return Err(crate::error::Error::invalid_param(format!(
            "'description' exceeds the maximum length of {MAX_DESCRIPTION_LENGTH} characters"
        )));
    }
    Ok(())
}

pub fn registered_model_exists(name: &str) -> crate::error::Error {
    crate::error::Error::already_exists(format!("Registered Model (name={name}) already exists."))
}

pub fn alias_not_found(alias: &str) -> crate::error::Error {
    crate::error::Error::invalid_param(format!("Registered model alias {alias} not found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_case_insensitive() {
        assert_eq!(canonical_stage("production").unwrap(), "Production");
        assert_eq!(canonical_stage("NONE").unwrap(), "None");
        let e = canonical_stage("Bogus").unwrap_err();
        assert!(e.message.contains("None, Staging, Production, Archived"));
    }

    #[test]
    fn aliases() {
        assert!(validate_alias("champion").is_ok());
        assert!(validate_alias("v-1").is_ok());
        assert!(validate_alias("v").is_ok());
        for bad in ["", "v3", "V12", "latest", "LATEST", "a b", "a/b"] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(validate_model_name("wine").is_ok());
        assert!(validate_model_name("pytorch_simplenn_mnist").is_ok());
        for bad in ["", "  ", "a/b", "a:b", ".."] {
            assert!(validate_model_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_version("3").unwrap(), 3);
        assert!(parse_version("x").is_err());
    }
}
