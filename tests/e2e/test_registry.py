"""The model registry through the official client (issue 3): register, version, stage,
alias, tag, describe, rename, delete, search, and load every models:/ form, over http and
straight on a SQLite database that Ferroflow also serves."""

import concurrent.futures as cf
import json
import os
import subprocess
import sys

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException
from sklearn.linear_model import ElasticNet

from conftest import DATA, MLFLOW_3, Server, run_cli, model_path, mlflow3_schema

HERE = os.path.dirname(__file__)
CSV = DATA / "winequality-red.csv"


def wine():
    df = pd.read_csv(CSV)
    return df.drop(columns=["quality"]), df["quality"]


def log_model(alpha=0.5, registered_model_name=None):
    """Trains, logs (an MLflow 3 logged model) and returns (run_id, model, X)."""
    X, y = wine()
    model = ElasticNet(alpha=alpha, random_state=0).fit(X, y)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, **model_path("model"), registered_model_name=registered_model_name)
    return run.info.run_id, model, X.head(8)


def log_classic_model(tmp_path, alpha=0.5):
    """A model saved into the run's own artifacts (the MLflow 1.x/2.x layout): runs:/<id>/model."""
    X, y = wine()
    model = ElasticNet(alpha=alpha, random_state=0).fit(X, y)
    local = tmp_path / f"saved-{alpha}"
    mlflow.sklearn.save_model(model, str(local))
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(local), "model")
    return run.info.run_id, model, X.head(8)


def error_code(fn):
    with pytest.raises(MlflowException) as e:
        fn()
    return e.value.error_code, str(e.value)


def test_register_stage_alias_and_load_every_uri_form(mlflow_client, server):
    c = mlflow_client
    mlflow.set_experiment("registry")
    run1, m1, X = log_model(0.5)
    mv1 = mlflow.register_model(f"runs:/{run1}/model", "wine")
    assert (mv1.version, mv1.run_id, mv1.status, mv1.current_stage) == ("1", run1, "READY", "None")
    # MLflow 3 registers the run's logged model; 2.x the run's artifacts.
    assert mv1.source.startswith("models:/m-") if MLFLOW_3 else mv1.source.endswith(f"{run1}/artifacts/model")
    # log_model(..., registered_model_name=...) registers the next version.
    run2, m2, _ = log_model(0.05, registered_model_name="wine")
    v2 = c.get_model_version("wine", "2")
    assert v2.run_id == run2

    c.transition_model_version_stage("wine", "1", "Production")
    c.transition_model_version_stage("wine", "2", "staging")  # stages are case-insensitive
    c.set_registered_model_alias("wine", "champion", "1")
    assert c.get_model_version("wine", "2").current_stage == "Staging"

    p1, p2 = m1.predict(X), m2.predict(X)
    assert not np.allclose(p1, p2)
    for uri, expected in [
        ("models:/wine/1", p1),
        ("models:/wine/Production", p1),
        ("models:/wine@champion", p1),
        ("models:/wine/latest", p2),
        ("models:/wine/Staging", p2),
    ]:
        np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(X), expected, err_msg=uri)
        np.testing.assert_allclose(mlflow.sklearn.load_model(uri).predict(X), expected, err_msg=uri)

    # Lineage on the logged model, and the version's files through the server.
    if MLFLOW_3:
        info = c.get_logged_model(mv1.source.split("/")[-1])
        assert {"name": "wine", "version": 1} in json.loads(info.tags["mlflow.modelVersions"])
        assert c.get_model_version_download_uri("wine", "1") == info.artifact_location
    mlmodel = requests.get(f"{server.url}/model-versions/get-artifact", params={"name": "wine", "version": "1", "path": "MLmodel"})
    assert mlmodel.status_code == 200 and b"sklearn" in mlmodel.content
    escape = requests.get(f"{server.url}/model-versions/get-artifact", params={"name": "wine", "version": "1", "path": "../../x"})
    assert escape.status_code == 400


def test_twenty_concurrent_registrations_get_versions_1_to_20(mlflow_client):
    mlflow.set_experiment("parallel")
    run_id, _, _ = log_model()
    with cf.ThreadPoolExecutor(20) as pool:
        versions = list(pool.map(lambda _: mlflow.register_model(f"runs:/{run_id}/model", "par").version, range(20)))
    assert sorted(int(v) for v in versions) == list(range(1, 21))
    listed = mlflow_client.search_model_versions("name = 'par'")
    assert sorted(int(v.version) for v in listed) == list(range(1, 21))


