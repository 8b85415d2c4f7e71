"""ONNX models served natively (tract in the ferroflow process, no Python on the request
path): scikit-learn models converted with skl2onnx and an MLP written with `onnx`, logged by
the official client, answering as onnxruntime does to 1e-6; the seeds' requests; a real
Open Inference Protocol V2 client; bad input and files the runtime cannot load."""

import json
import subprocess

import mlflow
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import requests
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import ElasticNet, HuberRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import BIN, model_path, mlflow3_schema
from test_models import SEED_ROW, WINE_COLUMNS, Scorer, env, wine

TOL = dict(rtol=1e-6, atol=1e-6)


def wine32():
    X, y = wine()
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def wine_onnx():
    """The wine models as skl2onnx converts them: LinearRegressor, Scaler, the tree
    ensembles and ZipMap are all in there."""
    X, y = wine32()
    models = {
        "elasticnet": ElasticNet(alpha=0.5, l1_ratio=0.1, random_state=42),
        "huber": make_pipeline(StandardScaler(), HuberRegressor(max_iter=1000)),
        "forest_classifier": RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0),
        "forest_regressor": RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
    }
    return {name: to_onnx(m.fit(X, y), X.values[:1]) for name, m in models.items()}


def mnist_like():
    """Digits padded to 28×28 (a 3× upscale of the 8×8 images), scaled to [0, 1]."""
    d = load_digits()
    imgs = np.kron(d.images, np.ones((3, 3)))  # 24×24
    imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2))) / 16.0
    return imgs.astype(np.float32), d.target


