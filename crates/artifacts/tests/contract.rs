//! One contract for every artifact backend: local disk, S3 (`moto_server`) and Azure Blob
//! Storage (Azurite), the real APIs that `scripts/objectstores.sh` starts on loopback.
//! Google Cloud Storage is not here: object_store reads and writes objects through GCS's
//! XML API, and `gcp-storage-emulator` (2026.7.19) serves little of it: its uploads answer
//! without the `ETag` a PUT returns, multipart uploads (`POST ?uploads`) answer 501, and a
//! percent-encoded bucket name (object_store encodes `-`) is not routed at all.
//!
//! `FERROFLOW_TEST_S3_URI` and `FERROFLOW_TEST_AZURE_URI` name an existing bucket each
//! (with `MLFLOW_S3_ENDPOINT_URL` and AWS keys, `AZURE_STORAGE_CONNECTION_STRING`); without
//! one its variants return at once, except under `CI`, where a missing endpoint is a failure.

use std::sync::Arc;

use bytes::Bytes;
use ferroflow_artifacts::{ArtifactRepo, ByteStream, UploadedPart};
use ferroflow_core::ErrorCode;
use futures_util::{StreamExt, TryStreamExt};

/// A repository for one test, and what keeps it alive.
struct Repo {
    repo: Arc<dyn ArtifactRepo>,
    _dir: Option<tempfile::TempDir>,
}

fn local() -> Option<Repo> {
    let dir = tempfile::tempdir().unwrap();
    let repo = ferroflow_artifacts::open(dir.path().to_str().unwrap()).unwrap();
    Some(Repo {
        repo,
        _dir: Some(dir),
    })
}

fn env_uri(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the artifact contract on {what}: set {var}")
        }
        _ => None,
    }
}

fn s3() -> Option<Repo> {
    in_bucket("FERROFLOW_TEST_S3_URI", "S3 (moto_server)")
}

fn azure() -> Option<Repo> {
    in_bucket("FERROFLOW_TEST_AZURE_URI", "Azure Blob Storage (Azurite)")
}

/// A fresh prefix in the test bucket `var` names.
fn in_bucket(var: &str, what: &str) -> Option<Repo> {
    let bucket = env_uri(var, what)?;
    let uri = format!(
        "{}/contract-{}",
        bucket.trim_end_matches('/'),
        uuid::Uuid::new_v4().simple()
    );
    Some(Repo {
        repo: ferroflow_artifacts::open(&uri).unwrap(),
        _dir: None,
    })
}

fn body(chunks: Vec<Vec<u8>>) -> ByteStream {
    futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))).boxed()
}

async fn read_all(repo: &dyn ArtifactRepo, path: &str) -> Vec<u8> {
    let b = repo.read(path).await.unwrap();
    let chunks: Vec<Bytes> = b.stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Deterministic bytes that differ from position to position.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

async fn write_read_list(r: Repo) {
    let repo = &*r.repo;
    assert_eq!(
        repo.write("a.txt", body(vec![b"hello ".to_vec(), b"world".to_vec()]))
            .await
            .unwrap(),
        11
    );
    repo.write("dir/b.bin", body(vec![vec![1, 2, 3]]))
        .await
        .unwrap();
    repo.write("dir/sub/c.json", body(vec![b"{}".to_vec()]))
        .await
        .unwrap();
    repo.write("odd name #1 +=&.txt", body(vec![b"x".to_vec()]))
        .await
        .unwrap();

    assert_eq!(read_all(repo, "a.txt").await, b"hello world");
    let b = repo.read("dir/b.bin").await.unwrap();
    assert_eq!(b.size, 3);
    assert!(b.modified.is_some());
    assert_eq!(read_all(repo, "odd name #1 +=&.txt").await, b"x");

    let root = repo.list("").await.unwrap();
    let shape: Vec<_> = root
        .iter()
        .map(|f| (f.path.as_str(), f.is_dir, f.file_size))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("a.txt", false, Some(11)),
            ("dir", true, None),
            ("odd name #1 +=&.txt", false, Some(1))
        ]
    );
    let dir = repo.list("dir").await.unwrap();
    let shape: Vec<_> = dir.iter().map(|f| (f.path.as_str(), f.is_dir)).collect();
    assert_eq!(shape, vec![("dir/b.bin", false), ("dir/sub", true)]);
    assert_eq!(
        repo.list("dir/").await.unwrap(),
        dir,
        "a trailing slash lists the same"
    );
    assert!(repo.list("missing").await.unwrap().is_empty());
    assert!(
        repo.list("a.txt").await.unwrap().is_empty(),
        "a file lists as empty"
    );

    assert!(repo.is_dir("").await.unwrap());
    assert!(repo.is_dir("dir").await.unwrap());
    assert!(repo.is_dir("dir/sub").await.unwrap());
    assert!(!repo.is_dir("a.txt").await.unwrap());
    assert!(!repo.is_dir("missing").await.unwrap());

    // Overwriting replaces the whole file.
    repo.write("a.txt", body(vec![b"short".to_vec()]))
        .await
        .unwrap();
    assert_eq!(read_all(repo, "a.txt").await, b"short");
}

