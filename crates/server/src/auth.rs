//! MLflow's `basic-auth` app in front of every route: one layer that signs the caller in
//! (HTTP basic, 401 with `WWW-Authenticate` otherwise), finds the route's [`Rule`] in the
//! one table below, decides it from the caller's grants (403 "Permission denied"), and
//! after a create grants the creator `MANAGE`, as MLflow does. Administrators pass every
//! rule. A route the table does not name is refused to everyone but administrators.
//!
//! Searches are filtered by their handlers, which find the [`Caller`] in the request.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferroflow_auth::policy::{
    self, Action, EXPERIMENT, Grant, LOGGED_MODEL, MODEL_VERSION, Permission, REGISTERED_MODEL,
    RUN, Requirement,
};
use ferroflow_auth::{Auth, User};
use ferroflow_core::{Error, ErrorCode, Result};

use crate::request::Fields;
use crate::{ApiError, AppState};

/// The basic-auth app as the server runs it: the auth crate's [`Auth`], and which experiment
/// each run and logged model belongs to (that never changes, so it is remembered, up to a
/// bound, instead of read on every request).
pub struct AuthApp {
    pub auth: Auth,
    parents: std::sync::Mutex<std::collections::HashMap<String, String>>,
    failures: Failures,
}

/// Failed sign-ins per client address and user name: past [`Failures::LIMIT`] in a window,
/// that name from that address is answered 429 until the window ends, without its password
/// being checked. The same user from elsewhere, and other users behind the same address (a
/// proxy's), are not affected.
#[derive(Default)]
struct Failures {
    by_address: std::sync::Mutex<std::collections::HashMap<FailureKey, (std::time::Instant, u32)>>,
}

type FailureKey = (std::net::IpAddr, String);

impl Failures {
    const LIMIT: u32 = 20;
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
    const TRACKED: usize = 100_000;

    /// Seconds until `ip` may try again, when it is over the limit.
    fn blocked(&self, ip: std::net::IpAddr, user: &str) -> Option<u64> {
        let m = self.by_address.lock().ok()?;
        let (start, count) = m.get(&(ip, user.to_string()))?;
        let left = Self::WINDOW.checked_sub(start.elapsed())?;
        (*count >= Self::LIMIT).then(|| left.as_secs().max(1))
    }

    fn failed(&self, ip: std::net::IpAddr, user: &str) {
        if let Ok(mut m) = self.by_address.lock() {
            if m.len() >= Self::TRACKED {
                m.retain(|_, (start, _)| start.elapsed() < Self::WINDOW);
            }
            let entry = m
                .entry((ip, user.to_string()))
                .or_insert((std::time::Instant::now(), 0));
            if entry.0.elapsed() >= Self::WINDOW {
                *entry = (std::time::Instant::now(), 0);
            }
            entry.1 += 1;
        }
    }
}

const REMEMBERED_PARENTS: usize = 100_000;

impl AuthApp {
    pub fn new(auth: Auth) -> AuthApp {
        AuthApp {
            auth,
            parents: Default::default(),
            failures: Failures::default(),
        }
    }

    async fn parent<F, Fut>(&self, key: String, look_up: F) -> Result<String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String>>,
    {
        if let Some(p) = self.parents.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(p);
        }
        let parent = look_up().await?;
        if let Ok(mut m) = self.parents.lock() {
            if m.len() >= REMEMBERED_PARENTS {
                m.clear();
            }
            m.insert(key, parent.clone());
        }
        Ok(parent)
    }

    async fn run_experiment(&self, s: &AppState, run_id: &str) -> Result<String> {
        self.parent(format!("run:{run_id}"), || async {
            Ok(s.store.get_run(run_id).await?.info.experiment_id)
        })
        .await
    }

    async fn model_experiment(&self, s: &AppState, model_id: &str) -> Result<String> {
        self.parent(format!("model:{model_id}"), || async {
            Ok(s.store.get_logged_model(model_id).await?.info.experiment_id)
        })
        .await
    }
}

impl std::ops::Deref for AuthApp {
    type Target = Auth;
    fn deref(&self) -> &Auth {
        &self.auth
    }
}

/// The signed-in user of a request and what they were granted.
#[derive(Clone)]
pub struct Caller {
    pub user: User,
    pub grants: Arc<Vec<Grant>>,
    pub default: Permission,
}

impl Caller {
    /// Administrators, and holders of a workspace-wide `MANAGE`, pass every rule.
    pub fn is_admin(&self) -> bool {
        self.user.is_admin || self.grants.iter().any(Grant::is_workspace_admin)
    }

    pub fn allows(&self, req: &Requirement) -> bool {
        self.is_admin() || req.allowed(&self.grants, self.default)
    }

