//! The web UI compiled into the binary: `ui/dist`, embedded by `build.rs` as a table of
//! `include_bytes!`. `/` serves its `index.html` (or, in a build without the UI, the plain
//! page of [`crate::pages`]); `/assets/*` and `/static-files/*` serve its files.
//!
//! Vite names everything under `assets/` by content hash, so those files are cached for a
//! year; `index.html` and unhashed files are revalidated on every load.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferroflow_core::{Error, ErrorCode};

use crate::{ApiError, AppState, pages};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

const HASHED_DIR: &str = "assets/";
const LONG_CACHE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// An embedded file by its path under `ui/dist`.
fn find(path: &str) -> Option<&'static [u8]> {
    let files = embedded::ASSETS;
    files
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| files[i].1)
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(path: &str, body: Body) -> Response {
    let cache = if path.starts_with(HASHED_DIR) {
        LONG_CACHE
    } else {
        NO_CACHE
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `index.html` with a `<base href>` at the static prefix, so the UI's relative asset and
/// API URLs resolve under `--static-prefix`.
fn index_html(html: &[u8], prefix: &str) -> String {
    let html = String::from_utf8_lossy(html);
    let base = format!("<head><base href=\"{}/\">", pages::escape(prefix));
    html.replacen("<head>", &base, 1)
}

/// `/`: the UI, or the plain page with instructions to build it.
pub async fn index(State(s): State<AppState>) -> Response {
    match find("index.html") {
        Some(html) => {
            let prefix = s.config.static_prefix.trim_end_matches('/');
            respond("index.html", Body::from(index_html(html, prefix)))
        }
        None => pages::index(State(s)).await.into_response(),
    }
}

fn asset(path: &str) -> Response {
    match find(path) {
        Some(bytes) if path != "index.html" => respond(path, Body::from(bytes)),
        _ => ApiError(Error::new(
            ErrorCode::ENDPOINT_NOT_FOUND,
            format!("No UI file at {path}"),
        ))
        .into_response(),
    }
}

/// `/assets/{*path}`: Vite's hashed bundles.
pub async fn hashed_asset(Path(path): Path<String>) -> Response {
    asset(&format!("{HASHED_DIR}{path}"))
}

/// `/static-files/{*path}`: any file of the UI build (MLflow's static prefix).
pub async fn static_file(Path(path): Path<String>) -> Response {
    asset(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, StatusCode};

    /// Whether this build embeds the web UI (tests hold in both builds).
    fn is_built() -> bool {
        find("index.html").is_some()
    }

    #[test]
    fn the_embedded_table_is_sorted_for_lookup() {
        let files = embedded::ASSETS;
        assert!(files.windows(2).all(|w| w[0].0 < w[1].0));
        for (path, bytes) in files {
            assert_eq!(find(path), Some(*bytes));
            assert!(!path.starts_with('.'), "dotfiles are not embedded: {path}");
        }
        assert_eq!(find("no/such/file.js"), None);
    }

    #[test]
    fn base_href_follows_the_static_prefix() {
        let html = b"<!doctype html><html><head><title>x</title></head></html>";
        assert!(index_html(html, "").contains("<head><base href=\"/\"><title>"));
        assert!(index_html(html, "/mlflow").contains("<base href=\"/mlflow/\">"));
        assert!(index_html(html, "/a\"b").contains("<base href=\"/a&quot;b/\">"));
    }

    #[test]
    fn hashed_assets_are_cached_long_and_typed() {
        let r = respond("assets/index-abc123.js", Body::empty());
        assert_eq!(r.headers()[header::CACHE_CONTROL], LONG_CACHE);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let r = respond("index.html", Body::empty());
        assert_eq!(r.headers()[header::CACHE_CONTROL], NO_CACHE);
        assert_eq!(content_type("assets/x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("unknown"), "application/octet-stream");
    }

    /// The real router over a temporary store, with `static_prefix`.
    async fn get(static_prefix: &str, uri: &str) -> (StatusCode, HeaderMap, String) {
        use ferroflow_store::sql::{SqlStore, StoreOptions};
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open(
            &format!("sqlite:///{}/mlflow.db", dir.path().display()),
            StoreOptions::default(),
        )
        .await
        .unwrap();
        let config = crate::ServerConfig {
            host: "127.0.0.1".into(),
            port: 5000,
            backend_store_uri: "sqlite:///mlflow.db".into(),
            default_artifact_root: "mlflow-artifacts:/".into(),
            artifacts_destination: None,
            allowed_hosts: crate::default_allowed_hosts(),
            cors_allowed_origins: vec![],
            host_policy: Default::default(),
            max_artifact_location_length: ferroflow_core::validation::MAX_ARTIFACT_LOCATION_LENGTH,
            x_frame_options: Some("SAMEORIGIN".into()),
            static_prefix: static_prefix.into(),
        };
        let app = crate::router(AppState::new(store, None, config));
        let req = axum::http::Request::builder()
            .uri(uri)
            .header("host", "127.0.0.1:5000")
            .body(Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn root_serves_the_ui_or_says_how_to_build_it() {
        let (status, headers, body) = get("", "/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        if is_built() {
            assert!(body.contains("<base href=\"/\">"), "{body}");
        } else {
            assert!(body.contains("npm run build"), "{body}");
        }
    }

    #[tokio::test]
    async fn assets_are_served_under_the_static_prefix() {
        let (status, _, body) = get("/mlflow", "/mlflow/").await;
        assert_eq!(status, StatusCode::OK);
        if is_built() {
            assert!(body.contains("<base href=\"/mlflow/\">"), "{body}");
        }
        let hashed = embedded::ASSETS
            .iter()
            .find_map(|(p, _)| p.strip_prefix(HASHED_DIR));
        if let Some(name) = hashed {
            let (status, headers, _) = get("/mlflow", &format!("/mlflow/assets/{name}")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers[header::CACHE_CONTROL], LONG_CACHE);
            let (status, _, _) =
                get("/mlflow", &format!("/mlflow/static-files/assets/{name}")).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, _, body) = get("", "/assets/missing.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("ENDPOINT_NOT_FOUND"), "{body}");
    }
}
