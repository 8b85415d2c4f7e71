"""MLflow's file store (`./mlruns`), as the seeds use it: written by the MLflow 2.22 client
with no tracking URI, served by `ferroflow server`/`ui` in that directory to the client,
written through the server and read back directly by 2.22 and 3.17.2, compared with what
MLflow 3.17.2's own server (`MLFLOW_ALLOW_FILE_STORE=true`) serves from the same files."""

import json
import os
import shutil
import subprocess
import textwrap

import pytest
import requests

from conftest import DATA, MLFLOW, Server, client_on, free_port, run_cli

MLFLOW2_PYTHON = os.environ.get("MLFLOW2_PYTHON")
PYTHON3 = str(MLFLOW.with_name("python"))

needs_2x = pytest.mark.skipif(not MLFLOW2_PYTHON, reason="MLFLOW2_PYTHON (an mlflow 2.22 venv) is not set")

# What a 2.22 user's training script leaves in ./mlruns: nested runs, a metric history,
# a dataset input, a registered sklearn model with an alias, tags and a stage, a deleted
# run and a deleted experiment.
WRITE = textwrap.dedent(
    """
    import mlflow, pandas as pd
    from sklearn.linear_model import ElasticNet
    wine = pd.read_csv(r"{data}").head(200)
    X, y = wine.drop(columns=["quality"]), wine["quality"]
    mlflow.set_experiment("wine")
    with mlflow.start_run(run_name="parent") as p:
        mlflow.log_params({{"alpha": 0.5, "l1_ratio": 0.1}})
        mlflow.set_tag("team/owner", "ml")
        for i in range(50):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        mlflow.log_input(mlflow.data.from_pandas(X, name="wine-train"), context="training")
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("rmse", 0.7)
        mlflow.sklearn.log_model(ElasticNet(alpha=0.5).fit(X, y), "model", registered_model_name="wine-model")
        mlflow.log_text("hello", "notes/a.txt")
    c = mlflow.MlflowClient()
    c.set_registered_model_alias("wine-model", "champion", "1")
    c.set_registered_model_tag("wine-model", "k", "v")
    c.set_model_version_tag("wine-model", "1", "vk", "vv")
    c.transition_model_version_stage("wine-model", "1", "Staging")
    gone = c.create_run(mlflow.get_experiment_by_name("wine").experiment_id, run_name="gone")
    c.delete_run(gone.info.run_id)
    c.delete_experiment(c.create_experiment("old"))
    print(p.info.run_id)
    """
)

# Reads a run back from ./mlruns directly, with whichever client runs it.
READ = textwrap.dedent(
    """
    import json, sys, mlflow
    c = mlflow.MlflowClient("./mlruns")
    r = c.get_run(sys.argv[1])
    print(json.dumps({{
        "name": r.info.run_name, "status": r.info.status, "params": r.data.params,
        "metrics": r.data.metrics, "tags": {{k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")}},
        "history": [[m.step, m.value] for m in c.get_metric_history(r.info.run_id, "m")],
        "artifacts": [a.path for a in c.list_artifacts(r.info.run_id)],
        "models": sorted(m.name for m in c.search_registered_models()),
        "experiments": sorted(e.name for e in c.search_experiments(view_type=3)),
    }}))
    """
)


