//! `ArtifactRepo` over a tracking server's `mlflow-artifacts` proxy.

use async_trait::async_trait;
use ferroflow_artifacts::{ArtifactBody, ArtifactRepo, ByteStream, UploadedPart, join, safe_path};
use ferroflow_core::entities::FileInfo;
use ferroflow_core::{Error, Result};
use futures_util::TryStreamExt;
use reqwest::Method;
use serde::Deserialize;

use crate::RestStore;

/// The proxied artifact store of the server behind `rest`.
pub struct HttpArtifactRepo {
    rest: RestStore,
}

impl HttpArtifactRepo {
    pub fn new(rest: RestStore) -> Self {
        HttpArtifactRepo { rest }
    }

    fn url_path(path: &str) -> String {
        let encoded: Vec<String> = path
            .split('/')
            .map(|s| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        format!("/api/2.0/mlflow-artifacts/artifacts/{}", encoded.join("/"))
    }

    fn unreachable(&self, e: reqwest::Error) -> Error {
        Error::new(
            ferroflow_core::ErrorCode::TEMPORARILY_UNAVAILABLE,
            format!("Cannot reach {}: {e}", self.rest.base()),
        )
    }
}

#[derive(Deserialize, Default)]
struct Listing {
    #[serde(default)]
    files: Vec<FileInfo>,
}

#[async_trait]
impl ArtifactRepo for HttpArtifactRepo {
    async fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = safe_path(path)?;
        let resp = self
            .rest
            .request(Method::GET, "/api/2.0/mlflow-artifacts/artifacts")
            .query(&[("path", path.as_str())])
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let resp = self.rest.check(resp).await?;
        let listing: Listing = resp
            .json()
            .await
            .map_err(|e| Error::internal(format!("Unexpected artifact listing: {e}")))?;
        let mut files: Vec<FileInfo> = listing
            .files
            .into_iter()
            .map(|mut f| {
                f.path = join(&path, &f.path);
                f
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    async fn read(&self, path: &str) -> Result<ArtifactBody> {
        let path = safe_path(path)?;
        let resp = self
            .rest
            .request(Method::GET, &Self::url_path(&path))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let resp = self.rest.check(resp).await?;
        let size = resp.content_length().unwrap_or(0);
        let stream: ByteStream = Box::pin(resp.bytes_stream().map_err(std::io::Error::other));
        Ok(ArtifactBody {
            size,
            modified: None,
            stream,
        })
    }

    async fn write(&self, path: &str, body: ByteStream) -> Result<u64> {
        let path = safe_path(path)?;
        let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c = counted.clone();
        let body = body.inspect_ok(move |b| {
            c.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        });
        let resp = self
            .rest
            .request(Method::PUT, &Self::url_path(&path))
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.rest.check(resp).await?;
        Ok(counted.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let path = safe_path(path)?;
        let resp = self
            .rest
            .request(Method::DELETE, &Self::url_path(&path))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.rest.check(resp).await?;
        Ok(())
    }

    async fn is_dir(&self, path: &str) -> Result<bool> {
        // A directory lists its children; a file lists as nothing or as itself.
        let files = self.list(path).await?;
        let p = safe_path(path)?;
        let only_itself = files.len() == 1 && files[0].path == p && !files[0].is_dir;
        Ok(!files.is_empty() && !only_itself)
    }

    async fn create_multipart(&self, _path: &str) -> Result<String> {
        Err(Error::invalid_param(
            "Multipart uploads through the client are not supported; files are streamed in one request",
        ))
    }
    async fn upload_part(&self, _: &str, _: &str, _: u32, _: ByteStream) -> Result<UploadedPart> {
        Err(Error::invalid_param(
            "Multipart uploads through the client are not supported",
        ))
    }
    async fn complete_multipart(&self, _: &str, _: &str, _: &[UploadedPart]) -> Result<()> {
        Err(Error::invalid_param(
            "Multipart uploads through the client are not supported",
        ))
    }
    async fn abort_multipart(&self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
}
