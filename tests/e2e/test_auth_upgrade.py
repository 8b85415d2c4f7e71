"""An auth database at an older MLflow revision (any since MLflow 2.5, with the per-type grant
tables of before roles) is upgraded by `ferroflow server --app-name basic-auth` at start-up, as
`mlflow server --app-name basic-auth` 3.17.2 upgrades it: the same copy upgraded by each ends
with the same schema and the same rows, and its users keep their passwords and grants."""

import os
import shutil
import sqlite3
import subprocess
import uuid

import pytest
import requests
from werkzeug.security import generate_password_hash

from conftest import BIN, MLFLOW, Server, mlflow3, needs_postgres, new_pg_database, pg_admin
from test_auth import ADMIN, auth_env, write_ini

REF_PYTHON = str(MLFLOW.with_name("python"))
MLFLOW2_PYTHON = os.environ.get("MLFLOW2_PYTHON")
# MLflow's auth revisions before 3.17.2's head, oldest first.
OLDER = ["8606fa83a998", "0965eb92f5f0", "a1b2c3d4e5f6", "2ed73881770d", "c3d4e5f6a7b8", "e5f6a7b8c9d0"]
KINDS = ["sqlite", pytest.param("postgresql", marks=needs_postgres)]
PASSWORDS = {"alice": "alicepassword1", "bob": "bobpassword123", "carol": "carolpassword1", "dave": "davepassword12"}


