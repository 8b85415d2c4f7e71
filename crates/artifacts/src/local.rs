//! The local-disk artifact repository.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use ferroflow_core::entities::FileInfo;
use ferroflow_core::{Error, Result};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::{ArtifactBody, ArtifactRepo, ByteStream, UploadedPart, join, safe_path};

/// Multipart uploads in progress live here, under the root, out of listings.
const MPU_DIR: &str = ".ferroflow-mpu";

pub struct LocalRepo {
    root: PathBuf,
}

fn outside() -> Error {
    Error::invalid_param("Invalid path: resolved path is outside the artifact directory")
}

fn io_err(path: &str, e: std::io::Error) -> Error {
    match e.kind() {
        ErrorKind::NotFound => Error::not_found(format!("No such artifact: '{path}'")),
        _ => {
            tracing::error!(path, error = %e, "artifact I/O failed");
            Error::internal(format!("Artifact storage failed for '{path}': {e}"))
        }
    }
}

impl LocalRepo {
    pub fn new(root: impl Into<PathBuf>) -> LocalRepo {
        LocalRepo { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The validated relative path and where it is on disk, refused when the real location
    /// (symlinks followed) is outside the root, as MLflow refuses it.
    async fn resolve(&self, path: &str) -> Result<(String, PathBuf)> {
        let rel = safe_path(path)?;
        if rel.split('/').next() == Some(MPU_DIR) {
            return Err(Error::invalid_param("Invalid path"));
        }
        let full = if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&rel)
        };
        self.confine(&full).await?;
        Ok((rel, full))
    }

    /// Refuses `full` when its real location is outside the root: the deepest part of it
    /// that exists (the path itself, or a link there even if it dangles) is resolved with
    /// every symlink followed. A link whose target cannot be resolved is refused too, so
    /// nothing is ever created through a link.
    async fn confine(&self, full: &Path) -> Result<()> {
        let Ok(root) = tokio::fs::canonicalize(&self.root).await else {
            // No root yet: nothing under it can lead anywhere.
            return Ok(());
        };
        let mut probe = full.to_path_buf();
        loop {
            if tokio::fs::symlink_metadata(&probe).await.is_ok() {
                return match tokio::fs::canonicalize(&probe).await {
                    Ok(real) if real.starts_with(&root) => Ok(()),
                    _ => Err(outside()),
                };
            }
            if !probe.pop() {
                return Ok(());
            }
        }
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf> {
        if upload_id.is_empty()
            || !upload_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::invalid_param(format!(
                "Invalid upload id '{upload_id}'"
            )));
        }
        Ok(self.root.join(MPU_DIR).join(upload_id))
    }

    /// Streams `body` into a fresh temporary file next to `dest` and returns it with its size.
    async fn spool(&self, dest: &Path, mut body: ByteStream) -> Result<(PathBuf, u64)> {
        let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| io_err(&parent.display().to_string(), e))?;
        let tmp = parent.join(format!(
            ".{}.part-{}",
            dest.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("artifact"),
            uuid::Uuid::new_v4().simple()
        ));
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_err(&tmp.display().to_string(), e))?;
        let mut size = 0u64;
        let result: std::io::Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            file.sync_data().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Error::bad_request(format!(
                "The upload was interrupted: {e}"
            )));
        }
        Ok((tmp, size))
    }
}

