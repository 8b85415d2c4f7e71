"""`ferroflow server --app-name basic-auth`: MLflow's basic-auth app, driven by the official
client and compared with `mlflow server --app-name basic-auth` 3.17.2 side by side."""

import os
from pathlib import Path
import sqlite3
import subprocess

import mlflow
import pytest
import requests

from conftest import BIN, MLFLOW, MLFLOW_3, Reference, Server, mlflow3, needs_mysql, needs_postgres, new_mysql_database, new_pg_database

ADMIN = ("admin", "admin-password-1")


def write_ini(workdir, default_permission="READ", database_uri="sqlite:///basic_auth.db", **extra):
    ini = workdir / "auth.ini"
    lines = [
        "[mlflow]",
        f"default_permission = {default_permission}",
        f"database_uri = {database_uri}",
        "admin_username = admin",
        f"admin_password = {ADMIN[1]}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        *[f"{k} = {v}" for k, v in extra.items()],
    ]
    ini.write_text("\n".join(lines) + "\n")
    return ini


def auth_env(ini):
    return {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "ferroflow-tests"}


def ferroflow(workdir, ini, *args):
    return Server(workdir, "--app-name", "basic-auth", *args, env=auth_env(ini)).start()


def reference(workdir, ini):
    if not MLFLOW.exists():
        pytest.skip("mlflow server is not installed beside this Python")
    return Reference(workdir, "--app-name", "basic-auth", env=auth_env(ini))


def call(base, method, path, auth=ADMIN, **kw):
    return requests.request(method, base + path, auth=auth, timeout=60, **kw)


def raw_get(base, path, auth):
    """A GET of `path` exactly as written (requests would resolve its `..` segments)."""
    import base64
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn.request("GET", path, headers={"Authorization": f"Basic {token}"})
    r = conn.getresponse()
    return r.status, r.read()


