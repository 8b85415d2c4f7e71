"""What every database server Ferroflow serves must do, written once: test_postgres.py and
test_mysql.py run these on their own server, each with its own way to reach it."""

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import mlflow
import requests

from conftest import Server, client_on, run_cli


def mlflow_python(python_uri: str, code: str, workdir) -> str:
    """Runs `code` in a fresh Python with the reference client on tracking URI `python_uri`."""
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": python_uri},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def ferroflow_writes_and_python_mlflow_continues(uri: str, python_uri: str, workdir) -> None:
    """Ferroflow logs into `uri`; Python MLflow reads it and writes beside it (`python_uri`
    is the same database as SQLAlchemy spells it); Ferroflow serves both and numbers the
    next model version after Python's."""
    s = Server(workdir, "--backend-store-uri", uri).start()
    c = client_on(s.url)
    exp = c.create_experiment("made-by-ferroflow")
    run = c.create_run(exp)
    c.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("loss", 0.25, 1, 3)],
                params=[mlflow.entities.Param("lr", "0.1")])
    c.create_registered_model("db-model")
    c.create_model_version("db-model", f"{run.info.artifact_uri}/model", run.info.run_id)
    s.stop()

    out = mlflow_python(python_uri, f"""
import mlflow
c = mlflow.MlflowClient()
r = c.get_run("{run.info.run_id}")
print(r.data.metrics["loss"], r.data.params["lr"], c.get_model_version("db-model", "1").run_id == r.info.run_id)
mlflow.set_experiment("made-by-ferroflow")
with mlflow.start_run() as new:
    mlflow.log_metric("loss", 0.5, step=2)
c.create_model_version("db-model", new.info.artifact_uri + "/model", new.info.run_id)
print(new.info.run_id)
""", workdir)
    first, python_run = out.strip().splitlines()[-2:]
    assert first == "0.25 0.1 True"
    s = Server(workdir, "--backend-store-uri", uri).start()
    c = client_on(s.url)
    assert c.get_run(python_run).data.metrics == {"loss": 0.5}
    assert [v.version for v in c.search_model_versions("name='db-model'")] == ["2", "1"]
    assert c.create_model_version("db-model", f"{run.info.artifact_uri}/model", run.info.run_id).version == "3"
    s.stop()


def python_mlflow_logs_and_ferroflow_serves(python_uri: str, server_uris: list[str], workdir) -> None:
    """Python MLflow logs straight into a database `mlflow db upgrade` made; Ferroflow, given
    each of `server_uris` (spellings of that database), serves it as is."""
    out = mlflow_python(python_uri, """
import mlflow
mlflow.set_experiment("from-python")
with mlflow.start_run(run_name="py") as r:
    mlflow.log_params({"alpha": "0.5", "l1": "0.1"})
    for i in range(5):
        mlflow.log_metric("rmse", 1.0 / (i + 1), step=i)
    mlflow.log_metric("inf", float("inf"))
    mlflow.log_metric("nan", float("nan"))
    mlflow.set_tag("team", "ds")
print(r.info.run_id)
""", workdir)
    run_id = out.strip().splitlines()[-1]
    for uri in server_uris:
        s = Server(workdir, "--backend-store-uri", uri).start()
        c = client_on(s.url)
        # `mlflow db upgrade` makes no Default experiment; the server adds it, as MLflow's does.
        assert c.get_experiment("0").name == "Default"
        got = c.search_runs([c.get_experiment_by_name("from-python").experiment_id], "metrics.rmse < 0.3 and params.alpha = '0.5'")
        assert [r.info.run_id for r in got] == [run_id]
        assert got[0].data.tags["team"] == "ds" and got[0].info.run_name == "py"
        assert got[0].data.metrics["inf"] == 1.7976931348623157e308
        assert got[0].data.metrics["nan"] != got[0].data.metrics["nan"]
        hist = c.get_metric_history(run_id, "rmse")
        assert [(m.step, m.value) for m in hist] == [(i, 1.0 / (i + 1)) for i in range(5)]
        s.stop()


def refused_at_start(uri: str, *needles: str, secrets: tuple[str, ...] = ()) -> None:
    """`ferroflow server` on `uri` exits non-zero with each of `needles` in its message,
    without a panic and without any of `secrets`."""
    p = run_cli("server", "--port", "0", "--backend-store-uri", uri, check=False, timeout=60)
    assert p.returncode != 0 and all(n in p.stderr for n in needles), (uri, p.stderr)
    assert "panicked" not in p.stderr
    for secret in secrets:
        assert secret not in p.stderr, p.stderr


def connections_come_back(uri: str, workdir, end_sessions) -> None:
    """The database ends every session of the server (`end_sessions()`, which returns how
    many it ended) three times; the server goes on without a restart and loses nothing."""
    s = Server(workdir, "--backend-store-uri", uri).start()
    c = client_on(s.url)
    exp = c.create_experiment("flaky-network")
    run_id = c.create_run(exp).info.run_id
    for round_ in range(3):
        assert end_sessions(), "the server holds connections"
        c.log_metric(run_id, "m", float(round_), step=round_)
        assert c.get_run(run_id).data.metrics["m"] == float(round_)
        assert len(c.search_runs([exp])) == 1
    assert [m.value for m in c.get_metric_history(run_id, "m")] == [0.0, 1.0, 2.0]
    s.stop()


