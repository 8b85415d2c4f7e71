//! The object-store artifact repository: S3, Google Cloud Storage and Azure Blob Storage
//! through the `object_store` crate.
//!
//! Keys are the artifact paths under the repository's prefix, byte for byte as MLflow's
//! Python repositories (boto3, google-cloud-storage, azure-storage-blob) write them, so a
//! client logging straight to the bucket and the server's proxy see the same objects.
//! Uploads stream through a bounded buffer (multipart above one part); downloads stream.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use ferroflow_core::entities::FileInfo;
use ferroflow_core::{Error, ErrorCode, Result};
use futures_util::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::{ArtifactBody, ArtifactRepo, ByteStream, UploadedPart, join, safe_path};

/// One bucket (or container) and the client that reaches it, shared by every repository
/// rooted inside it.
pub struct Bucket {
    /// `s3://bucket`, `gs://bucket`, `wasbs://container@account.blob.core.windows.net`:
    /// how messages name it.
    pub display: String,
    pub store: Arc<dyn ObjectStore>,
    pub multipart: Arc<dyn MultipartStore>,
}

impl Bucket {
    /// A bucket served by one client that is both an object and a multipart store.
    pub fn new<S: ObjectStore + MultipartStore>(display: &str, store: S) -> Bucket {
        let store = Arc::new(store);
        Bucket {
            display: display.to_string(),
            store: store.clone(),
            multipart: store,
        }
    }
}

/// The size of one buffered part of an upload: parts go out while the next fills, so an
/// upload holds at most `PART_SIZE * (UPLOAD_CONCURRENCY + 1)` bytes (45 MiB), whatever its
/// size; 10,000 parts of 5 MiB (S3's smallest) make the largest object one streamed PUT
/// can write 48.8 GiB. Eight parts in flight keep pace with a direct multipart upload
/// (bench/artifacts_s3.py).
const PART_SIZE: usize = 5 * 1024 * 1024;
const UPLOAD_CONCURRENCY: usize = 8;

/// An artifact repository rooted at a key prefix inside a bucket.
pub struct ObjectRepo {
    bucket: Arc<Bucket>,
    prefix: String,
}

impl ObjectRepo {
    /// `prefix` is a `/`-separated key prefix ("" for the bucket's root).
    pub fn new(bucket: Arc<Bucket>, prefix: &str) -> ObjectRepo {
        let prefix = prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        ObjectRepo { bucket, prefix }
    }

    /// The validated relative path and its object key.
    fn key(&self, path: &str) -> Result<(String, Path)> {
        let rel = safe_path(path)?;
        let key = join(&self.prefix, &rel);
        let key = Path::parse(&key).map_err(|_| Error::invalid_param("Invalid path"))?;
        Ok((rel, key))
    }

    /// The path relative to the repository's root of a key inside it.
    fn relative(&self, key: &Path) -> String {
        let key = key.as_ref();
        if self.prefix.is_empty() {
            return key.to_string();
        }
        key.strip_prefix(&self.prefix)
            .map(|k| k.trim_start_matches('/'))
            .unwrap_or(key)
            .to_string()
    }

    fn url(&self, key: &Path) -> String {
        format!("{}/{}", self.bucket.display, key.as_ref())
    }

    fn err(&self, key: &Path, e: object_store::Error) -> Error {
        storage_error(&self.bucket.display, &self.url(key), e)
    }
}

/// MLflow's error for a failed object-store call, naming the bucket and the key.
pub(crate) fn storage_error(bucket: &str, url: &str, e: object_store::Error) -> Error {
    let detail = e.to_string();
    let missing_bucket = ["NoSuchBucket", "ContainerNotFound", "bucket does not exist"]
        .iter()
        .any(|s| detail.contains(s));
    match e {
        _ if missing_bucket => Error::new(
            ErrorCode::RESOURCE_DOES_NOT_EXIST,
            format!("The bucket {bucket} does not exist (while accessing {url})"),
        ),
        object_store::Error::NotFound { .. } => {
            Error::not_found(format!("No such artifact: '{url}'"))
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Error::new(
            ErrorCode::PERMISSION_DENIED,
            format!("Access to {url} was denied: {detail}"),
        ),
        object_store::Error::InvalidPath { .. } => Error::invalid_param("Invalid path"),
        _ => {
            tracing::error!(url, error = %detail, "object store request failed");
            Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                format!("The artifact store failed on {url}: {detail}"),
            )
        }
    }
}