class Db:
    """One auth database of `kind`, read and written with the Python drivers."""

    def __init__(self, kind, uri):
        self.kind, self.uri = kind, uri

    @staticmethod
    def new(kind, workdir):
        if kind == "sqlite":
            return Db(kind, f"sqlite:///{workdir / f'auth-{uuid.uuid4().hex[:8]}.db'}")
        return Db(kind, new_pg_database("ff_authup"))

    def copy(self, workdir):
        if self.kind == "sqlite":
            other = Db.new("sqlite", workdir)
            shutil.copy(self.uri.removeprefix("sqlite:///"), other.uri.removeprefix("sqlite:///"))
            return other
        other = new_pg_database("ff_authup")
        name = other.rsplit("/", 1)[1]
        pg_admin(f"DROP DATABASE {name}")
        pg_admin(f"CREATE DATABASE {name} TEMPLATE {self.uri.rsplit('/', 1)[1]}")
        return Db("postgresql", other)

    def connect(self):
        if self.kind == "sqlite":
            return sqlite3.connect(self.uri.removeprefix("sqlite:///"))
        import psycopg

        return psycopg.connect(self.uri)

    def run(self, statements):
        with self.connect() as c:
            for sql, *args in statements:
                c.execute(sql.replace("?", "%s") if self.kind != "sqlite" else sql, *args)

    def rows(self, sql, args=()):
        with self.connect() as c:
            if self.kind == "sqlite":
                return [tuple(r) for r in c.execute(sql, args).fetchall()]
            return [tuple(r) for r in c.execute(sql.replace("?", "%s") if args else sql, args or None).fetchall()]

    def tables(self):
        if self.kind == "sqlite":
            return {r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {r[0] for r in self.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}

    def columns(self, table):
        if self.kind == "sqlite":
            return [r[1] for r in self.rows(f"PRAGMA table_info({table})")]
        return [r[0] for r in self.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position",
            (table,))]

    def snapshot(self):
        """Everything an upgrade may change: the schema as the database reports it, every
        row of every table, and (PostgreSQL) where each sequence stands."""
        out = {}
        if self.kind == "sqlite":
            out["schema"] = sorted(self.rows("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        else:
            out["columns"] = self.rows(
                "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position")
            out["constraints"] = self.rows(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2")
            out["indexes"] = self.rows("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2")
            out["sequences"] = self.rows("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1")
        for t in sorted(self.tables()):
            out[t] = sorted(self.rows(f"SELECT * FROM {t}"), key=repr)
        return out


def reference_upgrade(db, revision=None):
    """MLflow 3.17.2 upgrades `db` to `revision` with its CLI; without one, as its server starts:
    the store's start-up upgrade, then the admin user made."""
    if revision:
        args = ["-m", "mlflow.server.auth", "db", "upgrade", "--url", db.uri, "--revision", revision]
    else:
        args = ["-c", "import sys\n"
                "from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore\n"
                "s = SqlAlchemyStore(); s.init_db(sys.argv[1])\n"
                "s.create_user(sys.argv[2], sys.argv[3], is_admin=True)\n", db.uri, *ADMIN]
    p = subprocess.run([REF_PYTHON, "-W", "ignore", *args], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]


def ferroflow_upgrade(db, workdir, default_permission="READ"):
    """Starts Ferroflow's auth app on `db` (which upgrades it) and gives the running server."""
    run_dir = workdir / f"ff-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir()
    ini = write_ini(run_dir, default_permission=default_permission, database_uri=db.uri)
    return Server(run_dir, "--app-name", "basic-auth", env=auth_env(ini)).start()


def seed(db):
    """Users and grants in whichever per-type tables `db`'s revision has: grants of every
    level, denials, workspace-wide grants, scorer names that need quoting, a prompt."""
    tables = db.tables()
    db.run([("INSERT INTO users (username, password_hash, is_admin) VALUES (?, ?, ?)", (u, generate_password_hash(p), False))
            for u, p in PASSWORDS.items()])
    ids = dict(db.rows("SELECT username, id FROM users"))
    a, b, c, d = ids["alice"], ids["bob"], ids["carol"], ids["dave"]
    grants = [
        ("INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES (?, ?, ?)", row)
        for row in [("1", a, "READ"), ("1", b, "NO_PERMISSIONS"), ("2", b, "MANAGE"), ("2", c, "EDIT"), ("3", d, "USE")]
    ]
    if "workspace" in db.columns("registered_model_permissions"):
        grants += [("INSERT INTO registered_model_permissions (name, user_id, permission, workspace) VALUES (?, ?, ?, ?)", row)
                   for row in [("model-a", a, "EDIT", "default"), ("my-prompt", b, "READ", "default"),
                               ("model-a", c, "NO_PERMISSIONS", "default"), ("my-prompt", c, "MANAGE", "team")]]
    else:
        grants += [("INSERT INTO registered_model_permissions (name, user_id, permission) VALUES (?, ?, ?)", row)
                   for row in [("model-a", a, "EDIT"), ("my-prompt", b, "READ"), ("model-a", c, "NO_PERMISSIONS")]]
    if "scorer_permissions" in tables:
        grants += [("INSERT INTO scorer_permissions (experiment_id, scorer_name, user_id, permission) VALUES (?, ?, ?, ?)", row)
                   for row in [("1", "a/b c", a, "EDIT"), ("1", "qualité", b, "READ"), ("2", "x", c, "NO_PERMISSIONS")]]
    if "gateway_secret_permissions" in tables:
        grants += [
            ("INSERT INTO gateway_secret_permissions (secret_id, user_id, permission) VALUES (?, ?, ?)", ("s-1", a, "USE")),
            ("INSERT INTO gateway_endpoint_permissions (endpoint_id, user_id, permission) VALUES (?, ?, ?)", ("e-1", b, "MANAGE")),
            ("INSERT INTO gateway_model_definition_permissions (model_definition_id, user_id, permission) VALUES (?, ?, ?)", ("md-1", c, "READ")),
        ]
    if "workspace_permissions" in tables:
        grants += [("INSERT INTO workspace_permissions (workspace, user_id, permission) VALUES (?, ?, ?)", row)
                   for row in [("default", a, "READ"), ("default", b, "EDIT"), ("team", c, "MANAGE"),
                               ("default", d, "NO_PERMISSIONS"), ("team", a, "USE")]]
    if "roles" in tables:
        grants.append(("INSERT INTO roles (name, workspace, description) VALUES (?, ?, ?)", ("reviewers", "default", "reads everything")))
    db.run(grants)
    if "roles" in tables:
        role = db.rows("SELECT id FROM roles WHERE name = 'reviewers'")[0][0]
        db.run([("INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?)",
                 (role, "experiment", "*", "READ")),
                ("INSERT INTO user_role_assignments (user_id, role_id) VALUES (?, ?)", (d, role))])
    # The registry in the same database marks `my-prompt` a prompt in the default workspace.
    db.run([("CREATE TABLE registered_model_tags (key VARCHAR(250) NOT NULL, value VARCHAR(5000), "
             "name VARCHAR(256) NOT NULL, workspace VARCHAR(63) DEFAULT 'default' NOT NULL)",),
            ("INSERT INTO registered_model_tags (key, value, name, workspace) VALUES (?, ?, ?, ?)",
             ("mlflow.prompt.is_prompt", "True", "my-prompt", "default"))])


def assert_same(theirs, ours):
    """Both snapshots are the same, but for the admin's password hash (a fresh salt each)."""
    for snap in (theirs, ours):
        snap["users"] = [(i, u, "<admin's hash>" if u == ADMIN[0] else h, a) for i, u, h, a in snap["users"]]
    assert theirs.keys() == ours.keys()
    for k in theirs:
        assert ours[k] == theirs[k], k


@mlflow3
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("revision", OLDER)
def test_an_older_auth_database_is_upgraded_as_mlflow_upgrades_it(workdir, kind, revision):
    source = Db.new(kind, workdir)
    reference_upgrade(source, revision)
    seed(source)
    theirs, ours = source.copy(workdir), source.copy(workdir)
    reference_upgrade(theirs)
    ferroflow_upgrade(ours, workdir).stop()
    assert_same(theirs.snapshot(), ours.snapshot())
    assert ours.rows("SELECT version_num FROM alembic_version_auth") == [("f1a2b3c4d5e6",)]
    if revision != "e5f6a7b8c9d0":
        # The legacy grants became rows of the users' own roles (a spot check of what the
        # comparison above covers in full): the denial is gone, the prompt is a prompt.
        grants = ours.rows(
            "SELECT r.name, r.workspace, p.resource_type, p.resource_pattern, p.permission FROM role_permissions p "
            "JOIN roles r ON r.id = p.role_id WHERE r.name LIKE '\\_\\_user\\_%' ESCAPE '\\'")
        assert any(g[2:] == ("experiment", "1", "READ") for g in grants)
        assert not any(g[2:4] == ("experiment", "1") and g[4] == "NO_PERMISSIONS" for g in grants)
        assert any(g[2:] == ("prompt", "my-prompt", "READ") for g in grants)
    # The upgraded database is at the head for both servers: each starts on it as it is.
    ff = ferroflow_upgrade(ours, workdir)
    try:
        me = requests.get(ff.url + "/api/2.0/mlflow/users/current", auth=("alice", PASSWORDS["alice"]), timeout=30)
        assert me.status_code == 200 and me.json()["user"]["username"] == "alice"
    finally:
        ff.stop()
    assert_same(theirs.snapshot(), ours.snapshot())


@mlflow3
@pytest.mark.skipif(not MLFLOW2_PYTHON, reason="MLFLOW2_PYTHON (an mlflow 2.22 venv) is not set")
@pytest.mark.parametrize("kind", KINDS)
def test_a_basic_auth_db_mlflow_2_22_made_is_upgraded_and_its_grants_hold(workdir, kind):
    """MLflow 2.22 kept its auth revision in `alembic_version` (no `alembic_version_auth`):
    MLflow 3.17.2 takes such a database as being at the first revision, and so does Ferroflow."""
    source = Db.new(kind, workdir)
    script = (
        "import sys\n"
        "from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore\n"
        "s = SqlAlchemyStore(); s.init_db(sys.argv[1])\n"
        "s.create_user('alice', 'alicepassword1'); s.create_user('bob', 'bobpassword123', is_admin=True)\n"
        "s.create_experiment_permission('1', 'alice', 'READ')\n"
        "s.create_experiment_permission('2', 'alice', 'NO_PERMISSIONS')\n"
        "s.create_registered_model_permission('wine', 'alice', 'EDIT')\n"
    )
    p = subprocess.run([MLFLOW2_PYTHON, "-W", "ignore", "-c", script, source.uri], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "alembic_version_auth" not in source.tables() and source.rows("SELECT version_num FROM alembic_version") == [("8606fa83a998",)]

    theirs, ours = source.copy(workdir), source.copy(workdir)
    reference_upgrade(theirs)
    ff = ferroflow_upgrade(ours, workdir, default_permission="NO_PERMISSIONS")
    try:
        assert_same(theirs.snapshot(), ours.snapshot())
        api = ff.url + "/api/2.0/mlflow"
        for name in ("one", "two"):
            assert requests.post(api + "/experiments/create", json={"name": name}, auth=ADMIN, timeout=30).json()["experiment_id"] in ("1", "2")
        alice = ("alice", "alicepassword1")
        assert requests.get(api + "/experiments/get", params={"experiment_id": "1"}, auth=alice, timeout=30).status_code == 200
        assert requests.get(api + "/experiments/get", params={"experiment_id": "2"}, auth=alice, timeout=30).status_code == 403
        assert requests.post(api + "/runs/create", json={"experiment_id": "1"}, auth=alice, timeout=30).status_code == 403
        assert requests.get(api + "/users/current", auth=("bob", "bobpassword123"), timeout=30).json()["user"]["is_admin"] is True
        assert requests.get(api + "/users/current", auth=("alice", "wrong-password"), timeout=30).status_code == 401
    finally:
        ff.stop()


def test_a_users_table_without_mlflows_grant_tables_is_refused(workdir):
    db = workdir / "basic_auth.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255))")
    p = subprocess.run(
        [BIN, "server", "--app-name", "basic-auth", "--port", "0"],
        cwd=workdir, capture_output=True, text=True, timeout=60, env={**os.environ, **auth_env(write_ini(workdir))},
    )
    assert p.returncode != 0 and "not an MLflow auth database" in p.stderr
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["users"]


@pytest.mark.parametrize("version, message", [
    ("0123456789ab", "not one of MLflow's up to 3.17.2"),
    # At the first revision, but missing a table that revision has: the upgrade fails, and
    # its transaction leaves the database as it was.
    ("8606fa83a998", "registered_model_permissions"),
])
def test_an_unknown_or_broken_auth_schema_is_refused_and_left_as_it_is(workdir, version, message):
    db = workdir / "basic_auth.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255))")
        c.execute("CREATE TABLE alembic_version_auth (version_num VARCHAR(32) NOT NULL)")
        c.execute("INSERT INTO alembic_version_auth VALUES (?)", (version,))
    p = subprocess.run(
        [BIN, "server", "--app-name", "basic-auth", "--port", "0"],
        cwd=workdir, capture_output=True, text=True, timeout=60, env={**os.environ, **auth_env(write_ini(workdir))},
    )
    assert p.returncode != 0 and message in p.stderr, p.stderr
    assert "panicked" not in p.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT version_num FROM alembic_version_auth").fetchall() == [(version,)]
        assert sorted(r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")) == ["alembic_version_auth", "users"]