def scenario(base):
    """One pass over the user and permission flows; each step's status, content type and
    body (timestamps and run ids taken out), in order."""
    alice, bob = ("alice", "alicepassword1"), ("bob", "bobpassword123")
    out = []

    def step(label, method, path, auth=ADMIN, **kw):
        r = call(base, method, path, auth=auth, **kw)
        ctype = r.headers.get("content-type", "").split(";")[0]
        try:
            body = r.json()
        except ValueError:
            body = r.text
        if isinstance(body, dict):
            body.get("experiment", {}).pop("creation_time", None)
            body.get("experiment", {}).pop("last_update_time", None)
            if "run" in body:
                body = {"run": "created"}
            if body.get("error_code") == "RESOURCE_ALREADY_EXISTS":
                # MLflow appends the database driver's error (its SQL, its parameters, the
                # password hash) to these messages; Ferroflow does not.
                body["message"] = body["message"].split(" Error: (")[0]
        out.append((label, r.status_code, ctype, body, r.headers.get("www-authenticate")))
        return r

    step("create alice", "POST", "/api/2.0/mlflow/users/create", json={"username": alice[0], "password": alice[1]})
    step("create alice again", "POST", "/api/2.0/mlflow/users/create", json={"username": alice[0], "password": alice[1]})
    step("short password", "POST", "/api/2.0/mlflow/users/create", json={"username": "x", "password": "short"})
    step("no password", "POST", "/api/2.0/mlflow/users/create", json={"username": "x"})
    step("form body", "POST", "/api/2.0/mlflow/users/create", data={"username": "x", "password": "xpassword1234"})
    step("create bob", "POST", "/api/2.0/mlflow/users/create", json={"username": bob[0], "password": bob[1]})
    step("get alice", "GET", "/api/2.0/mlflow/users/get", params={"username": "alice"})
    step("get nobody", "GET", "/api/2.0/mlflow/users/get", params={"username": "nobody"})
    step("get without name", "GET", "/api/2.0/mlflow/users/get")
    step("current", "GET", "/api/2.0/mlflow/users/current", auth=alice)
    step("alice gets bob", "GET", "/api/2.0/mlflow/users/get", params={"username": "bob"}, auth=alice)
    step("alice creates a user", "POST", "/api/2.0/mlflow/users/create", json={"username": "eve", "password": "evepassword123"}, auth=alice)
    exp = step("alice creates an experiment", "POST", "/api/2.0/mlflow/experiments/create", json={"name": "alice-exp"}, auth=alice).json()["experiment_id"]
    step("bob reads it", "GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp}, auth=bob)
    step("bob runs in it", "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": exp}, auth=bob)
    perm = "/api/3.0/mlflow/users/permissions/"
    target = {"resource_type": "experiment", "resource_id": exp}
    step("alice asks about bob", "GET", perm + "get", params={"username": "bob", **target}, auth=alice)
    step("alice asks about herself", "GET", perm + "get", params={"username": "alice", **target}, auth=alice)
    step("alice grants bob EDIT", "POST", perm + "grant", json={"username": "bob", **target, "permission": "EDIT"}, auth=alice)
    step("and again", "POST", perm + "grant", json={"username": "bob", **target, "permission": "EDIT"}, auth=alice)
    step("unknown permission", "POST", perm + "grant", json={"username": "bob", **target, "permission": "SUPER"}, auth=alice)
    step("unknown type", "POST", perm + "grant", json={"username": "bob", "resource_type": "thing", "resource_id": exp, "permission": "READ"}, auth=alice)
    step("admin asks about bob", "GET", perm + "get", params={"username": "bob", **target})
    step("bob runs in it now", "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": exp}, auth=bob)
    step("bob grants (EDIT is not MANAGE)", "POST", perm + "grant", json={"username": "alice", **target, "permission": "READ"}, auth=bob)
    step("alice grants herself elsewhere", "POST", perm + "grant", json={"username": "alice", "resource_type": "experiment", "resource_id": "0", "permission": "MANAGE"}, auth=alice)
    step("alice grants on every experiment", "POST", perm + "grant", json={"username": "bob", "resource_type": "experiment", "resource_id": "*", "permission": "READ"}, auth=alice)
    step("alice grants on the workspace", "POST", perm + "grant", json={"username": "alice", "resource_type": "workspace", "resource_id": "*", "permission": "MANAGE"}, auth=alice)
    step("alice grants a run tier", "POST", perm + "grant", json={"username": "bob", "resource_type": "run", "resource_id": "abc", "permission": "READ"}, auth=alice)
    step("alice revokes", "POST", perm + "revoke", json={"username": "bob", **target}, auth=alice)
    step("and again", "POST", perm + "revoke", json={"username": "bob", **target}, auth=alice)
    roles = "/api/3.0/mlflow/roles/"
    role = step("create a role", "POST", roles + "create", json={"name": "readers", "workspace": "default", "description": "read all"}).json()["role"]["id"]
    step("the same role", "POST", roles + "create", json={"name": "readers", "workspace": "default"})
    step("a reserved name", "POST", roles + "create", json={"name": "__user_9__", "workspace": "default"})
    step("an empty name", "POST", roles + "create", json={"name": " ", "workspace": "default"})
    step("alice creates a role", "POST", roles + "create", json={"name": "mine", "workspace": "default"}, auth=alice)
    step("get the role", "GET", roles + "get", params={"role_id": role})
    step("a missing role", "GET", roles + "get", params={"role_id": 999})
    step("a non-numeric id", "GET", roles + "get", params={"role_id": "abc"})
    rp = step("grant the role READ", "POST", roles + "permissions/add", json={"role_id": role, "resource_type": "experiment", "resource_pattern": exp, "permission": "READ"}).json()["role_permission"]["id"]
    step("again", "POST", roles + "permissions/add", json={"role_id": role, "resource_type": "experiment", "resource_pattern": exp, "permission": "READ"})
    step("NO_PERMISSIONS", "POST", roles + "permissions/add", json={"role_id": role, "resource_type": "experiment", "resource_pattern": "*", "permission": "NO_PERMISSIONS"})
    step("one run", "POST", roles + "permissions/add", json={"role_id": role, "resource_type": "run", "resource_pattern": "abc", "permission": "READ"})
    step("workspace READ", "POST", roles + "permissions/add", json={"role_id": role, "resource_type": "workspace", "resource_pattern": "*", "permission": "READ"})
    step("list its grants", "GET", roles + "permissions/list", params={"role_id": role})
    step("make it EDIT", "PATCH", roles + "permissions/update", json={"role_permission_id": rp, "permission": "EDIT"})
    step("assign alice", "POST", roles + "assign", json={"username": "alice", "role_id": role})
    step("again", "POST", roles + "assign", json={"username": "alice", "role_id": role})
    step("assign nobody", "POST", roles + "assign", json={"username": "nobody", "role_id": role})
    step("alice's roles", "GET", "/api/3.0/mlflow/users/roles/list", params={"username": "alice"})
    step("alice's roles, by alice", "GET", "/api/3.0/mlflow/users/roles/list", params={"username": "alice"}, auth=alice)
    step("alice's roles, by bob", "GET", "/api/3.0/mlflow/users/roles/list", params={"username": "alice"}, auth=bob)
    step("the role's users", "GET", roles + "users/list", params={"role_id": role})
    step("alice reads the role", "GET", roles + "get", params={"role_id": role}, auth=alice)
    step("alice lists the workspace's roles", "GET", roles + "list", params={"workspace": "default"}, auth=alice)
    step("alice lists every role", "GET", roles + "list", auth=alice)
    step("alice lists another workspace's", "GET", roles + "list", params={"workspace": "other"}, auth=alice)
    step("alice's permissions", "GET", "/api/3.0/mlflow/users/current/permissions", auth=alice)
    step("alice's permissions, by admin", "GET", "/api/3.0/mlflow/users/permissions/list", params={"username": "alice"})
    step("rename the role", "PATCH", roles + "update", json={"role_id": role, "name": "editors"})
    step("change nothing", "PATCH", roles + "update", json={"role_id": role})
    step("unassign alice", "DELETE", roles + "unassign", json={"username": "alice", "role_id": role})
    step("again", "DELETE", roles + "unassign", json={"username": "alice", "role_id": role})
    step("remove the grant", "DELETE", roles + "permissions/remove", json={"role_permission_id": rp})
    step("again", "DELETE", roles + "permissions/remove", json={"role_permission_id": rp})
    step("list every role", "GET", roles + "list")
    step("delete the role", "DELETE", roles + "delete", json={"role_id": role})
    step("it is gone", "GET", roles + "get", params={"role_id": role})
    step("admin sets bob's password", "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": "bob", "password": "bobpassword456"})
    step("too short", "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": "bob", "password": "x"})
    bob = ("bob", "bobpassword456")
    step("bob without his current one", "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": "bob", "password": "bobpassword789"}, auth=bob)
    step("bob with a wrong current one", "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": "bob", "password": "bobpassword789", "current_password": "wrongwrongwrong"}, auth=bob)
    step("bob with it", "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": "bob", "password": "bobpassword789", "current_password": bob[1]}, auth=bob)
    step("old password", "GET", "/api/2.0/mlflow/users/current", auth=bob)
    step("admin makes bob admin", "PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": "bob", "is_admin": True})
    step("bob creates a user", "POST", "/api/2.0/mlflow/users/create", json={"username": "carol", "password": "carolpassword1"}, auth=("bob", "bobpassword789"))
    step("admin deletes itself", "DELETE", "/api/2.0/mlflow/users/delete", json={"username": "admin"})
    step("admin deletes bob", "DELETE", "/api/2.0/mlflow/users/delete", json={"username": "bob"})
    step("again", "DELETE", "/api/2.0/mlflow/users/delete", json={"username": "bob"})
    step("deleted bob", "GET", "/api/2.0/mlflow/users/current", auth=("bob", "bobpassword789"))
    step("list users", "GET", "/api/2.0/mlflow/users/list")
    step("health without credentials", "GET", "/health", auth=None)
    step("api without credentials", "GET", "/api/2.0/mlflow/experiments/search", auth=None, params={"max_results": 5})
    step("the UI without credentials", "GET", "/", auth=None)
    step("a malformed header", "GET", "/api/2.0/mlflow/experiments/search", auth=None, headers={"Authorization": "Basic !!!"})
    step("another scheme", "GET", "/api/2.0/mlflow/experiments/search", auth=None, headers={"Authorization": "Bearer abc"})
    step("a wrong password", "GET", "/api/2.0/mlflow/experiments/search", auth=("admin", "not-the-password"))
    step("an unknown user", "GET", "/api/2.0/mlflow/experiments/search", auth=("mallory", "not-the-password"))
    return out


