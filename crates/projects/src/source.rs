//! Where a project comes from: a local directory, or a git repository (https, ssh,
//! `file://`, or a local repository with `--version`), with an optional `#sub/dir`.
//!
//! Git repositories are mirrored once into a cache and fetched again on later runs; each
//! run gets its own checkout (a shared clone of the mirror, so it costs no copy of the
//! history), removed when the run ends. Everything goes through the `git` command, so the
//! user's credentials, ssh keys and proxies apply as they do for `git clone`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferroflow_core::ids::stable_hash;

use crate::error::{Error, IoContext, Result};

/// A project directory ready to run.
#[derive(Debug)]
pub struct Source {
    /// The project directory (inside the checkout when `#subdir` was given).
    pub dir: PathBuf,
    /// `mlflow.source.name`: the git URL (with `#subdir`) or the absolute directory.
    pub name: String,
    pub git: Option<GitInfo>,
    /// A checkout made for this run, removed when dropped.
    _checkout: Option<tempfile::TempDir>,
}

/// What the run's git tags say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GitInfo {
    pub commit: String,
    pub repo_url: Option<String>,
    /// The branch, when `--version` named one.
    pub branch: Option<String>,
}

/// Splits `uri#sub/dir` (surrounding quotes are dropped, as MLflow does).
pub fn split_subdirectory(uri: &str) -> Result<(String, Option<String>)> {
    let uri = uri.trim().trim_matches(|c| c == '\'' || c == '"');
    match uri.split_once('#') {
        Some((base, sub)) => {
            let sub = sub.trim_matches('/');
            if sub.split('/').any(|p| p == "..") || sub.contains('#') {
                return Err(Error::Usage(format!(
                    "'{sub}' is not a subdirectory of the project (no '..' and one '#')"
                )));
            }
            Ok((base.to_string(), (!sub.is_empty()).then(|| sub.to_string())))
        }
        None => Ok((uri.to_string(), None)),
    }
}

/// Finds or fetches the project at `uri` (checking out `version` for git sources).
/// `cache` holds git mirrors; `say` reports progress.
pub fn fetch(uri: &str, version: Option<&str>, cache: &Path, say: &dyn Fn(&str)) -> Result<Source> {
    let (base, sub) = split_subdirectory(uri)?;
    let local = base.strip_prefix("file://").unwrap_or(&base);
    let local_dir = Path::new(local);
    if local_dir.is_dir() && version.is_none() {
        let root = std::path::absolute(local_dir).context(|| format!("cannot resolve {local}"))?;
        let dir = subdirectory(&root, sub.as_deref(), uri)?;
        let git = local_git_info(&dir);
        let name = match git.as_ref().and_then(|g| g.repo_url.clone()) {
            Some(url) => match repo_relative(&dir) {
                Some(rel) if !rel.is_empty() => format!("{url}#{rel}"),
                _ => url,
            },
            None => dir.display().to_string(),
        };
        return Ok(Source {
            dir,
            name,
            git,
            _checkout: None,
        });
    }
    if !local_dir.exists() && !looks_like_git_url(&base) {
        return Err(Error::Usage(format!(
            "{uri}: no such directory (and not a git URL)"
        )));
    }
    if local_dir.exists()
        && !local_dir.join(".git").exists()
        && git(Some(local_dir), &["rev-parse", "--git-dir"]).is_err()
    {
        return Err(Error::Usage(format!(
            "--version is only for git projects, and {local} is not a git repository"
        )));
    }
    let url = if base.starts_with("file://") {
        base.clone()
    } else if local_dir.exists() {
        std::path::absolute(local_dir)
            .context(|| format!("cannot resolve {local}"))?
            .display()
            .to_string()
    } else {
        base.clone()
    };
    let mirror = mirror(&url, cache, say)?;
    let commit = resolve_version(&mirror, &url, version)?;
    let branch = version.filter(|v| {
        git(
            Some(&mirror),
            &[
                "show-ref",
                "--verify",
                "--quiet",
                &format!("refs/heads/{v}"),
            ],
        )
        .is_ok()
    });
    let checkout = tempfile::Builder::new()
        .prefix("ferroflow-project-")
        .tempdir()
        .context(|| "cannot create a directory for the checkout".into())?;
    let path = checkout.path().to_str().unwrap_or_default().to_string();
    git(
        None,
        &[
            "clone",
            "--quiet",
            "--shared",
            "--no-checkout",
            &mirror.display().to_string(),
            &path,
        ],
    )?;
    git(
        Some(checkout.path()),
        &["checkout", "--quiet", "--detach", &commit],
    )?;
    if checkout.path().join(".gitmodules").is_file() {
        say("Updating git submodules");
        git(
            Some(checkout.path()),
            &["submodule", "update", "--init", "--recursive", "--quiet"],
        )?;
    }
    let dir = subdirectory(checkout.path(), sub.as_deref(), uri)?;
    Ok(Source {
        dir,
        name: match &sub {
            Some(s) => format!("{url}#{s}"),
            None => url.clone(),
        },
        git: Some(GitInfo {
            commit,
            repo_url: Some(url),
            branch: branch.map(String::from),
        }),
        _checkout: Some(checkout),
    })
}

