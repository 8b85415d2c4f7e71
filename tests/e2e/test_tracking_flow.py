"""The tracking flow of the issue, with the official MLflow 3.17.2 client against `ferroflow server`."""

import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from PIL import Image
from sklearn.linear_model import ElasticNet

from conftest import DATA, MLFLOW_3, model_path


def test_full_training_flow(mlflow_client, tmp_path):
    exp_id = mlflow.set_experiment("wine").experiment_id
    df = pd.read_csv(DATA / "winequality-red.csv")
    X, y = df.drop(columns=["quality"]), df["quality"]
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"l1_ratio": 0.1, "solver": "cd"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
        mlflow.log_metrics({"rmse": 0.75, "r2": 0.3}, step=5)
        mlflow.set_tag("team", "wine")
        mlflow.set_tags({"stage": "dev", "owner": "me"})
        f = tmp_path / "notes.txt"
        f.write_text("hello")
        mlflow.log_artifact(str(f))
        d = tmp_path / "dir"
        (d / "sub").mkdir(parents=True)
        (d / "a.csv").write_text("x,y\n1,2\n")
        (d / "sub" / "b.txt").write_text("b")
        mlflow.log_artifacts(str(d), artifact_path="data")
        mlflow.log_text("some text", "texts/t.txt")
        mlflow.log_dict({"k": [1, 2]}, "cfg/config.json")
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        mlflow.log_figure(fig, "plots/fig.png")
        mlflow.log_image(Image.new("RGB", (8, 8), "red"), "images/red.png")
        dataset = mlflow.data.from_pandas(df, source=str(DATA / "winequality-red.csv"), name="wine", targets="quality")
        mlflow.log_input(dataset, context="training")
        model = ElasticNet(alpha=0.5, l1_ratio=0.1).fit(X, y)
        info = mlflow.sklearn.log_model(model, **model_path("model"), signature=infer_signature(X, model.predict(X)), input_example=X.iloc[:2])
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("c", 1.0)

    c = mlflow_client
    run = c.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "parent"
    assert run.data.params == {"alpha": "0.5", "l1_ratio": "0.1", "solver": "cd"}
    assert run.data.metrics["rmse"] == 0.75 and run.data.metrics["loss"] == pytest.approx(0.2)
    assert run.data.tags["team"] == "wine" and run.data.tags["owner"] == "me"
    assert run.inputs.dataset_inputs[0].dataset.name == "wine"
    assert run.inputs.dataset_inputs[0].tags[0].value == "training"
    if MLFLOW_3:
        assert run.outputs.model_outputs[0].model_id == info.model_id

    child_run = c.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id

    hist = c.get_metric_history(parent.info.run_id, "loss")
    assert [m.step for m in hist] == [0, 1, 2, 3, 4]
    assert [m.timestamp for m in hist] == [1_700_000_000_000 + i for i in range(5)]

    top = {a.path for a in c.list_artifacts(parent.info.run_id)}
    assert {"notes.txt", "data", "texts", "cfg", "plots", "images"} <= top
    sub = {a.path: a for a in c.list_artifacts(parent.info.run_id, "data")}
    assert sub["data/a.csv"].file_size == 8 and sub["data/sub"].is_dir

    out = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, dst_path=str(tmp_path / "dl"))
    assert open(f"{out}/data/sub/b.txt").read() == "b"
    assert json.load(open(f"{out}/cfg/config.json")) == {"k": [1, 2]}
    assert Image.open(f"{out}/images/red.png").size == (8, 8)

    # The logged model loads back through the server and predicts like the original.
    loaded = mlflow.sklearn.load_model(f"runs:/{parent.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(X[:10]), model.predict(X[:10]))
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_allclose(pyfunc.predict(X[:10]), model.predict(X[:10]))
    if MLFLOW_3:
        lm = c.get_logged_model(info.model_id)
        assert lm.status == "READY" or str(lm.status).endswith("READY")
        assert lm.source_run_id == parent.info.run_id
        assert [m.model_id for m in c.search_logged_models(experiment_ids=[exp_id])] == [info.model_id]


def test_search_runs_filters_orders_and_pages(mlflow_client):
    exp = mlflow.set_experiment("search").experiment_id
    ids = []
    for i in range(12):
        with mlflow.start_run(run_name=f"run-{i}") as r:
            mlflow.log_param("alpha", str(i % 3))
            mlflow.log_metric("rmse", i / 10)
            mlflow.set_tag("parity", "even" if i % 2 == 0 else "odd")
            ids.append(r.info.run_id)

    df = mlflow.search_runs([exp], filter_string="metrics.rmse < 0.5 and params.alpha = '1'", order_by=["metrics.rmse DESC"])
    assert list(df["run_id"]) == [ids[4], ids[1]]

    runs = mlflow_client.search_runs([exp], "tags.parity = 'odd' AND metrics.rmse >= 0.7", order_by=["metrics.rmse ASC"])
    assert [r.info.run_id for r in runs] == [ids[7], ids[9], ids[11]]

    runs = mlflow_client.search_runs([exp], "attributes.run_name LIKE 'run-1%'", order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in runs] == ["run-1", "run-10", "run-11"]
    runs = mlflow_client.search_runs([exp], "attributes.run_name ILIKE 'RUN-1_'")
    assert sorted(r.info.run_name for r in runs) == ["run-10", "run-11"]

    runs = mlflow_client.search_runs([exp], f"attributes.run_id IN ('{ids[0]}', '{ids[3]}')")
    assert {r.info.run_id for r in runs} == {ids[0], ids[3]}
    runs = mlflow_client.search_runs([exp], "attributes.status = 'FINISHED' and attributes.start_time > 0")
    assert len(runs) == 12

    # Ferroflow's extension: OR and parentheses.
    runs = mlflow_client.search_runs([exp], "metrics.rmse < 0.1 OR (params.alpha = '2' AND tags.parity = 'even')")
    assert {r.info.run_id for r in runs} == {ids[0], ids[2], ids[8]}

    # Pagination with several order keys.
    page1 = mlflow_client.search_runs([exp], order_by=["params.alpha DESC", "metrics.rmse ASC"], max_results=5)
    page2 = mlflow_client.search_runs([exp], order_by=["params.alpha DESC", "metrics.rmse ASC"], max_results=5, page_token=page1.token)
    page3 = mlflow_client.search_runs([exp], order_by=["params.alpha DESC", "metrics.rmse ASC"], max_results=5, page_token=page2.token)
    got = [r.info.run_id for r in [*page1, *page2, *page3]]
    expected = [ids[i] for i in sorted(range(12), key=lambda i: (-(i % 3), i))]
    assert got == expected
    assert page3.token is None

    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE|Invalid"):
        mlflow_client.search_runs([exp], "metrics.rmse <")

    # Dataset filters.
    with mlflow.start_run() as r:
        mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"a": [1]}), name="tiny"), context="eval")
    runs = mlflow_client.search_runs([exp], "datasets.name = 'tiny' AND datasets.context = 'eval'")
    assert [x.info.run_id for x in runs] == [r.info.run_id]


