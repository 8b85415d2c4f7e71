//! The environment a project's command runs in.
//!
//! `local` runs it with what is on PATH. `virtualenv` and `uv` build a Python environment
//! from python_env.yaml (or from a conda.yaml's Python version and pip packages, as MLflow
//! does), `conda` from conda.yaml with conda itself. Built environments live in the cache
//! under a name that hashes everything they were built from (the interpreter, the
//! dependency lists and the requirements files they include), so a second run reuses one
//! and a changed requirements file gets a new one. A lock file keeps two runs from
//! building the same environment at once; a marker file says an environment is complete.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use yaml_rust2::Yaml;

use ferroflow_core::ids::stable_hash;

use crate::error::{Error, IoContext, Result};
use crate::spec::EnvSpec;
use crate::yaml;

/// `--env-manager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvManager {
    Local,
    Virtualenv,
    Uv,
    Conda,
}

impl EnvManager {
    pub fn parse(s: &str) -> Result<EnvManager> {
        match s {
            "local" => Ok(EnvManager::Local),
            "virtualenv" => Ok(EnvManager::Virtualenv),
            "uv" => Ok(EnvManager::Uv),
            "conda" => Ok(EnvManager::Conda),
            other => Err(Error::Usage(format!(
                "unknown --env-manager '{other}': use local, virtualenv, uv or conda"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EnvManager::Local => "local",
            EnvManager::Virtualenv => "virtualenv",
            EnvManager::Uv => "uv",
            EnvManager::Conda => "conda",
        }
    }

    /// The manager for `spec` when the user names none: what MLflow picks, except that a
    /// project that declares nothing runs locally (there is nothing to install).
    pub fn choose(explicit: Option<EnvManager>, spec: &EnvSpec) -> Result<EnvManager> {
        match (explicit, spec) {
            (Some(EnvManager::Conda), EnvSpec::Python(_)) => Err(Error::Usage(
                "a python_env project cannot run in a conda environment: use --env-manager virtualenv, uv or local".into(),
            )),
            (Some(m), _) => Ok(m),
            (None, EnvSpec::Python(_)) => Ok(EnvManager::Virtualenv),
            (None, EnvSpec::Conda(_)) => Ok(EnvManager::Conda),
            (None, EnvSpec::Docker { image }) => Err(Error::Env(format!(
                "this project runs in the Docker image '{image}' (docker_env), which needs a Docker engine; ferroflow does not run docker_env projects. \
                 To run its command on this machine instead, use --env-manager local"
            ))),
            (None, EnvSpec::None) => Ok(EnvManager::Local),
        }
    }
}

/// What python_env.yaml says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PythonEnv {
    pub python: Option<String>,
    pub build_dependencies: Vec<String>,
    pub dependencies: Vec<String>,
}

impl PythonEnv {
    pub fn read(path: &Path) -> Result<PythonEnv> {
        let doc = yaml::load(path)?;
        let file = path.display().to_string();
        let bad = |message: String| Error::Spec {
            file: file.clone(),
            message,
        };
        let list = |k: &str| -> Result<Vec<String>> {
            match yaml::get(&doc, k) {
                Yaml::BadValue | Yaml::Null => Ok(Vec::new()),
                y => yaml::strings(y).ok_or_else(|| {
                    bad(format!(
                        "'{k}' must be a list of strings, found {}",
                        yaml::kind(y)
                    ))
                }),
            }
        };
        if !matches!(doc, Yaml::Hash(_) | Yaml::Null) {
            return Err(bad(format!(
                "expected a mapping with python, build_dependencies and dependencies, found {}",
                yaml::kind(&doc)
            )));
        }
        Ok(PythonEnv {
            python: yaml::scalar_text(yaml::get(&doc, "python")),
            build_dependencies: list("build_dependencies")?,
            dependencies: list("dependencies")?,
        })
    }

    /// The Python version and pip packages of a conda.yaml (conda-only packages are left
    /// out, as MLflow does when it builds a virtualenv from one).
    pub fn from_conda_yaml(path: &Path) -> Result<PythonEnv> {
        let doc = yaml::load(path)?;
        let mut env = PythonEnv::default();
        let Yaml::Array(deps) = yaml::get(&doc, "dependencies") else {
            return Ok(env);
        };
        for d in deps {
            if let Some(spec) = yaml::scalar_text(d) {
                let name: String = spec
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                let rest = spec[name.len()..].trim();
                match name.as_str() {
                    "python" => {
                        env.python = Some(
                            rest.trim_start_matches(['=', '<', '>', '!'])
                                .trim_end_matches(".*")
                                .to_string(),
                        )
                        .filter(|v| !v.is_empty())
                    }
                    "pip" | "setuptools" | "wheel" => {
                        let op = if rest.starts_with('=') && !rest.starts_with("==") {
                            "="
                        } else {
                            ""
                        };
                        env.build_dependencies.push(format!("{name}{op}{rest}"));
                    }
                    _ => {}
                }
            } else if let Some(pip) = yaml::strings(yaml::get(d, "pip")) {
                env.dependencies.extend(pip);
            }
        }
        Ok(env)
    }
}

/// A prepared environment: how the command's process must be set up.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Put first on PATH.
    pub bin_dir: Option<PathBuf>,
    /// The environment's root (`VIRTUAL_ENV`, or the conda prefix).
    pub root: Option<PathBuf>,
}

/// Builds (or finds in `cache`) the environment `manager` makes of `spec` for the project
/// in `project_dir`.
pub fn prepare(
    manager: EnvManager,
    spec: &EnvSpec,
    project_dir: &Path,
    cache: &Path,
    say: &dyn Fn(&str),
) -> Result<Prepared> {
    match manager {
        EnvManager::Local => Ok(Prepared::default()),
        EnvManager::Virtualenv | EnvManager::Uv => {
            let env = match spec {
                EnvSpec::Python(p) => PythonEnv::read(p)?,
                EnvSpec::Conda(p) => PythonEnv::from_conda_yaml(p)?,
                EnvSpec::None | EnvSpec::Docker { .. } => PythonEnv::default(),
            };
            python_env(manager, &env, project_dir, cache, say)
        }
        EnvManager::Conda => {
            let EnvSpec::Conda(file) = spec else {
                return Err(Error::Usage(
                    "--env-manager conda needs a conda_env (conda.yaml) in the project".into(),
                ));
            };
            conda_env(file, cache, say)
        }
    }
}

fn python_env(
    manager: EnvManager,
    env: &PythonEnv,
    project_dir: &Path,
    cache: &Path,
    say: &dyn Fn(&str),
) -> Result<Prepared> {
    let uv = if manager == EnvManager::Uv {
        Some(which("uv").ok_or_else(|| Error::Env("--env-manager uv needs the uv command on PATH (pip install uv, or https://docs.astral.sh/uv/)".into()))?)
    } else {
        None
    };
    let (python, version) = find_python(env.python.as_deref(), say)?;
    let mut key = format!("{}\n{}\n{}\n", manager.as_str(), python.display(), version);
    for d in env.build_dependencies.iter().chain(&env.dependencies) {
        key.push_str(d);
        key.push('\n');
        if let Some(req) = d
            .strip_prefix("-r")
            .or_else(|| d.strip_prefix("--requirement"))
        {
            let req = project_dir.join(req.trim_start_matches('=').trim());
            let text = std::fs::read_to_string(&req).map_err(|e| {
                Error::Env(format!(
                    "cannot read {} (named in the environment's dependencies): {e}",
                    req.display()
                ))
            })?;
            key.push_str(&text);
        }
    }
    let dir = cache.join("envs").join(format!(
        "{}-{}",
        manager.as_str(),
        stable_hash(key.as_bytes())
    ));
    let prepared = Prepared {
        bin_dir: Some(dir.join("bin")),
        root: Some(dir.clone()),
    };
    build_once(&dir, say, |dir| {
        say(&format!(
            "Creating a {} environment with Python {version} in {}",
            manager.as_str(),
            dir.display()
        ));
        let venv_python = dir.join("bin").join("python");
        match &uv {
            Some(uv) => run(
                Command::new(uv)
                    .args(["venv", "--quiet", "--python"])
                    .arg(&python)
                    .arg(dir),
                "uv venv",
            )?,
            None => run(
                Command::new(&python).args(["-m", "venv"]).arg(dir),
                "python -m venv",
            )?,
        }
        for (what, deps) in [
            ("build dependencies", &env.build_dependencies),
            ("dependencies", &env.dependencies),
        ] {
            if deps.is_empty() {
                continue;
            }
            say(&format!("Installing {what}: {}", deps.join(" ")));
            let mut cmd = match &uv {
                Some(uv) => {
                    let mut c = Command::new(uv);
                    c.args(["pip", "install", "--python"]).arg(&venv_python);
                    c
                }
                None => {
                    let mut c = Command::new(&venv_python);
                    c.args([
                        "-m",
                        "pip",
                        "install",
                        "--disable-pip-version-check",
                        "--progress-bar",
                        "on",
                    ]);
                    c
                }
            };
            for d in deps {
                if d.starts_with('-') {
                    cmd.args(d.split_whitespace());
                } else {
                    cmd.arg(d);
                }
            }
            run(
                cmd.current_dir(project_dir),
                "installing the environment's packages",
            )?;
        }
        Ok(())
    })?;
    Ok(prepared)
}

fn conda_env(file: &Path, cache: &Path, say: &dyn Fn(&str)) -> Result<Prepared> {
    let conda = std::env::var_os("MLFLOW_CONDA_HOME")
        .map(|h| PathBuf::from(h).join("bin").join("conda"))
        .filter(|p| p.is_file())
        .or_else(|| which("conda"))
        .ok_or_else(|| {
            Error::Env(
                "this project's environment is a conda_env, and conda is not installed (not on PATH, no MLFLOW_CONDA_HOME). \
                 Install conda, or build a virtualenv from its conda.yaml with --env-manager virtualenv (or uv), or use --env-manager local"
                    .into(),
            )
        })?;
    let text = std::fs::read(file).context(|| format!("cannot read {}", file.display()))?;
    let dir = cache
        .join("envs")
        .join(format!("conda-{}", stable_hash(&text)));
    build_once(&dir, say, |dir| {
        say(&format!(
            "Creating a conda environment from {} in {}",
            file.display(),
            dir.display()
        ));
        run(
            Command::new(&conda)
                .args(["env", "create", "--yes", "--file"])
                .arg(file)
                .arg("--prefix")
                .arg(dir),
            "conda env create",
        )
    })?;
    Ok(Prepared {
        bin_dir: Some(dir.join("bin")),
        root: Some(dir),
    })
}

/// Builds the environment at `dir` unless a complete one is there, holding a lock so that
/// concurrent runs build it once. A failed build leaves nothing behind.
fn build_once(
    dir: &Path,
    say: &dyn Fn(&str),
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let ready = dir.join(".ferroflow-ready");
    if ready.is_file() {
        say(&format!("Using the environment in {}", dir.display()));
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).context(|| format!("cannot create {}", parent.display()))?;
    let lock_path = dir.with_extension("lock");
    let lock =
        File::create(&lock_path).context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock()
        .context(|| format!("cannot lock {}", lock_path.display()))?;
    if ready.is_file() {
        say(&format!("Using the environment in {}", dir.display()));
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .context(|| format!("cannot remove the incomplete environment {}", dir.display()))?;
    }
    let built = build(dir);
    match built {
        Ok(()) => {
            std::fs::write(&ready, b"").context(|| format!("cannot write {}", ready.display()))
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            Err(e)
        }
    }
}

/// Runs a build step with its output on the terminal; a failure names the step.
fn run(cmd: &mut Command, what: &str) -> Result<()> {
    // The step's output goes to stderr: stdout belongs to the project's command.
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| Error::Env(format!("{what}: cannot start {:?}: {e}", cmd.get_program())))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Env(format!(
            "{what} failed ({status}); see its output above"
        )))
    }
}

