//! `ferroflow artifacts ...`: list, download and upload through whichever repository
//! holds a run's artifacts (the server's proxy, or a local directory).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ferroflow_artifacts::{ArtifactRepo, ByteStream, join, safe_path};
use ferroflow_core::entities::FileInfo;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::user;
use crate::args::ArtifactsCommand;
use crate::printer::Printer;
use crate::tracking;

async fn file_stream(path: &Path) -> Result<(u64, ByteStream)> {
    let f = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata().await?.len();
    Ok((
        size,
        tokio_util::io::ReaderStream::with_capacity(f, 64 * 1024).boxed(),
    ))
}

async fn upload_file(
    repo: &Arc<dyn ArtifactRepo>,
    local: &Path,
    dest: &str,
    p: &Printer,
) -> Result<()> {
    let (size, stream) = file_stream(local).await?;
    let bar = p.progress(size, &format!("uploading {}", local.display()));
    let b = bar.clone();
    let stream: ByteStream = stream
        .inspect(move |c| {
            if let Ok(c) = c {
                b.inc(c.len() as u64)
            }
        })
        .boxed();
    repo.write(dest, stream).await.map_err(user)?;
    bar.finish_and_clear();
    Ok(())
}

/// Every file under `path` (recursively), or `path` itself when it is a file.
async fn walk(repo: &Arc<dyn ArtifactRepo>, path: &str) -> Result<Vec<FileInfo>> {
    if !repo.is_dir(path).await.map_err(user)? {
        return Ok(vec![FileInfo {
            path: path.to_string(),
            is_dir: false,
            file_size: None,
        }]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_string()];
    while let Some(d) = dirs.pop() {
        for f in repo.list(&d).await.map_err(user)? {
            if f.is_dir {
                dirs.push(f.path)
            } else {
                files.push(f)
            }
        }
    }
    Ok(files)
}

/// The last path segment of an artifact URI: the name a download takes.
fn uri_name(uri: &str) -> &str {
    uri.trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("artifacts")
}

async fn download(
    repo: &Arc<dyn ArtifactRepo>,
    base: &str,
    name: &str,
    dst: &Path,
    p: &Printer,
) -> Result<PathBuf> {
    let is_dir = repo.is_dir(base).await.map_err(user)?;
    let files = walk(repo, base).await?;
    let target = dst.join(name);
    if files.is_empty() && is_dir {
        tokio::fs::create_dir_all(&target).await?;
        return Ok(target);
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| f.file_size)
        .map(|s| s.max(0) as u64)
        .sum();
    let bar = p.progress(total, "downloading");
    for f in &files {
        let rel = if is_dir {
            f.path
                .strip_prefix(base)
                .unwrap_or(&f.path)
                .trim_start_matches('/')
                .to_string()
        } else {
            String::new()
        };
        let local = if is_dir {
            target.join(&rel)
        } else {
            target.clone()
        };
        if let Some(parent) = local.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut body = repo.read(&f.path).await.map_err(user)?;
        let mut out = tokio::fs::File::create(&local)
            .await
            .with_context(|| format!("cannot create {}", local.display()))?;
        while let Some(chunk) = body.stream.next().await {
            let chunk = chunk.with_context(|| format!("download of {} was interrupted", f.path))?;
            bar.inc(chunk.len() as u64);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
    }
    bar.finish_and_clear();
    Ok(target)
}

/// Downloads what `uri` names (`runs:/`, `models:/`, or an artifact URI) into `dst`,
/// answering the local path of the file or directory.
pub async fn download_uri(
    t: &tracking::Tracking,
    uri: &str,
    dst: &Path,
    p: &Printer,
) -> Result<PathBuf> {
    let resolved = t.artifact_uri(uri).await?;
    let (repo, base) = tracking::artifact_repo(t, &resolved)?;
    download(&repo, &base, uri_name(&resolved), dst, p).await
}

pub async fn run(cmd: ArtifactsCommand, p: Printer) -> Result<()> {
    let t = tracking::open(&tracking::client_uri().await).await?;
    match cmd {
        ArtifactsCommand::List {
            run_id,
            artifact_path,
        } => {
            let run = t.store.get_run(&run_id).await.map_err(user)?;
            let (repo, base) = tracking::artifact_repo(&t, &run.info.artifact_uri)?;
            let rel = safe_path(artifact_path.as_deref().unwrap_or("")).map_err(user)?;
            let files: Vec<FileInfo> = repo
                .list(&join(&base, &rel))
                .await
                .map_err(user)?
                .into_iter()
                .map(|mut f| {
                    f.path = f
                        .path
                        .strip_prefix(&base)
                        .map(|s| s.trim_start_matches('/').to_string())
                        .unwrap_or(f.path);
                    f
                })
                .collect();
            p.json(&files);
        }
        ArtifactsCommand::Download {
            run_id,
            artifact_path,
            artifact_uri,
            dst_path,
        } => {
            let uri = match (run_id, artifact_uri) {
                (Some(id), _) => {
                    let run = t.store.get_run(&id).await.map_err(user)?;
                    let rel = safe_path(artifact_path.as_deref().unwrap_or("")).map_err(user)?;
                    ferroflow_core::uri::join(&run.info.artifact_uri, &rel)
                }
                (None, Some(u)) => u,
                (None, None) => bail!("give --run-id or --artifact-uri"),
            };
            let dst = match dst_path {
                Some(d) => d,
                None => std::env::temp_dir()
                    .join(format!("ferroflow-{}", ferroflow_core::ids::new_uuid())),
            };
            tokio::fs::create_dir_all(&dst)
                .await
                .with_context(|| format!("cannot create {}", dst.display()))?;
            let landed = download_uri(&t, &uri, &dst, &p).await?;
            p.out(landed.display().to_string());
        }
        ArtifactsCommand::LogArtifact {
            local_file,
            run_id,
            artifact_path,
        } => {
            if !local_file.is_file() {
                bail!("{} is not a file", local_file.display());
            }
            let run = t.store.get_run(&run_id).await.map_err(user)?;
            let (repo, base) = tracking::artifact_repo(&t, &run.info.artifact_uri)?;
            let name = local_file
                .file_name()
                .and_then(|n| n.to_str())
                .context("the file has no usable name")?;
            let rel = safe_path(artifact_path.as_deref().unwrap_or("")).map_err(user)?;
            let dest = join(&join(&base, &rel), name);
            upload_file(&repo, &local_file, &dest, &p).await?;
            p.note(format!(
                "Logged {} to run {run_id} as {}",
                local_file.display(),
                join(&rel, name)
            ));
        }
        ArtifactsCommand::LogArtifacts {
            local_dir,
            run_id,
            artifact_path,
        } => {
            if !local_dir.is_dir() {
                bail!("{} is not a directory", local_dir.display());
            }
            let run = t.store.get_run(&run_id).await.map_err(user)?;
            let (repo, base) = tracking::artifact_repo(&t, &run.info.artifact_uri)?;
            let rel = safe_path(artifact_path.as_deref().unwrap_or("")).map_err(user)?;
            let mut count = 0;
            let mut stack = vec![local_dir.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir)
                    .with_context(|| format!("cannot read {}", dir.display()))?
                {
                    let path = entry?.path();
                    if path.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    let inner = path.strip_prefix(&local_dir).unwrap_or(&path);
                    let inner = inner
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    upload_file(&repo, &path, &join(&join(&base, &rel), &inner), &p).await?;
                    count += 1;
                }
            }
            p.note(format!(
                "Logged {count} files from {} to run {run_id}",
                local_dir.display()
            ));
        }
    }
    Ok(())
}
