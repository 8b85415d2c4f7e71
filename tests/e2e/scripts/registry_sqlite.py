"""Python MLflow straight on a database (no server): registers a model, or loads one.

    registry_sqlite.py register <csv> <name>   train, log, register as <name> (v1), alias champion, stage Production
    registry_sqlite.py load <csv> <name>       load every models:/ form of <name> and check the predictions
"""

import json
import sys

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import ElasticNet

# `log_model(name=...)` in MLflow 3, `artifact_path=` in 2.x: these scripts run with both.
WHERE = {"name": "model"} if int(mlflow.__version__.split(".")[0]) >= 3 else {"artifact_path": "model"}

mode, csv, name = sys.argv[1:4]
df = pd.read_csv(csv)
X, y = df.drop(columns=["quality"]), df["quality"]

if mode == "register":
    model = ElasticNet(alpha=0.3, random_state=1).fit(X, y)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, **WHERE, registered_model_name=name)
    c = MlflowClient()
    c.set_registered_model_alias(name, "champion", "1")
    c.transition_model_version_stage(name, "1", "Production")
    c.set_model_version_tag(name, "1", "origin", "python")
    print(json.dumps({"run_id": run.info.run_id, "prediction": float(model.predict(X.head(1))[0])}))
else:
    c = MlflowClient()
    rm = c.get_registered_model(name)
    out = {"aliases": rm.aliases, "versions": sorted(int(v.version) for v in c.search_model_versions(f"name = '{name}'"))}
    for uri in [f"models:/{name}/1", f"models:/{name}/Production", f"models:/{name}@champion", f"models:/{name}/latest"]:
        out[uri] = float(mlflow.pyfunc.load_model(uri).predict(X.head(1))[0])
    print(json.dumps(out))
