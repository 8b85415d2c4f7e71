"""`ferroflow models serve | predict` with real models logged by the official client: the
seeds' requests verbatim, the V2 protocol, batch prediction, and bad input."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import ElasticNet, HuberRegressor

from conftest import BIN, DATA, Server, model_path, mlflow3_schema

WINE_COLUMNS = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
                "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]
SEED_ROW = [6.0, 0.29, 0.41, 10.8, 0.048, 55.0, 149.0, 0.9937, 3.09, 0.59, 10.966667]


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    e["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e.update({k: str(v) for k, v in extra.items()})
    return e


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scorer:
    """A `ferroflow models serve` child process."""

    def __init__(self, cwd, *args, environ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = pathlib.Path(cwd) / f"serve-{self.port}.log"
        self.proc = subprocess.Popen([BIN, "models", "serve", "--port", str(self.port), *args], cwd=cwd, env=environ,
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"models serve exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"models serve did not become ready:\n{self.log.read_text()}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wine():
    df = pd.read_csv(DATA / "winequality-red.csv")
    return df.drop(columns=["quality"]), df["quality"]


@pytest.fixture
def wine_run(workdir):
    """An ElasticNet logged as seed 002's `main` entry point logs it, straight to ./mlflow.db."""
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    X, y = wine()
    model = ElasticNet(alpha=0.5, l1_ratio=0.1, random_state=42).fit(X, y)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, **model_path("model"), signature=mlflow.models.infer_signature(X, model.predict(X)),
                                 registered_model_name="wine_elasticnet")
    mlflow.set_tracking_uri(None)
    return run.info.run_id, model


@mlflow3_schema
def test_seed_002_serve_the_legacy_path_and_predict_a_csv(workdir, wine_run):
    run_id, model = wine_run
    expected = float(model.predict(pd.DataFrame([SEED_ROW], columns=WINE_COLUMNS))[0])
    # The 1.x form: a path in the file store that MLflow 3 no longer writes.
    s = Scorer(workdir, "-m", f"mlruns/0/{run_id}/artifacts/model/", "--env-manager", "local", environ=env())
    try:
        body = json.dumps({"columns": WINE_COLUMNS, "data": [SEED_ROW]})
        seed = subprocess.run(["curl", "-s", "-X", "POST", "-H", "Content-Type:application/json; format=pandas-split",
                               "--data", body, f"{s.url}/invocations"], capture_output=True, text=True, timeout=60)
        got = json.loads(seed.stdout)
        assert isinstance(got, list) and abs(got[0] - expected) < 1e-6
        # Today's forms answer {"predictions": ...}.
        for payload in [{"dataframe_split": {"columns": WINE_COLUMNS, "data": [SEED_ROW]}},
                        {"dataframe_records": [dict(zip(WINE_COLUMNS, SEED_ROW))]},
                        {"instances": [dict(zip(WINE_COLUMNS, SEED_ROW))]}]:
            r = requests.post(f"{s.url}/invocations", json=payload, timeout=30)
            assert r.status_code == 200 and abs(r.json()["predictions"][0] - expected) < 1e-6, r.text
        csv_body = ",".join(f'"{c}"' for c in WINE_COLUMNS) + "\n" + ",".join(map(str, SEED_ROW)) + "\n"
        r = requests.post(f"{s.url}/invocations", data=csv_body, headers={"Content-Type": "text/csv"}, timeout=30)
        assert abs(r.json()["predictions"][0] - expected) < 1e-6
        assert requests.get(f"{s.url}/version", timeout=5).text == "3.17.2"
        assert requests.get(f"{s.url}/health", timeout=5).status_code == 200
        metrics = requests.get(f"{s.url}/metrics", timeout=5).text
        assert 'ferroflow_model_requests_total{route="/invocations",status="200"} 5' in metrics
        # One line says what the path became: MLflow 3 made the run's model a logged model.
        said = [l for l in s.log.read_text().splitlines() if "is not a directory here" in l]
        assert len(said) == 1 and "logged model m-" in said[0], s.log.read_text()
    finally:
        s.stop()

    # Seed 002's batch prediction: the example's predict.csv, then a large one in batches.
    out = workdir / "out.json"
    subprocess.run([BIN, "models", "predict", "-m", f"mlruns/0/{run_id}/artifacts/model", "-i", str(DATA / "predict.csv"),
                    "-t", "csv", "-o", str(out), "--env-manager", "local"], cwd=workdir, env=env(), check=True,
                   capture_output=True, timeout=300)
    want = model.predict(pd.read_csv(DATA / "predict.csv"))
    assert np.allclose(json.loads(out.read_text())["predictions"], want, atol=1e-6)
    X, _ = wine()
    big = pd.concat([X] * 30, ignore_index=True)  # 48k rows, 5 batches
    big.to_csv(workdir / "big.csv", index=False)
    subprocess.run([BIN, "models", "predict", "-m", f"runs:/{run_id}/model", "-i", "big.csv", "-t", "csv", "-o", "big.json",
                    "--env-manager", "local", "--batch-rows", "10000"], cwd=workdir, env=env(), check=True,
                   capture_output=True, timeout=300)
    assert np.allclose(json.loads((workdir / "big.json").read_text())["predictions"], model.predict(big), atol=1e-6)


