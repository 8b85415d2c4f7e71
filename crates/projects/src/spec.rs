//! The MLproject file: name, environment, and entry points with typed parameters.
//!
//! A directory without an MLproject file is still a project: its `.py` and `.sh` files are
//! its entry points, as in MLflow.

use std::path::{Path, PathBuf};

use yaml_rust2::Yaml;

use crate::error::{Error, IoContext, Result};
use crate::params::shell_quote;
use crate::yaml;

pub const PYTHON_ENV_FILE: &str = "python_env.yaml";
pub const CONDA_ENV_FILE: &str = "conda.yaml";

/// A loaded project.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    /// The MLproject file, when the directory has one.
    pub mlproject: Option<PathBuf>,
    pub name: Option<String>,
    pub env: EnvSpec,
    pub entry_points: Vec<EntryPoint>,
}

/// The environment a project declares.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvSpec {
    /// Nothing declared: the command runs with the Python on PATH.
    None,
    /// `python_env: python_env.yaml` (or a `python_env.yaml` beside an MLproject without one).
    Python(PathBuf),
    /// `conda_env: conda.yaml` (or a `conda.yaml` beside it).
    Conda(PathBuf),
    /// `docker_env: {image: ...}`.
    Docker { image: String },
}

impl EnvSpec {
    /// MLflow's name for the kind of environment.
    pub fn kind(&self) -> &'static str {
        match self {
            EnvSpec::None => "none",
            EnvSpec::Python(_) => "python_env",
            EnvSpec::Conda(_) => "conda_env",
            EnvSpec::Docker { .. } => "docker_env",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryPoint {
    pub name: String,
    pub parameters: Vec<Parameter>,
    /// A command template: `{name}` stands for a parameter's (shell-quoted) value.
    pub command: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub kind: ParamType,
    /// The default as text; a parameter without one is required.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    String,
    Float,
    Int,
    /// A local path (made absolute) or a URI of artifacts to download.
    Path,
    /// A URI, or a local path (made absolute).
    Uri,
    /// A type MLflow does not know; the value passes through as given.
    Other(String),
}

impl ParamType {
    fn parse(s: &str) -> ParamType {
        match s {
            "string" | "str" => ParamType::String,
            "float" => ParamType::Float,
            "int" | "integer" => ParamType::Int,
            "path" => ParamType::Path,
            "uri" => ParamType::Uri,
            other => ParamType::Other(other.to_string()),
        }
    }
}

/// Finds `MLproject` in `dir` (any letter case, as MLflow does).
fn find_mlproject(dir: &Path) -> Result<Option<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .context(|| format!("cannot read the project directory {}", dir.display()))?;
    for e in entries.flatten() {
        if e.file_name()
            .to_string_lossy()
            .eq_ignore_ascii_case("mlproject")
            && e.path().is_file()
        {
            return Ok(Some(e.path()));
        }
    }
    Ok(None)
}

/// Loads the project in `dir`.
pub fn load(dir: &Path) -> Result<Project> {
    let Some(file) = find_mlproject(dir)? else {
        return Ok(Project {
            dir: dir.to_path_buf(),
            mlproject: None,
            name: None,
            env: default_env(dir),
            entry_points: Vec::new(),
        });
    };
    let text =
        std::fs::read_to_string(&file).context(|| format!("cannot read {}", file.display()))?;
    parse(&text, dir, &file.display().to_string())
}

/// The environment files MLflow picks up when nothing is declared.
fn default_env(dir: &Path) -> EnvSpec {
    if dir.join(PYTHON_ENV_FILE).is_file() {
        EnvSpec::Python(dir.join(PYTHON_ENV_FILE))
    } else if dir.join(CONDA_ENV_FILE).is_file() {
        EnvSpec::Conda(dir.join(CONDA_ENV_FILE))
    } else {
        EnvSpec::None
    }
}

/// Parses MLproject `text` of the project in `dir`; `file` names it in errors.
pub fn parse(text: &str, dir: &Path, file: &str) -> Result<Project> {
    let bad = |message: String| Error::Spec {
        file: file.to_string(),
        message,
    };
    let doc = yaml::parse(text, file)?;
    let top = match &doc {
        Yaml::Null => Vec::new(),
        y => yaml::entries(y).ok_or_else(|| {
            bad(format!(
                "expected a mapping of fields (name, entry_points, ...), found {}",
                yaml::kind(y)
            ))
        })?,
    };
    let field = |k: &str| top.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let text_field = |k: &str| -> Result<Option<String>> {
        match field(k) {
            None | Some(Yaml::Null) => Ok(None),
            Some(v) => yaml::scalar_text(v)
                .map(Some)
                .ok_or_else(|| bad(format!("'{k}' must be a string, found {}", yaml::kind(v)))),
        }
    };

    let declared: Vec<&str> = ["python_env", "conda_env", "docker_env"]
        .into_iter()
        .filter(|k| field(k).is_some())
        .collect();
    if declared.len() > 1 {
        return Err(bad(format!(
            "a project declares one environment, but this one declares {}",
            declared.join(" and ")
        )));
    }
    let env_file = |k: &str, rel: String| -> Result<PathBuf> {
        let p = dir.join(&rel);
        if p.is_file() {
            Ok(p)
        } else {
            Err(bad(format!(
                "{k}: {rel} names a file that does not exist in the project ({})",
                p.display()
            )))
        }
    };
    let env = if let Some(rel) = text_field("python_env")? {
        EnvSpec::Python(env_file("python_env", rel)?)
    } else if let Some(rel) = text_field("conda_env")? {
        EnvSpec::Conda(env_file("conda_env", rel)?)
    } else if let Some(d) = field("docker_env") {
        let image = yaml::get(d, "image");
        match yaml::scalar_text(image) {
            Some(image) if !image.is_empty() => EnvSpec::Docker { image },
            _ => return Err(bad("docker_env needs an 'image'".into())),
        }
    } else {
        default_env(dir)
    };

    let mut entry_points = Vec::new();
    if let Some(eps) = field("entry_points").filter(|y| !matches!(y, Yaml::Null)) {
        let eps = yaml::entries(eps).ok_or_else(|| {
            bad(format!(
                "'entry_points' must be a mapping of names to entry points, found {}",
                yaml::kind(eps)
            ))
        })?;
        for (name, ep) in eps {
            entry_points.push(
                parse_entry_point(&name, ep)
                    .map_err(|m| bad(format!("entry point '{name}': {m}")))?,
            );
        }
    }
    Ok(Project {
        dir: dir.to_path_buf(),
        mlproject: Some(PathBuf::from(file)),
        name: text_field("name")?,
        env,
        entry_points,
    })
}

fn parse_entry_point(name: &str, ep: &Yaml) -> Result<EntryPoint, String> {
    if yaml::entries(ep).is_none() {
        return Err(format!(
            "expected a mapping with 'command' and 'parameters', found {}",
            yaml::kind(ep)
        ));
    }
    let command = match yaml::get(ep, "command") {
        Yaml::BadValue | Yaml::Null => return Err("no 'command'".into()),
        c => yaml::scalar_text(c)
            .ok_or_else(|| format!("'command' must be a string, found {}", yaml::kind(c)))?,
    };
    let mut parameters = Vec::new();
    match yaml::get(ep, "parameters") {
        Yaml::BadValue | Yaml::Null => {}
        ps => {
            let ps = yaml::entries(ps).ok_or_else(|| {
                format!("'parameters' must be a mapping, found {}", yaml::kind(ps))
            })?;
            for (pname, p) in ps {
                let (kind, default) = match p {
                    Yaml::Hash(_) => {
                        let kind = match yaml::get(p, "type") {
                            Yaml::BadValue | Yaml::Null => "string".to_string(),
                            t => yaml::scalar_text(t).ok_or_else(|| format!("parameter '{pname}': 'type' must be a string"))?,
                        };
                        let default = match yaml::get(p, "default") {
                            Yaml::BadValue | Yaml::Null => None,
                            d => Some(yaml::scalar_text(d).ok_or_else(|| format!("parameter '{pname}': 'default' must be a single value, found {}", yaml::kind(d)))?),
                        };
                        (kind, default)
                    }
                    Yaml::Null => ("string".to_string(), None),
                    t => (
                        yaml::scalar_text(t).ok_or_else(|| format!("parameter '{pname}' must be a type name or {{type: ..., default: ...}}, found {}", yaml::kind(t)))?,
                        None,
                    ),
                };
                parameters.push(Parameter {
                    name: pname,
                    kind: ParamType::parse(&kind),
                    default,
                });
            }
        }
    }
    Ok(EntryPoint {
        name: name.to_string(),
        parameters,
        command,
    })
}

impl Project {
    /// The entry point `name`: one of MLproject's, or a `.py` / `.sh` file of the project.
    pub fn entry_point(&self, name: &str) -> Result<EntryPoint> {
        if let Some(ep) = self.entry_points.iter().find(|e| e.name == name) {
            return Ok(ep.clone());
        }
        let program = match Path::new(name).extension().and_then(|e| e.to_str()) {
            Some("py") => Some("python".to_string()),
            Some("sh") => Some(std::env::var("SHELL").unwrap_or_else(|_| "bash".into())),
            _ => None,
        };
        if let Some(program) = program {
            if self.dir.join(name).is_file() {
                return Ok(EntryPoint {
                    name: name.to_string(),
                    parameters: Vec::new(),
                    command: format!("{program} {}", shell_quote(name)),
                });
            }
            return Err(Error::Usage(format!(
                "the project has no file {name} ({})",
                self.dir.join(name).display()
            )));
        }
        let defined: Vec<&str> = self.entry_points.iter().map(|e| e.name.as_str()).collect();
        Err(Error::Usage(match (&self.mlproject, defined.is_empty()) {
            (None, _) => format!(
                "{} has no MLproject file, so the entry point must be a .py or .sh file of it; '{name}' is not (try -e train.py)",
                self.dir.display()
            ),
            (Some(f), true) => format!(
                "{} declares no entry points, and '{name}' is not a .py or .sh file of the project",
                f.display()
            ),
            (Some(f), false) => format!(
                "entry point '{name}' is not in {} (it has {}) and is not a .py or .sh file of the project",
                f.display(),
                defined.join(", ")
            ),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Project> {
        parse(text, Path::new("/nonexistent"), "MLproject")
    }

    #[test]
    fn reads_the_seed_project() {
        let p = parse_str(
            "name: Tutorial Project\n\nentry_points:\n  main:\n    parameters:\n      epochs: {type: int, default: 3}\n      learning_rate: {type: float, default: 0.01}\n      data: path\n    command: \"python scripts/train.py {epochs} {learning_rate}\"\n",
        )
        .unwrap();
        assert_eq!(p.name.as_deref(), Some("Tutorial Project"));
        let main = p.entry_point("main").unwrap();
        assert_eq!(
            main.command,
            "python scripts/train.py {epochs} {learning_rate}"
        );
        assert_eq!(
            main.parameters,
            vec![
                Parameter {
                    name: "epochs".into(),
                    kind: ParamType::Int,
                    default: Some("3".into())
                },
                Parameter {
                    name: "learning_rate".into(),
                    kind: ParamType::Float,
                    default: Some("0.01".into())
                },
                Parameter {
                    name: "data".into(),
                    kind: ParamType::Path,
                    default: None
                },
            ]
        );
    }

    #[test]
    fn refuses_what_cannot_run() {
        let cases = [
            (
                "entry_points:\n  main:\n    parameters: {}\n",
                "entry point 'main': no 'command'",
            ),
            ("entry_points: [a, b]\n", "'entry_points' must be a mapping"),
            (
                "python_env: p.yaml\nconda_env: c.yaml\n",
                "declares python_env and conda_env",
            ),
            (
                "python_env: nope.yaml\n",
                "nope.yaml names a file that does not exist",
            ),
            ("docker_env: {}\n", "docker_env needs an 'image'"),
            (
                "entry_points:\n  main:\n    parameters:\n      a: {type: int, default: [1]}\n    command: x\n",
                "'default' must be a single value",
            ),
        ];
        for (text, want) in cases {
            let e = parse_str(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn unknown_entry_points_name_what_exists() {
        let p = parse_str("entry_points:\n  main: {command: a}\n  huber: {command: b}\n").unwrap();
        let e = p.entry_point("lasso").unwrap_err().to_string();
        assert!(e.contains("(it has main, huber)"), "{e}");
    }
}