def auth_database(kind, workdir):
    """An empty auth database of `kind` for one server, and a function that reads its rows."""
    if kind == "sqlite":
        path = workdir / "basic_auth.db"

        def rows(sql):
            with sqlite3.connect(path) as c:
                return c.execute(sql).fetchall()
        return f"sqlite:///{path}", rows
    import psycopg

    uri = new_pg_database("ff_auth")

    def rows(sql):
        with psycopg.connect(uri) as c:
            return [tuple(r) for r in c.execute(sql).fetchall()]
    return uri, rows


@mlflow3
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def test_user_and_permission_flows_match_the_reference(workdir, kind):
    (workdir / "ff").mkdir()
    (workdir / "ref").mkdir()
    ff_db, ff_rows = auth_database(kind, workdir / "ff")
    ref_db, ref_rows = auth_database(kind, workdir / "ref")
    ff = ferroflow(workdir / "ff", write_ini(workdir / "ff", database_uri=ff_db))
    ref = reference(workdir / "ref", write_ini(workdir / "ref", database_uri=ref_db.replace("postgresql://", "postgresql+psycopg2://")))
    try:
        ours, theirs = scenario(ff.url), scenario(ref.url)
    finally:
        ff.stop()
        ref.stop()
    differences = [(mine, reference_step) for mine, reference_step in zip(ours, theirs) if mine != reference_step]
    assert not differences, "\n".join(f"ours {a}\nthe reference's {b}" for a, b in differences)
    assert len(ours) == len(theirs)
    # Both wrote the same rows to the auth schema (passwords hashed with fresh salts).
    for t in ("users", "roles", "role_permissions", "user_role_assignments", "alembic_version_auth"):
        cols = "id, username, is_admin" if t == "users" else "*"
        assert ff_rows(f"SELECT {cols} FROM {t} ORDER BY 1") == ref_rows(f"SELECT {cols} FROM {t} ORDER BY 1"), t