    /// Whether the caller may see an experiment (and its runs) in a search.
    pub fn can_read_experiment(&self, id: &str) -> bool {
        self.allows(&Requirement::on(EXPERIMENT, id, Action::Read))
    }

    /// Whether the caller may see a registered model (and its versions) in a search.
    pub fn can_read_registered_model(&self, name: &str) -> bool {
        self.allows(&Requirement::on(REGISTERED_MODEL, name, Action::Read))
    }
}

/// What a route requires of a caller who is not an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any signed-in user (searches filter their results).
    SignedIn,
    /// Administrators only.
    Admin,
    /// The `username` the request names is the caller.
    SelfUser,
    /// `action` on the experiment `experiment_id` names.
    Experiment(Action),
    /// `action` on the experiment `experiment_name` names.
    ExperimentByName(Action),
    /// A new experiment: refused only by a `DENY` on experiments.
    CreateExperiment,
    /// `action` on the run `run_id` (or `run_uuid`) names, through its experiment.
    Run(Action),
    /// `action` on every run `key` lists.
    Runs(&'static str, Action),
    /// A new run: updating the experiment `experiment_id` names.
    CreateRun,
    /// `read` on every experiment `experiment_ids` lists.
    Experiments(Action),
    /// `action` on the registered model `name` names.
    RegisteredModel(Action),
    /// A new registered model: refused only by a `DENY` on registered models.
    CreateRegisteredModel,
    /// `action` on a version of the registered model `name` names.
    ModelVersion(Action),
    /// `action` on the logged model the path names, through its experiment.
    LoggedModel(Action),
    /// `action` on the experiment a proxied artifact path starts with.
    ArtifactPath(Action),
    /// Listing proxied artifacts: the experiment the `path` parameter starts with.
    ArtifactList,
    /// Granting or revoking: `MANAGE` on the resource.
    ManageResource,
    /// Reading a user's permission: oneself.
    UserPermission,
    /// Reading a role (`role_id`): a member of a role in its workspace.
    ViewRole,
    /// Listing roles: of workspaces (`workspace`, repeated) the caller holds a role in.
    ListRoles,
}

impl Rule {
    /// Whether deciding needs the request's parameters.
    fn needs_fields(self) -> bool {
        !matches!(
            self,
            Rule::SignedIn
                | Rule::Admin
                | Rule::CreateExperiment
                | Rule::CreateRegisteredModel
                | Rule::LoggedModel(_)
                | Rule::ArtifactPath(_)
        )
    }
}

use Action::{Delete, Manage, Read, Update};