def py(python, code, cwd, *args, env=None):
    p = subprocess.run([python, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", **(env or {})})
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.strip().splitlines()[-1]


@pytest.fixture
def mlruns_2x(workdir):
    """A ./mlruns written by the 2.22 client with no tracking URI; the parent run's id."""
    if not MLFLOW2_PYTHON:
        pytest.skip("MLFLOW2_PYTHON is not set")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    p = subprocess.run([MLFLOW2_PYTHON, "-c", WRITE.format(data=DATA / "winequality-red.csv")], cwd=workdir,
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (workdir / "mlruns" / "0" / "meta.yaml").is_file()
    return p.stdout.strip().splitlines()[-1]


@needs_2x
def test_a_2x_file_store_is_served_written_and_read_back(workdir, mlruns_2x):
    parent = mlruns_2x
    # No --backend-store-uri: ./mlruns is served as it is, with one line that says so.
    server = Server(workdir).start()
    try:
        assert "migrate-filestore" in server.log.read_text()
        c = client_on(server.url)
        exps = {e.name: e for e in c.search_experiments(view_type=3)}
        assert exps["wine"].lifecycle_stage == "active" and exps["old"].lifecycle_stage == "deleted"
        assert exps["Default"].experiment_id == "0"
        exp = exps["wine"].experiment_id
        runs = {r.info.run_name: r for r in c.search_runs([exp])}
        assert set(runs) == {"parent", "child"}
        assert {r.info.run_name for r in c.search_runs([exp], run_view_type=2)} == {"gone"}
        p = runs["parent"]
        assert p.info.run_id == parent and p.info.status == "FINISHED"
        assert p.data.params == {"alpha": "0.5", "l1_ratio": "0.1"}
        assert p.data.tags["team/owner"] == "ml"
        assert p.data.metrics["loss"] == pytest.approx(1 / 50)
        assert runs["child"].data.tags["mlflow.parentRunId"] == parent
        assert [d.dataset.name for d in p.inputs.dataset_inputs] == ["wine-train"]
        history = c.get_metric_history(parent, "loss")
        assert [m.step for m in history] == list(range(50))
        assert {a.path for a in c.list_artifacts(parent)} == {"model", "notes"}
        assert [r.info.run_name for r in c.search_runs([exp], "metrics.rmse < 1")] == ["child"]
        assert [r.info.run_name for r in c.search_runs([exp], "params.alpha = '0.5'")] == ["parent"]
        # The registry, and a model loaded through it.
        rm = c.get_registered_model("wine-model")
        assert rm.tags == {"k": "v"} and rm.aliases == {"champion": "1"}
        mv = c.get_model_version_by_alias("wine-model", "champion")
        assert (mv.current_stage, mv.tags, mv.run_id) == ("Staging", {"vk": "vv"}, parent)
        dl = c.get_model_version_download_uri("wine-model", "1")
        assert dl.endswith(f"{parent}/artifacts/model")
        r = requests.get(f"{server.url}/get-artifact", params={"run_id": parent, "path": "notes/a.txt"}, timeout=10)
        assert r.status_code == 200 and r.text == "hello"
        # Logging through the server writes MLflow's layout.
        new = c.create_run(exp, run_name="via-server")
        rid = new.info.run_id
        c.log_param(rid, "x", "1")
        c.log_metric(rid, "m", 2.5, step=3)
        c.log_metric(rid, "m", 1.5, step=4)
        c.set_tag(rid, "t", "v")
        c.log_text(rid, "hi", "f.txt")
        c.set_terminated(rid)
        c.create_model_version("wine-model", f"runs:/{parent}/model", parent)
        assert (workdir / "mlruns" / exp / rid / "meta.yaml").is_file()
        assert (workdir / "mlruns" / "models" / "wine-model" / "version-2" / "meta.yaml").is_file()
    finally:
        server.stop()
    # Both clients read Ferroflow's writes back from the files, with no server.
    for python in [MLFLOW2_PYTHON, PYTHON3]:
        got = json.loads(py(python, READ.format(), workdir, rid))
        assert got["name"] == "via-server" and got["status"] == "FINISHED"
        assert got["params"] == {"x": "1"} and got["metrics"] == {"m": 1.5} and got["tags"] == {"t": "v"}
        assert got["history"] == [[3, 2.5], [4, 1.5]] and got["artifacts"] == ["f.txt"]
        assert got["models"] == ["wine-model"] and got["experiments"] == ["Default", "old", "wine"]


@needs_2x
def test_the_file_store_answers_as_mlflow_serves_it(workdir, mlruns_2x):
    """Ferroflow and MLflow 3.17.2 (`MLFLOW_ALLOW_FILE_STORE=true`) on copies of one ./mlruns."""
    shutil.copytree(workdir / "mlruns", workdir / "ref" / "mlruns")
    ours = Server(workdir, "--backend-store-uri", "./mlruns").start()
    port = free_port()
    log = open(workdir / "ref.log", "wb")
    ref = subprocess.Popen([str(MLFLOW), "server", "--port", str(port), "--backend-store-uri", "./mlruns",
                            "--workers", "1"], cwd=workdir / "ref", stdout=log, stderr=subprocess.STDOUT,
                           env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"})
    ref_url = f"http://127.0.0.1:{port}"
    try:
        import time

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{ref_url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            pytest.fail((workdir / "ref.log").read_text()[-2000:])

        def both(method, endpoint, body):
            out = []
            for url in [ours.url, ref_url]:
                r = requests.request(method, f"{url}/api/2.0/mlflow/{endpoint}", timeout=60,
                                     **({"json": body} if method == "POST" else {"params": body}))
                out.append((r.status_code, r.json()))
            return out

        (s1, a), (s2, b) = both("POST", "experiments/search", {"max_results": 100, "view_type": "ALL"})
        assert s1 == s2 == 200
        key = lambda e: (e["experiment_id"], e["name"], e["lifecycle_stage"], e.get("creation_time"))
        assert sorted(map(key, a["experiments"])) == sorted(map(key, b["experiments"]))
        exp = next(e["experiment_id"] for e in a["experiments"] if e["name"] == "wine")
        for view in ["ACTIVE_ONLY", "ALL"]:
            (s1, a), (s2, b) = both("POST", "runs/search", {"experiment_ids": [exp], "run_view_type": view,
                                                            "order_by": ["attributes.start_time ASC"]})
            assert s1 == s2 == 200

            def run_key(r):
                d = r["data"]
                return (r["info"]["run_id"], r["info"]["run_name"], r["info"]["status"], r["info"]["lifecycle_stage"],
                        r["info"]["start_time"], r["info"].get("end_time"),
                        sorted((p["key"], p["value"]) for p in d.get("params", [])),
                        sorted((m["key"], m["value"], m["step"]) for m in d.get("metrics", [])),
                        sorted((t["key"], t["value"]) for t in d.get("tags", [])))

            assert [run_key(r) for r in a["runs"]] == [run_key(r) for r in b["runs"]]
        parent = next(r["info"]["run_id"] for r in a["runs"] if r["info"]["run_name"] == "parent")
        (s1, a), (s2, b) = both("GET", "metrics/get-history", {"run_id": parent, "metric_key": "loss"})
        # MLflow's file store names the run in each point; its SQL store, the reference of
        # every other test, does not, nor does Ferroflow on either store.
        assert s1 == s2 == 200
        assert a["metrics"] == [{k: v for k, v in m.items() if k != "run_id"} for m in b["metrics"]]
        (s1, a), (s2, b) = both("GET", "registered-models/get", {"name": "wine-model"})
        assert s1 == s2 == 200
        for k in ["name", "creation_timestamp", "tags", "aliases"]:
            assert a["registered_model"].get(k) == b["registered_model"].get(k), k
        (s1, a), (s2, b) = both("GET", "model-versions/get", {"name": "wine-model", "version": "1"})
        assert s1 == s2 == 200
        for k in ["version", "current_stage", "source", "run_id", "tags", "aliases", "status", "creation_timestamp"]:
            assert a["model_version"].get(k) == b["model_version"].get(k), k
        (s1, a), (s2, b) = both("GET", "runs/get", {"run_id": "0" * 32})
        assert s1 == s2 == 404 and a["error_code"] == b["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    finally:
        ours.stop()
        ref.terminate()
        ref.wait(timeout=30)


LEGACY_EXPERIMENT = """artifact_location: {root}/1
experiment_id: 1
lifecycle_stage: active
name: legacy
"""

# An MLflow 1.x run: integer experiment id, `run_uuid` only, the name in a tag, no
# lifecycle stage, two-field metric lines.
LEGACY_RUN = """artifact_uri: {root}/1/{run}/artifacts
end_time: 1600000005000
entry_point_name: ''
experiment_id: 1
name: ''
run_uuid: {run}
source_name: train.py
source_type: 4
source_version: ''
start_time: 1600000000000
status: 3
tags: []
user_id: olduser
"""


def test_legacy_layouts_and_broken_files(workdir):
    root = workdir / "mlruns"
    good, truncated, nometa = "a" * 32, "b" * 32, "c" * 32
    (root / "1" / good / "metrics").mkdir(parents=True)
    (root / "1" / "meta.yaml").write_text(LEGACY_EXPERIMENT.format(root=root))
    (root / "1" / good / "meta.yaml").write_text(LEGACY_RUN.format(root=root, run=good))
    (root / "1" / good / "metrics" / "acc").write_text("1600000001000 0.5\n1600000002000 0.75\nnot a line\n")
    (root / "1" / good / "params").mkdir()
    (root / "1" / good / "params" / "depth").write_text("4")
    (root / "1" / good / "tags").mkdir()
    (root / "1" / good / "tags" / "mlflow.runName").write_text("old-run")
    (root / "1" / truncated).mkdir()
    (root / "1" / truncated / "meta.yaml").write_text("artifact_uri: [unclosed\nrun_uuid: ")
    (root / "1" / nometa / "params").mkdir(parents=True)
    (root / "stray").mkdir()
    server = Server(workdir).start()
    try:
        c = client_on(server.url)
        assert {e.name for e in c.search_experiments()} == {"Default", "legacy"}
        runs = c.search_runs(["1"])
        assert [r.info.run_id for r in runs] == [good]
        r = runs[0]
        assert (r.info.run_name, r.info.status, r.info.user_id, r.info.lifecycle_stage) == (
            "old-run", "FINISHED", "olduser", "active")
        assert r.data.params == {"depth": "4"} and r.data.metrics == {"acc": 0.75}
        assert [(m.step, m.value) for m in c.get_metric_history(good, "acc")] == [(0, 0.5), (0, 0.75)]
        for bad in [truncated, nometa]:
            resp = server.api("GET", "runs/get", params={"run_id": bad})
            assert resp.status_code == 404, resp.text
        # A new experiment in a 1.x store gets MLflow's id form, a run logs into the old one.
        new = c.create_experiment("fresh")
        assert new.isdigit() and (root / new / "meta.yaml").is_file()
        run = c.create_run("1")
        c.log_metric(run.info.run_id, "acc", 0.9)
        assert c.get_run(run.info.run_id).data.metrics == {"acc": 0.9}
        log = server.log.read_text()
        for skipped in [f"{truncated}/meta.yaml", f"{nometa}/meta.yaml", f"{good}/metrics/acc"]:
            assert skipped in log, log
    finally:
        server.stop()


def test_client_commands_take_a_file_store(workdir):
    root = workdir / "mlruns"
    env = {"MLFLOW_TRACKING_URI": f"file://{root}"}
    out = run_cli("experiments", "create", "--experiment-name", "cli-exp", env=env)
    listed = run_cli("experiments", "search", env=env).stdout
    assert "cli-exp" in listed and "Default" in listed, listed
    # A bare path, as MLflow 1.x accepted, names the same store.
    listed = run_cli("experiments", "list", env={"MLFLOW_TRACKING_URI": str(root)}).stdout
    assert "cli-exp" in listed
    exp = next(p.name for p in root.iterdir() if (p / "meta.yaml").is_file() and "cli-exp" in (p / "meta.yaml").read_text())
    assert out.returncode == 0 and exp.isdigit()
    assert run_cli("runs", "list", "--experiment-id", exp, env=env).returncode == 0