def test_the_official_client_signs_in_with_mlflow_tracking_username(workdir, monkeypatch):
    s = ferroflow(workdir, write_ini(workdir))
    try:
        mlflow.set_tracking_uri(s.url)
        with pytest.raises(mlflow.exceptions.MlflowException, match="401|authenticated"):
            mlflow.MlflowClient(s.url).search_experiments()
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
        mlflow.set_experiment("signed-in")
        with mlflow.start_run() as run:
            mlflow.log_param("alpha", 0.5)
            mlflow.log_metric("rmse", 0.7)
            mlflow.log_text("hello", "notes/hello.txt")
        client = mlflow.MlflowClient(s.url)
        got = client.get_run(run.info.run_id)
        assert got.data.params == {"alpha": "0.5"} and got.data.metrics == {"rmse": 0.7}
        assert client.download_artifacts(run.info.run_id, "notes/hello.txt", str(workdir)).endswith("hello.txt")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password")
        with pytest.raises(mlflow.exceptions.MlflowException, match="401|authenticated"):
            mlflow.MlflowClient(s.url).get_run(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(None)
        s.stop()


@mlflow3
def test_the_app_client_manages_users_and_permissions(workdir, monkeypatch):
    from mlflow.server import get_app_client

    s = ferroflow(workdir, write_ini(workdir, default_permission="NO_PERMISSIONS"))
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
        admin = get_app_client("basic-auth", tracking_uri=s.url)
        user = admin.create_user("alice", "alicepassword1")
        assert (user.username, user.is_admin) == ("alice", False)
        assert admin.get_user("alice").id == user.id
        exp = mlflow.MlflowClient(s.url).create_experiment("shared")
        admin.create_user("bob", "bobpassword123")

        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "alicepassword1")
        alice = mlflow.MlflowClient(s.url)
        with pytest.raises(mlflow.exceptions.MlflowException, match="403|Permission denied"):
            alice.get_experiment(exp)
        assert [e.name for e in alice.search_experiments()] == []

        admin_env = {"MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
        admin.grant_user_permission("alice", "experiment", exp, "EDIT")
        with pytest.raises(mlflow.exceptions.RestException, match="RESOURCE_ALREADY_EXISTS"):
            admin.grant_user_permission("alice", "experiment", exp, "EDIT")
        got = admin.get_user_permission("alice", "experiment", exp)
        assert (got.permission, got.allowed) == ("EDIT", True)

        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "alicepassword1")
        assert [e.name for e in alice.search_experiments()] == ["shared"]
        run = alice.create_run(exp)
        alice.log_metric(run.info.run_id, "loss", 0.1)
        assert [r.info.run_id for r in alice.search_runs([exp, "0"])] == [run.info.run_id]
        with pytest.raises(mlflow.exceptions.MlflowException, match="403|Permission denied"):
            alice.delete_experiment(exp)
        # Her own experiment is hers to manage; bob sees neither.
        own = alice.create_experiment("alices")
        assert sorted(e.name for e in alice.search_experiments()) == ["alices", "shared"]
        get_app_client("basic-auth", tracking_uri=s.url).grant_user_permission("bob", "experiment", own, "READ")

        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "bobpassword123")
        bob = mlflow.MlflowClient(s.url)
        assert [e.name for e in bob.search_experiments()] == ["alices"]
        assert bob.search_runs([exp]) == []

        for k, v in admin_env.items():
            monkeypatch.setenv(k, v)
        admin.revoke_user_permission("alice", "experiment", exp)
        assert admin.get_user_permission("alice", "experiment", exp).permission == "NO_PERMISSIONS"
        admin.update_user_password("alice", "alicepassword2")
        admin.update_user_admin("alice", True)
        assert admin.get_user("alice").is_admin
        admin.delete_user("bob")
        with pytest.raises(mlflow.exceptions.RestException, match="RESOURCE_DOES_NOT_EXIST"):
            admin.get_user("bob")
    finally:
        s.stop()


