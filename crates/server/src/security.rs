//! Host-header validation (DNS-rebinding protection), CORS, and refusal of cross-origin
//! writes, with MLflow's defaults: localhost and private networks are trusted hosts,
//! localhost origins are trusted origins.

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

pub fn layer(app: Router, config: &ServerConfig) -> Router {
    let allowed_hosts = config.allowed_hosts.clone();
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
            resp.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
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