/// Every route under `/api` and `/ajax-api`, with the rule it needs. A `*` segment matches
/// one path segment; a trailing `**` matches the rest.
#[rustfmt::skip]
const API_RULES: &[(&str, &str, Rule)] = &[
    // experiments
    ("POST", "/2.0/mlflow/experiments/create", Rule::CreateExperiment),
    ("GET", "/2.0/mlflow/experiments/get", Rule::Experiment(Read)),
    ("GET", "/2.0/mlflow/experiments/get-by-name", Rule::ExperimentByName(Read)),
    ("GET", "/2.0/mlflow/experiments/search", Rule::SignedIn),
    ("POST", "/2.0/mlflow/experiments/search", Rule::SignedIn),
    ("GET", "/2.0/mlflow/experiments/list", Rule::SignedIn),
    ("POST", "/2.0/mlflow/experiments/update", Rule::Experiment(Update)),
    ("POST", "/2.0/mlflow/experiments/delete", Rule::Experiment(Delete)),
    ("POST", "/2.0/mlflow/experiments/restore", Rule::Experiment(Delete)),
    ("POST", "/2.0/mlflow/experiments/set-experiment-tag", Rule::Experiment(Update)),
    ("POST", "/2.0/mlflow/experiments/delete-experiment-tag", Rule::Experiment(Update)),
    ("POST", "/2.0/mlflow/experiments/search-datasets", Rule::Experiments(Read)),
    // runs
    ("POST", "/2.0/mlflow/runs/create", Rule::CreateRun),
    ("GET", "/2.0/mlflow/runs/get", Rule::Run(Read)),
    ("POST", "/2.0/mlflow/runs/update", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/delete", Rule::Run(Delete)),
    ("POST", "/2.0/mlflow/runs/restore", Rule::Run(Delete)),
    ("POST", "/2.0/mlflow/runs/log-metric", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/log-parameter", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/set-tag", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/delete-tag", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/log-batch", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/log-inputs", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/outputs", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/runs/log-model", Rule::Run(Update)),
    ("GET", "/2.0/mlflow/runs/search", Rule::SignedIn),
    ("POST", "/2.0/mlflow/runs/search", Rule::SignedIn),
    ("GET", "/2.0/mlflow/metrics/get-history", Rule::Run(Read)),
    ("GET", "/2.0/mlflow/metrics/get-history-bulk", Rule::Runs("run_id", Read)),
    ("GET", "/2.0/mlflow/metrics/get-history-bulk-interval", Rule::Runs("run_ids", Read)),
    ("GET", "/2.0/mlflow/ferroflow/metrics/get-history-downsampled", Rule::Run(Read)),
    ("GET", "/2.0/mlflow/artifacts/list", Rule::Run(Read)),
    ("POST", "/2.0/mlflow/artifacts/presigned-download-url", Rule::Run(Read)),
    ("POST", "/2.0/mlflow/artifacts/presigned-upload-url", Rule::Run(Update)),
    ("POST", "/2.0/mlflow/upload-artifact", Rule::Run(Update)),
    // logged models
    ("POST", "/2.0/mlflow/logged-models", Rule::Experiment(Update)),
    ("POST", "/2.0/mlflow/logged-models/search", Rule::SignedIn),
    ("GET", "/2.0/mlflow/logged-models/*", Rule::LoggedModel(Read)),
    ("PATCH", "/2.0/mlflow/logged-models/*", Rule::LoggedModel(Update)),
    ("DELETE", "/2.0/mlflow/logged-models/*", Rule::LoggedModel(Delete)),
    ("POST", "/2.0/mlflow/logged-models/*/params", Rule::LoggedModel(Update)),
    ("PATCH", "/2.0/mlflow/logged-models/*/tags", Rule::LoggedModel(Update)),
    ("DELETE", "/2.0/mlflow/logged-models/*/tags/*", Rule::LoggedModel(Delete)),
    ("GET", "/2.0/mlflow/logged-models/*/artifacts/directories", Rule::LoggedModel(Read)),
    ("GET", "/2.0/mlflow/logged-models/*/artifacts/files", Rule::LoggedModel(Read)),
    // the model registry
    ("POST", "/2.0/mlflow/registered-models/create", Rule::CreateRegisteredModel),
    ("GET", "/2.0/mlflow/registered-models/get", Rule::RegisteredModel(Read)),
    ("POST", "/2.0/mlflow/registered-models/rename", Rule::RegisteredModel(Update)),
    ("PATCH", "/2.0/mlflow/registered-models/update", Rule::RegisteredModel(Update)),
    ("DELETE", "/2.0/mlflow/registered-models/delete", Rule::RegisteredModel(Delete)),
    ("GET", "/2.0/mlflow/registered-models/search", Rule::SignedIn),
    ("GET", "/2.0/mlflow/registered-models/get-latest-versions", Rule::ModelVersion(Read)),
    ("POST", "/2.0/mlflow/registered-models/get-latest-versions", Rule::ModelVersion(Read)),
    ("POST", "/2.0/mlflow/registered-models/set-tag", Rule::RegisteredModel(Update)),
    ("DELETE", "/2.0/mlflow/registered-models/delete-tag", Rule::RegisteredModel(Update)),
    ("GET", "/2.0/mlflow/registered-models/alias", Rule::ModelVersion(Read)),
    ("POST", "/2.0/mlflow/registered-models/alias", Rule::ModelVersion(Update)),
    ("DELETE", "/2.0/mlflow/registered-models/alias", Rule::ModelVersion(Delete)),
    ("POST", "/2.0/mlflow/model-versions/create", Rule::RegisteredModel(Update)),
    ("GET", "/2.0/mlflow/model-versions/get", Rule::ModelVersion(Read)),
    ("PATCH", "/2.0/mlflow/model-versions/update", Rule::ModelVersion(Update)),
    ("DELETE", "/2.0/mlflow/model-versions/delete", Rule::ModelVersion(Delete)),
    ("GET", "/2.0/mlflow/model-versions/search", Rule::SignedIn),
    ("POST", "/2.0/mlflow/model-versions/transition-stage", Rule::ModelVersion(Update)),
    ("GET", "/2.0/mlflow/model-versions/get-download-uri", Rule::ModelVersion(Read)),
    ("POST", "/2.0/mlflow/model-versions/set-tag", Rule::ModelVersion(Update)),
    ("DELETE", "/2.0/mlflow/model-versions/delete-tag", Rule::ModelVersion(Delete)),
    // the artifact proxy
    ("GET", "/2.0/mlflow-artifacts/artifacts", Rule::ArtifactList),
    ("GET", "/2.0/mlflow-artifacts/artifacts/**", Rule::ArtifactPath(Read)),
    ("PUT", "/2.0/mlflow-artifacts/artifacts/**", Rule::ArtifactPath(Update)),
    ("DELETE", "/2.0/mlflow-artifacts/artifacts/**", Rule::ArtifactPath(Manage)),
    ("POST", "/2.0/mlflow-artifacts/mpu/create/**", Rule::ArtifactPath(Update)),
    ("PUT", "/2.0/mlflow-artifacts/mpu/upload/**", Rule::ArtifactPath(Update)),
    ("POST", "/2.0/mlflow-artifacts/mpu/complete/**", Rule::ArtifactPath(Update)),
    ("POST", "/2.0/mlflow-artifacts/mpu/abort/**", Rule::ArtifactPath(Update)),
    ("GET", "/2.0/mlflow-artifacts/presigned/**", Rule::ArtifactPath(Read)),
    // users and permissions
    ("POST", "/2.0/mlflow/users/create", Rule::Admin),
    ("GET", "/2.0/mlflow/users/get", Rule::SelfUser),
    ("GET", "/2.0/mlflow/users/current", Rule::SignedIn),
    ("GET", "/2.0/mlflow/users/list", Rule::SignedIn),
    ("PATCH", "/2.0/mlflow/users/update-password", Rule::SelfUser),
    ("PATCH", "/2.0/mlflow/users/update-admin", Rule::Admin),
    ("DELETE", "/2.0/mlflow/users/delete", Rule::Admin),
    ("GET", "/3.0/mlflow/users/current/permissions", Rule::SignedIn),
    ("GET", "/3.0/mlflow/users/permissions/list", Rule::SelfUser),
    ("POST", "/3.0/mlflow/users/permissions/grant", Rule::ManageResource),
    ("POST", "/3.0/mlflow/users/permissions/revoke", Rule::ManageResource),
    ("GET", "/3.0/mlflow/users/permissions/get", Rule::UserPermission),
    ("GET", "/3.0/mlflow/users/roles/list", Rule::SelfUser),
    // roles
    ("POST", "/3.0/mlflow/roles/create", Rule::Admin),
    ("GET", "/3.0/mlflow/roles/get", Rule::ViewRole),
    ("GET", "/3.0/mlflow/roles/list", Rule::ListRoles),
    ("PATCH", "/3.0/mlflow/roles/update", Rule::Admin),
    ("DELETE", "/3.0/mlflow/roles/delete", Rule::Admin),
    ("POST", "/3.0/mlflow/roles/permissions/add", Rule::Admin),
    ("DELETE", "/3.0/mlflow/roles/permissions/remove", Rule::Admin),
    ("GET", "/3.0/mlflow/roles/permissions/list", Rule::ViewRole),
    ("PATCH", "/3.0/mlflow/roles/permissions/update", Rule::Admin),
    ("POST", "/3.0/mlflow/roles/assign", Rule::Admin),
    ("DELETE", "/3.0/mlflow/roles/unassign", Rule::Admin),
    ("GET", "/3.0/mlflow/roles/users/list", Rule::Admin),
];

/// Routes outside `/api`: the UI's page, the version, GraphQL (whose inner calls pass this
/// layer again) and two artifact downloads.
#[rustfmt::skip]
const ROOT_RULES: &[(&str, &str, Rule)] = &[
    ("GET", "/", Rule::SignedIn),
    ("GET", "/version", Rule::SignedIn),
    ("GET", "/graphql", Rule::SignedIn),
    ("POST", "/graphql", Rule::SignedIn),
    ("GET", "/get-artifact", Rule::Run(Read)),
    ("GET", "/model-versions/get-artifact", Rule::ModelVersion(Read)),
];

/// Paths anyone may fetch: health checks, the UI's static files, and the server's
/// capabilities (MLflow's public `server-info`).
fn is_public(path: &str) -> bool {
    path == "/health"
        || path.starts_with("/static-files/")
        || path.starts_with("/assets/")
        || path == "/favicon.ico"
        || path == "/api/3.0/mlflow/server-info"
        || path == "/ajax-api/3.0/mlflow/server-info"
}

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (Some("**"), Some(seg)) => return !seg.is_empty(),
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The rule of a route, by method and path (without the static prefix).
pub fn rule_for(method: &Method, path: &str) -> Option<Rule> {
    let (table, rest) = match path
        .strip_prefix("/api")
        .or_else(|| path.strip_prefix("/ajax-api"))
    {
        Some(rest) if rest.starts_with('/') => (API_RULES, rest),
        _ => (ROOT_RULES, path),
    };
    let method = method.as_str();
    table
        .iter()
        .find(|(m, p, _)| *m == method && pattern_matches(p, rest))
        .map(|(_, _, r)| *r)
}

/// The caller's name and password from an `Authorization: Basic` header.
fn credentials(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// MLflow's answer to a caller who is not signed in.
fn unauthenticated() -> Response {
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.",
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"mlflow\""),
    );
    resp
}

/// The answer to an address that failed to sign in too often.
fn too_many_failures(wait: u64) -> Response {
    let mut resp = ApiError(Error::new(
        ErrorCode::REQUEST_LIMIT_EXCEEDED,
        format!("Too many failed sign-ins for this user from this address; try again in {wait} s"),
    ))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// MLflow's answer to a caller who may not do what they asked.
fn forbidden() -> Response {
    let mut resp = (StatusCode::FORBIDDEN, "Permission denied").into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// Signs the caller in, or `None` when the credentials are missing or wrong.
async fn sign_in(auth: &Auth, headers: &axum::http::HeaderMap) -> Result<Option<Caller>> {
    let Some((name, password)) = credentials(headers) else {
        return Ok(None);
    };
    let Some(user) = auth.authenticate(&name, &password).await? else {
        return Ok(None);
    };
    let grants = if user.is_admin {
        Arc::new(Vec::new())
    } else {
        auth.grants_of(&user).await?
    };
    Ok(Some(Caller {
        user,
        grants,
        default: auth.config.default_permission,
    }))
}

/// The layer: sign in, decide, run the route, then grant creators what they created.
pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(auth) = s.auth.clone() else {
        return next.run(req).await;
    };
    let prefix = s.config.static_prefix.trim_end_matches('/');
    let full = req.uri().path();
    let path = full
        .strip_prefix(prefix)
        .filter(|p| !prefix.is_empty() && (p.is_empty() || p.starts_with('/')))
        .map(|p| if p.is_empty() { "/" } else { p })
        .unwrap_or(full)
        .to_string();
    if is_public(&path) {
        return next.run(req).await;
    }
    // A call made inside the server (GraphQL's) carries the caller it was made for.
    let caller = match req.extensions().get::<Caller>().cloned() {
        Some(c) => c,
        None => {
            let ip = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let name = credentials(req.headers()).map(|(u, _)| u);
            let key = ip.zip(name);
            if let Some(wait) = key
                .as_ref()
                .and_then(|(ip, u)| auth.failures.blocked(*ip, u))
            {
                return too_many_failures(wait);
            }
            match sign_in(&auth, req.headers()).await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    if let Some((ip, u)) = &key {
                        auth.failures.failed(*ip, u);
                    }
                    return unauthenticated();
                }
                Err(e) => return ApiError(e).into_response(),
            }
        }
    };
    let rule = rule_for(req.method(), &path);
    let hook = rule.and_then(|r| after_hook(req.method(), &path, r));
    let needs_fields =
        hook.is_some() || (!caller.is_admin() && rule.is_some_and(Rule::needs_fields));
    let (mut req, fields) = if needs_fields {
        match read_fields(req).await {
            Ok(pair) => pair,
            Err(resp) => return resp,
        }
    } else {
        (req, None)
    };
    if !caller.is_admin() {
        let allowed = match rule {
            None => Ok(false),
            Some(rule) => decide(&s, &auth, &caller, rule, &path, fields.as_ref()).await,
        };
        match allowed {
            Ok(true) => {}
            Ok(false) => return forbidden(),
            Err(e) => return ApiError(e).into_response(),
        }
    }
    req.extensions_mut().insert(caller.clone());
    if let Some(f) = &fields {
        req.extensions_mut().insert(f.clone());
    }
    let resp = next.run(req).await;
    match hook {
        Some(hook) if resp.status().is_success() => {
            after(&auth, &caller, hook, fields.as_ref(), resp).await
        }
        _ => resp,
    }
}

