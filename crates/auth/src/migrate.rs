//! MLflow's auth schema, revision by revision, as its alembic migrations (3.17.2) make it.
//!
//! An empty database gets every step in order, as `mlflow server --app-name basic-auth`
//! does; a database at an older revision gets the steps after it, in one transaction, so a
//! team's `basic_auth.db` from any MLflow since 2.5 is upgraded in place at start-up, as the
//! reference upgrades it. A database from before MLflow 3.6 has the tables but no
//! `alembic_version_auth`: it is at the first revision, as MLflow stamps it.
//!
//! Each step's DDL is a file per dialect under `schema/`, written to give the same tables,
//! constraint names and indexes as MLflow's migration; the two data steps are code below.

use ferroflow_core::{Error, Result};
use ferroflow_store::sql::conn::{Conn, Dialect, Row, Sql, column_names, table_names};

use crate::store::{find_own_role, make_own_role, synthetic_role};

/// MLflow 3.17.2's auth schema revision.
pub const AUTH_HEAD_REVISION: &str = "f1a2b3c4d5e6";
/// Where a database from before MLflow 3.6 (no version table) stands.
const INITIAL_REVISION: &str = "8606fa83a998";
/// The workspace every grant lives in while workspaces are off (MLflow's default).
pub const DEFAULT_WORKSPACE: &str = "default";
/// Serializes schema work among replicas starting together on PostgreSQL.
const PG_SCHEMA_LOCK: i64 = 0x6666_6175_7468;

struct Step {
    revision: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    data: Option<fn(&dyn Conn) -> Result<()>>,
}

macro_rules! ddl {
    ($rev:literal) => {
        Step {
            revision: $rev,
            sqlite: include_str!(concat!("schema/sqlite/", $rev, ".sql")),
            postgres: include_str!(concat!("schema/postgres/", $rev, ".sql")),
            data: None,
        }
    };
}

/// MLflow's auth migrations, oldest first.
const STEPS: [Step; 7] = [
    ddl!("8606fa83a998"),
    ddl!("0965eb92f5f0"),
    ddl!("a1b2c3d4e5f6"),
    ddl!("2ed73881770d"),
    ddl!("c3d4e5f6a7b8"),
    Step {
        revision: "e5f6a7b8c9d0",
        sqlite: "",
        postgres: "",
        data: Some(legacy_grants_to_roles),
    },
    Step {
        revision: "f1a2b3c4d5e6",
        sqlite: "",
        postgres: "",
        data: Some(prompt_grants),
    },
];

const VERSION_TABLE_SQLITE: &str = "CREATE TABLE alembic_version_auth (\n\tversion_num VARCHAR(32) NOT NULL, \n\tCONSTRAINT alembic_version_auth_pkc PRIMARY KEY (version_num)\n)";
const VERSION_TABLE_POSTGRES: &str = "CREATE TABLE alembic_version_auth (version_num character varying(32) NOT NULL); \
     ALTER TABLE ONLY alembic_version_auth ADD CONSTRAINT alembic_version_auth_pkc PRIMARY KEY (version_num)";

/// What [`migrate`] did to the database.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Current,
    Created,
    Upgraded { from: String },
}

