"""Training scripts as users run them: the wine tutorial against a server, and the core
flow with an MLflow 2.22 client."""

import os
import re
import subprocess
import sys

import mlflow
import pandas as pd
import pytest

from conftest import DATA, mlflow3

HERE = os.path.dirname(__file__)


def run_id_of(stdout: str) -> str:
    """The run id a training script printed (MLflow adds its own 'View run' lines)."""
    return next(line for line in stdout.splitlines() if re.fullmatch(r"[0-9a-f]{32}", line.strip())).strip()


def test_wine_quality_scripts_against_the_server(server, mlflow_client, tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_EXPERIMENT_NAME": "wine-quality"}
    ids = []
    for kind, alpha in [("elasticnet", "0.5"), ("huber", "0.47")]:
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "scripts", "train_wine.py"), str(DATA / "winequality-red.csv"), kind, alpha],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        ids.append(run_id_of(out.stdout))
    exp = mlflow_client.get_experiment_by_name("wine-quality")
    runs = mlflow_client.search_runs([exp.experiment_id], order_by=["metrics.rmse ASC"])
    assert {r.info.run_id for r in runs} == set(ids)
    assert all(0 < r.data.metrics["rmse"] < 2 for r in runs)
    for rid in ids:
        assert "residuals.png" in {a.path for a in mlflow_client.list_artifacts(rid)}
        model = mlflow.pyfunc.load_model(f"runs:/{rid}/model")
        pred = model.predict(pd.read_csv(DATA / "predict.csv").astype("float64"))
        assert len(pred) == 18 and 3 < float(pred.mean()) < 9


@pytest.mark.skipif(not os.environ.get("MLFLOW2_PYTHON"), reason="MLFLOW2_PYTHON (an mlflow 2.22 venv) is not set")
def test_core_flow_with_an_mlflow_2_client(server, tmp_path):
    py = os.environ["MLFLOW2_PYTHON"]
    version = subprocess.run([py, "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True, timeout=120)
    assert version.stdout.startswith("2.22"), version.stdout + version.stderr
    out = subprocess.run(
        [py, os.path.join(HERE, "scripts", "core_flow.py")],
        env={**os.environ, "MLFLOW_TRACKING_URI": server.url}, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "core flow OK with mlflow 2.22" in out.stdout


@mlflow3
def test_core_flow_with_the_3_17_client(server, tmp_path):
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "scripts", "core_flow.py")],
        env={**os.environ, "MLFLOW_TRACKING_URI": server.url}, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "core flow OK with mlflow 3.17.2" in out.stdout