/// Reads the request's parameters as its handler will (the query string of a GET, else
/// the JSON body), and hands them on so the body is parsed once.
async fn read_fields(req: Request) -> std::result::Result<(Request, Option<Fields>), Response> {
    use axum::extract::FromRequest;
    if req.method() == Method::GET {
        let f = Fields::from_query(req.uri().query().unwrap_or(""));
        return Ok((req, Some(f)));
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::request::MAX_JSON_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Err(ApiError(Error::invalid_param(format!(
                "The request body is larger than {} MiB",
                crate::request::MAX_JSON_BODY / (1024 * 1024)
            )))
            .into_response());
        }
    };
    let probe = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    // The handler answers a malformed request itself.
    let fields = Fields::from_request(probe, &()).await.ok();
    Ok((Request::from_parts(parts, Body::from(bytes)), fields))
}

fn param(fields: Option<&Fields>, name: &str) -> Result<String> {
    fields.ok_or_else(|| Error::missing(name))?.req_str(name)
}

/// Whether a caller who is not an administrator passes `rule`.
async fn decide(
    s: &AppState,
    auth: &AuthApp,
    caller: &Caller,
    rule: Rule,
    path: &str,
    fields: Option<&Fields>,
) -> Result<bool> {
    let run_requirement = |experiment_id: String, action: Action| {
        Requirement::on(RUN, "*", action).or_else(EXPERIMENT, experiment_id, action)
    };
    Ok(match rule {
        Rule::SignedIn => true,
        Rule::Admin => false,
        Rule::SelfUser => param(fields, "username")? == caller.user.username,
        Rule::Experiment(action) => {
            let id = param(fields, "experiment_id")?;
            caller.allows(&Requirement::on(EXPERIMENT, id, action))
        }
        Rule::ExperimentByName(action) => {
            let name = param(fields, "experiment_name")?;
            match s.store.get_experiment_by_name(&name).await? {
                Some(e) => caller.allows(&Requirement::on(EXPERIMENT, e.experiment_id, action)),
                // The handler answers that it does not exist.
                None => true,
            }
        }
        Rule::CreateExperiment => {
            caller.allows(&Requirement::on(EXPERIMENT, "*", Action::NotDenied))
        }
        Rule::CreateRun => {
            let id = param(fields, "experiment_id")?;
            caller.allows(&Requirement::on(EXPERIMENT, id, Update))
                && caller.allows(&Requirement::on(RUN, "*", Action::NotDenied))
        }
        Rule::Run(action) => {
            let f = fields.ok_or_else(|| Error::missing("run_id"))?;
            let run_id = f.req_str_any(&["run_id", "run_uuid"])?;
            let experiment = auth.run_experiment(s, &run_id).await?;
            caller.allows(&run_requirement(experiment, action))
        }
        Rule::Runs(key, action) => {
            let ids = fields
                .map(|f| f.str_list(key))
                .transpose()?
                .unwrap_or_default();
            for id in ids {
                let experiment = auth.run_experiment(s, &id).await?;
                if !caller.allows(&run_requirement(experiment, action)) {
                    return Ok(false);
                }
            }
            true
        }
        Rule::Experiments(action) => {
            let ids = fields
                .map(|f| f.str_list("experiment_ids"))
                .transpose()?
                .unwrap_or_default();
            ids.iter()
                .all(|id| caller.allows(&Requirement::on(EXPERIMENT, id.clone(), action)))
        }
        Rule::RegisteredModel(action) => {
            let name = param(fields, "name")?;
            caller.allows(&Requirement::on(REGISTERED_MODEL, name, action))
        }
        Rule::CreateRegisteredModel => {
            caller.allows(&Requirement::on(REGISTERED_MODEL, "*", Action::NotDenied))
        }
        Rule::ModelVersion(action) => {
            let name = param(fields, "name")?;
            caller.allows(&Requirement::on(MODEL_VERSION, "*", action).or_else(
                REGISTERED_MODEL,
                name,
                action,
            ))
        }
        Rule::LoggedModel(action) => {
            let id = path
                .split('/')
                .skip_while(|s| *s != "logged-models")
                .nth(1)
                .unwrap_or_default();
            let experiment = auth.model_experiment(s, id).await?;
            caller.allows(
                &Requirement::on(LOGGED_MODEL, "*", action).or_else(EXPERIMENT, experiment, action),
            )
        }
        Rule::ArtifactPath(action) => {
            let rest = path
                .split_once("/mlflow-artifacts/")
                .map(|(_, r)| r)
                .unwrap_or_default();
            let rest = [
                "artifacts/",
                "mpu/create/",
                "mpu/upload/",
                "mpu/complete/",
                "mpu/abort/",
                "presigned/",
            ]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
            .unwrap_or_default();
            artifact_allowed(caller, rest, action)
        }
        Rule::ArtifactList => {
            let path = fields
                .map(|f| f.opt_str("path"))
                .transpose()?
                .flatten()
                .unwrap_or_default();
            artifact_allowed(caller, &path, Read)
        }
        Rule::ManageResource => {
            let f = fields.ok_or_else(|| Error::missing("resource_type"))?;
            let t = f.req_str("resource_type")?;
            let id = f.req_str("resource_id")?;
            policy::reject_workspace_type(&t)?;
            let t = policy::check_resource_type(&t)?;
            if id == "*" {
                false
            } else {
                supported_for_users(t)?;
                policy::effective(&caller.grants, t, &id, caller.default).can_manage()
            }
        }
        Rule::ViewRole => {
            let id = crate::handlers::roles::int_param(
                fields.ok_or_else(|| Error::missing("role_id"))?,
                "role_id",
            )?;
            match auth.store.get_role(id).await {
                Ok(role) => auth
                    .store
                    .user_workspaces(caller.user.id)
                    .await?
                    .contains(&role.workspace),
                // Whether a role exists is not told to those who may not see it.
                Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => false,
                Err(e) => return Err(e),
            }
        }
        Rule::ListRoles => {
            let asked = fields
                .map(|f| f.str_list("workspace"))
                .transpose()?
                .unwrap_or_default();
            let mine = auth.store.user_workspaces(caller.user.id).await?;
            !asked.is_empty() && asked.iter().all(|w| mine.contains(w))
        }
        Rule::UserPermission => {
            let f = fields.ok_or_else(|| Error::missing("resource_type"))?;
            policy::reject_workspace_type(&f.req_str("resource_type")?)?;
            f.req_str("username")? == caller.user.username
        }
    })
}