def test_registered_models_belong_to_their_creator(workdir):
    s = ferroflow(workdir, write_ini(workdir, default_permission="NO_PERMISSIONS"))
    try:
        call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "alice", "password": "alicepassword1"})
        call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "bob", "password": "bobpassword123"})
        alice, bob = ("alice", "alicepassword1"), ("bob", "bobpassword123")
        assert call(s.url, "POST", "/api/2.0/mlflow/registered-models/create", json={"name": "m1"}, auth=alice).ok
        found = call(s.url, "GET", "/api/2.0/mlflow/registered-models/search", auth=alice).json()
        assert [m["name"] for m in found["registered_models"]] == ["m1"]
        assert call(s.url, "GET", "/api/2.0/mlflow/registered-models/search", auth=bob).json() == {}
        assert call(s.url, "GET", "/api/2.0/mlflow/registered-models/get", params={"name": "m1"}, auth=bob).status_code == 403
        # Renamed, the grant follows; deleted, it goes.
        assert call(s.url, "POST", "/api/2.0/mlflow/registered-models/rename", json={"name": "m1", "new_name": "m2"}, auth=alice).ok
        assert call(s.url, "GET", "/api/2.0/mlflow/registered-models/get", params={"name": "m2"}, auth=alice).ok
        assert call(s.url, "DELETE", "/api/2.0/mlflow/registered-models/delete", json={"name": "m2"}, auth=alice).ok
        with sqlite3.connect(workdir / "basic_auth.db") as c:
            assert c.execute("SELECT count(*) FROM role_permissions WHERE resource_type = 'registered_model'").fetchone() == (0,)
        # Artifacts through the proxy follow the experiment.
        exp = call(s.url, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "e"}, auth=alice).json()["experiment_id"]
        put = f"/api/2.0/mlflow-artifacts/artifacts/{exp}/r/artifacts/a.txt"
        assert call(s.url, "PUT", put, auth=alice, data=b"x").ok
        assert call(s.url, "GET", put, auth=bob).status_code == 403
        assert call(s.url, "PUT", put, auth=bob, data=b"y").status_code == 403
        assert call(s.url, "GET", put, auth=alice).content == b"x"
        assert call(s.url, "GET", "/api/2.0/mlflow-artifacts/artifacts", params={"path": "../x"}, auth=alice).status_code == 403
        # Another experiment's artifacts are not reached through alice's own experiment.
        other = call(s.url, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "other"}).json()["experiment_id"]
        assert call(s.url, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{other}/r/artifacts/s.txt", data=b"secret").ok
        for path in (f"{exp}/../{other}/r/artifacts/s.txt", f"{exp}/%2E%2E/{other}/r/artifacts/s.txt",
                     f"{exp}%2F..%2F{other}/r/artifacts/s.txt", f"{exp}/r/../../{other}/r/artifacts/s.txt"):
            status, body = raw_get(s.url, "/api/2.0/mlflow-artifacts/artifacts/" + path, alice)
            assert status in (400, 403) and b"secret" not in body, (path, status)
    finally:
        s.stop()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=[needs_postgres, mlflow3])])