/// The interpreter for `wanted` (`3.10`, `3.10.4`, or any when `None`) and its version:
/// `python3.10` on PATH, a pyenv installation, else the `python3` on PATH with a warning.
fn find_python(wanted: Option<&str>, say: &dyn Fn(&str)) -> Result<(PathBuf, String)> {
    let mut candidates = Vec::new();
    if let Some(w) = wanted {
        let minor: Vec<&str> = w.split('.').take(2).collect();
        if let Some(p) = which(&format!("python{}", minor.join("."))) {
            candidates.push(p);
        }
        if let Some(entries) = pyenv_root().and_then(|r| std::fs::read_dir(r.join("versions")).ok())
        {
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(w))
                .map(|e| e.path().join("bin").join("python"))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            candidates.extend(found.into_iter().rev());
        }
    }
    candidates.extend(["python3", "python"].iter().filter_map(|n| which(n)));
    for c in candidates {
        let Some(version) = python_version(&c) else {
            continue;
        };
        if let Some(w) = wanted.filter(|w| !version_matches(&version, w)) {
            say(&format!(
                "Warning: Python {w} is not installed here (not on PATH or in pyenv); using Python {version} ({})",
                c.display()
            ));
        }
        return Ok((c, version));
    }
    Err(Error::Env(
        "no Python interpreter found on PATH (python3)".into(),
    ))
}