@mlflow3_schema
def test_seed_000_registry_uri_and_the_v2_protocol(workdir, wine_run):
    _, model = wine_run
    expected = model.predict(pd.DataFrame([SEED_ROW, SEED_ROW], columns=WINE_COLUMNS))
    s = Scorer(workdir, "-m", "models:/wine_elasticnet/1", "--env-manager=local", "--enable-mlserver",
               environ=env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db"))
    try:
        assert requests.get(f"{s.url}/v2/health/live", timeout=5).json() == {"live": True}
        assert requests.get(f"{s.url}/v2/health/ready", timeout=5).status_code == 200
        # MLflow's MLServer mode names the model `mlflow-model`, whatever the URI (seed 000's
        # request.py and Seldon call /v2/models/mlflow-model/infer).
        meta = requests.get(f"{s.url}/v2/models/mlflow-model", timeout=5).json()
        assert meta["platform"] == "mlflow" and [i["name"] for i in meta["inputs"]] == WINE_COLUMNS
        assert requests.get(f"{s.url}/v2/models/mlflow-model/ready", timeout=5).status_code == 200
        infer = {"id": "r1", "inputs": [{"name": c, "shape": [2], "datatype": "FP64", "data": [SEED_ROW[i]] * 2}
                                        for i, c in enumerate(WINE_COLUMNS)]}
        r = requests.post(f"{s.url}/v2/models/mlflow-model/infer", json=infer, timeout=30).json()
        assert r["model_name"] == "mlflow-model" and r["id"] == "r1"
        assert r["outputs"][0]["shape"] == [2] and np.allclose(r["outputs"][0]["data"], expected, atol=1e-6)
        assert requests.get(f"{s.url}/v2/models/wine_elasticnet", timeout=5).status_code == 404
        bad = requests.post(f"{s.url}/v2/models/mlflow-model/infer", json={"inputs": [{"name": "pH", "shape": [3], "datatype": "FP64", "data": [1]}]}, timeout=5)
        assert bad.status_code == 400 and "holds 3" in bad.json()["error"]
    finally:
        s.stop()
    # MLSERVER_MODEL_NAME renames it, as for MLServer.
    s = Scorer(workdir, "-m", "models:/wine_elasticnet/1", "--env-manager=local", "--enable-mlserver",
               environ=env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db", MLSERVER_MODEL_NAME="wine"))
    try:
        assert requests.get(f"{s.url}/v2/models/wine/ready", timeout=5).status_code == 200
        assert requests.get(f"{s.url}/v2/models/mlflow-model/ready", timeout=5).status_code == 404
    finally:
        s.stop()


@mlflow3_schema
def test_huber_and_forest_on_the_pyfunc_path_answer_as_sklearn(workdir):
    """The other two wine models (the ElasticNet is above), through Python workers."""
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    X, y = wine()
    models = {"huber": HuberRegressor(max_iter=1000).fit(X, y),
              "forest": RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0).fit(X, y)}
    runs = {}
    for name, m in models.items():
        with mlflow.start_run(run_name=name) as run:
            mlflow.sklearn.log_model(m, **model_path("model"), signature=mlflow.models.infer_signature(X, m.predict(X)),
                                     skops_trusted_types=["sklearn.tree._tree.Tree"])
        runs[name] = run.info.run_id
    mlflow.set_tracking_uri(None)
    for name, m in models.items():
        s = Scorer(workdir, "-m", f"runs:/{runs[name]}/model", "--env-manager", "local",
                   environ=env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db"))
        try:
            r = requests.post(f"{s.url}/invocations", json={"dataframe_split": {"columns": WINE_COLUMNS, "data": X.values.tolist()}},
                              timeout=120)
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], m.predict(X), rtol=1e-6, atol=1e-6)
        finally:
            s.stop()