def test_stages_archive_existing_and_latest_versions(mlflow_client, tmp_path):
    c = mlflow_client
    mlflow.set_experiment("stages")
    run_id, _, _ = log_classic_model(tmp_path)
    c.create_registered_model("staged")
    for _ in range(3):
        c.create_model_version("staged", f"runs:/{run_id}/model", run_id=run_id)
    c.transition_model_version_stage("staged", "1", "Production")
    c.transition_model_version_stage("staged", "2", "Production", archive_existing_versions=True)
    assert c.get_model_version("staged", "1").current_stage == "Archived"
    assert [v.version for v in c.get_latest_versions("staged", ["Production"])] == ["2"]
    latest = {v.current_stage: v.version for v in c.get_latest_versions("staged")}
    assert latest == {"Archived": "1", "Production": "2", "None": "3"}
    assert {v.version for v in c.get_registered_model("staged").latest_versions} == {"1", "2", "3"}
    code, msg = error_code(lambda: c.transition_model_version_stage("staged", "3", "Bogus"))
    assert code == "INVALID_PARAMETER_VALUE" and "Invalid Model Version stage: Bogus" in msg
    code, _ = error_code(lambda: c.transition_model_version_stage("staged", "3", "Archived", archive_existing_versions=True))
    assert code == "INVALID_PARAMETER_VALUE"


def test_aliases_tags_and_descriptions(mlflow_client, tmp_path):
    c = mlflow_client
    mlflow.set_experiment("meta")
    run_id, _, _ = log_classic_model(tmp_path)
    rm = c.create_registered_model("meta", tags={"team": "wine"}, description="first")
    assert (rm.tags, rm.description) == ({"team": "wine"}, "first")
    for _ in range(2):
        c.create_model_version("meta", f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"}, description="d")
    c.set_registered_model_alias("meta", "champion", "1")
    c.set_registered_model_alias("meta", "challenger", "2")
    c.set_registered_model_alias("meta", "champion", "2")  # moves
    assert c.get_registered_model("meta").aliases == {"champion": "2", "challenger": "2"}
    assert c.get_model_version_by_alias("meta", "champion").version == "2"
    assert sorted(c.get_model_version("meta", "2").aliases) == ["challenger", "champion"]
    c.delete_registered_model_alias("meta", "challenger")
    code, msg = error_code(lambda: c.get_model_version_by_alias("meta", "challenger"))
    assert code == "INVALID_PARAMETER_VALUE" and "challenger" in msg
    code, msg = error_code(lambda: c.set_registered_model_alias("meta", "v3", "1"))
    assert code == "INVALID_PARAMETER_VALUE" and "reserved" in msg
    code, msg = error_code(lambda: c.set_registered_model_alias("meta", "", "1"))
    assert code == "INVALID_PARAMETER_VALUE" and "alias" in msg
    code, _ = error_code(lambda: c.set_registered_model_alias("meta", "ghost", "9"))
    assert code == "RESOURCE_DOES_NOT_EXIST"

    c.set_registered_model_tag("meta", "owner", "ana")
    c.delete_registered_model_tag("meta", "team")
    assert c.get_registered_model("meta").tags == {"owner": "ana"}
    c.set_model_version_tag("meta", "1", "validated", "yes")
    c.delete_model_version_tag("meta", "1", "k")
    assert c.get_model_version("meta", "1").tags == {"validated": "yes"}
    c.update_registered_model("meta", description="better")
    c.update_model_version("meta", "1", description="v1 notes")
    assert c.get_registered_model("meta").description == "better"
    assert c.get_model_version("meta", "1").description == "v1 notes"
    # Deleting a version drops its aliases; its number is never given again.
    c.delete_model_version("meta", "2")
    assert c.get_registered_model("meta").aliases == {}
    assert c.create_model_version("meta", f"runs:/{run_id}/model", run_id=run_id).version == "3"


def test_rename_and_delete(mlflow_client, tmp_path):
    c = mlflow_client
    mlflow.set_experiment("rename")
    run_id, _, _ = log_classic_model(tmp_path)
    c.create_registered_model("old")
    c.create_model_version("old", f"runs:/{run_id}/model", run_id=run_id)
    c.set_registered_model_alias("old", "champion", "1")
    c.set_model_version_tag("old", "1", "k", "v")
    c.create_registered_model("taken")
    code, msg = error_code(lambda: c.rename_registered_model("old", "taken"))
    assert code == "RESOURCE_ALREADY_EXISTS" and "taken" in msg
    c.rename_registered_model("old", "new")
    v = c.get_model_version("new", "1")
    assert (v.tags, v.aliases) == ({"k": "v"}, ["champion"])
    assert error_code(lambda: c.get_registered_model("old"))[0] == "RESOURCE_DOES_NOT_EXIST"
    assert c.get_model_version_by_alias("new", "champion").version == "1"
    c.delete_model_version("new", "1")
    assert error_code(lambda: c.get_model_version("new", "1"))[0] == "RESOURCE_DOES_NOT_EXIST"
    c.delete_registered_model("new")
    assert error_code(lambda: c.get_registered_model("new"))[0] == "RESOURCE_DOES_NOT_EXIST"
    assert [m.name for m in c.search_registered_models()] == ["taken"]


def test_search_models_and_versions(mlflow_client, tmp_path):
    c = mlflow_client
    mlflow.set_experiment("search")
    run_a, _, _ = log_classic_model(tmp_path, 0.5)
    run_b, _, _ = log_classic_model(tmp_path, 0.1)
    for name, tag in [("alpha-1", "x"), ("alpha-2", "y"), ("beta-1", "x")]:
        c.create_registered_model(name, tags={"group": tag})
        c.create_model_version(name, f"runs:/{run_a}/model", run_id=run_a, tags={"run": "a"})
        c.create_model_version(name, f"runs:/{run_b}/model", run_id=run_b, tags={"run": "b"})
    names = lambda ms: [m.name for m in ms]
    assert names(c.search_registered_models("name LIKE 'alpha-%'")) == ["alpha-1", "alpha-2"]
    assert names(c.search_registered_models("name ILIKE 'ALPHA%'", order_by=["name DESC"])) == ["alpha-2", "alpha-1"]
    assert names(c.search_registered_models("tags.group = 'x'")) == ["alpha-1", "beta-1"]
    # Beyond MLflow: OR.
    assert names(c.search_registered_models("name = 'alpha-2' OR name = 'beta-1'")) == ["alpha-2", "beta-1"]
    page1 = c.search_registered_models(max_results=2)
    page2 = c.search_registered_models(max_results=2, page_token=page1.token)
    assert names(page1) + names(page2) == ["alpha-1", "alpha-2", "beta-1"] and not page2.token

    vs = c.search_model_versions(f"run_id = '{run_b}'", order_by=["name ASC"])
    assert [(v.name, v.version) for v in vs] == [("alpha-1", "2"), ("alpha-2", "2"), ("beta-1", "2")]
    vs = c.search_model_versions("name = 'alpha-1' AND tags.run = 'a'")
    assert [v.version for v in vs] == ["1"]
    vs = c.search_model_versions("name = 'beta-1'", order_by=["version_number ASC"])
    assert [v.version for v in vs] == ["1", "2"]
    vs = c.search_model_versions("version_number > 1", order_by=["name DESC"], max_results=2)
    assert [(v.name, v.version) for v in vs] == [("beta-1", "2"), ("alpha-2", "2")] and vs.token
    assert error_code(lambda: c.search_model_versions("bogus = 'a'"))[0] == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: c.search_registered_models("name = "))[0] == "INVALID_PARAMETER_VALUE"