async fn ranges_and_missing(r: Repo) {
    let repo = &*r.repo;
    let data = pattern(100_000, 7);
    repo.write("f", body(vec![data.clone()])).await.unwrap();
    let b = repo.read_from("f", 99_000).await.unwrap();
    assert_eq!(b.size, 100_000, "size stays the whole file's");
    let tail: Vec<Bytes> = b.stream.try_collect().await.unwrap();
    assert_eq!(tail.concat(), &data[99_000..]);
    let b = repo.read_from("f", 100_000).await.unwrap();
    assert_eq!(
        b.stream
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .concat()
            .len(),
        0
    );

    let e = repo.read("nope/none").await.err().unwrap();
    assert_eq!(e.code, ErrorCode::RESOURCE_DOES_NOT_EXIST, "{e:?}");
    for bad in ["../x", "a/../../x", "/etc/passwd", "a\\b", "a/\0"] {
        let e = repo.read(bad).await.err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::INVALID_PARAMETER_VALUE, "Invalid path")
        );
        let e = repo.write(bad, body(vec![])).await.err().unwrap();
        assert_eq!(e.code, ErrorCode::INVALID_PARAMETER_VALUE);
    }
}

async fn large_streams_both_ways(r: Repo) {
    let repo = &*r.repo;
    // 20 MiB in 1 MiB chunks: more than two of the object stores' upload parts.
    let chunks: Vec<Vec<u8>> = (0..20).map(|i| pattern(1 << 20, i as u8)).collect();
    let whole = chunks.concat();
    assert_eq!(
        repo.write("big/blob", body(chunks)).await.unwrap(),
        whole.len() as u64
    );
    let b = repo.read("big/blob").await.unwrap();
    assert_eq!(b.size, whole.len() as u64);
    let mut n = 0usize;
    let mut stream = b.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(&whole[n..n + chunk.len()], &chunk[..]);
        n += chunk.len();
    }
    assert_eq!(n, whole.len());
}

async fn interrupted_upload_leaves_nothing(r: Repo) {
    let repo = &*r.repo;
    let failing: ByteStream = futures_util::stream::iter(vec![
        Ok(Bytes::from(pattern(9 << 20, 1))),
        Err(std::io::Error::other("client went away")),
    ])
    .boxed();
    let e = repo.write("half", failing).await.err().unwrap();
    assert!(e.message.contains("interrupted"), "{e:?}");
    assert_eq!(
        repo.read("half").await.err().unwrap().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert!(repo.list("").await.unwrap().is_empty());
}

async fn deletes_files_and_trees(r: Repo) {
    let repo = &*r.repo;
    for p in ["keep.txt", "tree/a", "tree/b/c", "treehouse"] {
        repo.write(p, body(vec![b"1".to_vec()])).await.unwrap();
    }
    repo.delete("tree").await.unwrap();
    let left: Vec<_> = repo
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        left,
        vec!["keep.txt", "treehouse"],
        "a sibling sharing the prefix stays"
    );
    repo.delete("keep.txt").await.unwrap();
    assert_eq!(
        repo.delete("keep.txt").await.err().unwrap().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
}

async fn multipart_uploads(r: Repo) {
    let repo = &*r.repo;
    let p1 = pattern(5 << 20, 3);
    let p2 = pattern(1000, 4);
    let id = repo.create_multipart("mpu/model.bin").await.unwrap();
    let b2 = repo
        .upload_part("mpu/model.bin", &id, 2, body(vec![p2.clone()]))
        .await
        .unwrap();
    let b1 = repo
        .upload_part(
            "mpu/model.bin",
            &id,
            1,
            body(vec![p1[..1 << 20].to_vec(), p1[1 << 20..].to_vec()]),
        )
        .await
        .unwrap();
    assert_eq!((b1.part_number, b2.part_number), (1, 2));
    assert!(!b1.etag.is_empty());
    assert!(
        repo.read("mpu/model.bin").await.is_err(),
        "nothing is visible before completion"
    );
    repo.complete_multipart("mpu/model.bin", &id, &[b2, b1])
        .await
        .unwrap();
    assert_eq!(read_all(repo, "mpu/model.bin").await, [p1, p2].concat());

    let id = repo.create_multipart("mpu/dropped.bin").await.unwrap();
    repo.upload_part("mpu/dropped.bin", &id, 1, body(vec![b"x".to_vec()]))
        .await
        .unwrap();
    repo.abort_multipart("mpu/dropped.bin", &id).await.unwrap();
    assert!(repo.read("mpu/dropped.bin").await.is_err());
    let names: Vec<_> = repo
        .list("mpu")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(names, vec!["mpu/model.bin"]);
    let _ = UploadedPart {
        part_number: 1,
        etag: String::new(),
    };
}

macro_rules! artifact_contract {
    ($($test:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test] async fn $test() { super::$test(super::local().unwrap()).await })*
        }
        mod s3 {
            $(#[tokio::test] async fn $test() { if let Some(r) = super::s3() { super::$test(r).await } })*
        }
        mod azure {
            $(#[tokio::test] async fn $test() { if let Some(r) = super::azure() { super::$test(r).await } })*
        }
    };
}

artifact_contract!(
    write_read_list,
    ranges_and_missing,
    large_streams_both_ways,
    interrupted_upload_leaves_nothing,
    deletes_files_and_trees,
    multipart_uploads,
);

/// Errors name the bucket and the key, and say what is wrong.
#[tokio::test]
async fn a_missing_bucket_is_named() {
    if env_uri("FERROFLOW_TEST_S3_URI", "S3 (moto_server)").is_none() {
        return;
    }
    let repo = ferroflow_artifacts::open("s3://ferroflow-no-such-bucket/p").unwrap();
    let e = repo.read("x/model.pkl").await.err().unwrap();
    assert_eq!(e.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert!(
        e.message.contains("s3://ferroflow-no-such-bucket"),
        "{}",
        e.message
    );
    let e = repo
        .write("x/model.pkl", body(vec![b"1".to_vec()]))
        .await
        .err()
        .unwrap();
    assert!(
        e.message.contains("s3://ferroflow-no-such-bucket"),
        "{}",
        e.message
    );
}
