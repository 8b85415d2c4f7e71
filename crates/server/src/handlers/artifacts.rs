//! Artifacts: the `mlflow-artifacts` proxy, run artifact listing and download, and the
//! multipart-upload protocol. Bodies stream between the socket and the repository.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use ferroflow_artifacts::{ArtifactRepo, ByteStream, UploadedPart, safe_path};
use ferroflow_core::entities::FileInfo;
use ferroflow_core::{Error, ErrorCode};
use futures_util::TryStreamExt;
use serde::Serialize;
use std::sync::Arc;

use super::{empty, json};
use crate::artifact_uri::{Location, resolve};
use crate::request::Fields;
use crate::{ApiResult, AppState};

fn proxy(s: &AppState) -> ApiResult<Arc<dyn ArtifactRepo>> {
    s.artifacts.clone().ok_or_else(|| {
        Error::new(
            ErrorCode::ENDPOINT_NOT_FOUND,
            "Artifact proxying is disabled on this server (--no-serve-artifacts)",
        )
        .into()
    })
}

fn body_stream(req: Request) -> ByteStream {
    Box::pin(
        req.into_body()
            .into_data_stream()
            .map_err(std::io::Error::other),
    )
}

/// MLflow's `Content-Disposition` for a download: an attachment, the name as a token or
/// quoted string, and an RFC 5987 `filename*` when it is not ASCII.
fn disposition(name: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let quote = |v: &str| {
        if !v.is_empty() && v.chars().all(token) {
            v.to_string()
        } else {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        }
    };
    if name.is_ascii() {
        return format!("attachment; filename={}", quote(name));
    }
    let ascii: String = name.chars().filter(char::is_ascii).collect();
    let ascii = if ascii.is_empty() { "download" } else { &ascii };
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    format!(
        "attachment; filename={}; filename*=UTF-8''{}",
        quote(ascii),
        percent_encoding::utf8_percent_encode(name, ATTR)
    )
}

/// The byte range a `Range` header asks of a file of `size` bytes: `None` for the whole
/// file (no header, or one this server does not split, such as several ranges), or an
/// inclusive `(first, last)`, or `Err` when it cannot be satisfied.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => (first, last.min(size.saturating_sub(1))),
        (Ok(first), Err(_)) if b.is_empty() => (first, size.saturating_sub(1)),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => {
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if range.0 >= size {
        return Err(());
    }
    Ok(Some(range))
}

