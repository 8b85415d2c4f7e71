//! Reading the small YAML files of projects (MLproject, python_env.yaml, conda.yaml) into
//! values, with errors that name the file and the line.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, IoContext, Result};

/// The first document of the YAML file at `path` (`Null` when the file is empty).
pub fn load(path: &Path) -> Result<Yaml> {
    let text =
        std::fs::read_to_string(path).context(|| format!("cannot read {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// The first document of `text`, read from `file`.
pub fn parse(text: &str, file: &str) -> Result<Yaml> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| Error::Spec {
        file: file.to_string(),
        message: format!(
            "line {}, column {}: {}",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        ),
    })?;
    Ok(docs.into_iter().next().unwrap_or(Yaml::Null))
}

/// A scalar as the text Python's `str()` gives for the value PyYAML reads, which is what
/// MLflow substitutes into commands and logs as a parameter.
pub fn scalar_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(match r.parse::<f64>() {
            Ok(f) if f.is_finite() => {
                let s = f.to_string();
                if s.contains(['.', 'e']) {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            _ => r.clone(),
        }),
        Yaml::Boolean(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

/// What kind of YAML value `y` is, for messages.
pub fn kind(y: &Yaml) -> &'static str {
    match y {
        Yaml::Real(_) => "a number",
        Yaml::Integer(_) => "an integer",
        Yaml::String(_) => "a string",
        Yaml::Boolean(_) => "a boolean",
        Yaml::Array(_) => "a list",
        Yaml::Hash(_) => "a mapping",
        Yaml::Alias(_) => "an alias",
        Yaml::Null => "empty",
        Yaml::BadValue => "invalid",
    }
}

/// The entries of a mapping whose keys are strings, in file order; `None` for anything else.
pub fn entries(y: &Yaml) -> Option<Vec<(String, &Yaml)>> {
    match y {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| scalar_text(k).map(|k| (k, v)))
            .collect(),
        _ => None,
    }
}

/// The value under `key` in a mapping (`BadValue` when absent or not a mapping).
pub fn get<'a>(y: &'a Yaml, key: &str) -> &'a Yaml {
    &y[key]
}

/// A list of strings; `None` for anything else.
pub fn strings(y: &Yaml) -> Option<Vec<String>> {
    match y {
        Yaml::Array(a) => a.iter().map(scalar_text).collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_as_python_prints_them() {
        let y = parse("a: 0.10\nb: 3\nc: true\nd: x y\ne: 1.0\n", "t").unwrap();
        let got: Vec<_> = entries(&y)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, scalar_text(v).unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "0.1"),
                ("b", "3"),
                ("c", "True"),
                ("d", "x y"),
                ("e", "1.0")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let e = parse("name: x\nentry_points:\n  main: [unclosed\n", "MLproject").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("MLproject: line "), "{msg}");
    }
}