/// Brings the auth database on `c` to MLflow 3.17.2's revision inside the caller's
/// transaction, or refuses it (`shown` names it in messages) and changes nothing.
pub fn migrate(c: &dyn Conn, shown: &str) -> Result<Outcome> {
    if c.dialect() == Dialect::Postgres {
        c.query(
            &Sql::new("SELECT pg_advisory_xact_lock(?) IS NULL AS locked").with(PG_SCHEMA_LOCK),
        )?;
    }
    let tables = table_names(c)?;
    let has = |t: &str| tables.iter().any(|n| n == t);
    let version = if has("alembic_version_auth") {
        let version = c
            .query_opt(&Sql::new("SELECT version_num FROM alembic_version_auth"))?
            .map(|r| r.str("version_num"))
            .transpose()?;
        if version.is_none() {
            return Err(Error::invalid_state(format!(
                "The auth database {shown} has an empty alembic_version_auth: which MLflow auth revision it is at is unknown, and Ferroflow leaves it untouched"
            )));
        }
        version
    } else if has("users") {
        if !has("experiment_permissions") || !has("registered_model_permissions") {
            return Err(Error::invalid_state(format!(
                "{shown} has a users table but neither alembic_version_auth nor MLflow's permission tables: it is not an MLflow auth database"
            )));
        }
        None
    } else {
        if c.dialect() == Dialect::Mysql {
            return Err(Error::invalid_param(format!(
                "The auth database {shown} is empty, and MLflow 3.17.2's auth schema cannot be made on MySQL or MariaDB (its migrations give two foreign keys one name, which MySQL refuses, and so does `mlflow server --app-name basic-auth`). Keep the auth database in SQLite or PostgreSQL (database_uri)."
            )));
        }
        create_version_table(c)?;
        run_steps(c, &STEPS)?;
        set_version(c, None)?;
        return Ok(Outcome::Created);
    };
    let from = version.clone().unwrap_or_else(|| INITIAL_REVISION.into());
    if from == AUTH_HEAD_REVISION {
        return Ok(Outcome::Current);
    }
    let Some(at) = STEPS.iter().position(|s| s.revision == from) else {
        return Err(Error::invalid_state(format!(
            "The auth database {shown} is at auth revision {from}, which is not one of MLflow's up to 3.17.2 ({AUTH_HEAD_REVISION}); Ferroflow leaves it untouched"
        )));
    };
    if c.dialect() == Dialect::Mysql {
        return Err(Error::invalid_state(format!(
            "The auth database {shown} is at MLflow auth revision {from}, older than MLflow 3.17.2's {AUTH_HEAD_REVISION}, and Ferroflow upgrades auth databases on SQLite and PostgreSQL only"
        )));
    }
    if version.is_none() {
        create_version_table(c)?;
    }
    run_steps(c, &STEPS[at + 1..])?;
    set_version(c, version.as_deref())?;
    Ok(Outcome::Upgraded { from })
}

fn create_version_table(c: &dyn Conn) -> Result<()> {
    c.execute_script(match c.dialect() {
        Dialect::Postgres => VERSION_TABLE_POSTGRES,
        _ => VERSION_TABLE_SQLITE,
    })
}

fn set_version(c: &dyn Conn, old: Option<&str>) -> Result<()> {
    let sql = match old {
        Some(old) => {
            Sql::new("UPDATE alembic_version_auth SET version_num = ? WHERE version_num = ?")
                .with(AUTH_HEAD_REVISION)
                .with(old)
        }
        None => Sql::new("INSERT INTO alembic_version_auth (version_num) VALUES (?)")
            .with(AUTH_HEAD_REVISION),
    };
    c.execute(&sql).map(drop)
}

fn run_steps(c: &dyn Conn, steps: &[Step]) -> Result<()> {
    for step in steps {
        let ddl = match c.dialect() {
            Dialect::Postgres => step.postgres,
            _ => step.sqlite,
        };
        if !ddl.is_empty() {
            c.execute_script(ddl)?;
        }
        if let Some(data) = step.data {
            data(c)?;
        }
    }
    Ok(())
}