fn version_matches(version: &str, wanted: &str) -> bool {
    version == wanted || version.starts_with(&format!("{wanted}."))
}

fn python_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn pyenv_root() -> Option<PathBuf> {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
        .filter(|p| p.join("versions").is_dir())
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_python_env_and_conda_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("python_env.yaml");
        std::fs::write(&p, "python: \"3.10\"\nbuild_dependencies:\n  - pip\ndependencies:\n  - -r requirements.txt\n  - mlflow\n").unwrap();
        assert_eq!(
            PythonEnv::read(&p).unwrap(),
            PythonEnv {
                python: Some("3.10".into()),
                build_dependencies: vec!["pip".into()],
                dependencies: vec!["-r requirements.txt".into(), "mlflow".into()],
            }
        );
        let c = dir.path().join("conda.yaml");
        std::fs::write(&c, "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.8.10\n  - pip=21.0\n  - numpy\n  - pip:\n    - mlflow\n    - scikit-learn==1.0\n").unwrap();
        assert_eq!(
            PythonEnv::from_conda_yaml(&c).unwrap(),
            PythonEnv {
                python: Some("3.8.10".into()),
                build_dependencies: vec!["pip==21.0".into()],
                dependencies: vec!["mlflow".into(), "scikit-learn==1.0".into()],
            }
        );
        std::fs::write(&p, "dependencies: mlflow\n").unwrap();
        assert!(
            PythonEnv::read(&p)
                .unwrap_err()
                .to_string()
                .contains("'dependencies' must be a list")
        );
    }

    #[test]
    fn chooses_managers_as_mlflow_does() {
        let py = EnvSpec::Python("p".into());
        assert_eq!(
            EnvManager::choose(None, &py).unwrap(),
            EnvManager::Virtualenv
        );
        assert_eq!(
            EnvManager::choose(None, &EnvSpec::None).unwrap(),
            EnvManager::Local
        );
        assert!(EnvManager::choose(Some(EnvManager::Conda), &py).is_err());
        assert!(
            EnvManager::choose(None, &EnvSpec::Docker { image: "i".into() })
                .unwrap_err()
                .to_string()
                .contains("--env-manager local")
        );
        assert!(version_matches("3.10.4", "3.10") && !version_matches("3.11.0", "3.1"));
    }
}