def test_batch_logging_nan_inf_and_limits(mlflow_client):
    c = mlflow_client
    rid = c.create_run("0").info.run_id
    c.log_batch(
        rid,
        metrics=[Metric("m", float(i), 1000 + i, i) for i in range(800)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(100)],
    )
    assert len(c.get_metric_history(rid, "m")) == 800
    assert len(c.get_run(rid).data.params) == 100
    c.log_metric(rid, "nan", math.nan)
    c.log_metric(rid, "inf", math.inf)
    c.log_metric(rid, "ninf", -math.inf)
    data = c.get_run(rid).data.metrics
    assert math.isnan(data["nan"])
    assert data["inf"] > 1e308 and data["ninf"] < -1e308
    with pytest.raises(MlflowException, match="Changing param values is not allowed"):
        c.log_param(rid, "p1", "other")
    c.log_param(rid, "p1", "1")  # the same value again is fine


def test_delete_and_restore(mlflow_client):
    c = mlflow_client
    exp = c.create_experiment("to-delete")
    run = c.create_run(exp)
    c.delete_run(run.info.run_id)
    assert c.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert c.search_runs([exp]) == []
    assert len(c.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)) == 1
    c.restore_run(run.info.run_id)
    assert len(c.search_runs([exp])) == 1
    c.delete_experiment(exp)
    assert c.get_experiment(exp).lifecycle_stage == "deleted"
    assert exp not in [e.experiment_id for e in c.search_experiments()]
    assert exp in [e.experiment_id for e in c.search_experiments(view_type=ViewType.DELETED_ONLY)]
    c.restore_experiment(exp)
    assert c.get_experiment(exp).lifecycle_stage == "active"
    assert c.get_run(run.info.run_id).info.lifecycle_stage == "active"
    c.rename_experiment(exp, "renamed")
    assert c.get_experiment_by_name("renamed").experiment_id == exp
    c.set_experiment_tag(exp, "k", "v")
    assert c.get_experiment(exp).tags["k"] == "v"
    if MLFLOW_3:  # the 2.x client has no delete_experiment_tag
        c.delete_experiment_tag(exp, "k")
        assert "k" not in c.get_experiment(exp).tags
    c.set_tag(run.info.run_id, "x", "1")
    c.delete_tag(run.info.run_id, "x")
    assert "x" not in c.get_run(run.info.run_id).data.tags
    with pytest.raises(MlflowException, match="RESOURCE_ALREADY_EXISTS|already exists"):
        c.create_experiment("renamed")


def test_search_experiments(mlflow_client):
    c = mlflow_client
    for name in ["alpha", "beta", "gamma"]:
        c.create_experiment(name, tags={"kind": "greek"})
    names = [e.name for e in c.search_experiments(filter_string="name LIKE '%a' AND tags.kind = 'greek'", order_by=["name DESC"])]
    assert names == ["gamma", "beta", "alpha"]
    page = c.search_experiments(max_results=2)
    rest = c.search_experiments(max_results=2, page_token=page.token)
    assert len(page) == 2 and len(rest) == 2 and page.token


def test_run_lifecycle_statuses(mlflow_client):
    c = mlflow_client
    r = c.create_run("0", run_name="named")
    c.set_terminated(r.info.run_id, "FAILED")
    info = c.get_run(r.info.run_id).info
    assert info.status == "FAILED" and info.end_time
    c.update_run(r.info.run_id, name="renamed")
    assert c.get_run(r.info.run_id).info.run_name == "renamed"
    assert c.get_run(r.info.run_id).data.tags["mlflow.runName"] == "renamed"