#[async_trait]
impl ArtifactRepo for LocalRepo {
    async fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let (rel, full) = self.resolve(path).await?;
        let mut dir = match tokio::fs::read_dir(&full).await {
            Ok(d) => d,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(io_err(&rel, e)),
        };
        let mut out = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(|e| io_err(&rel, e))? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if rel.is_empty() && name == MPU_DIR || name.starts_with('.') && name.contains(".part-")
            {
                continue;
            }
            if entry.file_type().await.is_ok_and(|t| t.is_symlink())
                && self.confine(&entry.path()).await.is_err()
            {
                continue;
            }
            let meta = entry.metadata().await.map_err(|e| io_err(&rel, e))?;
            let is_dir = meta.is_dir();
            out.push(FileInfo {
                path: join(&rel, &name),
                is_dir,
                file_size: if is_dir {
                    None
                } else {
                    Some(meta.len() as i64)
                },
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn read(&self, path: &str) -> Result<ArtifactBody> {
        self.read_from(path, 0).await
    }

    async fn read_from(&self, path: &str, offset: u64) -> Result<ArtifactBody> {
        use tokio::io::AsyncSeekExt;
        let (rel, full) = self.resolve(path).await?;
        let mut file = tokio::fs::File::open(&full)
            .await
            .map_err(|e| io_err(&rel, e))?;
        let meta = file.metadata().await.map_err(|e| io_err(&rel, e))?;
        if meta.is_dir() {
            return Err(Error::invalid_param(format!(
                "Artifact path refers to a directory, not a file: '{rel}'"
            )));
        }
        if offset > 0 {
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| io_err(&rel, e))?;
        }
        Ok(ArtifactBody {
            size: meta.len(),
            modified: meta.modified().ok(),
            stream: ReaderStream::with_capacity(file, 64 * 1024).boxed(),
        })
    }

    async fn write(&self, path: &str, body: ByteStream) -> Result<u64> {
        let (rel, full) = self.resolve(path).await?;
        if rel.is_empty() {
            return Err(Error::invalid_param("An artifact path must name a file"));
        }
        if tokio::fs::metadata(&full).await.is_ok_and(|m| m.is_dir()) {
            return Err(Error::invalid_param(format!(
                "'{rel}' is a directory; cannot write a file there"
            )));
        }
        let (tmp, size) = self.spool(&full, body).await?;
        tokio::fs::rename(&tmp, &full)
            .await
            .map_err(|e| io_err(&rel, e))?;
        Ok(size)
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let (rel, full) = self.resolve(path).await?;
        let meta = tokio::fs::metadata(&full)
            .await
            .map_err(|e| io_err(&rel, e))?;
        if meta.is_dir() {
            tokio::fs::remove_dir_all(&full)
                .await
                .map_err(|e| io_err(&rel, e))
        } else {
            tokio::fs::remove_file(&full)
                .await
                .map_err(|e| io_err(&rel, e))
        }
    }

    async fn is_dir(&self, path: &str) -> Result<bool> {
        let (_, full) = self.resolve(path).await?;
        Ok(tokio::fs::metadata(&full).await.is_ok_and(|m| m.is_dir()))
    }

    async fn create_multipart(&self, path: &str) -> Result<String> {
        let (rel, _) = self.resolve(path).await?;
        if rel.is_empty() {
            return Err(Error::invalid_param("An artifact path must name a file"));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.upload_dir(&id)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_err(&rel, e))?;
        tokio::fs::write(dir.join("target"), rel.as_bytes())
            .await
            .map_err(|e| io_err(&rel, e))?;
        Ok(id)
    }

    async fn upload_part(
        &self,
        path: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<UploadedPart> {
        let dir = self.upload_dir(upload_id)?;
        let target = tokio::fs::read_to_string(dir.join("target"))
            .await
            .map_err(|_| Error::not_found(format!("No multipart upload '{upload_id}'")))?;
        let (rel, _) = self.resolve(path).await?;
        if target != rel {
            return Err(Error::invalid_param(format!(
                "Upload '{upload_id}' is for '{target}', not '{rel}'"
            )));
        }
        let dest = dir.join(format!("{part_number:08}"));
        let (tmp, size) = self.spool(&dest, body).await?;
        tokio::fs::rename(&tmp, &dest)
            .await
            .map_err(|e| io_err(&rel, e))?;
        Ok(UploadedPart {
            part_number,
            etag: format!("\"{part_number}-{size}\""),
        })
    }

    async fn complete_multipart(
        &self,
        path: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<()> {
        let dir = self.upload_dir(upload_id)?;
        if tokio::fs::metadata(dir.join("target")).await.is_err() {
            return Err(Error::not_found(format!(
                "No multipart upload '{upload_id}'"
            )));
        }
        let (rel, full) = self.resolve(path).await?;
        let mut sorted = parts.to_vec();
        sorted.sort_by_key(|p| p.part_number);
        let mut files = Vec::new();
        for p in &sorted {
            let f = dir.join(format!("{:08}", p.part_number));
            if tokio::fs::metadata(&f).await.is_err() {
                return Err(Error::invalid_param(format!(
                    "Part {} of upload '{upload_id}' was never uploaded",
                    p.part_number
                )));
            }
            files.push(f);
        }
        let stream = futures_util::stream::iter(files)
            .then(|f| async move {
                tokio::fs::File::open(f)
                    .await
                    .map(|file| ReaderStream::with_capacity(file, 64 * 1024))
            })
            .map(|r| match r {
                Ok(s) => s.boxed(),
                Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
            })
            .flatten()
            .boxed();
        let (tmp, _) = self.spool(&full, stream).await?;
        tokio::fs::rename(&tmp, &full)
            .await
            .map_err(|e| io_err(&rel, e))?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(())
    }

    async fn abort_multipart(&self, _path: &str, upload_id: &str) -> Result<()> {
        let dir = self.upload_dir(upload_id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(upload_id, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn body(parts: &'static [&'static str]) -> ByteStream {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p.as_bytes()))))
            .boxed()
    }

    async fn read_all(repo: &LocalRepo, path: &str) -> String {
        let b = repo.read(path).await.unwrap();
        let chunks: Vec<_> = b.stream.collect().await;
        String::from_utf8(
            chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn links_inside_are_followed_and_links_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let root = dir.path().join("store");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("inner")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).unwrap();
        let repo = LocalRepo::new(&root);
        assert_eq!(read_all(&repo, "inner/a.txt").await, "a");
        let refused = |e: Error| {
            assert!(
                e.message.contains("outside the artifact directory"),
                "{}",
                e.message
            )
        };
        refused(repo.read("out/secret").await.err().unwrap());
        refused(repo.list("out").await.unwrap_err());
        refused(repo.write("out/new", body(&["x"])).await.unwrap_err());
        refused(
            repo.write("out/deeper/new", body(&["x"]))
                .await
                .unwrap_err(),
        );
        refused(repo.write("dangling", body(&["x"])).await.unwrap_err());
        refused(repo.delete("out/secret").await.unwrap_err());
        refused(repo.create_multipart("out/big").await.unwrap_err());
        assert!(!std::path::Path::new("/nonexistent/x").exists());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        let listed: Vec<_> = repo
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(listed, ["inner", "real"]);
    }

    #[tokio::test]
    async fn write_list_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalRepo::new(dir.path());
        assert_eq!(
            repo.write("1/r/artifacts/a.txt", body(&["hel", "lo"]))
                .await
                .unwrap(),
            5
        );
        repo.write("1/r/artifacts/sub/b.txt", body(&["x"]))
            .await
            .unwrap();
        let l = repo.list("1/r/artifacts").await.unwrap();
        assert_eq!(
            l,
            vec![
                FileInfo {
                    path: "1/r/artifacts/a.txt".into(),
                    is_dir: false,
                    file_size: Some(5)
                },
                FileInfo {
                    path: "1/r/artifacts/sub".into(),
                    is_dir: true,
                    file_size: None
                },
            ]
        );
        assert_eq!(read_all(&repo, "1/r/artifacts/a.txt").await, "hello");
        assert!(repo.list("nope").await.unwrap().is_empty());
        assert!(repo.read("../x").await.is_err());
        repo.delete("1/r/artifacts/sub").await.unwrap();
        assert_eq!(repo.list("1/r/artifacts").await.unwrap().len(), 1);
        assert_eq!(
            repo.read("missing").await.err().unwrap().code,
            ferroflow_core::ErrorCode::RESOURCE_DOES_NOT_EXIST
        );
    }

    #[tokio::test]
    async fn multipart_assembles_parts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalRepo::new(dir.path());
        let id = repo.create_multipart("big.bin").await.unwrap();
        let p2 = repo
            .upload_part("big.bin", &id, 2, body(&["world"]))
            .await
            .unwrap();
        let p1 = repo
            .upload_part("big.bin", &id, 1, body(&["hello "]))
            .await
            .unwrap();
        repo.complete_multipart("big.bin", &id, &[p2, p1])
            .await
            .unwrap();
        assert_eq!(read_all(&repo, "big.bin").await, "hello world");
        assert_eq!(
            repo.list("").await.unwrap().len(),
            1,
            "upload scratch space is not listed"
        );
    }
}
