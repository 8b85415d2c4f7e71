"""`ferroflow migrate-filestore`: a ./mlruns written by the MLflow 2.22 and 3.17.2 clients,
moved into SQLite, compared table by table with what MLflow 3.17.2's own
`mlflow migrate-filestore` makes of the same directory, opened by Python MLflow 3.17.2
directly, and served by Ferroflow exactly as the file store was."""

import os
import shutil
import signal
import sqlite3
import subprocess
import textwrap
import time

import pytest
import requests

from conftest import BIN, MLFLOW, Server, run_cli
from scripts.filestore_gen import write_runs
from test_file_store import PYTHON3, mlruns_2x, needs_2x, py  # noqa: F401 (mlruns_2x is a fixture)

# What MLflow 3 adds to the same ./mlruns: a logged model with params and a metric tied
# to it and to its run, a model version made from it, a model input of a second run.
WRITE_3 = textwrap.dedent(
    """
    import mlflow
    from sklearn.linear_model import LinearRegression
    mlflow.set_tracking_uri("file:./mlruns")
    mlflow.set_experiment("wine3")
    with mlflow.start_run(run_name="three") as r:
        mlflow.log_param("p", "1")
        info = mlflow.sklearn.log_model(LinearRegression().fit([[0], [1]], [0, 1]), name="lr",
                                        params={"fit_intercept": "True"}, registered_model_name="lr-model")
        mlflow.log_metric("acc", 0.9, step=2, model_id=info.model_id)
    with mlflow.start_run(run_name="user") as u:
        # The fluent and client APIs keep model inputs for Databricks; the store takes them.
        store = mlflow.MlflowClient()._tracking_client.store
        store.log_inputs(u.info.run_id, models=[mlflow.entities.LoggedModelInput(info.model_id)])
    print(info.model_id)
    """
)

# Every table MLflow's migration fills; uuids it generates (inputs, datasets) are
# compared through what they link.
TABLES = {
    "experiments": "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace",
    "experiment_tags": "key, value, experiment_id",
    "runs": "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, "
            "source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time",
    "params": "key, value, run_uuid",
    "tags": "key, value, run_uuid",
    "metrics": "key, value, timestamp, run_uuid, step, is_nan",
    "latest_metrics": "key, value, timestamp, step, is_nan, run_uuid",
    "datasets": "experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile",
    "logged_models": "model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
                     "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message",
    "logged_model_params": "model_id, experiment_id, param_key, param_value",
    "logged_model_tags": "model_id, experiment_id, tag_key, tag_value",
    "logged_model_metrics": "model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, "
                            "run_id, dataset_name, dataset_digest",
    "registered_models": "name, creation_time, last_updated_time, description, workspace",
    "registered_model_tags": "key, value, name, workspace",
    "registered_model_aliases": "alias, version, name, workspace",
    "model_versions": "name, version, creation_time, last_updated_time, description, user_id, current_stage, source, "
                      "run_id, status, status_message, run_link, storage_location, workspace",
    "model_version_tags": "key, value, name, version, workspace",
}

# Links, with a dataset's uuid replaced by its name and digest.
LINKS = """
    SELECT i.source_type, COALESCE(d.name || '@' || d.digest, i.source_id), i.destination_type, i.destination_id, i.step,
           (SELECT group_concat(t.name || '=' || t.value, ';') FROM
               (SELECT name, value FROM input_tags WHERE input_uuid = i.input_uuid ORDER BY name) t)
    FROM inputs i LEFT JOIN datasets d ON i.source_type = 'DATASET' AND d.dataset_uuid = i.source_id
"""


def dump(db):
    con = sqlite3.connect(db)
    try:
        out = {t: sorted(con.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr) for t, cols in TABLES.items()}
        out["inputs"] = sorted(con.execute(LINKS).fetchall(), key=repr)
        out["alembic_version"] = con.execute("SELECT version_num FROM alembic_version").fetchall()
        return out
    finally:
        con.close()


@pytest.fixture
def mlruns_23(workdir, mlruns_2x):
    """./mlruns written by 2.22 (runs, registry, datasets) and then by 3.17.2 (logged models)."""
    model_id = py(PYTHON3, WRITE_3, workdir)
    return mlruns_2x, model_id


def migrate(workdir, source, target, *extra, input=None, check=True):
    return run_cli("migrate-filestore", "--source", str(source), "--target", target, *extra,
                   cwd=workdir, input=input, check=check)


