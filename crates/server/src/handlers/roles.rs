//! The basic-auth app's role routes (`/api/3.0/mlflow/roles/*`, `users/roles/list`): roles,
//! the grants they carry, and who holds them.

use axum::extract::State;
use axum::response::Response;
use ferroflow_auth::store::Assignment;
use ferroflow_core::{Error, Result};
use serde_json::{Value, json};

use super::users::{auth, require_user, role_json, role_permission_json};
use super::{empty, json};
use crate::request::Fields;
use crate::{ApiResult, AppState};

/// An integer parameter, refused as MLflow refuses one that is not.
pub(crate) fn int_param(f: &Fields, name: &str) -> Result<i64> {
    let bad = |shown: String| {
        Error::invalid_param(format!(
            "Parameter '{name}' must be an integer. Got: {shown}"
        ))
    };
    match f.raw(name) {
        None => Err(Error::missing(name)),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| bad(n.to_string())),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad(format!("'{s}'"))),
        Some(other) => Err(bad(other.to_string())),
    }
}

fn nonempty_string(f: &Fields, name: &str, message: &str) -> Result<String> {
    match f.raw(name) {
        None => Err(Error::missing(name)),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(_) => Err(Error::invalid_param(message)),
    }
}

fn optional_string(f: &Fields, name: &str, message: &str) -> Result<Option<String>> {
    match f.raw(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid_param(message)),
    }
}

fn assignment_json(a: &Assignment) -> Value {
    json!({ "id": a.id, "user_id": a.user_id, "role_id": a.role_id })
}

pub async fn create(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let name = nonempty_string(&f, "name", "Role name cannot be empty.")?;
    let workspace = nonempty_string(&f, "workspace", "Workspace cannot be empty.")?;
    let description = optional_string(
        &f,
        "description",
        "Role description must be a string or null.",
    )?;
    let role = auth(&s)?
        .store
        .create_role(&name, &workspace, description)
        .await?;
    Ok(json(&json!({ "role": role_json(&role) })))
}

pub async fn get(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let role = auth(&s)?.store.get_role(int_param(&f, "role_id")?).await?;
    Ok(json(&json!({ "role": role_json(&role) })))
}

pub async fn list(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let workspaces = f.str_list("workspace")?;
    if workspaces.iter().any(|w| w.trim().is_empty()) {
        return Err(Error::invalid_param(
            "Parameter 'workspace' must be a non-empty string when provided.",
        )
        .into());
    }
    let roles = auth(&s)?
        .store
        .list_roles((!workspaces.is_empty()).then_some(workspaces))
        .await?;
    Ok(json(
        &json!({ "roles": roles.iter().map(role_json).collect::<Vec<_>>() }),
    ))
}

pub async fn update(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = int_param(&f, "role_id")?;
    let name = optional_string(&f, "name", "Role name cannot be empty.")?;
    let description = optional_string(&f, "description", "Role description must be a string.")?;
    if name.is_none() && description.is_none() {
        return Err(Error::invalid_param(
            "At least one of 'name' or 'description' must be provided to update a role.",
        )
        .into());
    }
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(Error::invalid_param("Role name cannot be empty.").into());
    }
    let role = auth(&s)?.store.update_role(id, name, description).await?;
    Ok(json(&json!({ "role": role_json(&role) })))
}

pub async fn delete(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    auth(&s)?
        .store
        .delete_role(int_param(&f, "role_id")?)
        .await?;
    Ok(empty())
}

pub async fn add_permission(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let rp = auth(&s)?
        .store
        .add_role_permission(
            int_param(&f, "role_id")?,
            &f.req_str("resource_type")?,
            &f.req_str("resource_pattern")?,
            &f.req_str("permission")?,
        )
        .await?;
    Ok(json(
        &json!({ "role_permission": role_permission_json(&rp) }),
    ))
}

pub async fn remove_permission(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    auth(&s)?
        .store
        .remove_role_permission(int_param(&f, "role_permission_id")?)
        .await?;
    Ok(empty())
}

pub async fn list_permissions(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let perms = auth(&s)?
        .store
        .list_role_permissions(int_param(&f, "role_id")?)
        .await?;
    Ok(json(&json!({
        "role_permissions": perms.iter().map(role_permission_json).collect::<Vec<_>>()
    })))
}

pub async fn update_permission(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let rp = auth(&s)?
        .store
        .update_role_permission(
            int_param(&f, "role_permission_id")?,
            &f.req_str("permission")?,
        )
        .await?;
    Ok(json(
        &json!({ "role_permission": role_permission_json(&rp) }),
    ))
}

pub async fn assign(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let user = require_user(a, &f.req_str("username")?).await?;
    let assignment = a
        .store
        .assign_role(user.id, int_param(&f, "role_id")?)
        .await?;
    Ok(json(&json!({ "assignment": assignment_json(&assignment) })))
}

pub async fn unassign(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let user = require_user(a, &f.req_str("username")?).await?;
    a.store
        .unassign_role(user.id, int_param(&f, "role_id")?)
        .await?;
    Ok(empty())
}

pub async fn user_roles(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let a = auth(&s)?;
    let user = require_user(a, &f.req_str("username")?).await?;
    let roles = a.store.list_user_roles(user.id).await?;
    Ok(json(
        &json!({ "roles": roles.iter().map(role_json).collect::<Vec<_>>() }),
    ))
}

pub async fn role_users(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let assignments = auth(&s)?
        .store
        .list_role_users(int_param(&f, "role_id")?)
        .await?;
    Ok(json(&json!({
        "assignments": assignments.iter().map(assignment_json).collect::<Vec<_>>()
    })))
}