def test_bad_input_gets_the_reference_codes(server, mlflow_client):
    c = mlflow_client
    r = server.api("GET", "registered-models/get", params={"name": "nope"})
    assert (r.status_code, r.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert r.json()["message"] == "Registered Model with name=nope not found"
    c.create_registered_model("m")
    r = server.api("GET", "model-versions/get", params={"name": "m", "version": "7"})
    assert (r.status_code, r.json()["message"]) == (404, "Model Version (name=m, version=7) not found")
    r = server.api("GET", "model-versions/get", params={"name": "m", "version": "seven"})
    assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    r = server.api("POST", "registered-models/create", json={"name": "m"})
    assert (r.status_code, r.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    # As the reference: a runs:/ source is taken as the run id names it, run or no run;
    # a local path outside any run's artifacts is refused.
    r = server.api("POST", "model-versions/create", json={"name": "m", "source": "runs:/0123456789abcdef0123456789abcdef/model", "run_id": "0123456789abcdef0123456789abcdef"})
    assert r.status_code == 200 and r.json()["model_version"]["version"] == "1"
    r = server.api("POST", "model-versions/create", json={"name": "m", "source": "/etc"})
    assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    r = server.api("POST", "model-versions/create", json={"name": "m", "source": "runs:/abc/../../etc", "run_id": "abc"})
    assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    r = server.api("POST", "registered-models/get-latest-versions", json={"name": "m", "stages": ["prod"]})
    assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    # Both API prefixes answer.
    r = requests.get(f"{server.url}/ajax-api/2.0/mlflow/registered-models/search")
    assert r.status_code == 200 and r.json()["registered_models"][0]["name"] == "m"
    # The official client refuses a malformed models:/ URI before asking; so does the CLI.
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model("models:/")


def test_cli_downloads_through_the_one_resolver(server, mlflow_client, workdir):
    mlflow.set_experiment("cli")
    log_model(registered_model_name="cli-model")
    mlflow_client.set_registered_model_alias("cli-model", "champion", "1")
    mlflow_client.transition_model_version_stage("cli-model", "1", "Staging")
    env = {"MLFLOW_TRACKING_URI": server.url}
    for i, uri in enumerate(["models:/cli-model/1", "models:/cli-model@champion", "models:/cli-model/Staging", "models:/cli-model/latest"]):
        out = run_cli("artifacts", "download", "-u", uri, "-d", str(workdir / f"dl{i}"), env=env)
        landed = out.stdout.strip().splitlines()[-1]
        assert os.path.isfile(os.path.join(landed, "MLmodel")), (uri, landed)
    # The same through the database, while the server runs.
    out = run_cli("artifacts", "download", "-u", "models:/cli-model/1/MLmodel", "-d", str(workdir / "db"), env={"MLFLOW_TRACKING_URI": server.backend}, check=False)
    # The database holds mlflow-artifacts:/ locations, which only the server resolves.
    assert out.returncode != 0 and "MLFLOW_TRACKING_URI" in out.stderr
    for bad, needle in [
        ("models:/", "Not a valid models:/ URI"),
        ("models:/cli-model/v1", "Not a valid models:/ URI"),
        ("models:/nope/1", "Registered Model with name=nope not found"),
        ("models:/cli-model/9", "Model Version (name=cli-model, version=9) not found"),
        ("models:/cli-model@ghost", "alias ghost not found"),
        ("models:/cli-model/Production", "No versions of model with name 'cli-model'"),
    ]:
        out = run_cli("artifacts", "download", "-u", bad, env=env, check=False)
        assert out.returncode != 0 and needle in out.stderr, (bad, out.stderr)
        assert "panicked" not in out.stderr


def test_gc_keeps_a_deleted_run_whose_artifacts_back_a_version(server, mlflow_client, workdir, tmp_path):
    c = mlflow_client
    mlflow.set_experiment("lineage")
    run_id, model, X = log_classic_model(tmp_path)
    c.create_registered_model("kept")
    c.create_model_version("kept", f"runs:/{run_id}/model", run_id=run_id)
    c.delete_run(run_id)
    out = run_cli("gc", "--backend-store-uri", server.backend, cwd=workdir)
    assert f"Kept run {run_id}" in out.stderr + out.stdout and "kept/1" in out.stderr + out.stdout
    np.testing.assert_allclose(mlflow.pyfunc.load_model("models:/kept/1").predict(X), model.predict(X))
    # Once the version is gone, the run can go.
    c.delete_model_version("kept", "1")
    out = run_cli("gc", "--backend-store-uri", server.backend, cwd=workdir)
    assert f"Removed run {run_id}" in out.stdout


def registry_script(workdir, uri, *args):
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "sqlite-registry"}
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "scripts", "registry_sqlite.py"), *args],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@mlflow3_schema
def test_python_registers_on_sqlite_and_ferroflow_serves_it(workdir):
    made = registry_script(workdir, "sqlite:///mlflow.db", "register", str(CSV), "py-model")
    s = Server(workdir, "--backend-store-uri", "sqlite:///mlflow.db").start()
    try:
        c = mlflow.MlflowClient(s.url)
        rm = c.get_registered_model("py-model")
        assert rm.aliases == {"champion": "1"}
        v = c.get_model_version("py-model", "1")
        assert (v.run_id, v.current_stage, v.tags) == (made["run_id"], "Production", {"origin": "python"})
        got = registry_script(workdir, s.url, "load", str(CSV), "py-model")
        for uri in ["models:/py-model/1", "models:/py-model/Production", "models:/py-model@champion", "models:/py-model/latest"]:
            assert got[uri] == pytest.approx(made["prediction"]), uri
        # A second version registered through Ferroflow continues the numbering.
        model_id = v.source.removeprefix("models:/")
        assert c.create_model_version("py-model", v.source, run_id=v.run_id, model_id=model_id).version == "2"
    finally:
        s.stop()
    got = registry_script(workdir, "sqlite:///mlflow.db", "load", str(CSV), "py-model")
    assert got["versions"] == [1, 2]


@mlflow3_schema
def test_ferroflow_registers_and_python_reads_the_database(workdir):
    # Artifacts in a plain directory, so Python can reach them without a server.
    s = Server(workdir, "--backend-store-uri", "sqlite:///ff.db", "--no-serve-artifacts", "--default-artifact-root", str(workdir / "store")).start()
    try:
        made = registry_script(workdir, s.url, "register", str(CSV), "ff-model")
    finally:
        s.stop()
    got = registry_script(workdir, "sqlite:///ff.db", "load", str(CSV), "ff-model")
    # Python's SQL store gives alias versions as numbers.
    assert {k: str(v) for k, v in got["aliases"].items()} == {"champion": "1"} and got["versions"] == [1]
    for uri in ["models:/ff-model/1", "models:/ff-model/Production", "models:/ff-model@champion", "models:/ff-model/latest"]:
        assert got[uri] == pytest.approx(made["prediction"]), uri
