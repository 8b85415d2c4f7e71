"""`ferroflow db upgrade` on databases older MLflow versions made, compared with what
MLflow 3.17.2's own `mlflow db upgrade` makes of the same database: after both, every
table holds the same columns and the same rows. Then Ferroflow serves the result.

The sources are real: MLflow 2.22 writing through its own library (it creates the schema at
its head), and MLflow's own migrations stopped at older revisions (back to MLflow 1.0's
first one) with rows in them.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import urllib.parse

import pytest

from conftest import (
    BIN,
    MLFLOW,
    MLFLOW_3,
    MYSQL_ADMIN,
    ROOT,
    Server,
    client_on,
    mysql_connect,
    needs_mysql,
    needs_postgres,
    new_mysql_database,
    new_pg_database,
    pg_admin,
    run_cli,
)

SCRIPTS = ROOT / "tests" / "e2e" / "scripts"
# The reference's Python (MLflow 3.17.2, with its alembic migrations and drivers).
REF_PYTHON = str(MLFLOW.with_name("python"))
MLFLOW2_PYTHON = os.environ.get("MLFLOW2_PYTHON")

# What upgrading involves does not depend on the client; the MLflow 2.22 pass of the suite
# skips it.
pytestmark = pytest.mark.skipif(not MLFLOW_3, reason="runs once, in the MLflow 3 pass")


def ref(*args: str, timeout: int = 600) -> str:
    p = subprocess.run([REF_PYTHON, *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def dump(url: str) -> dict:
    return json.loads(ref(str(SCRIPTS / "dump_db.py"), url))


def new_database(backend: str, tmp_path, name: str = "src") -> str:
    """A new, empty database, as a URL both SQLAlchemy and Ferroflow take."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    if backend == "postgresql":
        return new_pg_database("ff_upgrade")
    return new_mysql_database("ff_upgrade").replace("mysql://", "mysql+pymysql://", 1)


def clone(backend: str, url: str, tmp_path) -> str:
    """A second database with the same contents as `url`."""
    if backend == "sqlite":
        copy = tmp_path / "copy.db"
        shutil.copy(url[len("sqlite:///"):], copy)
        return f"sqlite:///{copy}"
    if backend == "postgresql":
        copy = new_pg_database("ff_upgrade")
        name, source = copy.rsplit("/", 1)[1], url.rsplit("/", 1)[1]
        pg_admin(f"DROP DATABASE {name}")
        pg_admin(f"CREATE DATABASE {name} TEMPLATE {source}")
        return copy
    copy = new_database("mysql", tmp_path)
    admin = urllib.parse.urlsplit(MYSQL_ADMIN)
    login = [f"--host={admin.hostname}", f"--port={admin.port or 3306}", f"--user={urllib.parse.unquote(admin.username)}",
             f"--password={urllib.parse.unquote(admin.password or '')}"]
    dumped = subprocess.run(["mysqldump", *login, url.rsplit("/", 1)[1]], capture_output=True, check=True, timeout=120)
    subprocess.run(["mysql", *login, copy.rsplit("/", 1)[1]], input=dumped.stdout, check=True, timeout=120)
    return copy


def upgrade_both(backend: str, source: str, tmp_path) -> tuple[str, str]:
    """Upgrades `source` with MLflow and a clone of it with Ferroflow; returns (mlflow's, ours)."""
    ours = clone(backend, source, tmp_path)
    subprocess.run([str(MLFLOW), "db", "upgrade", source], check=True, capture_output=True, timeout=600)
    p = run_cli("db", "upgrade", ours, timeout=600)
    assert "Upgraded" in p.stdout and "to dc11669786a5 (MLflow 3.17.2)" in p.stdout, p.stdout
    return source, ours


def assert_same_contents(theirs: str, ours: str) -> None:
    a, b = dump(theirs), dump(ours)
    assert sorted(a) == sorted(b), set(a) ^ set(b)
    for table in a:
        assert a[table] == b[table], table


def revision(url: str) -> str:
    return dump(url)["alembic_version"]["rows"][0][0].strip("'")


BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=needs_postgres),
    pytest.param("mysql", marks=needs_mysql),
]