/// The resource types the per-user grant routes take one resource of.
pub fn supported_for_users(t: &str) -> Result<()> {
    if t == EXPERIMENT || t == REGISTERED_MODEL {
        return Ok(());
    }
    Err(Error::invalid_param(format!(
        "resource_type '{t}' is not supported by the per-user permission convenience APIs."
    )))
}

/// Proxied artifacts live under `<experiment id>/...`; other paths are for administrators.
fn artifact_allowed(caller: &Caller, path: &str, action: Action) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    caller.allows(&Requirement::on(EXPERIMENT, first, action))
}

/// What happens after a successful write, as MLflow's after-request handlers do.
#[derive(Debug, Clone, Copy)]
enum Hook {
    /// The creator of an experiment manages it.
    ExperimentCreated,
    /// The creator of a registered model manages it.
    ModelCreated,
    /// Grants on a deleted registered model go with it.
    ModelDeleted,
    /// Grants on a renamed registered model follow it.
    ModelRenamed,
}

fn after_hook(method: &Method, path: &str, rule: Rule) -> Option<Hook> {
    let tail = path.rsplit_once("/2.0/mlflow/").map(|(_, t)| t)?;
    match (rule, method.as_str(), tail) {
        (Rule::CreateExperiment, "POST", "experiments/create") => Some(Hook::ExperimentCreated),
        (Rule::CreateRegisteredModel, "POST", "registered-models/create") => {
            Some(Hook::ModelCreated)
        }
        (_, "DELETE", "registered-models/delete") => Some(Hook::ModelDeleted),
        (_, "POST", "registered-models/rename") => Some(Hook::ModelRenamed),
        _ => None,
    }
}

