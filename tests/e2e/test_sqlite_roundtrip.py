"""One database, two programs: what Python MLflow writes to sqlite:///mlflow.db, Ferroflow
serves (seed 000, section 3.1); what Ferroflow writes, Python MLflow opens without a
migration."""

import os
import sqlite3
import subprocess
import sys

import mlflow
import pytest
import requests

from conftest import DATA, Server, mlflow3_schema
from test_clients import run_id_of

HERE = os.path.dirname(__file__)


def python_logs_to_sqlite(workdir, uri):
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "from-python"}
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "scripts", "train_wine.py"), str(DATA / "winequality-red.csv"), "elasticnet"],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return run_id_of(out.stdout)


@mlflow3_schema
def test_ferroflow_serves_a_database_python_mlflow_created(workdir):
    run_id = python_logs_to_sqlite(workdir, "sqlite:///mlflow.db")
    s = Server(workdir, "--backend-store-uri", "sqlite:///mlflow.db", "--serve-artifacts").start()
    try:
        c = mlflow.MlflowClient(s.url)
        exp = c.get_experiment_by_name("from-python")
        run = c.get_run(run_id)
        assert run.info.experiment_id == exp.experiment_id
        assert set(run.data.metrics) == {"rmse", "mae", "r2"}
        assert run.data.params["alpha"] == "0.5"
        assert [r.info.run_id for r in c.search_runs([exp.experiment_id], "metrics.rmse > 0")] == [run_id]
        # Artifacts were written locally under ./mlruns by the Python client; the server lists and serves them.
        listing = requests.get(f"{s.url}/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
        assert {f["path"] for f in listing["files"]} >= {"residuals.png"}
        png = requests.get(f"{s.url}/get-artifact", params={"run_uuid": run_id, "path": "residuals.png"})
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        # The MLflow 3 logged model is visible too.
        assert len(c.search_logged_models(experiment_ids=[exp.experiment_id])) == 1
    finally:
        s.stop()


@mlflow3_schema
def test_python_mlflow_opens_a_database_ferroflow_created(workdir):
    s = Server(workdir, "--backend-store-uri", "sqlite:///ff.db").start()
    try:
        c = mlflow.MlflowClient(s.url)
        exp = c.create_experiment("from-ferroflow", tags={"origin": "ferroflow"})
        r = c.create_run(exp, run_name="served")
        c.log_param(r.info.run_id, "p", "1")
        for i in range(3):
            c.log_metric(r.info.run_id, "m", i * 1.5, step=i)
        c.set_terminated(r.info.run_id)
    finally:
        assert s.stop() == 0
    # Python MLflow opens it directly: no migration error, same data.
    uri = f"sqlite:///{workdir}/ff.db"
    py = mlflow.MlflowClient(uri)
    e = py.get_experiment_by_name("from-ferroflow")
    assert e.tags["origin"] == "ferroflow"
    runs = py.search_runs([e.experiment_id], "params.p = '1'")
    assert [x.info.run_name for x in runs] == ["served"]
    assert [m.value for m in py.get_metric_history(runs[0].info.run_id, "m")] == [0.0, 1.5, 3.0]
    # Python writes more; Ferroflow serves it again.
    r2 = py.create_run(e.experiment_id, run_name="from-python-again")
    py.log_metric(r2.info.run_id, "m", 42.0)
    s2 = Server(workdir, "--backend-store-uri", "sqlite:///ff.db").start()
    try:
        names = {x.info.run_name for x in mlflow.MlflowClient(s2.url).search_runs([e.experiment_id])}
        assert names == {"served", "from-python-again"}
    finally:
        s2.stop()
    with sqlite3.connect(workdir / "ff.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone()[0] == "dc11669786a5"
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_an_mlflow_database_is_refused(workdir):
    (workdir / "junk.db").write_bytes(b"this is not sqlite" * 100)
    s = Server(workdir, "--backend-store-uri", "sqlite:///junk.db")
    with pytest.raises(RuntimeError, match="not a SQLite database"):
        s.start(timeout=10)
    with sqlite3.connect(workdir / "other.db") as db:
        db.execute("create table customers (id integer)")
    s = Server(workdir, "--backend-store-uri", "sqlite:///other.db")
    with pytest.raises(RuntimeError, match="not an MLflow tracking database"):
        s.start(timeout=10)
    assert (workdir / "junk.db").read_bytes().startswith(b"this is not sqlite"), "the file was left untouched"


def test_concurrent_starts_create_the_schema_once(workdir):
    servers = [Server(workdir, "--backend-store-uri", "sqlite:///shared.db") for _ in range(3)]
    import threading

    errors = []

    def start(s):
        try:
            s.start()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        clients = [mlflow.MlflowClient(s.url) for s in servers]
        ids = [c.create_experiment(f"from-{i}") for i, c in enumerate(clients)]
        assert len(set(ids)) == 3
        assert {e.name for e in clients[0].search_experiments()} == {"Default", "from-0", "from-1", "from-2"}
    finally:
        for s in servers:
            s.stop()
    with sqlite3.connect(workdir / "shared.db") as db:
        assert db.execute("select count(*) from alembic_version").fetchone()[0] == 1
        assert db.execute("select count(*) from experiments where name = 'Default'").fetchone()[0] == 1


def test_an_older_mlflow_schema_is_refused_with_instructions(workdir):
    from conftest import run_cli

    run_cli("db", "upgrade", "sqlite:///old.db", cwd=workdir)
    with sqlite3.connect(workdir / "old.db") as db:
        db.execute("update alembic_version set version_num = '0584bdc529eb'")
    p = run_cli("server", "--backend-store-uri", "sqlite:///old.db", "--port", "1", check=False, cwd=workdir, timeout=30)
    assert p.returncode == 1
    assert "0584bdc529eb" in p.stderr and "mlflow db upgrade" in p.stderr
    with sqlite3.connect(workdir / "old.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone()[0] == "0584bdc529eb", "nothing was changed"