@pytest.mark.skipif(not MLFLOW2_PYTHON, reason="MLFLOW2_PYTHON (an mlflow 2.22 venv) is not set")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_mlflow_2_22_wrote_upgrades_to_what_mlflow_3_makes_of_it(backend, tmp_path):
    source = new_database(backend, tmp_path)
    p = subprocess.run([MLFLOW2_PYTHON, str(SCRIPTS / "populate_mlflow22.py"), source], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    trace_id = p.stdout.split()[-1]
    assert revision(source) == "0584bdc529eb"  # MLflow 2.22's head

    theirs, ours = upgrade_both(backend, source, tmp_path)
    assert_same_contents(theirs, ours)
    trace = next(r for r in dump(ours)["trace_info"]["rows"] if trace_id in r[0])
    assert "'session-1'" in trace and "'predict'" in trace  # promoted from the trace's metadata and tags

    # Ferroflow serves it as it is (the server would have refused it before the upgrade).
    server = Server(tmp_path, "--backend-store-uri", ours).start()
    try:
        client = client_on(server.url)
        exp = client.get_experiment_by_name("wine-quality")
        assert exp.tags["team"] == "ml"
        runs = client.search_runs([exp.experiment_id], order_by=["params.alpha ASC"])
        assert [r.data.params["alpha"] for r in runs] == ["0.1", "0.5"]
        assert runs[0].data.tags["quoted"] == 'a "b" \'c\''
        assert [m.value for m in client.get_metric_history(runs[0].info.run_id, "rmse")][-1] == pytest.approx(0.5)
        assert runs[0].inputs.dataset_inputs[0].dataset.name == "red"
        assert client.get_model_version_by_alias("wine", "champion").version == "2"
        assert client.get_model_version("wine", "1").current_stage == "Staging"
        assert len(client.search_runs([exp.experiment_id], run_view_type=3)) == 3  # the deleted run too
        new = client.create_experiment("after the upgrade")
        assert int(new) > int(exp.experiment_id)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "backend,rev",
    [
        ("sqlite", "451aebb31d03"),  # MLflow 1.0: runs.user_id, no latest_metrics, no registry
        ("sqlite", "7ac759974ad8"),  # just before latest_metrics
        ("sqlite", "c8d9e0f1a2b3"),  # MLflow 3, before workspaces
        ("sqlite", "b7e2c1a4d9f3"),  # just before the trace analytics columns
        pytest.param("postgresql", "451aebb31d03", marks=needs_postgres),
        pytest.param("mysql", "451aebb31d03", marks=needs_mysql),
    ],
)
def test_a_database_at_an_older_revision_upgrades_as_mlflow_upgrades_it(backend, rev, tmp_path):
    source = new_database(backend, tmp_path)
    ref(str(SCRIPTS / "db_at_revision.py"), source, rev)
    assert revision(source) == rev
    theirs, ours = upgrade_both(backend, source, tmp_path)
    assert_same_contents(theirs, ours)
    tags = dump(ours)["tags"]["rows"]
    # alice's user became her mlflow.user tag; bob kept the one he had; no tag for empty users.
    users = sorted(r for r in tags if "'mlflow.user'" in r)
    assert [r[1] for r in users] == (["'alice'", "'robert'"] if rev == "451aebb31d03" else ["'robert'"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_stored_traces_with_spans_upgrade_from_the_analytics_revision_on(backend, tmp_path):
    """From `75868b020152` (trace analytics) on, spans are copied like any row; their
    `duration_ns` is the database's to compute, and PostgreSQL's identity columns go on
    after the copied ids."""
    source = new_database(backend, tmp_path)
    ref(str(SCRIPTS / "db_at_revision.py"), source, "75868b020152", "--trace")
    theirs, ours = upgrade_both(backend, source, tmp_path)
    assert_same_contents(theirs, ours)
    span = dump(ours)["spans"]["rows"][0]
    assert "5000000" in span  # duration_ns, computed


def test_stored_traces_from_before_their_analytics_are_refused_with_the_way_out(tmp_path):
    source = new_database("sqlite", tmp_path)
    ref(str(SCRIPTS / "db_at_revision.py"), source, "b7e2c1a4d9f3", "--trace")
    before = dump(source)
    p = run_cli("db", "upgrade", source, check=False)
    assert p.returncode != 0
    assert "1 rows in spans" in p.stderr and "mlflow db upgrade" in p.stderr, p.stderr
    assert dump(source) == before


def test_the_server_refuses_an_older_database_and_says_how_to_upgrade_it(tmp_path):
    source = new_database("sqlite", tmp_path)
    ref(str(SCRIPTS / "db_at_revision.py"), source, "0584bdc529eb")
    p = subprocess.run([BIN, "server", "--port", "0",
                        "--backend-store-uri", source], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode != 0
    assert "revision '0584bdc529eb'" in p.stderr and "ferroflow db upgrade" in p.stderr, p.stderr
    assert revision(source) == "0584bdc529eb"


def test_an_unknown_revision_is_refused_and_left_as_it_is(tmp_path):
    source = new_database("sqlite", tmp_path)
    ref(str(SCRIPTS / "db_at_revision.py"), source, "0584bdc529eb")
    path = source[len("sqlite:///"):]
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    before = dump(source)
    p = run_cli("db", "upgrade", source, check=False)
    assert p.returncode != 0
    assert "'ffffffffffff'" in p.stderr and "not one of MLflow's" in p.stderr, p.stderr
    assert dump(source) == before


def orphan_tag(backend: str, url: str) -> None:
    """A tag of a run that does not exist, which a database without enforced foreign keys
    may hold, and MLflow 3.17.2's schema refuses."""
    sql = "INSERT INTO tags (`key`, value, run_uuid) VALUES ('k', 'v', 'ffffffffffffffffffffffffffffffff')"
    if backend == "sqlite":
        with sqlite3.connect(url[len("sqlite:///"):]) as db:
            db.execute(sql.replace("`", '"'))
    elif backend == "postgresql":
        import psycopg

        with psycopg.connect(url, autocommit=True) as c:
            c.execute("ALTER TABLE tags DROP CONSTRAINT tags_run_uuid_fkey")
            c.execute(sql.replace("`", '"'))
    else:
        with mysql_connect(url.replace("mysql+pymysql://", "mysql://", 1)) as c, c.cursor() as cur:
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            cur.execute(sql)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_upgrade_that_fails_keeps_every_row(backend, tmp_path):
    """A row the head schema refuses stops the upgrade with a message naming its table. On
    SQLite and PostgreSQL nothing changed (one transaction). On MySQL, where schema changes
    commit one by one, the rows wait in their copies: the server refuses the database until
    `ferroflow db upgrade` is run again, and that finishes the upgrade once the row is fixed."""
    source = new_database(backend, tmp_path)
    ref(str(SCRIPTS / "db_at_revision.py"), source, "451aebb31d03")
    orphan_tag(backend, source)
    before = dump(source)
    p = run_cli("db", "upgrade", source, check=False, timeout=600)
    assert p.returncode != 0
    assert "Copying tags's rows into MLflow 3.17.2's schema failed" in p.stderr, p.stderr
    if backend != "mysql":
        assert dump(source) == before
        return
    server = subprocess.run([BIN, "server", "--port", "0", "--backend-store-uri", source],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert server.returncode != 0 and "interrupted `ferroflow db upgrade`" in server.stderr, server.stderr

    with mysql_connect(source.replace("mysql+pymysql://", "mysql://", 1)) as c, c.cursor() as cur:
        assert cur.execute("DELETE FROM ferroflow_upgrade_tags WHERE run_uuid = 'ffffffffffffffffffffffffffffffff'") == 1
    p = run_cli("db", "upgrade", source, timeout=600)
    assert "Upgraded" in p.stdout and "from MLflow revision 451aebb31d03" in p.stdout, p.stdout
    after = dump(source)
    assert not [t for t in after if t.startswith("ferroflow_upgrade")]
    assert len(after["metrics"]["rows"]) == len(before["metrics"]["rows"])
    assert len(after["latest_metrics"]["rows"]) == 6