def three_replicas(uri: str, workdir, tmp_path) -> None:
    """Three servers on one database and one artifact store, a client going round robin."""
    # One bucket for all three when the suite has S3 (scripts/objectstores.sh), else one directory.
    s3 = os.environ.get("FERROFLOW_TEST_S3_URI")
    artifacts = f"{s3}/replicas-{uuid.uuid4().hex[:12]}" if s3 else str(tmp_path / "shared-artifacts")
    replicas = [Server(workdir, "--backend-store-uri", uri, "--artifacts-destination", artifacts).start() for _ in range(3)]
    urls = [r.url for r in replicas]
    api = lambda i, method, endpoint, **kw: requests.request(method, f"{urls[i % 3]}/api/2.0/mlflow/{endpoint}", timeout=60, **kw)

    exp = api(0, "POST", "experiments/create", json={"name": "round-robin"}).json()["experiment_id"]
    # Every read, on whichever replica, sees every acknowledged write.
    runs = []
    for i in range(12):
        r = api(i, "POST", "runs/create", json={"experiment_id": exp, "start_time": 1000 + i}).json()["run"]["info"]["run_id"]
        assert api(i + 1, "POST", "runs/log-batch", json={"run_id": r, "metrics": [{"key": "acc", "value": i / 10, "timestamp": 1, "step": 0}], "params": [{"key": "i", "value": str(i)}]}).status_code == 200
        got = api(i + 2, "GET", "runs/get", params={"run_id": r}).json()["run"]["data"]
        assert got["metrics"][0]["value"] == i / 10 and got["params"] == [{"key": "i", "value": str(i)}]
        runs.append(r)
    found = api(1, "POST", "runs/search", json={"experiment_ids": [exp], "filter": "metrics.acc >= 0.5", "order_by": ["metrics.acc DESC"]}).json()["runs"]
    assert [x["info"]["run_id"] for x in found] == runs[5:][::-1]

    # Version numbers stay atomic across processes: 60 registrations, four at a time per
    # replica, number 1..60 with no gap and no repeat.
    assert api(2, "POST", "registered-models/create", json={"name": "shared"}).status_code == 200

    def register(i):
        body = {"name": "shared", "source": f"mlflow-artifacts:/{exp}/{runs[i % 12]}/artifacts/model", "run_id": runs[i % 12]}
        resp = api(i, "POST", "model-versions/create", json=body)
        assert resp.status_code == 200, resp.text
        return int(resp.json()["model_version"]["version"])

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        versions = list(pool.map(register, range(60)))
    assert sorted(versions) == list(range(1, 61))

    # The latest value of a metric that replicas update at once is the greatest
    # (step, timestamp, value) any of them logged.
    def log(i):
        resp = api(i, "POST", "runs/log-batch", json={"run_id": runs[0], "metrics": [
            {"key": "race", "value": float(i % 7), "timestamp": i % 5, "step": i % 11}]})
        assert resp.status_code == 200, resp.text

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        list(pool.map(log, range(120)))
    best = max((i % 11, i % 5, float(i % 7)) for i in range(120))
    got = [m for m in api(0, "GET", "runs/get", params={"run_id": runs[0]}).json()["run"]["data"]["metrics"] if m["key"] == "race"][0]
    assert (got["step"], got["timestamp"], got["value"]) == best

    # Artifacts through any replica land in the one store.
    assert requests.put(f"{urls[0]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{runs[0]}/artifacts/note.txt", data=b"hello", timeout=30).status_code == 200
    assert requests.get(f"{urls[2]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{runs[0]}/artifacts/note.txt", timeout=30).content == b"hello"

    # A replica killed under load: what it acknowledged is stored; the others carry on.
    acked, stop = [], threading.Event()

    def writer(n):
        i = 0
        while not stop.is_set():
            try:
                resp = requests.post(f"{urls[0]}/api/2.0/mlflow/runs/log-batch", timeout=10, json={
                    "run_id": runs[n], "metrics": [{"key": "load", "value": float(i), "timestamp": 1, "step": i}]})
            except requests.RequestException:
                return
            if resp.status_code == 200:
                acked.append((runs[n], i))
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    replicas[0].proc.send_signal(signal.SIGKILL)
    replicas[0].proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 20
    stored = set()
    for n in range(4):
        hist = api(1, "GET", "metrics/get-history", params={"run_id": runs[n], "metric_key": "load", "max_results": 25000}).json().get("metrics", [])
        stored |= {(runs[n], m["step"]) for m in hist}
    assert set(acked) <= stored

    # gc on a database the replicas still serve: it removes the deleted run and its
    # artifacts only.
    doomed = api(1, "POST", "runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
    doomed_file = f"{urls[1]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{doomed}/artifacts/x/model.bin"
    assert requests.put(doomed_file, data=b"weights", timeout=30).status_code == 200
    assert api(2, "POST", "runs/delete", json={"run_id": doomed}).status_code == 200
    out = run_cli("gc", "--backend-store-uri", uri, "--artifacts-destination", artifacts, "--run-ids", doomed, cwd=workdir)
    assert f"Removed run {doomed}" in out.stdout, out.stdout + out.stderr
    assert api(2, "GET", "runs/get", params={"run_id": doomed}).json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.get(doomed_file, timeout=30).status_code == 404
    assert requests.get(f"{urls[2]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{runs[0]}/artifacts/note.txt", timeout=30).content == b"hello"
    assert api(1, "GET", "runs/get", params={"run_id": runs[10]}).status_code == 200
    for r in replicas[1:]:
        r.stop()
