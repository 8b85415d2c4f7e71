"""Fills a new database the way a team using MLflow 2.22 would have (run with MLflow 2.22's
Python; MLflow creates the schema at its own head): experiments, runs with metrics, params,
tags and a dataset, a registered model with versions, tags and an alias, and a trace with
the metadata later MLflow versions promote to columns.

    python populate_mlflow22.py <sqlalchemy-url>
"""

import sys

import mlflow
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient

url = sys.argv[1]
mlflow.set_tracking_uri(url)
mlflow.set_registry_uri(url)
client = MlflowClient()

exp = mlflow.set_experiment("wine-quality")
mlflow.set_experiment_tag("team", "ml")
run_ids = []
for i, alpha in enumerate([0.1, 0.5]):
    with mlflow.start_run(run_name=f"alpha-{alpha}") as run:
        mlflow.log_params({"alpha": alpha, "l1_ratio": 0.5})
        mlflow.set_tags({"stage": "grid", "quoted": 'a "b" \'c\''})
        for step in range(5):
            mlflow.log_metric("rmse", 0.9 - 0.1 * step - i / 100, step=step)
        mlflow.log_metric("r2", float("nan"))
        df = pd.DataFrame({"fixed acidity": [7.4, 7.8], "quality": [5, 6]})
        mlflow.log_input(mlflow.data.from_pandas(df, source="winequality-red.csv", name="red"), context="training")
        run_ids.append(run.info.run_id)
with mlflow.start_run(run_name="deleted") as run:
    mlflow.log_metric("loss", 1.0)
client.delete_run(run.info.run_id)
deleted = client.create_experiment("old")
client.delete_experiment(deleted)

client.create_registered_model("wine", tags={"owner": "ml"}, description="wine quality")
for run_id in run_ids:
    client.create_model_version("wine", f"runs:/{run_id}/model", run_id, tags={"v": run_id[:4]})
client.set_registered_model_alias("wine", "champion", "2")
client.transition_model_version_stage("wine", "1", "Staging")

with mlflow.start_span(name="predict") as span:
    span.set_inputs({"x": 1})
    span.set_outputs({"y": 2})
trace_id = span.request_id

# What MLflow 3 clients record in a trace's metadata, and later releases move into columns.
engine = sa.create_engine(url)
meta = sa.Table("trace_request_metadata", sa.MetaData(), autoload_with=engine)
with engine.begin() as conn:
    conn.execute(meta.insert(), [
        {"request_id": trace_id, "key": "mlflow.trace.session", "value": "session-1"},
        {"request_id": trace_id, "key": "mlflow.trace.tokenUsage",
         "value": '{"input_tokens": 10, "output_tokens": "5", "total_tokens": 15.0}'},
        {"request_id": trace_id, "key": "mlflow.trace.cost", "value": '{"input_cost": 0.01, "total_cost": "0.03"}'},
    ])
print(trace_id)
