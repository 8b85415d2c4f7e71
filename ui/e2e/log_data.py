"""Logs the browser tests' data with the official MLflow client into the server at
MLFLOW_TRACKING_URI, then prints what it made as one JSON line.

An experiment with a parent run and two nested runs (params, 60-step metrics, tags, a
description), text/JSON/YAML/CSV/PNG artifacts, a scikit-learn model saved as run
artifacts under `model/` (what "Register model" registers) and logged with
`mlflow.sklearn.log_model` (MLflow 3's logged model), plus a second, empty experiment.
"""

import json
import math
import os
import sys
import tempfile

import mlflow
import numpy as np
from PIL import Image
from sklearn.linear_model import ElasticNet

EXPERIMENT = "ui-e2e-wine"


def log_artifacts(tmp: str) -> None:
    with open(os.path.join(tmp, "notes.txt"), "w") as f:
        f.write("hello from the ferroflow UI test\nsecond line\n")
    with open(os.path.join(tmp, "summary.json"), "w") as f:
        json.dump({"rmse": 0.71, "features": ["alcohol", "ph"]}, f)
    with open(os.path.join(tmp, "config.yaml"), "w") as f:
        f.write("alpha: 0.5\nl1_ratio: 0.1\n")
    with open(os.path.join(tmp, "predictions.csv"), "w") as f:
        f.write("y,pred\n" + "".join(f"{i},{i + 0.1}\n" for i in range(20)))
    with open(os.path.join(tmp, "big.log"), "w") as f:
        f.write("x" * (300 * 1024))  # over the UI's 256 KiB preview limit
    img = Image.new("RGB", (64, 48), (200, 80, 20))
    for x in range(64):
        img.putpixel((x, 24 + int(10 * math.sin(x / 6))), (255, 255, 255))
    img.save(os.path.join(tmp, "residuals.png"))
    mlflow.log_artifacts(tmp)


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + rng.normal(scale=0.1, size=80)
    mlflow.set_experiment(EXPERIMENT)
    out = {"experiment": EXPERIMENT, "children": []}
    with mlflow.start_run(run_name="parent-run") as parent:
        mlflow.log_params({"alpha": "0.5", "l1_ratio": "0.1"})
        mlflow.set_tags({"team": "wine", "mlflow.note.content": "The parent run of the UI test."})
        for step in range(60):
            mlflow.log_metric("rmse", 1.0 / (step + 1) + 0.2, step=step)
            mlflow.log_metric("loss", math.exp(-step / 10), step=step)
        model = ElasticNet(alpha=0.5, l1_ratio=0.1).fit(X, y)
        with tempfile.TemporaryDirectory() as tmp:
            log_artifacts(tmp)
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.sklearn.save_model(model, os.path.join(tmp, "model"))
            mlflow.log_artifacts(os.path.join(tmp, "model"), "model")
        info = mlflow.sklearn.log_model(model, name="logged")
        out["logged_model_id"] = info.model_id
        for i, alpha in enumerate(["0.1", "0.9"]):
            with mlflow.start_run(run_name=f"child-{i}", nested=True) as child:
                mlflow.log_param("alpha", alpha)
                for step in range(55):
                    mlflow.log_metric("rmse", 0.5 + i + 1.0 / (step + 1), step=step)
                out["children"].append(child.info.run_id)
    out["experiment_id"] = parent.info.experiment_id
    out["parent"] = parent.info.run_id
    out["empty_experiment_id"] = mlflow.create_experiment("ui-e2e-empty")
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
