//! Users and grants on MLflow's auth schema (alembic head `f1a2b3c4d5e6` of 3.17.2), so a
//! `basic_auth.db` moves between `mlflow server --app-name basic-auth` and Ferroflow as is.
//!
//! A user's grants are rows of `role_permissions` on a role named `__user_<id>__` in the
//! `default` workspace, which the user is assigned to; roles created by administrators
//! hold grants the same way. The legacy per-type tables (`experiment_permissions`, ...) are
//! kept, as MLflow keeps them, and emptied of a deleted user's rows.

use ferroflow_core::{Error, Result};
use ferroflow_store::sql::conn::{Conn, Location, Pool, Row, Sql, parse_database_uri};

use crate::password;
use crate::policy::{self, Grant};

pub use crate::migrate::{AUTH_HEAD_REVISION, DEFAULT_WORKSPACE};
/// The tables MLflow keeps from before roles; a deleted user's rows go from them too.
const LEGACY_TABLES: [&str; 6] = [
    "experiment_permissions",
    "registered_model_permissions",
    "scorer_permissions",
    "gateway_secret_permissions",
    "gateway_endpoint_permissions",
    "gateway_model_definition_permissions",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
}

impl User {
    fn from_row(r: &Row) -> Result<User> {
        Ok(User {
            id: r.i64("id")?,
            username: r.str("username")?,
            password_hash: r.str("password_hash")?,
            is_admin: r.bool("is_admin")?,
        })
    }
}

/// A role with its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub workspace: String,
    pub description: Option<String>,
    pub permissions: Vec<RolePermission>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RolePermission {
    pub id: i64,
    pub role_id: i64,
    pub grant: Grant,
}

pub struct AuthStore {
    pool: Pool,
    /// Counts this process's writes, so that what was cached before one is not used after.
    generation: std::sync::atomic::AtomicU64,
}

pub(crate) fn synthetic_role(user_id: i64) -> String {
    format!("__user_{user_id}__")
}

fn user_not_found(username: &str) -> Error {
    Error::not_found(format!("User with username={username} not found"))
}

/// Runs `f` in one write transaction on `c`.
fn transaction<T>(c: &dyn Conn, f: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
    c.execute(&Sql::new(c.dialect().begin_write()))?;
    match f(c) {
        Ok(v) => {
            c.execute(&Sql::new("COMMIT"))?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute(&Sql::new("ROLLBACK"));
            Err(e)
        }
    }
}

fn get_user(c: &dyn Conn, username: &str) -> Result<Option<User>> {
    c.query_opt(
        &Sql::new("SELECT id, username, password_hash, is_admin FROM users WHERE username = ?")
            .with(username),
    )?
    .map(|r| User::from_row(&r))
    .transpose()
}

fn require_user(c: &dyn Conn, username: &str) -> Result<User> {
    get_user(c, username)?.ok_or_else(|| user_not_found(username))
}