/// Streams the file at `path` as MLflow's server sends a download: its content type,
/// as an attachment, `nosniff`, `Last-Modified`, and byte ranges (206) on request.
pub(super) async fn download(
    repo: &dyn ArtifactRepo,
    path: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let mut body = repo.read(path).await?;
    let size = body.size;
    let range = match byte_range(headers, size) {
        Ok(r) => r,
        Err(()) => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = axum::http::StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let mut length = size;
    if let Some((first, last)) = range {
        if first > 0 {
            body = repo.read_from(path, first).await?;
        }
        length = last - first + 1;
        body.stream = ferroflow_artifacts::take_bytes(body.stream, length);
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut resp = Response::new(Body::from_stream(body.stream));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ferroflow_artifacts::mime::content_type(path)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition(name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(v) = body
        .modified
        .and_then(|t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Some((first, last)) = range {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *resp.status_mut() = axum::http::StatusCode::PARTIAL_CONTENT;
    }
    Ok(resp)
}

#[derive(Serialize)]
struct Listing {
    #[serde(skip_serializing_if = "Option::is_none")]
    root_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileInfo>,
}

/// Lists `rel` under `loc`, with paths relative to `strip` (a prefix of repository paths).
async fn list_relative(loc: &Location, rel: &str, strip: &str) -> ApiResult<Vec<FileInfo>> {
    let files = loc.repo.list(&loc.path(rel)?).await?;
    Ok(files
        .into_iter()
        .map(|mut f| {
            f.path = f
                .path
                .strip_prefix(strip)
                .map(|p| p.trim_start_matches('/').to_string())
                .unwrap_or(f.path);
            f
        })
        .collect())
}

// ---- the mlflow-artifacts proxy ----

pub async fn proxy_list(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    let path = safe_path(&f.opt_str("path")?.unwrap_or_default())?;
    let loc = Location {
        repo,
        base: String::new(),
    };
    let files = list_relative(&loc, &path, &path).await?;
    Ok(json(&Listing {
        root_uri: None,
        files,
    }))
}

pub async fn proxy_download(
    State(s): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    download(repo.as_ref(), &safe_path(&path)?, &headers).await
}

pub async fn proxy_upload(
    State(s): State<AppState>,
    Path(path): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    repo.write(&safe_path(&path)?, body_stream(req)).await?;
    Ok(empty())
}

pub async fn proxy_delete(
    State(s): State<AppState>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    repo.delete(&safe_path(&path)?).await?;
    Ok(empty())
}

// ---- multipart uploads ----

/// Where a multipart upload goes: the URL names the directory, the body's `path` the
/// file (MLflow's client sends its local path; only the file name is used).
fn upload_target(dir: &str, f: &Fields) -> ApiResult<String> {
    let local = f.req_str("path")?;
    let name = local
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..");
    let name =
        name.ok_or_else(|| Error::invalid_param(format!("Invalid file name in path '{local}'")))?;
    Ok(ferroflow_artifacts::join(
        &safe_path(dir)?,
        &safe_path(name)?,
    ))
}

fn external_base(headers: &HeaderMap, s: &AppState) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}:{}", s.config.host, s.config.port));
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!(
        "{scheme}://{host}{}",
        s.config.static_prefix.trim_end_matches('/')
    )
}

pub async fn mpu_create(
    State(s): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    f: Fields,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    let path = upload_target(&path, &f)?;
    let num_parts = f.opt_i64("num_parts")?.unwrap_or(1);
    if !(1..=10_000).contains(&num_parts) {
        return Err(Error::invalid_param(format!(
            "num_parts must be between 1 and 10000, got {num_parts}"
        ))
        .into());
    }
    let upload_id = repo.create_multipart(&path).await?;
    let base = external_base(&headers, &s);
    let encoded: String = path
        .split('/')
        .map(|seg| {
            percent_encoding::utf8_percent_encode(seg, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    let credentials: Vec<_> = (1..=num_parts)
        .map(|n| {
            serde_json::json!({
                "url": format!("{base}/api/2.0/mlflow-artifacts/mpu/upload/{encoded}?upload_id={upload_id}&part_number={n}"),
                "part_number": n,
                "headers": {},
            })
        })
        .collect();
    Ok(json(
        &serde_json::json!({ "upload_id": upload_id, "credentials": credentials }),
    ))
}

pub async fn mpu_upload_part(
    State(s): State<AppState>,
    Path(path): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    let q = Fields::from_query(req.uri().query().unwrap_or(""));
    let upload_id = q.req_str("upload_id")?;
    let part = q.req_i64("part_number")?;
    let part = u32::try_from(part)
        .map_err(|_| Error::invalid_param(format!("Invalid part_number {part}")))?;
    let uploaded = repo
        .upload_part(&safe_path(&path)?, &upload_id, part, body_stream(req))
        .await?;
    let mut resp = empty();
    if let Ok(v) = HeaderValue::from_str(&uploaded.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

pub async fn mpu_complete(
    State(s): State<AppState>,
    Path(path): Path<String>,
    f: Fields,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    let upload_id = f.req_str("upload_id")?;
    let parts = f
        .objects("parts")?
        .iter()
        .map(|p| {
            let n = p.req_i64("part_number")?;
            Ok(UploadedPart {
                part_number: u32::try_from(n)
                    .map_err(|_| Error::invalid_param(format!("Invalid part_number {n}")))?,
                etag: p.opt_str("etag")?.unwrap_or_default(),
            })
        })
        .collect::<ferroflow_core::Result<Vec<_>>>()?;
    repo.complete_multipart(&upload_target(&path, &f)?, &upload_id, &parts)
        .await?;
    Ok(empty())
}

pub async fn mpu_abort(
    State(s): State<AppState>,
    Path(path): Path<String>,
    f: Fields,
) -> ApiResult<Response> {
    let repo = proxy(&s)?;
    repo.abort_multipart(&upload_target(&path, &f)?, &f.req_str("upload_id")?)
        .await?;
    Ok(empty())
}

pub async fn presigned_unsupported() -> ApiResult<Response> {
    Err(Error::new(
        ErrorCode::ENDPOINT_NOT_FOUND,
        "Presigned URLs are not available for this artifact store; artifacts are served through the tracking server",
    )
    .into())
}

// ---- run artifacts ----

async fn run_location(s: &AppState, run_id: &str) -> ApiResult<(String, Location)> {
    let run = s.store.get_run(run_id).await?;
    let loc = resolve(s, &run.info.artifact_uri)?;
    Ok((run.info.artifact_uri, loc))
}

pub async fn list_run_artifacts(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let run_id = f.req_str_any(&["run_id", "run_uuid"])?;
    let rel = safe_path(&f.opt_str("path")?.unwrap_or_default())?;
    let (root_uri, loc) = run_location(&s, &run_id).await?;
    let files = list_relative(&loc, &rel, &loc.base).await?;
    Ok(json(&Listing {
        root_uri: Some(root_uri),
        files,
    }))
}

pub async fn get_run_artifact(
    State(s): State<AppState>,
    headers: HeaderMap,
    f: Fields,
) -> ApiResult<Response> {
    let run_id = f.req_str_any(&["run_uuid", "run_id"])?;
    let rel = f.req_str("path")?;
    let (_, loc) = run_location(&s, &run_id).await?;
    download(loc.repo.as_ref(), &loc.path(&rel)?, &headers).await
}

/// `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=`: the UI's upload of one file
/// into a run's artifacts, checked in the reference's order and with its messages.
pub async fn upload_run_artifact(State(s): State<AppState>, req: Request) -> ApiResult<Response> {
    let q = Fields::from_query(req.uri().query().unwrap_or(""));
    let required = |name: &str| -> ApiResult<String> {
        q.opt_str(name)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid_param(format!("Request must specify {name}.")).into())
    };
    let run_id = required("run_uuid")?;
    let rel = safe_path(&required("path")?)?;
    // As for Flask's `request.data`: a form body is not data, nor is an empty one.
    let h = req.headers();
    let form = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("multipart/form-data")
        });
    let length = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = h.contains_key(header::TRANSFER_ENCODING);
    if form || rel.is_empty() || (length.unwrap_or(0) == 0 && !chunked) {
        return Err(Error::invalid_param("Request must specify data.").into());
    }
    let (_, loc) = run_location(&s, &run_id).await?;
    let path = loc.path(&rel)?;
    loc.repo.write(&path, body_stream(req)).await?;
    let mut resp = Response::new(Body::empty());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// `/ajax-api/2.0/mlflow/logged-models/<id>/artifacts/files?artifact_file_path=`: one
/// file of a logged model's artifacts.
pub async fn logged_model_file(
    s: &AppState,
    artifact_uri: &str,
    f: &Fields,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let Some(rel) = f.opt_str("artifact_file_path")? else {
        return Err(Error::bad_request(
            "Request must include the \"artifact_file_path\" query parameter.",
        )
        .into());
    };
    let loc = resolve(s, artifact_uri)?;
    download(loc.repo.as_ref(), &loc.path(&rel)?, headers).await
}

/// Lists a logged model's artifacts.
pub async fn list_model_artifacts(
    s: &AppState,
    artifact_uri: &str,
    rel: &str,
) -> ApiResult<Response> {
    let loc = resolve(s, artifact_uri)?;
    let files = list_relative(&loc, rel, &loc.base).await?;
    Ok(json(&Listing {
        root_uri: Some(artifact_uri.to_string()),
        files,
    }))
}