class Picky(mlflow.pyfunc.PythonModel):
    """Raises on a negative x, kills its own process on x == 13, else doubles x."""

    def predict(self, context, model_input, params=None):
        x = model_input["x"]
        if (x == 13).any():
            os._exit(3)
        if (x < 0).any():
            raise ValueError("x must not be negative")
        return (x * 2).tolist()


def test_bad_input_model_errors_and_worker_crashes(workdir):
    sig = mlflow.models.ModelSignature(
        inputs=mlflow.types.Schema([mlflow.types.ColSpec("double", "x")]),
        outputs=mlflow.types.Schema([mlflow.types.ColSpec("double")]),
    )
    import cloudpickle

    # Pickle the class itself: the workers cannot import this test module.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        mlflow.pyfunc.save_model(str(workdir / "picky"), python_model=Picky(), signature=sig)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    s = Scorer(workdir, "-m", "picky", "--env-manager", "local", "--max-request-bytes", "100000", environ=env())
    try:
        def post(data, ct="application/json"):
            return requests.post(f"{s.url}/invocations", data=data, headers={"Content-Type": ct} if ct else {}, timeout=30)

        ok = post(json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.5], [2]]}}))
        assert ok.json() == {"predictions": [3.0, 4.0]}
        cases = [
            (json.dumps({"dataframe_split": {"columns": ["y"], "data": [[1]]}}), "application/json", 400, "needs the column(s) 'x'"),
            (json.dumps({"dataframe_split": {"columns": ["x"], "data": [["a"]]}}), "application/json", 400, "column 'x' is double"),
            (json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1, 2]]}}), "application/json", 400, "has 2 values, but there are 1 columns"),
            ("", "application/json", 400, "body is empty"),
            ("{nope", "application/json", 400, "not valid JSON"),
            ("x\n1\n", "text/plain", 415, "'text/plain' is not supported"),
            ("x" * 200_000, "application/json", 413, "larger than 100000 bytes"),
            # The model's own refusal: a 400 as MLflow's scoring server answers it, with the error.
            (json.dumps({"dataframe_split": {"columns": ["x"], "data": [[-1]]}}), "application/json", 400, "ValueError: x must not be negative"),
        ]
        for data, ct, status, message in cases:
            r = post(data, ct)
            assert r.status_code == status and message in r.json()["message"], (status, r.status_code, r.text)
            assert r.json()["error_code"] == "BAD_REQUEST"
        refused = post(json.dumps({"dataframe_split": {"columns": ["x"], "data": [[-1]]}})).json()
        assert refused["message"].startswith("Encountered an unexpected error while evaluating the model.")
        assert "ValueError: x must not be negative" in refused["stack_trace"]
        crash = post(json.dumps({"dataframe_split": {"columns": ["x"], "data": [[13]]}}))
        assert crash.status_code == 500 and "died" in crash.json()["message"]
        # The worker comes back and the server never went down.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            again = post(json.dumps({"dataframe_split": {"columns": ["x"], "data": [[5]]}}))
            if again.status_code == 200:
                break
            time.sleep(0.5)
        assert again.json() == {"predictions": [10.0]}
    finally:
        s.stop()

    (workdir / "empty").mkdir()
    p = subprocess.run([BIN, "models", "serve", "-m", "empty", "--env-manager", "local"], cwd=workdir, env=env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "has no MLmodel file" in p.stderr


@mlflow3_schema
def test_records_in_any_key_order_predict_as_the_split_frame(workdir, wine_run):
    run_id, model = wine_run
    X, y = wine()
    rows = X.head(5)
    want = model.predict(rows)
    shuffled = list(reversed(WINE_COLUMNS))
    records = [{c: r[c] for c in shuffled} for r in rows.to_dict(orient="records")]
    # A model logged without a signature is ordered by the names it was fitted on.
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    with mlflow.start_run() as bare:
        mlflow.sklearn.log_model(ElasticNet(alpha=0.5, l1_ratio=0.1, random_state=42).fit(X, y), **model_path("model"))
    mlflow.set_tracking_uri(None)
    for uri in (f"runs:/{run_id}/model", f"runs:/{bare.info.run_id}/model"):
        s = Scorer(workdir, "-m", uri, "--env-manager", "local", environ=env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db"))
        try:
            split = requests.post(f"{s.url}/invocations", json={"dataframe_split": rows.to_dict(orient="split")}, timeout=60)
            recs = requests.post(f"{s.url}/invocations", json={"dataframe_records": records}, timeout=60)
            answers = [split, recs]
            if uri.startswith(f"runs:/{run_id}"):
                # `instances` records are a frame when the signature says so.
                answers.append(requests.post(f"{s.url}/invocations", json={"instances": records}, timeout=60))
            for r in answers:
                assert r.status_code == 200, (uri, r.text)
                assert np.allclose(r.json()["predictions"], want, atol=1e-9), (uri, r.text)
        finally:
            s.stop()


@mlflow3_schema
def test_docker_context_for_a_logged_model(workdir, wine_run):
    run_id, _ = wine_run
    e = env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db", PATH=f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin")
    subprocess.run([BIN, "models", "generate-dockerfile", "-m", f"runs:/{run_id}/model", "-d", "ctx"], cwd=workdir, env=e,
                   check=True, capture_output=True, timeout=120)
    ctx = workdir / "ctx"
    dockerfile = (ctx / "Dockerfile").read_text()
    assert dockerfile.startswith("# Serves an MLflow model") and "FROM python:3.11-slim" in dockerfile
    assert "pip install --no-cache-dir -r /opt/ml/model/requirements.txt" in dockerfile
    assert '"--host", "0.0.0.0", "--port", "8080"' in dockerfile and "EXPOSE 8080" in dockerfile
    assert (ctx / "model" / "MLmodel").is_file() and "mlflow==" in (ctx / "model" / "requirements.txt").read_text()
    assert (ctx / "ferroflow").read_bytes() == pathlib.Path(BIN).read_bytes()
    # The copied binary serves the copied model exactly as the image's entry point would.
    s = Scorer(ctx, "-m", str(ctx / "model"), "--env-manager", "local", environ=env())
    try:
        r = requests.post(f"{s.url}/invocations", json={"dataframe_split": {"columns": WINE_COLUMNS, "data": [SEED_ROW]}}, timeout=30)
        assert r.status_code == 200
    finally:
        s.stop()
    # Without a Docker engine here, build-docker says so and where the context is.
    p = subprocess.run([BIN, "models", "build-docker", "-m", f"runs:/{run_id}/model", "-n", "wine"], cwd=workdir, env=e,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "no Docker engine answers here" in p.stderr and "docker build -t wine " in p.stderr
    where = p.stderr.split("docker build -t wine ")[1].split()[0]
    assert (pathlib.Path(where) / "Dockerfile").read_text() == dockerfile
    # Seed 000's build-docker.sh: the image also speaks the V2 protocol, as Seldon calls it.
    p = subprocess.run([BIN, "models", "build-docker", "-m", "models:/wine_elasticnet/1", "-n", "wine-v2", "--enable-mlserver"],
                       cwd=workdir, env=e, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "docker build -t wine-v2 " in p.stderr
    v2_ctx = pathlib.Path(p.stderr.split("docker build -t wine-v2 ")[1].split()[0])
    v2_dockerfile = (v2_ctx / "Dockerfile").read_text()
    assert '"--env-manager", "local", "--enable-mlserver"]' in v2_dockerfile
    subprocess.run([BIN, "models", "generate-dockerfile", "-m", "models:/wine_elasticnet/1", "-d", "ctx-v2", "--enable-mlserver"],
                   cwd=workdir, env=e, check=True, capture_output=True, timeout=120)
    assert (workdir / "ctx-v2" / "Dockerfile").read_text() == v2_dockerfile
    # The entry point's own arguments, run here: the V2 route under MLflow's model name.
    entry = json.loads(v2_dockerfile.split("ENTRYPOINT ")[1].splitlines()[0])
    assert entry[1:4] == ["models", "serve", "-m"]
    args = [a for a in entry[5:] if a not in ("--host", "0.0.0.0", "--port", "8080")]
    s = Scorer(v2_ctx, "-m", str(v2_ctx / "model"), *args, environ=env())
    try:
        infer = {"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [SEED_ROW[i]]} for i, c in enumerate(WINE_COLUMNS)]}
        r = requests.post(f"{s.url}/v2/models/mlflow-model/infer", json=infer, timeout=30)
        assert r.status_code == 200 and r.json()["model_name"] == "mlflow-model"
    finally:
        s.stop()