/// `https://`, `ssh://`, `git://`, `file://` URLs and scp-like `user@host:path`.
fn looks_like_git_url(s: &str) -> bool {
    s.contains("://")
        || s.split_once(':')
            .is_some_and(|(host, _)| host.contains('@') || host.contains('.'))
}

fn subdirectory(root: &Path, sub: Option<&str>, uri: &str) -> Result<PathBuf> {
    let Some(sub) = sub else {
        return Ok(root.to_path_buf());
    };
    let dir = root.join(sub);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(Error::Usage(format!(
            "{uri}: the project has no subdirectory '{sub}'"
        )))
    }
}

/// Mirrors `url` into the cache (or fetches what changed since), answering the mirror's path.
fn mirror(url: &str, cache: &Path, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let dir = cache.join("git").join(stable_hash(url.as_bytes()));
    if dir.join("HEAD").is_file() {
        say(&format!("Fetching {url}"));
        git(
            Some(&dir),
            &["fetch", "--quiet", "--prune", "--tags", "origin"],
        )
        .map_err(|e| Error::Git(format!("cannot fetch {url}: {e}")))?;
        return Ok(dir);
    }
    say(&format!("Cloning {url}"));
    std::fs::create_dir_all(cache.join("git"))
        .context(|| format!("cannot create {}", cache.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".clone-")
        .tempdir_in(cache.join("git"))
        .context(|| "cannot create a directory in the git cache".into())?;
    let target = tmp.path().join("m");
    git(
        None,
        &[
            "clone",
            "--quiet",
            "--mirror",
            url,
            target.to_str().unwrap_or_default(),
        ],
    )
    .map_err(|e| Error::Git(format!("cannot clone {url}: {e}")))?;
    // Another run may have mirrored it meanwhile; either copy is complete.
    if std::fs::rename(&target, &dir).is_err() && !dir.join("HEAD").is_file() {
        return Err(Error::Git(format!(
            "cannot move the clone of {url} into {}",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The commit `version` names in the mirror (a commit, branch or tag), or its HEAD.
fn resolve_version(mirror: &Path, url: &str, version: Option<&str>) -> Result<String> {
    let rev = version.unwrap_or("HEAD");
    if rev.starts_with('-') {
        return Err(Error::Usage(format!("'{rev}' is not a git version")));
    }
    git(
        Some(mirror),
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map(|s| s.trim().to_string())
    .map_err(|_| match version {
        Some(v) => Error::Git(format!("{url} has no commit, branch or tag '{v}'")),
        None => Error::Git(format!("{url} has no commits")),
    })
}

/// The commit and origin URL of a local directory inside a git work tree.
fn local_git_info(dir: &Path) -> Option<GitInfo> {
    let commit = git(Some(dir), &["rev-parse", "HEAD"])
        .ok()?
        .trim()
        .to_string();
    let repo_url = git(Some(dir), &["remote", "get-url", "origin"])
        .ok()
        .map(|s| s.trim().to_string());
    Some(GitInfo {
        commit,
        repo_url,
        branch: None,
    })
}

fn repo_relative(dir: &Path) -> Option<String> {
    git(Some(dir), &["rev-parse", "--show-prefix"])
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_string())
}

/// Runs `git args` (in `dir`), answering its standard output, or its last error lines.
fn git(dir: Option<&Path>, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    let out = cmd
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Git(format!("cannot run git ({e}); is git installed?")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = last[last.len().saturating_sub(2)..].join(" / ");
        Err(Error::Git(if tail.is_empty() {
            format!("git {} failed", args.join(" "))
        } else {
            tail
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdirectories_split_off() {
        assert_eq!(
            split_subdirectory("https://h/r.git#a/b/").unwrap(),
            ("https://h/r.git".into(), Some("a/b".into()))
        );
        assert_eq!(split_subdirectory("'.'").unwrap(), (".".into(), None));
        assert!(split_subdirectory("x#../etc").is_err());
        assert!(looks_like_git_url(
            "git@github.com:esgario/mlflow-tutorial.git"
        ));
        assert!(looks_like_git_url(
            "https://github.com/arthurulacerda/mlflow-wine-quality"
        ));
        assert!(!looks_like_git_url("./my-project"));
    }
}
