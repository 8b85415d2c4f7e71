//! Artifact repositories.
//!
//! [`ArtifactRepo`] is the one interface to artifact bytes; [`LocalRepo`] keeps them on
//! local disk, [`ObjectRepo`] in S3, Google Cloud Storage or Azure Blob Storage. [`open`]
//! is the one place a storage URI becomes a repository. Paths are relative,
//! `/`-separated and validated by [`safe_path`] before any backend sees them. Bytes are
//! streamed in both directions, never held whole in memory.

pub mod cloud;
mod local;
pub mod mime;
mod object;

pub use local::LocalRepo;
pub use object::{Bucket, ObjectRepo};

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use ferroflow_core::entities::FileInfo;
use ferroflow_core::{Error, Result};
use futures_util::stream::BoxStream;

/// A stream of bytes, as read from or written to an artifact.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// An artifact opened for reading.
pub struct ArtifactBody {
    /// The size of the whole file.
    pub size: u64,
    /// When the file last changed, where the backend knows it.
    pub modified: Option<std::time::SystemTime>,
    pub stream: ByteStream,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    pub etag: String,
}

#[async_trait]
pub trait ArtifactRepo: Send + Sync + 'static {
    /// The direct children of directory `path` ("" is the root), paths relative to the
    /// root, sorted. A missing directory lists as empty.
    async fn list(&self, path: &str) -> Result<Vec<FileInfo>>;
    /// Opens the file at `path`.
    async fn read(&self, path: &str) -> Result<ArtifactBody>;
    /// Opens the file at `path` with its stream starting at byte `offset` (a range
    /// download); `size` is still the whole file's. Backends that can seek override this.
    async fn read_from(&self, path: &str, offset: u64) -> Result<ArtifactBody> {
        let body = self.read(path).await?;
        Ok(ArtifactBody {
            stream: skip_bytes(body.stream, offset),
            ..body
        })
    }
    /// Writes `body` to `path` atomically (readers never see a partial file) and returns
    /// the number of bytes written.
    async fn write(&self, path: &str, body: ByteStream) -> Result<u64>;
    /// Deletes the file or directory tree at `path`.
    async fn delete(&self, path: &str) -> Result<()>;
    /// Whether `path` is an existing directory.
    async fn is_dir(&self, path: &str) -> Result<bool>;

    /// Starts a multipart upload to `path` and returns its id.
    async fn create_multipart(&self, path: &str) -> Result<String>;
    async fn upload_part(
        &self,
        path: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<UploadedPart>;
    async fn complete_multipart(
        &self,
        path: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<()>;
    async fn abort_multipart(&self, path: &str, upload_id: &str) -> Result<()>;
}

/// The repository rooted at a storage URI: a local path or `file:` URI, or an object
/// store's `s3://`, `gs://`, `wasbs://`, `abfss://` URI. The proxy's `mlflow-artifacts:`
/// and `http(s)` URIs depend on who asks (the server serves them, a client calls them)
/// and are resolved by the server and the client on top of this.
pub fn open(uri: &str) -> Result<Arc<dyn ArtifactRepo>> {
    if let Some(parsed) = cloud::ObjectUri::parse(uri) {
        let parsed = parsed?;
        let bucket = cloud::bucket(&parsed)?;
        return Ok(Arc::new(ObjectRepo::new(bucket, &parsed.prefix)));
    }
    if let Some(path) = ferroflow_core::uri::local_path(uri) {
        return Ok(Arc::new(LocalRepo::new(path)));
    }
    Err(Error::invalid_param(format!(
        "The artifact location '{uri}' uses a scheme Ferroflow cannot store into (supported: local paths, file:, s3:, gs:, wasbs:, abfss:, mlflow-artifacts:)"
    )))
}

/// Whether `uri` names an object store (`s3://`, `gs://`, `wasbs://`, `abfss://`).
pub fn is_object_store(uri: &str) -> bool {
    cloud::ObjectUri::parse(uri).is_some()
}

/// Drops the first `n` bytes of a stream.
pub fn skip_bytes(stream: ByteStream, n: u64) -> ByteStream {
    use futures_util::StreamExt;
    let mut left = n;
    Box::pin(stream.filter_map(move |chunk| {
        let out = match chunk {
            Ok(mut b) if left > 0 => {
                let cut = left.min(b.len() as u64);
                left -= cut;
                let rest = b.split_off(cut as usize);
                (!rest.is_empty()).then_some(Ok(rest))
            }
            other => Some(other),
        };
        std::future::ready(out)
    }))
}

/// Ends a stream after `n` bytes.
pub fn take_bytes(stream: ByteStream, n: u64) -> ByteStream {
    use futures_util::StreamExt;
    Box::pin(stream.scan(n, |left, chunk| {
        if *left == 0 {
            return std::future::ready(None);
        }
        let out = chunk.map(|mut b| {
            let keep = (*left).min(b.len() as u64);
            *left -= keep;
            b.truncate(keep as usize);
            b
        });
        std::future::ready(Some(out))
    }))
}

/// Validates a relative artifact path: no absolute paths, no `..`, no backslashes, no
/// NUL. Returns it normalized (no empty or `.` segments, no trailing `/`). A refused path
/// is MLflow's `INVALID_PARAMETER_VALUE` "Invalid path", whatever the reason.
pub fn safe_path(path: &str) -> Result<String> {
    let bad = || Error::invalid_param("Invalid path");
    if path.contains('\0') || path.contains('\\') {
        return Err(bad());
    }
    if path.starts_with('/')
        || path.starts_with('~')
        || (path.len() > 1 && path.as_bytes()[1] == b':')
    {
        return Err(bad());
    }
    let mut parts = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(bad()),
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// Joins two relative artifact paths.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{}/{}", a.trim_end_matches('/'), b.trim_start_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_rejected() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\b",
            "C:/x",
            "~/x",
            "a/\0",
        ] {
            assert!(safe_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(safe_path("a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(safe_path("").unwrap(), "");
        assert_eq!(join("a", "b"), "a/b");
        assert_eq!(join("", "b"), "b");
    }
}