async fn after(
    auth: &Auth,
    caller: &Caller,
    hook: Hook,
    fields: Option<&Fields>,
    resp: Response,
) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, 16 << 20).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError(Error::internal(format!("reading a response: {e}"))).into_response();
        }
    };
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let name = |k: &str| fields.and_then(|f| f.opt_str(k).ok().flatten());
    let me = &caller.user.username;
    let outcome = match hook {
        Hook::ExperimentCreated => match json["experiment_id"].as_str() {
            Some(id) => grant_creator(auth, me, EXPERIMENT, id).await,
            None => Ok(()),
        },
        Hook::ModelCreated => match json["registered_model"]["name"].as_str() {
            Some(n) => grant_creator(auth, me, REGISTERED_MODEL, n).await,
            None => Ok(()),
        },
        Hook::ModelDeleted => match name("name") {
            Some(n) => auth.store.delete_grants_for(REGISTERED_MODEL, &n).await,
            None => Ok(()),
        },
        Hook::ModelRenamed => match (name("name"), name("new_name")) {
            (Some(old), Some(new)) => {
                auth.store
                    .rename_grants_for(REGISTERED_MODEL, &old, &new)
                    .await
            }
            _ => Ok(()),
        },
    };
    if let Err(e) = outcome {
        return ApiError(e).into_response();
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn grant_creator(auth: &Auth, user: &str, t: &str, id: &str) -> Result<()> {
    match auth.store.grant(user, t, id, "MANAGE").await {
        Err(e) if e.code == ErrorCode::RESOURCE_ALREADY_EXISTS => Ok(()),
        other => other,
    }
}

/// A search page filtered to what `keep` lets the caller see, refilled from the following
/// pages up to `max` items. The page token stays an offset into the unfiltered results
/// (the rows read so far), as MLflow's filtered searches make it.
pub async fn filtered_page<T, F, Fut>(
    token: Option<String>,
    max: i64,
    mut fetch: F,
    keep: impl Fn(&T) -> bool,
) -> Result<ferroflow_core::entities::Page<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<ferroflow_core::entities::Page<T>>>,
{
    use ferroflow_core::page_token::{decode_offset, encode_offset};
    let mut offset = decode_offset(token.as_deref())?;
    let mut next = token;
    let mut items = Vec::new();
    loop {
        let page = fetch(next.take()).await?;
        let read = page.items.len();
        let mut consumed = 0;
        for item in page.items {
            consumed += 1;
            if keep(&item) {
                items.push(item);
                if items.len() as i64 >= max {
                    break;
                }
            }
        }
        offset += consumed as i64;
        let more = consumed < read || page.next_page_token.is_some();
        if !more || read == 0 || items.len() as i64 >= max {
            return Ok(ferroflow_core::entities::Page {
                items,
                next_page_token: more.then(|| encode_offset(offset)),
            });
        }
        next = Some(encode_offset(offset));
    }
}

/// A search whose pages an offset token walks.
pub trait PagedSearch: Clone {
    fn page_token(&self) -> Option<String>;
    fn max_results(&self) -> i64;
    /// The same search from another page.
    fn at(&self, token: Option<String>) -> Self;
}

/// The store's searches with an offset page token.
macro_rules! paged_search {
    ($($search:ty),*) => {$(
        impl PagedSearch for $search {
            fn page_token(&self) -> Option<String> {
                self.page_token.clone()
            }
            fn max_results(&self) -> i64 {
                self.max_results
            }
            fn at(&self, page_token: Option<String>) -> Self {
                Self {
                    page_token,
                    ..self.clone()
                }
            }
        }
    )*};
}
paged_search!(
    ferroflow_store::ExperimentSearch,
    ferroflow_store::RegistrySearch
);

/// The page of `search` the caller may see: the store's own page for administrators and
/// on a server without auth, else only what `keep` lets the caller read, refilled from the
/// following pages ([`filtered_page`]).
pub async fn visible_page<S, T, F, Fut>(
    caller: Option<&Caller>,
    search: S,
    fetch: F,
    keep: impl Fn(&Caller, &T) -> bool,
) -> Result<ferroflow_core::entities::Page<T>>
where
    S: PagedSearch,
    F: Fn(S) -> Fut,
    Fut: std::future::Future<Output = Result<ferroflow_core::entities::Page<T>>>,
{
    match caller.filter(|c| !c.is_admin()) {
        None => fetch(search).await,
        Some(c) => {
            filtered_page(
                search.page_token(),
                search.max_results(),
                |token| fetch(search.at(token)),
                |item| keep(c, item),
            )
            .await
        }
    }
}

/// The experiment ids of a search the caller may read (all of them with no caller).
pub fn readable_experiments(caller: Option<&Caller>, ids: Vec<String>) -> Vec<String> {
    match caller {
        Some(c) if !c.is_admin() => ids
            .into_iter()
            .filter(|id| {
                c.can_read_experiment(id) && c.allows(&Requirement::on(RUN, "*", Action::NotDenied))
            })
            .collect(),
        _ => ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns() {
        let get = Method::GET;
        assert_eq!(
            rule_for(&get, "/api/2.0/mlflow/experiments/get"),
            Some(Rule::Experiment(Read))
        );
        assert_eq!(
            rule_for(
                &get,
                "/ajax-api/2.0/mlflow/logged-models/m-1/artifacts/files"
            ),
            Some(Rule::LoggedModel(Read))
        );
        assert_eq!(
            rule_for(
                &Method::PUT,
                "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/x.txt"
            ),
            Some(Rule::ArtifactPath(Update))
        );
        assert_eq!(
            rule_for(&get, "/api/2.0/mlflow/experiments/get/extra"),
            None
        );
        assert_eq!(rule_for(&get, "/api/2.0/mlflow-artifacts/artifacts/"), None);
        assert_eq!(rule_for(&get, "/"), Some(Rule::SignedIn));
        assert_eq!(rule_for(&Method::DELETE, "/"), None);
    }

    #[test]
    fn basic_credentials() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "Basic YWxpY2U6cHc6d2l0aDpjb2xvbnM=".parse().unwrap(),
        );
        assert_eq!(
            credentials(&h),
            Some(("alice".into(), "pw:with:colons".into()))
        );
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(credentials(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(credentials(&h), None);
    }

    #[test]
    fn artifact_paths_name_an_experiment() {
        let c = Caller {
            user: User {
                id: 2,
                username: "u".into(),
                password_hash: String::new(),
                is_admin: false,
            },
            grants: Arc::new(vec![Grant::new(EXPERIMENT, "7", Permission::NoPermissions)]),
            default: Permission::Read,
        };
        assert!(artifact_allowed(&c, "3/abc/artifacts/x", Read));
        assert!(!artifact_allowed(&c, "3/abc/artifacts/x", Update));
        assert!(!artifact_allowed(&c, "../etc", Read));
        assert!(!artifact_allowed(&c, "", Read));
    }
}
