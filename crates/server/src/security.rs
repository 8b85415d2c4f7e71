//! Host-header validation (DNS-rebinding protection), CORS, refusal of cross-origin writes
//! and the headers that keep other origins from framing or injecting into the UI, with
//! MLflow's defaults: localhost and private networks are trusted hosts, localhost origins are
//! trusted origins, `X-Frame-Options: SAMEORIGIN`.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ferroflow_core::{Error, ErrorCode};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{ApiError, ServerConfig};

/// `fnmatch`-style matching with `*` only.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// MLflow's default trusted hosts: localhost in its spellings, with any port, and the
/// private address ranges.
pub fn default_allowed_hosts() -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let with_port: Vec<String> = hosts.iter().map(|h| format!("{h}:*")).collect();
    hosts.extend(with_port);
    hosts.extend(["10.*", "192.168.*"].iter().map(|s| s.to_string()));
    hosts.extend((16..32).map(|i| format!("172.{i}.*")));
    hosts
}

fn host_allowed(allowed: &[String], host: &str) -> bool {
    allowed.iter().any(|a| {
        a == "*"
            || if a.contains('*') {
                wildcard_match(a, host)
            } else {
                a == host
            }
    })
}

fn origin_is_localhost(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    let host = if rest.starts_with('[') {
        rest.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or("").to_string()
    };
    matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    origin_is_localhost(origin)
        || allowed
            .iter()
            .any(|a| a == "*" || a == origin || (a.contains('*') && wildcard_match(a, origin)))
}

/// `--x-frame-options` as MLflow takes it: upper-cased, and `NONE` (or nothing) for no header.
pub fn x_frame_options(value: &str) -> Result<Option<String>, String> {
    let v = value.trim().to_ascii_uppercase();
    if v.is_empty() || v == "NONE" {
        return Ok(None);
    }
    HeaderValue::from_str(&v).map(|_| Some(v)).map_err(|_| {
        format!("--x-frame-options '{value}' is not a header value: use SAMEORIGIN, DENY or NONE")
    })
}

/// The policy of HTML answers (the UI): scripts, styles' files, fonts and API calls from
/// this server only (the UI has no inline script; its styles are partly inline), images
/// also from `data:`/`blob:`, no plugins, and framing as `X-Frame-Options` says.
fn content_security_policy(x_frame_options: Option<&str>) -> HeaderValue {
    let mut policy = String::from(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'",
    );
    match x_frame_options {
        Some("SAMEORIGIN") => policy.push_str("; frame-ancestors 'self'"),
        Some("DENY") => policy.push_str("; frame-ancestors 'none'"),
        _ => {}
    }
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
}

pub fn layer(app: Router, config: &ServerConfig) -> Router {
    let allowed_hosts = config.allowed_hosts.clone();
    let frame_options = config
        .x_frame_options
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok());
    let csp = content_security_policy(config.x_frame_options.as_deref());
    let origins = config.cors_allowed_origins.clone();
    let prefix = config.static_prefix.trim_end_matches('/').to_string();
    let cors_origins = origins.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |o: &HeaderValue, _| {
            o.to_str().is_ok_and(|o| origin_allowed(&cors_origins, o))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ])
        .allow_headers(tower_http::cors::Any);
    app.layer(middleware::from_fn(move |req: Request, next: Next| {
        let allowed_hosts = allowed_hosts.clone();
        let origins = origins.clone();
        let prefix = prefix.clone();
        let frame_options = frame_options.clone();
        let csp = csp.clone();
        async move {
            let path = req.uri().path();
            let is_health = path == format!("{prefix}/health");
            if !is_health && !allowed_hosts.iter().any(|h| h == "*") {
                let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
                if !host_allowed(&allowed_hosts, host) {
                    tracing::warn!(host, "rejected a request with an untrusted Host header");
                    return ApiError(Error::new(
                        ErrorCode::PERMISSION_DENIED,
                        format!("Invalid Host header '{host}': add it with --allowed-hosts to accept it"),
                    ))
                    .into_response();
                }
            }
            let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            let is_api = path.starts_with(&format!("{prefix}/api/")) || path.starts_with(&format!("{prefix}/ajax-api/"));
            let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok());
            if writes
                && is_api
                && !origins.iter().any(|o| o == "*")
                && let Some(origin) = origin
                && !origin_allowed(&origins, origin)
            {
                return ApiError(Error::new(
                    ErrorCode::PERMISSION_DENIED,
                    format!("Cross-origin request from '{origin}' blocked: add it with --cors-allowed-origins"),
                ))
                .into_response();
            }
            let mut resp: Response = next.run(req).await;
            let h = resp.headers_mut();
            h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            if let Some(v) = frame_options {
                h.insert(header::X_FRAME_OPTIONS, v);
            }
            if h.get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html")) {
                h.insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            resp
        }
    }))
    .layer(cors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let d = default_allowed_hosts();
        assert!(host_allowed(&d, "localhost:5000"));
        assert!(host_allowed(&d, "127.0.0.1"));
        assert!(host_allowed(&d, "192.168.1.4:5000"));
        assert!(!host_allowed(&d, "evil.example.com"));
        assert!(host_allowed(&["*".into()], "anything"));
        assert!(host_allowed(&["*.example.com".into()], "a.example.com"));
    }

    #[test]
    fn frame_options_as_mlflow_takes_them() {
        assert_eq!(
            x_frame_options("sameorigin").unwrap().as_deref(),
            Some("SAMEORIGIN")
        );
        assert_eq!(x_frame_options("DENY").unwrap().as_deref(), Some("DENY"));
        assert_eq!(x_frame_options("none").unwrap(), None);
        assert!(x_frame_options("bad\nvalue").is_err());
        let csp = |v| content_security_policy(v).to_str().unwrap().to_string();
        assert!(csp(Some("SAMEORIGIN")).ends_with("frame-ancestors 'self'"));
        assert!(csp(Some("DENY")).ends_with("frame-ancestors 'none'"));
        assert!(!csp(None).contains("frame-ancestors"));
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(&[], "http://localhost:3000"));
        assert!(origin_allowed(&[], "http://[::1]:3000"));
        assert!(!origin_allowed(&[], "https://evil.example.com"));
        assert!(origin_allowed(
            &["https://app.example.com".into()],
            "https://app.example.com"
        ));
    }
}