def test_mlflow_auth_databases_are_shared_both_ways(workdir, kind):
    """An auth database made by MLflow is served by Ferroflow, and the other way round:
    users sign in with the passwords they were given on the other server."""
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    uri = f"sqlite:///{workdir / 'shared.db'}" if kind == "sqlite" else new_pg_database("ff_auth")
    ini = write_ini(workdir, database_uri=uri)
    ref = reference(workdir / "a", ini)
    try:
        assert call(ref.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "alice", "password": "alicepassword1"}).ok
    finally:
        ref.stop()
    s = ferroflow(workdir / "b", ini)
    try:
        assert call(s.url, "GET", "/api/2.0/mlflow/users/current", auth=("alice", "alicepassword1")).json()["user"]["username"] == "alice"
        assert call(s.url, "GET", "/api/2.0/mlflow/users/current", auth=("alice", "alicepassword2")).status_code == 401
        assert call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "bob", "password": "bobpassword123"}).ok
    finally:
        s.stop()
    ref = reference(workdir / "a", ini)
    try:
        assert call(ref.url, "GET", "/api/2.0/mlflow/users/current", auth=("bob", "bobpassword123")).json()["user"]["username"] == "bob"
    finally:
        ref.stop()


@pytest.mark.parametrize(
    "password, message",
    [("password1234", "GHSA-gq3w-7jj3-x7gr"), ("short", "at least 12 characters"), ("", "needs a password")],
)
def test_unsafe_admin_passwords_are_refused(workdir, password, message):
    ini = write_ini(workdir)
    p = subprocess.run(
        [BIN, "server", "--app-name", "basic-auth", "--port", "0"],
        cwd=workdir, capture_output=True, text=True, timeout=60,
        env={**os.environ, **auth_env(ini), "MLFLOW_AUTH_ADMIN_PASSWORD": password},
    )
    assert p.returncode != 0
    assert message in p.stderr
    assert "Traceback" not in p.stderr and "panicked" not in p.stderr