/// One grant a legacy row becomes: (user, workspace, resource type, pattern, permission).
type Mirrored = (i64, String, &'static str, String, String);

const RESOURCE_PERMISSIONS: [&str; 4] = ["READ", "USE", "EDIT", "MANAGE"];
/// The resource types a legacy workspace-wide `EDIT` becomes an `EDIT` on.
const FAN_OUT_RESOURCE_TYPES: [&str; 6] = [
    "experiment",
    "registered_model",
    "scorer",
    "gateway_secret",
    "gateway_endpoint",
    "gateway_model_definition",
];

/// Revision `e5f6a7b8c9d0`: every grant of the per-type tables becomes a row of
/// `role_permissions` on the user's own role `__user_<id>__` of its workspace. A denial
/// (`NO_PERMISSIONS`) is dropped; a workspace-wide `READ` becomes `USE`, and a workspace-wide
/// `EDIT` becomes `USE` on the workspace plus `EDIT` on every type of resource in it. The
/// legacy tables stay as they are, as MLflow keeps them.
fn legacy_grants_to_roles(c: &dyn Conn) -> Result<()> {
    let text = |r: &Row, col: &str| -> Result<String> { Ok(r.opt_str(col)?.unwrap_or_default()) };
    let resource =
        |r: &Row, ws: String, kind: &'static str, pattern: String| -> Result<Vec<Mirrored>> {
            let permission = text(r, "permission")?;
            Ok(if RESOURCE_PERMISSIONS.contains(&permission.as_str()) {
                vec![(r.i64("user_id")?, ws, kind, pattern, permission)]
            } else {
                vec![]
            })
        };
    let default = || DEFAULT_WORKSPACE.to_string();
    backfill(
        c,
        "SELECT user_id, workspace, permission FROM workspace_permissions",
        |r| {
            let (user, ws) = (r.i64("user_id")?, r.str("workspace")?);
            Ok(match text(r, "permission")?.as_str() {
                "EDIT" => {
                    std::iter::once((user, ws.clone(), "workspace", "*".into(), "USE".into()))
                        .chain(
                            FAN_OUT_RESOURCE_TYPES
                                .iter()
                                .map(|t| (user, ws.clone(), *t, "*".into(), "EDIT".into())),
                        )
                        .collect()
                }
                "READ" | "USE" => vec![(user, ws, "workspace", "*".into(), "USE".into())],
                "MANAGE" => vec![(user, ws, "workspace", "*".into(), "MANAGE".into())],
                _ => vec![],
            })
        },
    )?;
    backfill(
        c,
        "SELECT user_id, experiment_id, permission FROM experiment_permissions",
        |r| resource(r, default(), "experiment", r.str("experiment_id")?),
    )?;
    backfill(
        c,
        "SELECT user_id, workspace, name, permission FROM registered_model_permissions",
        |r| resource(r, r.str("workspace")?, "registered_model", r.str("name")?),
    )?;
    backfill(
        c,
        "SELECT user_id, experiment_id, scorer_name, permission FROM scorer_permissions",
        |r| {
            let pattern = format!(
                "{}/{}",
                r.str("experiment_id")?,
                quote_all(&r.str("scorer_name")?)
            );
            resource(r, default(), "scorer", pattern)
        },
    )?;
    backfill(
        c,
        "SELECT user_id, secret_id, permission FROM gateway_secret_permissions",
        |r| resource(r, default(), "gateway_secret", r.str("secret_id")?),
    )?;
    backfill(
        c,
        "SELECT user_id, endpoint_id, permission FROM gateway_endpoint_permissions",
        |r| resource(r, default(), "gateway_endpoint", r.str("endpoint_id")?),
    )?;
    backfill(
        c,
        "SELECT user_id, model_definition_id, permission FROM gateway_model_definition_permissions",
        |r| {
            resource(
                r,
                default(),
                "gateway_model_definition",
                r.str("model_definition_id")?,
            )
        },
    )
}

/// Mirrors the rows `select` reads, in the order the database gives them (as MLflow's
/// migration reads them, so the new rows get the ids MLflow gives).
fn backfill(
    c: &dyn Conn,
    select: &str,
    mirror: impl Fn(&Row) -> Result<Vec<Mirrored>>,
) -> Result<()> {
    for row in c.query(&Sql::new(select))? {
        for (user, ws, kind, pattern, permission) in mirror(&row)? {
            let role = own_role(c, user, &ws)?;
            let exists = c
                .query_opt(
                    &Sql::new(
                        "SELECT id FROM role_permissions WHERE role_id = ? AND resource_type = ? AND resource_pattern = ?",
                    )
                    .with(role)
                    .with(kind)
                    .with(pattern.as_str()),
                )?
                .is_some();
            if !exists {
                c.execute(
                    &Sql::new(
                        "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?)",
                    )
                    .with(role)
                    .with(kind)
                    .with(pattern)
                    .with(permission),
                )?;
            }
        }
    }
    Ok(())
}