@pytest.fixture(scope="module")
def mlp_onnx():
    """An MLP over 28×28 inputs written node by node with `onnx`, its weights those of an
    MLPClassifier trained on the digits."""
    X, y = mnist_like()
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X.reshape(len(X), -1), y)
    w1, w2 = (w.astype(np.float32) for w in clf.coefs_)
    b1, b2 = (b.astype(np.float32) for b in clf.intercepts_)
    nodes = [
        helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["o0"]),
        helper.make_node("Add", ["o0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(np.array([-1, 784], dtype=np.int64), "flat_shape"),
             numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")]
    graph = helper.make_graph(nodes, "mlp28", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 28, 28])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model, X, clf


def copy(model):
    """mlflow.onnx.log_model moves big initializers out to external data in place."""
    c = onnx.ModelProto()
    c.CopyFrom(model)
    return c


def runtime(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@mlflow3_schema
def test_wine_models_served_natively_answer_as_onnxruntime(workdir, wine_onnx):
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    X, _ = wine32()
    runs = {}
    for name, model in wine_onnx.items():
        with mlflow.start_run(run_name=name) as run:
            mlflow.onnx.log_model(copy(model), **model_path("model"), signature=mlflow.models.infer_signature(X))
        runs[name] = run.info.run_id
    mlflow.set_tracking_uri(None)
    split = {"dataframe_split": {"columns": WINE_COLUMNS, "data": X.values.tolist()}}
    for name, model in wine_onnx.items():
        sess = runtime(model)
        want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"X": X.values})))
        s = Scorer(workdir, "-m", f"runs:/{runs[name]}/model", environ=env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db"))
        try:
            assert "onnx, native" in s.log.read_text()
            r = requests.post(f"{s.url}/invocations", json=split, timeout=60)
            assert r.status_code == 200, r.text
            rows = r.json()["predictions"]
            assert len(rows) == len(X)
            for out, expected in want.items():
                got = [row[out] for row in rows]
                if isinstance(expected, list):  # ZipMap: a class -> probability map per row
                    labels = sorted(expected[0])
                    assert all(sorted(map(int, g)) == labels for g in got)
                    np.testing.assert_allclose([[g[str(k)] for k in labels] for g in got],
                                               [[e[k] for k in labels] for e in expected], **TOL)
                else:
                    np.testing.assert_allclose(got, np.asarray(expected).reshape(len(X)), **TOL)
            if name == "elasticnet":
                # Seed 002's request, verbatim: the 1.x content type gets the bare list.
                body = json.dumps({"columns": WINE_COLUMNS, "data": [SEED_ROW]})
                seed = subprocess.run(["curl", "-s", "-X", "POST", "-H", "Content-Type:application/json; format=pandas-split",
                                       "--data", body, f"{s.url}/invocations"], capture_output=True, text=True, timeout=60)
                one = sess.run(None, {"X": np.array([SEED_ROW], dtype=np.float32)})[0][0][0]
                got = json.loads(seed.stdout)
                assert isinstance(got, list) and abs(got[0]["variable"] - one) < 1e-6, seed.stdout
                # A tensor request answers the outputs by name, whole.
                r = requests.post(f"{s.url}/invocations", json={"inputs": [SEED_ROW, SEED_ROW]}, timeout=30)
                np.testing.assert_allclose(r.json()["predictions"]["variable"], [[one], [one]], **TOL)
        finally:
            s.stop()


@mlflow3_schema
def test_mlp_seed_000_request_and_a_real_v2_client(workdir, mlp_onnx):
    import tritonclient.http as triton

    model, X, clf = mlp_onnx
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    with mlflow.start_run():
        mlflow.onnx.log_model(copy(model), **model_path("model"), input_example=X[:2], registered_model_name="digits_onnx")
    mlflow.set_tracking_uri(None)
    sess = runtime(model)
    s = Scorer(workdir, "-m", "models:/digits_onnx/1", "--enable-mlserver",
               environ=env(MLFLOW_TRACKING_URI="sqlite:///mlflow.db"))
    try:
        # Seed 000: {"inputs": <a 1×28×28 array>}.
        one = X[:1]
        r = requests.post(f"{s.url}/invocations", json={"inputs": one.tolist()}, timeout=30)
        assert r.status_code == 200, r.text
        got = np.array(r.json()["predictions"]["probabilities"])
        np.testing.assert_allclose(got, sess.run(None, {"input": one})[0], **TOL)
        assert got.argmax(1)[0] == clf.predict(one.reshape(1, -1))[0]

        client = triton.InferenceServerClient(url=s.url.removeprefix("http://"))
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("mlflow-model")
        assert client.get_model_metadata("mlflow-model")["name"] == "mlflow-model"
        batch = X[:64]
        inp = triton.InferInput("input", list(batch.shape), "FP32")
        inp.set_data_from_numpy(batch, binary_data=False)
        res = client.infer("mlflow-model", [inp], outputs=[triton.InferRequestedOutput("probabilities", binary_data=False)])
        probs = res.as_numpy("probabilities")
        assert probs.shape == (64, 10)
        np.testing.assert_allclose(probs, sess.run(None, {"input": batch})[0], **TOL)
        assert (probs.argmax(1) == clf.predict(batch.reshape(64, -1))).mean() > 0.9
        with pytest.raises(triton.InferenceServerException):
            client.infer("mlflow-model", [triton.InferInput("nope", [1], "FP32")])
    finally:
        s.stop()


def test_bad_input_unloadable_files_python_fallback_and_docker(workdir, wine_onnx):
    mlflow.onnx.save_model(copy(wine_onnx["huber"]), str(workdir / "huber"))  # no signature: the ONNX shapes rule
    s = Scorer(workdir, "-m", "huber", environ=env())
    try:
        def post(payload):
            return requests.post(f"{s.url}/invocations", json=payload, timeout=30)

        cases = [
            ({"dataframe_split": {"columns": WINE_COLUMNS[:10], "data": [SEED_ROW[:10]]}}, "takes 11 values per row; the request has 10 columns"),
            ({"inputs": [SEED_ROW, SEED_ROW[:3]]}, "ragged: X[1] should be a list of 11 items"),
            ({"inputs": SEED_ROW}, "has shape [-1, 11]; the request's has shape [11]"),
            ({"inputs": [["a"] * 11]}, "X[0][0]: expected a number"),
            ({"inputs": {"Y": [SEED_ROW]}}, "the model has no input 'Y'"),
        ]
        for payload, message in cases:
            r = post(payload)
            assert r.status_code == 400 and message in r.json()["message"], (message, r.text)
        native = post({"dataframe_split": {"columns": WINE_COLUMNS, "data": [SEED_ROW] * 3}}).json()
    finally:
        s.stop()

    # --no-native: the same model through its python_function flavor (onnxruntime in Python).
    s = Scorer(workdir, "-m", "huber", "--no-native", "--env-manager", "local", environ=env())
    try:
        assert "Python workers" in s.log.read_text() or "pyfunc" in s.log.read_text()
        py = requests.post(f"{s.url}/invocations", json={"dataframe_split": {"columns": WINE_COLUMNS, "data": [SEED_ROW] * 3}}, timeout=60)
        assert py.status_code == 200, py.text
        np.testing.assert_allclose([r["variable"] for r in py.json()["predictions"]],
                                   [r["variable"] for r in native["predictions"]], **TOL)
    finally:
        s.stop()

    # Files the runtime cannot load: a precise CLI error, not a crash.
    mlflow.onnx.save_model(copy(wine_onnx["elasticnet"]), str(workdir / "broken"))
    (workdir / "broken" / "model.onnx").write_bytes(b"\x08\x07garbage" * 10)
    odd = helper.make_model(helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "odd",
                                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]))
    (workdir / "odd").mkdir()
    onnx.save(odd, str(workdir / "odd" / "model.onnx"))
    (workdir / "odd" / "MLmodel").write_text("flavors:\n  onnx:\n    data: model.onnx\n")
    for model, message in [("broken", "cannot load the ONNX model"), ("odd", "NoSuchOp")]:
        p = subprocess.run([BIN, "models", "serve", "-m", model, "--port", "0"], cwd=workdir, env=env(),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and message in p.stderr and "panicked" not in p.stderr, p.stderr

    # The image for a native model needs no Python.
    subprocess.run([BIN, "models", "generate-dockerfile", "-m", "huber", "-d", "ctx"], cwd=workdir, env=env(),
                   check=True, capture_output=True, timeout=60)
    dockerfile = (workdir / "ctx" / "Dockerfile").read_text()
    assert "FROM debian:bookworm-slim" in dockerfile and "pip" not in dockerfile
    s = Scorer(workdir / "ctx", "-m", str(workdir / "ctx" / "model"), environ=env())
    try:
        r = requests.post(f"{s.url}/invocations", json={"dataframe_split": {"columns": WINE_COLUMNS, "data": [SEED_ROW] * 3}}, timeout=30)
        assert r.json() == native
    finally:
        s.stop()