impl AuthStore {
    /// Opens the auth database at `uri` (SQLite or PostgreSQL), creating MLflow's auth schema
    /// in an empty one; a MySQL auth database MLflow made is served, not created.
    pub async fn open(uri: &str) -> Result<AuthStore> {
        if let Location::SqliteFile(path) = parse_database_uri(uri)?
            && let Some(parent) = std::path::Path::new(&path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::invalid_param(format!(
                    "Cannot create the directory of the auth database {}: {e}",
                    parent.display()
                ))
            })?;
        }
        let shown = ferroflow_core::uri::without_password(uri);
        let (_, pool) = tokio::task::spawn_blocking({
            let uri = uri.to_string();
            move || ferroflow_store::sql::conn::pool(&uri, 4)
        })
        .await
        .map_err(|e| Error::internal(format!("opening the auth database failed: {e}")))??;
        let outcome = pool
            .read(move |c| transaction(c, |c| crate::migrate::migrate(c, &shown)))
            .await?;
        if let crate::migrate::Outcome::Upgraded { from } = outcome {
            tracing::info!(from = %from, to = AUTH_HEAD_REVISION, "upgraded the auth database to MLflow 3.17.2's auth schema");
        }
        Ok(AuthStore {
            pool,
            generation: Default::default(),
        })
    }

    /// How many writes this process has made; it changes with every write.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Runs a write, and counts it whether or not it succeeds.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Conn) -> Result<T> + Send + 'static,
    {
        let out = self.pool.read(f).await;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        out
    }

    pub async fn get_user(&self, username: &str) -> Result<Option<User>> {
        let username = username.to_string();
        self.pool.read(move |c| get_user(c, &username)).await
    }

    /// Every user with the roles they are assigned, in id order.
    pub async fn list_users_with_roles(&self) -> Result<Vec<(User, Vec<Role>)>> {
        self.pool
            .read(|c| {
                let users = c
                    .query(&Sql::new(
                        "SELECT id, username, password_hash, is_admin FROM users ORDER BY id",
                    ))?
                    .iter()
                    .map(User::from_row)
                    .collect::<Result<Vec<_>>>()?;
                let roles = all_roles(c)?;
                let assignments = c.query(&Sql::new(
                    "SELECT user_id, role_id FROM user_role_assignments ORDER BY id",
                ))?;
                Ok(users
                    .into_iter()
                    .map(|u| {
                        let mine = assignments
                            .iter()
                            .filter(|a| a.i64("user_id").ok() == Some(u.id))
                            .filter_map(|a| {
                                let id = a.i64("role_id").ok()?;
                                roles.iter().find(|r| r.id == id).cloned()
                            })
                            .collect();
                        (u, mine)
                    })
                    .collect())
            })
            .await
    }

    /// A new user; the password must meet MLflow's policy.
    pub async fn create_user(&self, username: &str, pw: &str, is_admin: bool) -> Result<User> {
        if username.is_empty() {
            return Err(Error::invalid_param("Username cannot be empty."));
        }
        password::check_policy(pw)?;
        let (username, pw) = (username.to_string(), pw.to_string());
        self.write(move |c| {
            let hash = password::hash(&pw)?;
            insert_unique(
                c,
                Sql::new("INSERT INTO users (username, password_hash, is_admin) VALUES (?, ?, ?)")
                    .with(username.as_str())
                    .with(hash.as_str())
                    .with(is_admin as i64),
                |c| get_user(c, &username).map(|u| u.is_some()),
                || format!("User (username={username}) already exists."),
            )?;
            require_user(c, &username)
        })
        .await
    }

    pub async fn update_password(&self, username: &str, pw: &str) -> Result<()> {
        let (username, pw) = (username.to_string(), pw.to_string());
        self.write(move |c| {
            require_user(c, &username)?;
            password::check_policy(&pw)?;
            let hash = password::hash(&pw)?;
            c.execute(
                &Sql::new("UPDATE users SET password_hash = ? WHERE username = ?")
                    .with(hash)
                    .with(username.as_str()),
            )?;
            Ok(())
        })
        .await
    }

    pub async fn update_admin(&self, username: &str, is_admin: bool) -> Result<()> {
        let username = username.to_string();
        self.write(move |c| {
            require_user(c, &username)?;
            c.execute(
                &Sql::new("UPDATE users SET is_admin = ? WHERE username = ?")
                    .with(is_admin as i64)
                    .with(username.as_str()),
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes a user with its own grants, its role assignments and its legacy rows.
    pub async fn delete_user(&self, username: &str) -> Result<()> {
        let username = username.to_string();
        self.write(move |c| {
            transaction(c, |c| {
                let user = require_user(c, &username)?;
                let own = "SELECT id FROM roles WHERE name = ?";
                for sql in [
                    format!("DELETE FROM role_permissions WHERE role_id IN ({own})"),
                    format!("DELETE FROM user_role_assignments WHERE role_id IN ({own})"),
                    "DELETE FROM roles WHERE name = ?".to_string(),
                ] {
                    c.execute(&Sql::new(sql).with(synthetic_role(user.id)))?;
                }
                c.execute(
                    &Sql::new("DELETE FROM user_role_assignments WHERE user_id = ?").with(user.id),
                )?;
                for t in LEGACY_TABLES {
                    c.execute(
                        &Sql::new(format!("DELETE FROM {t} WHERE user_id = ?")).with(user.id),
                    )?;
                }
                c.execute(&Sql::new("DELETE FROM users WHERE id = ?").with(user.id))?;
                Ok(())
            })
        })
        .await
    }

    /// The grants a user holds through any role in the default workspace.
    pub async fn grants(&self, user_id: i64) -> Result<Vec<Grant>> {
        self.pool
            .read(move |c| {
                c.query(
                    &Sql::new(
                        "SELECT rp.resource_type, rp.resource_pattern, rp.permission FROM role_permissions rp \
                         JOIN roles r ON r.id = rp.role_id \
                         JOIN user_role_assignments ura ON ura.role_id = r.id \
                         WHERE ura.user_id = ? AND r.workspace = ?",
                    )
                    .with(user_id)
                    .with(DEFAULT_WORKSPACE),
                )?
                .iter()
                .map(|r| {
                    Ok(Grant {
                        resource_type: r.str("resource_type")?,
                        pattern: r.str("resource_pattern")?,
                        permission: r.str("permission")?,
                    })
                })
                .collect()
            })
            .await
    }

    /// Grants `username` a level on a resource (`pattern` = its id, or `*`).
    pub async fn grant(
        &self,
        username: &str,
        resource_type: &str,
        pattern: &str,
        permission: &str,
    ) -> Result<()> {
        policy::reject_workspace_type(resource_type)?;
        policy::check_pattern(pattern, resource_type)?;
        policy::check_grantable(permission, resource_type)?;
        let (u, t, p, perm) = (
            username.to_string(),
            resource_type.to_string(),
            pattern.to_string(),
            permission.to_string(),
        );
        self.write(move |c| {
                transaction(c, |c| {
                    let user = require_user(c, &u)?;
                    let role = own_role(c, user.id, true)?.expect("created");
                    if grant_row(c, role, &t, &p)?.is_some() {
                        return Err(Error::already_exists(format!(
                            "Permission for user={u} on resource_type={t}, resource_id={p} already exists."
                        )));
                    }
                    c.execute(
                        &Sql::new(
                            "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?)",
                        )
                        .with(role)
                        .with(t.as_str())
                        .with(p.as_str())
                        .with(perm.as_str()),
                    )?;
                    Ok(())
                })
            })
            .await
    }

    /// Removes the grant `grant` made.
    pub async fn revoke(&self, username: &str, resource_type: &str, pattern: &str) -> Result<()> {
        policy::reject_workspace_type(resource_type)?;
        policy::check_resource_type(resource_type)?;
        let (u, t, p) = (
            username.to_string(),
            resource_type.to_string(),
            pattern.to_string(),
        );
        self.write(move |c| {
            transaction(c, |c| {
                let user = require_user(c, &u)?;
                let row = match own_role(c, user.id, false)? {
                    Some(role) => grant_row(c, role, &t, &p)?,
                    None => None,
                };
                let Some(id) = row else {
                    return Err(Error::not_found(format!(
                        "Permission for user={u} on resource_type={t}, resource_id={p} not found."
                    )));
                };
                c.execute(&Sql::new("DELETE FROM role_permissions WHERE id = ?").with(id))?;
                Ok(())
            })
        })
        .await
    }

    /// Grants that users hold on a resource that is gone (a deleted registered model):
    /// a new one of the same name must not inherit them. Administrators' roles are kept.
    pub async fn delete_grants_for(&self, resource_type: &str, pattern: &str) -> Result<()> {
        let (t, p) = (resource_type.to_string(), pattern.to_string());
        self.write(move |c| {
                c.execute(
                    &Sql::new(
                        "DELETE FROM role_permissions WHERE resource_type = ? AND resource_pattern = ? \
                         AND role_id IN (SELECT id FROM roles WHERE workspace = ? AND SUBSTR(name, 1, 7) = '__user_')",
                    )
                    .with(t)
                    .with(p)
                    .with(DEFAULT_WORKSPACE),
                )?;
                Ok(())
            })
            .await
    }

    /// Users' grants follow a renamed resource (a registered model).
    pub async fn rename_grants_for(&self, resource_type: &str, old: &str, new: &str) -> Result<()> {
        let (t, old, new) = (resource_type.to_string(), old.to_string(), new.to_string());
        self.write(move |c| {
                c.execute(
                    &Sql::new(
                        "UPDATE role_permissions SET resource_pattern = ? WHERE resource_type = ? AND resource_pattern = ? \
                         AND role_id IN (SELECT id FROM roles WHERE workspace = ? AND SUBSTR(name, 1, 7) = '__user_')",
                    )
                    .with(new)
                    .with(t)
                    .with(old)
                    .with(DEFAULT_WORKSPACE),
                )?;
                Ok(())
            })
            .await
    }
}

/// Runs an `INSERT` that a unique constraint may refuse, as MLflow's store does: the insert
/// is tried first (on PostgreSQL a refused one still takes its sequence number, so ids stay
/// those MLflow gives), and a refusal becomes `RESOURCE_ALREADY_EXISTS` with `message`.
fn insert_unique(
    c: &dyn Conn,
    insert: Sql,
    exists: impl Fn(&dyn Conn) -> Result<bool>,
    message: impl Fn() -> String,
) -> Result<()> {
    match transaction(c, |c| c.execute(&insert)) {
        Ok(_) => Ok(()),
        Err(e) => match exists(c) {
            Ok(true) => Err(Error::already_exists(message())),
            _ => Err(e),
        },
    }
}

/// The id of the user's own role in the default workspace, made (and assigned) on demand.
fn own_role(c: &dyn Conn, user_id: i64, create: bool) -> Result<Option<i64>> {
    match find_own_role(c, user_id, DEFAULT_WORKSPACE)? {
        Some(id) => Ok(Some(id)),
        None if create => make_own_role(c, user_id, DEFAULT_WORKSPACE).map(Some),
        None => Ok(None),
    }
}

/// The role `__user_<id>__` of `workspace` that holds a user's own grants.
pub(crate) fn find_own_role(c: &dyn Conn, user_id: i64, workspace: &str) -> Result<Option<i64>> {
    c.query_opt(
        &Sql::new("SELECT id FROM roles WHERE workspace = ? AND name = ?")
            .with(workspace)
            .with(synthetic_role(user_id)),
    )?
    .map(|r| r.i64("id"))
    .transpose()
}

/// Makes the user's own role in `workspace` if it is missing, and assigns it to them if it
/// is not yet.
pub(crate) fn make_own_role(c: &dyn Conn, user_id: i64, workspace: &str) -> Result<i64> {
    let id = match find_own_role(c, user_id, workspace)? {
        Some(id) => id,
        None => {
            c.execute(
                &Sql::new("INSERT INTO roles (name, workspace, description) VALUES (?, ?, NULL)")
                    .with(synthetic_role(user_id))
                    .with(workspace),
            )?;
            find_own_role(c, user_id, workspace)?
                .ok_or_else(|| Error::internal("a new role is missing"))?
        }
    };
    let assigned = c
        .query_opt(
            &Sql::new("SELECT id FROM user_role_assignments WHERE user_id = ? AND role_id = ?")
                .with(user_id)
                .with(id),
        )?
        .is_some();
    if !assigned {
        c.execute(
            &Sql::new("INSERT INTO user_role_assignments (user_id, role_id) VALUES (?, ?)")
                .with(user_id)
                .with(id),
        )?;
    }
    Ok(id)
}

fn grant_row(c: &dyn Conn, role: i64, t: &str, p: &str) -> Result<Option<i64>> {
    c.query_opt(
        &Sql::new(
            "SELECT id FROM role_permissions WHERE role_id = ? AND resource_type = ? AND resource_pattern = ?",
        )
        .with(role)
        .with(t)
        .with(p),
    )?
    .map(|r| r.i64("id"))
    .transpose()
}

/// The roles `cond` selects (a `WHERE` clause over `roles`, or nothing), with their grants.
fn roles(c: &dyn Conn, cond: Sql) -> Result<Vec<Role>> {
    let mut sql = Sql::new("SELECT id, name, workspace, description FROM roles ");
    sql.push(&cond.text);
    sql.args.extend(cond.args.iter().cloned());
    sql.push(" ORDER BY id");
    let mut roles = c
        .query(&sql)?
        .iter()
        .map(|r| {
            Ok(Role {
                id: r.i64("id")?,
                name: r.str("name")?,
                workspace: r.str("workspace")?,
                description: r.opt_str("description")?,
                permissions: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if roles.is_empty() {
        return Ok(roles);
    }
    // Only the grants of the roles selected.
    let mut of_these = Sql::new("WHERE role_id IN (SELECT id FROM roles ");
    of_these.push(&cond.text);
    of_these.args.extend(cond.args);
    of_these.push(")");
    for p in role_permissions(c, of_these)? {
        if let Some(role) = roles.iter_mut().find(|r| r.id == p.role_id) {
            role.permissions.push(p);
        }
    }
    Ok(roles)
}

fn all_roles(c: &dyn Conn) -> Result<Vec<Role>> {
    roles(c, Sql::new(""))
}

fn role_permissions(c: &dyn Conn, cond: Sql) -> Result<Vec<RolePermission>> {
    let mut sql = Sql::new(
        "SELECT id, role_id, resource_type, resource_pattern, permission FROM role_permissions ",
    );
    sql.push(&cond.text);
    sql.args.extend(cond.args);
    sql.push(" ORDER BY id");
    c.query(&sql)?
        .iter()
        .map(|row| {
            Ok(RolePermission {
                id: row.i64("id")?,
                role_id: row.i64("role_id")?,
                grant: Grant {
                    resource_type: row.str("resource_type")?,
                    pattern: row.str("resource_pattern")?,
                    permission: row.str("permission")?,
                },
            })
        })
        .collect()
}

fn role(c: &dyn Conn, id: i64) -> Result<Role> {
    roles(c, Sql::new("WHERE id = ?").with(id))?
        .pop()
        .ok_or_else(|| Error::not_found(format!("Role with id={id} not found")))
}

fn role_permission(c: &dyn Conn, id: i64) -> Result<RolePermission> {
    role_permissions(c, Sql::new("WHERE id = ?").with(id))?
        .pop()
        .ok_or_else(|| Error::not_found(format!("Role permission with id={id} not found")))
}

/// `__user_` names are the per-user roles'; nobody may take one.
fn check_role_name(name: &str) -> Result<()> {
    if name.starts_with("__user_") {
        return Err(Error::invalid_param(format!(
            "Role name '{name}' uses the reserved '__user_' prefix, which is held for the per-user permission representation. Choose a different name."
        )));
    }
    Ok(())
}

/// A user's membership of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: i64,
    pub user_id: i64,
    pub role_id: i64,
}

impl AuthStore {
    pub async fn create_role(
        &self,
        name: &str,
        workspace: &str,
        description: Option<String>,
    ) -> Result<Role> {
        check_role_name(name)?;
        let (name, workspace) = (name.to_string(), workspace.to_string());
        self.write(move |c| {
            insert_unique(
                c,
                Sql::new("INSERT INTO roles (name, workspace, description) VALUES (?, ?, ?)")
                    .with(name.as_str())
                    .with(workspace.as_str())
                    .with(description),
                |c| {
                    Ok(c.query_opt(
                        &Sql::new("SELECT id FROM roles WHERE workspace = ? AND name = ?")
                            .with(workspace.as_str())
                            .with(name.as_str()),
                    )?
                    .is_some())
                },
                || format!("Role (name={name}, workspace={workspace}) already exists."),
            )?;
            roles(
                c,
                Sql::new("WHERE workspace = ? AND name = ?")
                    .with(workspace.as_str())
                    .with(name.as_str()),
            )?
            .pop()
            .ok_or_else(|| Error::internal("a new role is missing"))
        })
        .await
    }

    pub async fn get_role(&self, id: i64) -> Result<Role> {
        self.pool.read(move |c| role(c, id)).await
    }

    /// Roles in the given workspaces, or every role.
    pub async fn list_roles(&self, workspaces: Option<Vec<String>>) -> Result<Vec<Role>> {
        self.pool
            .read(move |c| match workspaces {
                None => all_roles(c),
                Some(ws) if ws.is_empty() => Ok(Vec::new()),
                Some(ws) => {
                    let mut cond = Sql::new("WHERE workspace IN (");
                    for (i, w) in ws.into_iter().enumerate() {
                        cond.push(if i == 0 { "?" } else { ", ?" });
                        cond.arg(w);
                    }
                    cond.push(")");
                    roles(c, cond)
                }
            })
            .await
    }

    pub async fn update_role(
        &self,
        id: i64,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Role> {
        if let Some(n) = &name {
            check_role_name(n)?;
        }
        self.write(move |c| {
            transaction(c, |c| {
                let current = role(c, id)?;
                if let Some(n) = &name {
                    let taken = c.query_opt(
                        &Sql::new(
                            "SELECT id FROM roles WHERE workspace = ? AND name = ? AND id <> ?",
                        )
                        .with(current.workspace.as_str())
                        .with(n.as_str())
                        .with(id),
                    )?;
                    if taken.is_some() {
                        return Err(Error::already_exists(format!(
                            "Role with name={n} already exists in workspace={}",
                            current.workspace
                        )));
                    }
                    c.execute(
                        &Sql::new("UPDATE roles SET name = ? WHERE id = ?")
                            .with(n.as_str())
                            .with(id),
                    )?;
                }
                if let Some(d) = description {
                    c.execute(
                        &Sql::new("UPDATE roles SET description = ? WHERE id = ?")
                            .with(d)
                            .with(id),
                    )?;
                }
                role(c, id)
            })
        })
        .await
    }

    /// Deletes a role with its grants and assignments.
    pub async fn delete_role(&self, id: i64) -> Result<()> {
        self.write(move |c| {
            transaction(c, |c| {
                role(c, id)?;
                for sql in [
                    "DELETE FROM role_permissions WHERE role_id = ?",
                    "DELETE FROM user_role_assignments WHERE role_id = ?",
                    "DELETE FROM roles WHERE id = ?",
                ] {
                    c.execute(&Sql::new(sql).with(id))?;
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn add_role_permission(
        &self,
        role_id: i64,
        resource_type: &str,
        pattern: &str,
        permission: &str,
    ) -> Result<RolePermission> {
        policy::check_grantable(permission, resource_type)?;
        policy::check_pattern(pattern, resource_type)?;
        let (t, p, perm) = (
            resource_type.to_string(),
            pattern.to_string(),
            permission.to_string(),
        );
        self.write(move |c| {
            role(c, role_id)?;
            insert_unique(
                c,
                Sql::new(
                    "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?)",
                )
                .with(role_id)
                .with(t.as_str())
                .with(p.as_str())
                .with(perm.as_str()),
                |c| Ok(grant_row(c, role_id, &t, &p)?.is_some()),
                || {
                    format!(
                        "Role permission (role_id={role_id}, resource_type={t}, resource_pattern={p}) already exists."
                    )
                },
            )?;
            let id = grant_row(c, role_id, &t, &p)?
                .ok_or_else(|| Error::internal("a new role permission is missing"))?;
            role_permission(c, id)
        })
        .await
    }

    pub async fn get_role_permission(&self, id: i64) -> Result<RolePermission> {
        self.pool.read(move |c| role_permission(c, id)).await
    }

    pub async fn remove_role_permission(&self, id: i64) -> Result<()> {
        self.write(move |c| {
            role_permission(c, id)?;
            c.execute(&Sql::new("DELETE FROM role_permissions WHERE id = ?").with(id))?;
            Ok(())
        })
        .await
    }

    pub async fn list_role_permissions(&self, role_id: i64) -> Result<Vec<RolePermission>> {
        self.pool
            .read(move |c| {
                role(c, role_id)?;
                role_permissions(c, Sql::new("WHERE role_id = ?").with(role_id))
            })
            .await
    }

    pub async fn update_role_permission(
        &self,
        id: i64,
        permission: &str,
    ) -> Result<RolePermission> {
        let permission = permission.to_string();
        self.write(move |c| {
            transaction(c, |c| {
                let current = role_permission(c, id)?;
                policy::check_grantable(&permission, &current.grant.resource_type)?;
                c.execute(
                    &Sql::new("UPDATE role_permissions SET permission = ? WHERE id = ?")
                        .with(permission.as_str())
                        .with(id),
                )?;
                role_permission(c, id)
            })
        })
        .await
    }

    pub async fn assign_role(&self, user_id: i64, role_id: i64) -> Result<Assignment> {
        self.write(move |c| {
                transaction(c, |c| {
                    role(c, role_id)?;
                    let find = || {
                        c.query_opt(
                            &Sql::new("SELECT id FROM user_role_assignments WHERE user_id = ? AND role_id = ?")
                                .with(user_id)
                                .with(role_id),
                        )
                    };
                    if find()?.is_some() {
                        return Err(Error::already_exists(format!(
                            "User role assignment (user_id={user_id}, role_id={role_id}) already exists"
                        )));
                    }
                    c.execute(
                        &Sql::new("INSERT INTO user_role_assignments (user_id, role_id) VALUES (?, ?)")
                            .with(user_id)
                            .with(role_id),
                    )?;
                    let id = find()?
                        .ok_or_else(|| Error::internal("a new assignment is missing"))?
                        .i64("id")?;
                    Ok(Assignment { id, user_id, role_id })
                })
            })
            .await
    }

    pub async fn unassign_role(&self, user_id: i64, role_id: i64) -> Result<()> {
        self.write(move |c| {
            let n = c.execute(
                &Sql::new("DELETE FROM user_role_assignments WHERE user_id = ? AND role_id = ?")
                    .with(user_id)
                    .with(role_id),
            )?;
            if n == 0 {
                return Err(Error::not_found(format!(
                    "User role assignment (user_id={user_id}, role_id={role_id}) not found"
                )));
            }
            Ok(())
        })
        .await
    }

    pub async fn list_user_roles(&self, user_id: i64) -> Result<Vec<Role>> {
        self.pool
            .read(move |c| {
                roles(
                    c,
                    Sql::new(
                        "WHERE id IN (SELECT role_id FROM user_role_assignments WHERE user_id = ?)",
                    )
                    .with(user_id),
                )
            })
            .await
    }

    pub async fn list_role_users(&self, role_id: i64) -> Result<Vec<Assignment>> {
        self.pool
            .read(move |c| {
                role(c, role_id)?;
                c.query(
                    &Sql::new("SELECT id, user_id, role_id FROM user_role_assignments WHERE role_id = ? ORDER BY id")
                        .with(role_id),
                )?
                .iter()
                .map(|r| {
                    Ok(Assignment {
                        id: r.i64("id")?,
                        user_id: r.i64("user_id")?,
                        role_id: r.i64("role_id")?,
                    })
                })
                .collect()
            })
            .await
    }

    /// The workspaces the user holds a role in.
    pub async fn user_workspaces(&self, user_id: i64) -> Result<Vec<String>> {
        self.pool
            .read(move |c| {
                c.query(
                    &Sql::new(
                        "SELECT DISTINCT r.workspace FROM roles r JOIN user_role_assignments a ON a.role_id = r.id WHERE a.user_id = ?",
                    )
                    .with(user_id),
                )?
                .iter()
                .map(|r| r.str("workspace"))
                .collect()
            })
            .await
    }
}