/// The user's own role in `workspace`, made and assigned if missing. A role of that reserved
/// name that other users hold is refused: moving grants onto it would share them.
fn own_role(c: &dyn Conn, user: i64, workspace: &str) -> Result<i64> {
    if let Some(role) = find_own_role(c, user, workspace)?
        && let Some(other) = c.query_opt(
            &Sql::new(
                "SELECT user_id FROM user_role_assignments WHERE role_id = ? AND user_id != ?",
            )
            .with(role)
            .with(user),
        )?
    {
        return Err(Error::invalid_param(format!(
            "Role '{}' in workspace '{workspace}' has the name reserved for user {user}'s own grants but is assigned to other users (e.g. user_id={}). Rename it, then start again.",
            synthetic_role(user),
            other.i64("user_id")?
        )));
    }
    make_own_role(c, user, workspace)
}

/// Revision `f1a2b3c4d5e6`: a grant on a registered model that is a prompt (tagged
/// `mlflow.prompt.is_prompt = true` in the same workspace) becomes a grant on the prompt.
/// Only possible when the registry shares the auth database; otherwise nothing changes, as
/// in MLflow.
fn prompt_grants(c: &dyn Conn) -> Result<()> {
    if !table_names(c)?.iter().any(|t| t == "registered_model_tags") {
        return Ok(());
    }
    // A registry from before workspaces keeps every model in the default one.
    let workspace = if column_names(c, "registered_model_tags")?
        .iter()
        .any(|col| col == "workspace")
    {
        "rmt.workspace"
    } else {
        "'default'"
    };
    c.execute(
        &Sql::new(format!(
            "UPDATE role_permissions SET resource_type = 'prompt' \
             WHERE resource_type = 'registered_model' AND resource_pattern <> '*' \
             AND EXISTS (SELECT 1 FROM roles r, registered_model_tags rmt \
             WHERE r.id = role_permissions.role_id AND {workspace} = r.workspace \
             AND rmt.name = role_permissions.resource_pattern \
             AND rmt.key = ? AND LOWER(rmt.value) = 'true')"
        ))
        .with("mlflow.prompt.is_prompt"),
    )
    .map(drop)
}