def test_unknown_app_is_refused(workdir):
    p = subprocess.run([BIN, "server", "--app-name", "sso", "--port", "0"], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "basic-auth" in p.stderr


def test_graphql_answers_only_what_the_caller_may_read(workdir):
    s = ferroflow(workdir, write_ini(workdir, default_permission="NO_PERMISSIONS"))
    try:
        call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "bob", "password": "bobpassword123"})
        exp = call(s.url, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "secret"}).json()["experiment_id"]
        run = call(s.url, "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
        query = {"query": f'{{ mlflowGetRun(input: {{runId: "{run}"}}) {{ run {{ info {{ runId }} }} }} }}'}
        mine = call(s.url, "POST", "/graphql", json=query).json()
        assert mine["data"]["mlflowGetRun"]["run"]["info"]["runId"] == run
        theirs = call(s.url, "POST", "/graphql", json=query, auth=("bob", "bobpassword123")).json()
        assert not (theirs.get("data") or {}).get("mlflowGetRun")
        assert "Permission denied" in str(theirs.get("errors"))
    finally:
        s.stop()


def rule_table():
    """Every (method, path, rule) of the auth layer's table, read from its source: the
    table is the one place that says what each route needs."""
    import re

    src = (Path(__file__).resolve().parents[2] / "crates/server/src/auth.rs").read_text()
    out = []
    for table, prefix in (("API_RULES", "/api"), ("ROOT_RULES", "")):
        body = src.split(f"const {table}")[1].split("];")[0]
        for method, path, rule in re.findall(r'\("([A-Z]+)",\s*"([^"]+)",\s*Rule::(\w+)', body):
            out.append((method, prefix + path.replace("**", "0/x").replace("*", "x"), rule))
    return out


def test_every_route_refuses_strangers_and_the_unauthorized(workdir):
    """Each route of the table answers 401 to a caller without credentials, and 403 to a
    signed-in user without permissions, before it looks at anything else; a route the table
    does not name is refused (403) to everyone but administrators."""
    s = ferroflow(workdir, write_ini(workdir, default_permission="NO_PERMISSIONS"))
    try:
        call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "bob", "password": "bobpassword123"})
        exp = call(s.url, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "private"}).json()["experiment_id"]
        run = call(s.url, "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
        model = call(s.url, "POST", "/api/2.0/mlflow/logged-models", json={"experiment_id": exp}).json()["model"]["info"]["model_id"]
        call(s.url, "POST", "/api/2.0/mlflow/registered-models/create", json={"name": "private-model"})
        params = {
            "experiment_id": exp, "experiment_ids": [exp], "experiment_name": "private", "run_id": run,
            "run_uuid": run, "run_ids": [run], "name": "private-model", "version": "1", "username": "admin",
            "resource_type": "experiment", "resource_id": exp, "permission": "READ", "path": f"{exp}/x",
            "metric_key": "m", "key": "k", "value": "v", "new_name": "n", "is_admin": True, "password": "p" * 12,
            "role_id": 1, "role_permission_id": 1, "workspace": "default", "resource_pattern": "*",
        }
        # Any signed-in user may search (results filtered) and create (MLflow's rule).
        signed_in_ok = {"SignedIn", "CreateExperiment", "CreateRegisteredModel"}
        table = rule_table()
        assert len(table) > 90
        for method, path, rule in table:
            path = path.replace("/logged-models/x", f"/logged-models/{model}").replace("/0/x", f"/{exp}/x")
            kw = {"params": params} if method in ("GET", "DELETE") else {"json": params}
            anon = call(s.url, method, path, auth=None, **kw)
            assert anon.status_code == 401, (method, path, anon.status_code)
            assert anon.headers["www-authenticate"] == 'Basic realm="mlflow"'
            if rule in signed_in_ok:
                continue
            bob = call(s.url, method, path, auth=("bob", "bobpassword123"), **kw)
            assert bob.status_code == 403, (method, path, rule, bob.status_code, bob.text[:200])
        # Nothing bob tried changed anything.
        assert call(s.url, "GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp}).json()["experiment"]["name"] == "private"
        assert call(s.url, "GET", "/api/2.0/mlflow/users/get", params={"username": "admin"}).json()["user"]["is_admin"]
        # Routes outside the table: refused to bob, answered to the admin.
        assert call(s.url, "GET", "/api/2.0/mlflow/not-a-route", auth=("bob", "bobpassword123")).status_code == 403
        assert call(s.url, "GET", "/api/2.0/mlflow/not-a-route").status_code == 404
    finally:
        s.stop()


def test_cached_credentials_and_grants_follow_every_change(workdir):
    """With `auth_cache_ttl_seconds`, a verified password and a user's grants are
    remembered, and forgotten by the change that makes them wrong."""
    s = ferroflow(workdir, write_ini(workdir, default_permission="NO_PERMISSIONS", auth_cache_ttl_seconds=600))
    try:
        alice = ("alice", "alicepassword1")
        call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "alice", "password": alice[1]})
        exp = call(s.url, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "e"}).json()["experiment_id"]
        get = lambda auth: call(s.url, "GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp}, auth=auth).status_code  # noqa: E731
        assert get(alice) == 403
        target = {"username": "alice", "resource_type": "experiment", "resource_id": exp}
        call(s.url, "POST", "/api/3.0/mlflow/users/permissions/grant", json={**target, "permission": "READ"}).raise_for_status()
        assert get(alice) == 200
        call(s.url, "POST", "/api/3.0/mlflow/users/permissions/revoke", json=target).raise_for_status()
        assert get(alice) == 403
        call(s.url, "PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": "alice", "is_admin": True}).raise_for_status()
        assert get(alice) == 200
        call(s.url, "PATCH", "/api/2.0/mlflow/users/update-password", json={"username": "alice", "password": "alicepassword2"}).raise_for_status()
        assert get(alice) == 401
        assert get(("alice", "alicepassword2")) == 200
        call(s.url, "DELETE", "/api/2.0/mlflow/users/delete", json={"username": "alice"}).raise_for_status()
        assert get(("alice", "alicepassword2")) == 401
    finally:
        s.stop()


