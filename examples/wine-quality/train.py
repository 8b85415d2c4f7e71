"""Seed 002's wine-quality tutorial as a project: an ElasticNet (`main`), a HuberRegressor
(`huber`) or a RandomForestClassifier (`classifier`) on the red wine quality data.

`ferroflow run` passes the run to this script through MLFLOW_RUN_ID, so
`mlflow.start_run()` below continues the run that already holds the project's parameters.
"""

import argparse
import os
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import ElasticNet, HuberRegressor
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "data" / "winequality-red.csv"

parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=["elasticnet", "huber", "classifier"], default="elasticnet")
parser.add_argument("--alpha", type=float, default=0.5)
parser.add_argument("--l1-ratio", type=float, default=0.1)
parser.add_argument("--epsilon", type=float, default=1.35)
parser.add_argument("--n-estimators", type=int, default=100)
parser.add_argument("--max-depth", type=int, default=8)
parser.add_argument("--data", default="")
args = parser.parse_args()

data = pathlib.Path(args.data or os.environ.get("WINE_DATA", DEFAULT_DATA))
df = pd.read_csv(data)
train, test = train_test_split(df, test_size=0.25, random_state=42)
X_train, X_test = train.drop(columns=["quality"]), test.drop(columns=["quality"])
y_train, y_test = train["quality"], test["quality"]

with mlflow.start_run() as run:
    if args.model == "classifier":
        model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=42)
        model.fit(X_train, y_train)
        pred = model.predict(X_test)
        mlflow.log_metric("accuracy", accuracy_score(y_test, pred))
        mlflow.log_metric("f1_macro", f1_score(y_test, pred, average="macro"))
    else:
        if args.model == "huber":
            model = HuberRegressor(alpha=args.alpha, epsilon=args.epsilon, max_iter=1000)
        else:
            model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)
        model.fit(X_train, y_train)
        pred = model.predict(X_test)
        mlflow.log_metric("rmse", float(np.sqrt(mean_squared_error(y_test, pred))))
        mlflow.log_metric("mae", float(mean_absolute_error(y_test, pred)))
        mlflow.log_metric("r2", float(r2_score(y_test, pred)))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(pred, y_test - pred, s=6, alpha=0.6)
        ax.axhline(0, color="grey", linewidth=1)
        ax.set_xlabel("predicted quality")
        ax.set_ylabel("residual")
        ax.set_title(f"{args.model} residuals")
        mlflow.log_figure(fig, "residuals.png")
    signature = infer_signature(X_train, pred)
    if int(mlflow.__version__.split(".")[0]) >= 3:
        # skops (MLflow 3's default format) asks that tree internals be trusted explicitly.
        trusted = ["sklearn.tree._tree.Tree"] if args.model == "classifier" else None
        mlflow.sklearn.log_model(model, name="model", signature=signature, skops_trusted_types=trusted)
    else:  # MLflow 2.x, as seed 002's users have it
        mlflow.sklearn.log_model(model, artifact_path="model", signature=signature)
    print(f"{args.model}: run {run.info.run_id}")
