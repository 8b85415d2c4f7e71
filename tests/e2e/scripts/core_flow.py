"""The core tracking flow with whatever MLflow client runs this script (used with 2.22)."""

import os
import sys
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
exp_id = mlflow.set_experiment("core-flow").experiment_id
with mlflow.start_run(run_name="core") as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"beta": 1, "gamma": "x"})
    for i in range(3):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    mlflow.log_metrics({"acc": 0.9})
    mlflow.set_tag("team", "core")
    mlflow.log_dict({"a": 1}, "cfg.json")
    mlflow.log_text("hello", "notes/hello.txt")
    with mlflow.start_run(nested=True) as child:
        mlflow.log_metric("c", 1)

c = MlflowClient()
r = c.get_run(run.info.run_id)
assert r.info.status == "FINISHED", r.info.status
assert r.data.params == {"alpha": "0.5", "beta": "1", "gamma": "x"}, r.data.params
assert r.data.metrics["acc"] == 0.9 and r.data.metrics["loss"] == 1.0 / 3
assert [m.step for m in c.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]
found = mlflow.search_runs([exp_id], filter_string="metrics.acc > 0.5 and params.gamma = 'x'")
assert list(found["run_id"]) == [run.info.run_id], found
assert {a.path for a in c.list_artifacts(run.info.run_id)} == {"cfg.json", "notes"}
dst = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes", dst_path=tempfile.mkdtemp())
assert open(os.path.join(dst, "hello.txt")).read() == "hello"
c.delete_run(child.info.run_id)
assert c.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
c.restore_run(child.info.run_id)
print("core flow OK with mlflow", mlflow.__version__)
sys.exit(0)