#[async_trait]
impl ArtifactRepo for ObjectRepo {
    async fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let (_, key) = self.key(path)?;
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        let listed = self
            .bucket
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| self.err(&key, e))?;
        let mut out = Vec::with_capacity(listed.common_prefixes.len() + listed.objects.len());
        for dir in &listed.common_prefixes {
            out.push(FileInfo {
                path: self.relative(dir),
                is_dir: true,
                file_size: None,
            });
        }
        for obj in &listed.objects {
            // A zero-byte "folder" object some tools write, or the listed key itself.
            if obj.location == key {
                continue;
            }
            out.push(FileInfo {
                path: self.relative(&obj.location),
                is_dir: false,
                file_size: Some(obj.size as i64),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }

    async fn read(&self, path: &str) -> Result<ArtifactBody> {
        self.read_from(path, 0).await
    }

    async fn read_from(&self, path: &str, offset: u64) -> Result<ArtifactBody> {
        let (rel, key) = self.key(path)?;
        if rel.is_empty() {
            return Err(Error::invalid_param(
                "Artifact path refers to a directory, not a file: ''",
            ));
        }
        let store = &self.bucket.store;
        if offset > 0 {
            let meta = store.head(&key).await.map_err(|e| self.err(&key, e))?;
            if offset >= meta.size {
                return Ok(ArtifactBody {
                    size: meta.size,
                    modified: Some(meta.last_modified.into()),
                    stream: futures_util::stream::empty().boxed(),
                });
            }
        }
        let opts = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            ..GetOptions::default()
        };
        let got = store
            .get_opts(&key, opts)
            .await
            .map_err(|e| self.err(&key, e))?;
        let size = got.meta.size;
        let modified = Some(got.meta.last_modified.into());
        let url = self.url(&key);
        let stream = got
            .into_stream()
            .map_err(move |e| std::io::Error::other(format!("reading {url}: {e}")))
            .boxed();
        Ok(ArtifactBody {
            size,
            modified,
            stream,
        })
    }

    async fn write(&self, path: &str, mut body: ByteStream) -> Result<u64> {
        let (rel, key) = self.key(path)?;
        if rel.is_empty() {
            return Err(Error::invalid_param("An artifact path must name a file"));
        }
        let mut writer =
            BufWriter::with_capacity(self.bucket.store.clone(), key.clone(), PART_SIZE)
                .with_max_concurrency(UPLOAD_CONCURRENCY);
        let mut size = 0u64;
        let streamed: std::result::Result<(), Error> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| Error::bad_request(format!("The upload was interrupted: {e}")))?;
                size += chunk.len() as u64;
                writer
                    .write_all(&chunk)
                    .await
                    .map_err(|e| self.io_err(&key, e))?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            // Nothing partial is left behind: an unfinished multipart upload is aborted.
            let _ = writer.abort().await;
            return Err(e);
        }
        // One PUT, or the multipart upload's completion: the object appears whole or not at all.
        writer.shutdown().await.map_err(|e| self.io_err(&key, e))?;
        Ok(size)
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let (rel, key) = self.key(path)?;
        if key.as_ref().is_empty() {
            return Err(Error::invalid_param(format!(
                "Refusing to delete every object in {}",
                self.bucket.display
            )));
        }
        let store = &self.bucket.store;
        let mut found = false;
        if !rel.is_empty() {
            match store.head(&key).await {
                Ok(_) => {
                    store.delete(&key).await.map_err(|e| self.err(&key, e))?;
                    found = true;
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err(&key, e)),
            }
        }
        let under: Vec<Path> = store
            .list(Some(&key))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| self.err(&key, e))?;
        found |= !under.is_empty();
        let locations = futures_util::stream::iter(under.into_iter().map(Ok)).boxed();
        store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| self.err(&key, e))?;
        if !found && !rel.is_empty() {
            return Err(Error::not_found(format!("No such artifact: '{rel}'")));
        }
        Ok(())
    }

    async fn is_dir(&self, path: &str) -> Result<bool> {
        let (rel, key) = self.key(path)?;
        if rel.is_empty() {
            return Ok(true);
        }
        let first = self.bucket.store.list(Some(&key)).next().await;
        match first {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.err(&key, e)),
        }
    }

    async fn create_multipart(&self, path: &str) -> Result<String> {
        let (rel, key) = self.key(path)?;
        if rel.is_empty() {
            return Err(Error::invalid_param("An artifact path must name a file"));
        }
        let id = self
            .bucket
            .multipart
            .create_multipart(&key)
            .await
            .map_err(|e| self.err(&key, e))?;
        // Azure's block lists need no upload id (object_store answers ""); clients need one.
        Ok(if id.is_empty() {
            uuid::Uuid::new_v4().simple().to_string()
        } else {
            id
        })
    }

    async fn upload_part(
        &self,
        path: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<UploadedPart> {
        let (_, key) = self.key(path)?;
        if part_number == 0 || part_number > 10_000 {
            return Err(Error::invalid_param(format!(
                "Invalid part number {part_number}: parts are numbered 1 to 10000"
            )));
        }
        // One part is held whole (the stores' part API takes a payload); parts are the
        // client's chunks, MLflow's default 10 MiB.
        let chunks: Vec<Bytes> = body
            .try_collect()
            .await
            .map_err(|e| Error::bad_request(format!("The upload was interrupted: {e}")))?;
        let payload: PutPayload = chunks.into_iter().collect();
        let part = self
            .bucket
            .multipart
            .put_part(
                &key,
                &upload_id.to_string(),
                part_number as usize - 1,
                payload,
            )
            .await
            .map_err(|e| self.err(&key, e))?;
        Ok(UploadedPart {
            part_number,
            etag: part.content_id,
        })
    }

    async fn complete_multipart(
        &self,
        path: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<()> {
        let (_, key) = self.key(path)?;
        let mut parts = parts.to_vec();
        parts.sort_by_key(|p| p.part_number);
        if parts.is_empty()
            || parts
                .iter()
                .enumerate()
                .any(|(i, p)| p.part_number as usize != i + 1)
        {
            return Err(Error::invalid_param(
                "A multipart upload completes with parts numbered 1, 2, ... without gaps",
            ));
        }
        let ids = parts
            .into_iter()
            .map(|p| PartId { content_id: p.etag })
            .collect();
        self.bucket
            .multipart
            .complete_multipart(&key, &upload_id.to_string(), ids)
            .await
            .map_err(|e| self.err(&key, e))?;
        Ok(())
    }

    async fn abort_multipart(&self, path: &str, upload_id: &str) -> Result<()> {
        let (_, key) = self.key(path)?;
        self.bucket
            .multipart
            .abort_multipart(&key, &upload_id.to_string())
            .await
            .map_err(|e| self.err(&key, e))
    }
}

impl ObjectRepo {
    /// `BufWriter` reports store failures as I/O errors wrapping the store's error.
    fn io_err(&self, key: &Path, e: std::io::Error) -> Error {
        match e.downcast::<object_store::Error>() {
            Ok(inner) => self.err(key, inner),
            Err(e) => Error::new(
                ErrorCode::TEMPORARILY_UNAVAILABLE,
                format!("The artifact store failed on {}: {e}", self.url(key)),
            ),
        }
    }
}
