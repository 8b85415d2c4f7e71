//! The basic-auth app's own routes: users, and per-user permissions (MLflow's
//! `users/*` under `/api/2.0/mlflow` and `users/permissions/*` under `/api/3.0/mlflow`).
//! Who may call each is decided by the auth layer's rule table.

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferroflow_auth::policy::{self, Grant};
use ferroflow_auth::store::{Role, RolePermission};
use ferroflow_auth::{Auth, User};
use ferroflow_core::{Error, Result};
use serde_json::{Value, json};

use super::{empty, json};
use crate::auth::Caller;
use crate::request::Fields;
use crate::{ApiResult, AppState};

pub(crate) fn auth(s: &AppState) -> Result<&Auth> {
    s.auth
        .as_deref()
        .map(|a| &a.auth)
        .ok_or_else(|| Error::internal("the basic-auth app is not enabled"))
}

fn user_json(u: &User) -> Value {
    json!({ "id": u.id, "is_admin": u.is_admin, "username": u.username })
}

pub(crate) fn role_json(r: &Role) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "workspace": r.workspace,
        "description": r.description,
        "permissions": r.permissions.iter().map(role_permission_json).collect::<Vec<_>>(),
    })
}

pub(crate) fn role_permission_json(p: &RolePermission) -> Value {
    json!({
        "id": p.id,
        "role_id": p.role_id,
        "resource_type": p.grant.resource_type,
        "resource_pattern": p.grant.pattern,
        "permission": p.grant.permission,
    })
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

pub(crate) async fn require_user(a: &Auth, username: &str) -> Result<User> {
    a.store
        .get_user(username)
        .await?
        .ok_or_else(|| Error::not_found(format!("User with username={username} not found")))
}

pub async fn create(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    f: Result<Fields, crate::ApiError>,
) -> ApiResult<Response> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().unwrap_or("").trim() == "application/json");
    let Some(f) = f.ok().filter(|_| is_json) else {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "Invalid content type. Must be application/json",
        ));
    };
    let username = f.req_str("username")?;
    let password = f.req_str("password")?;
    if username.is_empty() || password.is_empty() {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "Username and password cannot be empty.",
        ));
    }
    let user = auth(&s)?
        .store
        .create_user(&username, &password, false)
        .await?;
    Ok(json(&json!({ "user": user_json(&user) })))
}

pub async fn get(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let user = require_user(auth(&s)?, &f.req_str("username")?).await?;
    Ok(json(&json!({ "user": user_json(&user) })))
}

pub async fn current(Extension(caller): Extension<Caller>) -> ApiResult<Response> {
    Ok(json(
        &json!({ "is_basic_auth": true, "user": user_json(&caller.user) }),
    ))
}

pub async fn list(State(s): State<AppState>) -> ApiResult<Response> {
    let users = auth(&s)?.store.list_users_with_roles().await?;
    let users: Vec<Value> = users
        .iter()
        .map(|(u, roles)| {
            let mut v = user_json(u);
            v["roles"] = roles.iter().map(role_json).collect();
            v
        })
        .collect();
    Ok(json(&json!({ "users": users })))
}

pub async fn update_password(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    f: Fields,
) -> ApiResult<Response> {
    let a = auth(&s)?;
    let username = f.req_str("username")?;
    let password = f.req_str("password")?;
    if username == caller.user.username {
        // Changing one's own password takes the current one, so a borrowed session
        // cannot lock its owner out.
        let current = f.opt_str("current_password")?.unwrap_or_default();
        if current.is_empty() {
            return Err(Error::invalid_param(
                "Current password is required when changing your own password.",
            )
            .into());
        }
        if a.authenticate(&username, &current).await?.is_none() {
            return Err(Error::invalid_param("Current password does not match.").into());
        }
        if password == current {
            return Err(Error::invalid_param(
                "New password must differ from the current password.",
            )
            .into());
        }
    }
    a.store.update_password(&username, &password).await?;
    a.forget(&username);
    Ok(empty())
}

pub async fn update_admin(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let username = f.req_str("username")?;
    let is_admin = match f.raw("is_admin") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("true") => true,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(Error::invalid_param("Parameter 'is_admin' must be a boolean.").into());
        }
        None => return Err(Error::missing("is_admin").into()),
    };
    a.store.update_admin(&username, is_admin).await?;
    a.forget(&username);
    Ok(empty())
}

pub async fn delete(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    f: Fields,
) -> ApiResult<Response> {
    let a = auth(&s)?;
    let username = f.req_str("username")?;
    if username == caller.user.username {
        return Err(Error::bad_request(
            "Users cannot delete their own account. Ask another admin to delete this user instead.",
        )
        .into());
    }
    a.store.delete_user(&username).await?;
    a.forget(&username);
    Ok(empty())
}

fn resource(f: &Fields) -> Result<(String, String)> {
    Ok((f.req_str("resource_type")?, f.req_str("resource_id")?))
}

pub async fn grant(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let username = f.req_str("username")?;
    let (t, id) = resource(&f)?;
    let permission = f.req_str("permission")?;
    require_user(a, &username).await?;
    a.store.grant(&username, &t, &id, &permission).await?;
    Ok(empty())
}

pub async fn revoke(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let username = f.req_str("username")?;
    let (t, id) = resource(&f)?;
    require_user(a, &username).await?;
    a.store.revoke(&username, &t, &id).await?;
    Ok(empty())
}

/// The permission a user has on one resource, as the layer would decide it.
pub async fn get_permission(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let username = f.req_str("username")?;
    let (t, id) = resource(&f)?;
    let user = require_user(a, &username).await?;
    policy::reject_workspace_type(&t)?;
    let t = policy::check_resource_type(&t)?;
    if id != "*" {
        crate::auth::supported_for_users(t)?;
    }
    let grants = a.store.grants(user.id).await?;
    let p = policy::effective(&grants, t, &id, a.config.default_permission);
    Ok(json(
        &json!({ "allowed": p.can_use(), "permission": p.name() }),
    ))
}

fn permission_rows(roles: &[Role]) -> Vec<Value> {
    roles
        .iter()
        .flat_map(|r| {
            r.permissions.iter().map(move |p| {
                let Grant {
                    resource_type,
                    pattern,
                    permission,
                } = &p.grant;
                json!({
                    "role_id": r.id,
                    "role_name": r.name,
                    "workspace": r.workspace,
                    "resource_type": resource_type,
                    "resource_pattern": pattern,
                    "permission": permission,
                })
            })
        })
        .collect()
}

async fn permissions_of(a: &Auth, username: &str) -> Result<Value> {
    let user = require_user(a, username).await?;
    let roles = a.store.list_user_roles(user.id).await?;
    Ok(json!({ "is_admin": user.is_admin, "permissions": permission_rows(&roles) }))
}

pub async fn current_permissions(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    Ok(json(
        &permissions_of(auth(&s)?, &caller.user.username).await?,
    ))
}

pub async fn list_permissions(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    Ok(json(
        &permissions_of(auth(&s)?, &f.req_str("username")?).await?,
    ))
}