/// Percent-encodes every byte but the unreserved ones (letters, digits, `_.-~`), with
/// upper-case hex, as Python's `quote(s, safe='')` does.
fn quote_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scorer_names_are_quoted_as_python_quotes_them() {
        assert_eq!(quote_all("a/b c"), "a%2Fb%20c");
        assert_eq!(quote_all("Ok_.-~9"), "Ok_.-~9");
        assert_eq!(quote_all("é%"), "%C3%A9%25");
    }

    fn sqlite() -> (tempfile::TempDir, Box<dyn Conn>) {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite:///{}", dir.path().join("auth.db").display());
        let c = ferroflow_store::sql::conn::connect(&uri).unwrap();
        (dir, c)
    }

    fn grants(c: &dyn Conn) -> Vec<(String, String, String, String, String)> {
        c.query(&Sql::new(
            "SELECT r.name, r.workspace, p.resource_type, p.resource_pattern, p.permission \
             FROM role_permissions p JOIN roles r ON r.id = p.role_id ORDER BY p.id",
        ))
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k| r.str(k).unwrap();
            (
                s("name"),
                s("workspace"),
                s("resource_type"),
                s("resource_pattern"),
                s("permission"),
            )
        })
        .collect()
    }

    #[test]
    fn an_empty_database_gets_every_step_once() {
        let (_dir, c) = sqlite();
        assert_eq!(migrate(c.as_ref(), "db").unwrap(), Outcome::Created);
        assert_eq!(migrate(c.as_ref(), "db").unwrap(), Outcome::Current);
        let tables = table_names(c.as_ref()).unwrap();
        for t in [
            "users",
            "roles",
            "role_permissions",
            "workspace_permissions",
            "scorer_permissions",
        ] {
            assert!(tables.iter().any(|n| n == t), "{t}");
        }
    }

    #[test]
    fn a_database_from_before_mlflow_3_6_gets_its_grants_moved_onto_roles() {
        let (_dir, c) = sqlite();
        let c = c.as_ref();
        c.execute_script(STEPS[0].sqlite).unwrap();
        c.execute_script(
            "INSERT INTO users (username, password_hash, is_admin) VALUES ('alice', 'h', 0), ('bob', 'h', 0); \
             INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES ('7', 1, 'EDIT'), ('8', 1, 'NO_PERMISSIONS'), ('7', 2, 'READ'); \
             INSERT INTO registered_model_permissions (name, user_id, permission) VALUES ('wine', 2, 'MANAGE');",
        )
        .unwrap();
        assert_eq!(
            migrate(c, "db").unwrap(),
            Outcome::Upgraded {
                from: INITIAL_REVISION.into()
            }
        );
        let own = |u: &str| (u.to_string(), DEFAULT_WORKSPACE.to_string());
        let row = |u: &str, t: &str, p: &str, l: &str| {
            let (n, w) = own(u);
            (n, w, t.to_string(), p.to_string(), l.to_string())
        };
        assert_eq!(
            grants(c),
            vec![
                row("__user_1__", "experiment", "7", "EDIT"),
                row("__user_2__", "experiment", "7", "READ"),
                row("__user_2__", "registered_model", "wine", "MANAGE"),
            ]
        );
        // The legacy rows stay, as MLflow keeps them; the version is the head.
        let legacy = c
            .query(&Sql::new("SELECT id FROM experiment_permissions"))
            .unwrap();
        assert_eq!(legacy.len(), 3);
        assert_eq!(migrate(c, "db").unwrap(), Outcome::Current);
    }

    #[test]
    fn workspace_wide_grants_become_use_or_manage() {
        let (_dir, c) = sqlite();
        let c = c.as_ref();
        for step in &STEPS[..4] {
            c.execute_script(step.sqlite).unwrap();
        }
        create_version_table(c).unwrap();
        c.execute_script(
            "INSERT INTO alembic_version_auth VALUES ('2ed73881770d'); \
             INSERT INTO users (username, password_hash, is_admin) VALUES ('a', 'h', 0); \
             INSERT INTO workspace_permissions (workspace, user_id, permission) VALUES ('default', 1, 'EDIT'), ('team', 1, 'READ'), ('lab', 1, 'NO_PERMISSIONS');",
        )
        .unwrap();
        migrate(c, "db").unwrap();
        let got: Vec<_> = grants(c).into_iter().map(|g| (g.1, g.2, g.4)).collect();
        let want: Vec<(String, String, String)> = std::iter::once(("default", "workspace", "USE"))
            .chain(
                FAN_OUT_RESOURCE_TYPES
                    .iter()
                    .map(|t| ("default", *t, "EDIT")),
            )
            .chain([("team", "workspace", "USE")])
            .map(|(a, b, c)| (a.into(), b.into(), c.into()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_unknown_revision_is_refused_and_nothing_changes() {
        let (_dir, c) = sqlite();
        let c = c.as_ref();
        c.execute_script("CREATE TABLE users (id INTEGER PRIMARY KEY)")
            .unwrap();
        create_version_table(c).unwrap();
        let err = migrate(c, "db").unwrap_err();
        assert!(
            err.message.contains("empty alembic_version_auth"),
            "{}",
            err.message
        );
        c.execute_script("INSERT INTO alembic_version_auth VALUES ('0123456789ab')")
            .unwrap();
        let err = migrate(c, "db").unwrap_err();
        assert!(
            err.message.contains("not one of MLflow's"),
            "{}",
            err.message
        );
        assert_eq!(table_names(c).unwrap().len(), 2);
    }

    #[test]
    fn the_steps_are_mlflows_chain_ending_at_the_head() {
        assert_eq!(STEPS[0].revision, INITIAL_REVISION);
        assert_eq!(STEPS.last().unwrap().revision, AUTH_HEAD_REVISION);
        let unique: std::collections::BTreeSet<_> = STEPS.iter().map(|s| s.revision).collect();
        assert_eq!(unique.len(), STEPS.len());
    }
}