@needs_2x
def test_migration_matches_mlflows_own_table_by_table(workdir, mlruns_23):
    parent, model_id = mlruns_23
    ref = subprocess.run([str(MLFLOW), "migrate-filestore", "--source", str(workdir), "--target", "sqlite:///ref.db"],
                         cwd=workdir, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                         env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"})
    assert ref.returncode == 0, ref.stderr[-3000:]
    p = migrate(workdir, workdir, "sqlite:///ff.db")
    assert "Migration summary:" in p.stdout and "Nothing was skipped." in p.stdout, p.stdout
    assert f"ferroflow server --backend-store-uri sqlite:///{workdir / 'ff.db'}" in p.stdout
    ours, theirs = dump(workdir / "ff.db"), dump(workdir / "ref.db")
    for table in theirs:
        if table != "inputs":
            assert ours[table] == theirs[table], table
    # MLflow's migration reads run inputs only in experiments that have datasets, and so
    # drops the model input of the run in "wine3"; it is the one row Ferroflow has more.
    extra = [i for i in ours["inputs"] if i not in theirs["inputs"]]
    assert [i for i in theirs["inputs"] if i not in ours["inputs"]] == []
    assert [(i[0], i[2], i[3]) for i in extra] == [("RUN_INPUT", "MODEL_INPUT", model_id)]
    # What was migrated is all there: a run's full history, the deleted run and experiment,
    # the registry, the logged model with its lineage.
    assert len([m for m in ours["metrics"] if m[0] == "loss"]) == 50
    assert any(r[10] == "deleted" for r in ours["runs"])
    assert any(e[3] == "deleted" for e in ours["experiments"])
    assert any(m[0] == model_id for m in ours["logged_models"])
    assert any(i[0] == "RUN_INPUT" and i[3] == model_id for i in ours["inputs"])
    assert any(i[0] == "RUN_OUTPUT" and i[3] == model_id for i in ours["inputs"])
    assert any(i[0] == "DATASET" and i[1].startswith("wine-train@") and i[3] == parent for i in ours["inputs"])
    # The source was only read.
    assert not list(workdir.glob("mlruns/**/*.ferroflow-*"))


@needs_2x
def test_python_mlflow_opens_the_result_and_ferroflow_serves_it_as_the_file_store(workdir, mlruns_23):
    parent, model_id = mlruns_23
    migrate(workdir, workdir / "mlruns", "sqlite:///mlflow.db", "--no-progress")
    # Python MLflow 3.17.2 opens it as its own.
    check = textwrap.dedent(
        """
        import json, sys, mlflow
        c = mlflow.MlflowClient("sqlite:///mlflow.db")
        r = c.get_run(sys.argv[1])
        mv = c.get_model_version_by_alias("wine-model", "champion")
        lm = c.get_logged_model(sys.argv[2])
        print(json.dumps([r.info.run_name, r.data.params, len(c.get_metric_history(r.info.run_id, "loss")),
                          [d.dataset.name for d in r.inputs.dataset_inputs], mv.current_stage, mv.tags,
                          lm.name, lm.params, [m.key for m in lm.metrics],
                          sorted(e.name for e in c.search_experiments(view_type=3))]))
        """
    )
    got = py(PYTHON3, check, workdir, parent, model_id)
    assert got == (
        '["parent", {"alpha": "0.5", "l1_ratio": "0.1"}, 50, ["wine-train"], "Staging", {"vk": "vv"}, '
        '"lr", {"fit_intercept": "True", "p": "1"}, ["acc"], ["Default", "old", "wine", "wine3"]]'
    )

    # Served from the file store and from the database, every answer is the same.
    file_server = Server(workdir, "--backend-store-uri", str(workdir / "mlruns")).start()
    db_server = Server(workdir, "--backend-store-uri", "sqlite:///mlflow.db").start()
    try:
        def without_workspace(v):
            # A database names its experiments' and models' workspace ("default"), as
            # MLflow's SQL store does; a file store has none, as MLflow's has none.
            if isinstance(v, dict):
                return {k: without_workspace(x) for k, x in v.items() if k != "workspace"}
            if isinstance(v, list):
                return [without_workspace(x) for x in v]
            return v

        def both(method, endpoint, **kw):
            a, b = file_server.api(method, endpoint, **kw), db_server.api(method, endpoint, **kw)
            assert a.status_code == b.status_code == 200, (endpoint, a.text, b.text)
            assert without_workspace(a.json()) == without_workspace(b.json()), endpoint
            return a.json()

        exps = both("POST", "experiments/search", json={"max_results": 100, "view_type": "ALL"})["experiments"]
        ids = [e["experiment_id"] for e in exps]
        runs = both("POST", "runs/search", json={"experiment_ids": ids, "run_view_type": "ALL", "max_results": 100,
                                                 "order_by": ["attributes.start_time DESC"]})["runs"]
        assert len(runs) == 5
        for r in runs:
            rid = r["info"]["run_id"]
            both("GET", "runs/get", params={"run_id": rid})
            for key in {m["key"] for m in r["data"].get("metrics", [])}:
                both("GET", "metrics/get-history", params={"run_id": rid, "metric_key": key})
        both("POST", "runs/search", json={"experiment_ids": ids, "filter": "metrics.loss < 0.5 and params.alpha = '0.5'"})
        both("GET", "registered-models/search", params={"max_results": 100})
        both("GET", "model-versions/search", params={"max_results": 100})
        both("GET", "registered-models/alias", params={"name": "wine-model", "alias": "champion"})
        both("POST", "logged-models/search", json={"experiment_ids": ids})
        both("GET", f"logged-models/{model_id}")
    finally:
        file_server.stop()
        db_server.stop()


def test_bad_files_are_skipped_and_named(workdir):
    exp = write_runs(workdir, runs=4, metrics=1, steps=3)
    runs = sorted(p for p in exp.iterdir() if p.is_dir())
    (runs[0] / "meta.yaml").write_text("artifact_uri: [unclosed\n")  # truncated by hand
    with open(runs[1] / "metrics" / "m0", "a") as f:
        f.write("not a metric line\n")
    (exp / "stray").mkdir()  # a folder that is not a run
    dup = workdir / "mlruns" / "2"
    shutil.copytree(exp, dup)  # the same runs again, under another experiment id
    (dup / "meta.yaml").write_text((exp / "meta.yaml").read_text().replace("'1'", "'2'").replace("gen", "gen2"))
    p = migrate(workdir, workdir, "sqlite:///out.db")
    out = p.stdout
    assert f"{runs[0] / 'meta.yaml'}" in out and f"{runs[1] / 'metrics' / 'm0'}: 1 malformed metric line(s)" in out
    assert f"{exp / 'stray' / 'meta.yaml'}: a run folder without meta.yaml" in out
    assert "is already in another experiment's folder" in out
    con = sqlite3.connect(workdir / "out.db")
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (3,)
    assert con.execute("SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", (runs[1].name,)).fetchone() == (3,)


def test_flags_and_an_existing_target(workdir):
    write_runs(workdir, runs=1, metrics=1, steps=1)
    p = migrate(workdir, workdir / "nope", "sqlite:///x.db", check=False)
    assert p.returncode == 2 and f"Invalid value for '--source': Directory '{workdir / 'nope'}' does not exist." in p.stderr
    p = migrate(workdir, workdir, "postgresql://u@127.0.0.1/db", check=False)
    assert p.returncode == 2 and "Must be a SQLite URI starting with 'sqlite:///'" in p.stderr
    p = migrate(workdir, workdir, "sqlite:///no/such/dir/x.db", check=False)
    assert p.returncode == 2 and f"Parent directory does not exist: {workdir / 'no/such/dir'}" in p.stderr
    (workdir / "empty").mkdir()
    p = migrate(workdir, workdir / "empty", "sqlite:///x.db", check=False)
    assert p.returncode == 1 and "Cannot find mlruns directory in" in p.stderr
    (workdir / "x.db").write_text("keep me")
    # No answer (no terminal, no input): nothing is replaced.
    p = migrate(workdir, workdir, "sqlite:///x.db", input="", check=False)
    assert p.returncode == 1 and "Aborted!" in p.stderr and "Overwrite? [y/N]" in p.stdout
    assert (workdir / "x.db").read_text() == "keep me"
    p = migrate(workdir, workdir, "sqlite:///x.db", input="y\n")
    assert sqlite3.connect(workdir / "x.db").execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    assert "Migrated 1/1 runs" in p.stderr
    assert "Migrated" not in migrate(workdir, workdir, "sqlite:///y.db", "--no-progress").stderr


def test_an_interrupted_migration_leaves_nothing_half_written(workdir):
    write_runs(workdir, runs=200, metrics=5, steps=1000)
    target = workdir / "big.db"
    proc = subprocess.Popen([BIN, "migrate-filestore", "--source", str(workdir), "--target", "sqlite:///big.db"],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = workdir / "big.db.ferroflow-partial"
    deadline = time.monotonic() + 60
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    # Run again: it starts over and completes.
    p = migrate(workdir, workdir, "sqlite:///big.db")
    assert not partial.exists()
    con = sqlite3.connect(target)
    assert con.execute("SELECT COUNT(*) FROM metrics").fetchone() == (200 * 5 * 1000,)
    assert con.execute("SELECT COUNT(*) FROM latest_metrics WHERE step = 999").fetchone() == (1000,)
    assert con.execute("SELECT value FROM latest_metrics WHERE run_uuid = ? AND key = 'm3'",
                       (f"{7:032x}",)).fetchone() == (((7 * 31 + 3 * 17) % 1000) / 1000,)
    assert "metrics" in p.stdout and "1000000" in p.stdout
    # And the server opens it.
    s = Server(workdir, "--backend-store-uri", "sqlite:///big.db").start()
    try:
        r = s.api("POST", "runs/search", json={"experiment_ids": ["1"], "max_results": 5, "order_by": ["attributes.run_name"]})
        assert [x["info"]["run_name"] for x in r.json()["runs"]] == ["run-0", "run-1", "run-10", "run-100", "run-101"]
        h = requests.get(f"{s.url}/api/2.0/mlflow/metrics/get-history",
                         params={"run_id": f"{7:032x}", "metric_key": "m3"}, timeout=30).json()
        assert len(h["metrics"]) == 1000
    finally:
        s.stop()
