"""The wine-quality tutorial's training script (seed 002), unchanged in spirit: it only
uses the official MLflow API, so it runs against any tracking URI."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import ElasticNet, HuberRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

# `log_model(name=...)` in MLflow 3, `artifact_path=` in 2.x: these scripts run with both.
WHERE = {"name": "model"} if int(mlflow.__version__.split(".")[0]) >= 3 else {"artifact_path": "model"}

data_path, kind = sys.argv[1], sys.argv[2]
alpha = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
df = pd.read_csv(data_path)
train, test = train_test_split(df, random_state=42)
X_train, y_train = train.drop(columns=["quality"]), train["quality"]
X_test, y_test = test.drop(columns=["quality"]), test["quality"]

with mlflow.start_run() as run:
    if kind == "huber":
        model = HuberRegressor(alpha=alpha, epsilon=1.35, max_iter=1000)
        mlflow.log_params({"alpha": alpha, "epsilon": 1.35})
    else:
        model = ElasticNet(alpha=alpha, l1_ratio=0.5, random_state=42)
        mlflow.log_params({"alpha": alpha, "l1_ratio": 0.5})
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    mlflow.log_metric("rmse", float(np.sqrt(mean_squared_error(y_test, pred))))
    mlflow.log_metric("mae", float(mean_absolute_error(y_test, pred)))
    mlflow.log_metric("r2", float(r2_score(y_test, pred)))
    fig, ax = plt.subplots()
    ax.scatter(pred, y_test - pred, s=4)
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual")
    mlflow.log_figure(fig, "residuals.png")
    mlflow.sklearn.log_model(model, **WHERE, signature=infer_signature(X_train, pred))
    print(run.info.run_id)
