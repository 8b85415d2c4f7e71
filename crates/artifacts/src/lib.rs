//! Artifact repositories.
//!
//! [`ArtifactRepo`] is the one interface to artifact bytes; [`LocalRepo`] keeps them on
//! local disk (S3 and other object stores implement the same trait). Paths are relative,
//! `/`-separated and validated by [`safe_path`] before any backend sees them. Bytes are
//! streamed in both directions, never held whole in memory.

mod local;

pub use local::LocalRepo;

use async_trait::async_trait;
use bytes::Bytes;
use ferroflow_core::entities::FileInfo;
use ferroflow_core::{Error, Result};
use futures_util::stream::BoxStream;

/// A stream of bytes, as read from or written to an artifact.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// An artifact opened for reading.
pub struct ArtifactBody {
    pub size: u64,
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

/// Validates a relative artifact path: no absolute paths, no `..`, no backslashes, no
/// NUL. Returns it normalized (no empty or `.` segments, no trailing `/`).
pub fn safe_path(path: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid_param(format!("Invalid artifact path: '{path}'. {why}"));
    if path.contains('\0') {
        return Err(bad("It contains a NUL byte."));
    }
    if path.contains('\\') {
        return Err(bad("Backslashes are not allowed."));
    }
    if path.starts_with('/')
        || path.starts_with('~')
        || (path.len() > 1 && path.as_bytes()[1] == b':')
    {
        return Err(bad("Absolute paths are not allowed."));
    }
    let mut parts = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(bad("Path traversal ('..') is not allowed.")),
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