def test_repeated_wrong_passwords_are_slowed_down(workdir):
    """Past 20 failed sign-ins in a minute, a user name from one address gets 429 with
    Retry-After (its password no longer checked); other users are not affected."""
    s = ferroflow(workdir, write_ini(workdir))
    try:
        call(s.url, "POST", "/api/2.0/mlflow/users/create", json={"username": "alice", "password": "alicepassword1"})
        url = "/api/2.0/mlflow/users/current"
        answers = [call(s.url, "GET", url, auth=("alice", f"guess-{i}")).status_code for i in range(20)]
        assert answers == [401] * 20
        blocked = call(s.url, "GET", url, auth=("alice", "alicepassword1"))
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert blocked.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert call(s.url, "GET", url).status_code == 200
    finally:
        s.stop()


@needs_mysql
def test_an_empty_mysql_auth_database_is_refused_with_the_reason(workdir):
    """MLflow 3.17.2's auth migrations cannot run on MySQL or MariaDB; Ferroflow says why
    instead of making a schema MLflow would not recognise."""
    ini = write_ini(workdir, database_uri=new_mysql_database("ff_auth"))
    p = subprocess.run(
        [BIN, "server", "--app-name", "basic-auth", "--port", "0"],
        cwd=workdir, capture_output=True, text=True, timeout=60, env={**os.environ, **auth_env(ini)},
    )
    assert p.returncode != 0 and "SQLite or PostgreSQL" in p.stderr, p.stderr
