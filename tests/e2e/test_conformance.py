"""Conformance with the reference: the same requests, sent to `mlflow server` 3.17.2 and to
`ferroflow server`, must get the same status, the same error code, and responses of the
same shape (field names, nesting, value types, list lengths) once ids and times are
redacted. Scenarios are data; add one line to cover a new behaviour."""

import re

import pytest
import requests

from conftest import Server

HEX32 = re.compile(r"[0-9a-f]{32}")
MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


@pytest.fixture(scope="module")
def servers(reference, tmp_path_factory):
    ff = Server(tmp_path_factory.mktemp("ferroflow")).start()
    yield {"mlflow": reference.url, "ferroflow": ff.url}
    ff.stop()


def redact(v):
    if isinstance(v, dict):
        return {k: redact(x) for k, x in v.items()}
    if isinstance(v, list):
        return [redact(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return "<int>"
    if isinstance(v, float):
        return "<float>"
    if isinstance(v, str):
        return MODEL_ID.sub("<model>", HEX32.sub("<id>", v))
    return v


def shape(v):
    """Keys, nesting, types and lengths — what a client's parser depends on."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items()) if k not in ("message", "workspace")}
    if isinstance(v, list):
        return [shape(x) for x in v]
    return type(v).__name__


SETUP = [
    ("POST", "experiments/create", {"json": {"name": "conf", "tags": [{"key": "team", "value": "a"}]}}, "exp"),
    ("POST", "runs/create", {"json": {"experiment_id": "{exp}", "run_name": "r1", "start_time": 1700000000000, "tags": [{"key": "t", "value": "v"}]}}, "run"),
    ("POST", "runs/create", {"json": {"experiment_id": "{exp}", "run_name": "r2", "start_time": 1700000000001}}, "run2"),
]

# (name, method, endpoint, request kwargs)
SCENARIOS = [
    ("get experiment", "GET", "experiments/get", {"params": {"experiment_id": "{exp}"}}),
    ("get experiment by name", "GET", "experiments/get-by-name", {"params": {"experiment_name": "conf"}}),
    ("get unknown experiment", "GET", "experiments/get", {"params": {"experiment_id": "999"}}),
    ("get experiment bad id", "GET", "experiments/get", {"params": {"experiment_id": "abc"}}),
    ("get experiment missing id", "GET", "experiments/get", {}),
    ("get by unknown name", "GET", "experiments/get-by-name", {"params": {"experiment_name": "nope"}}),
    ("create experiment no name", "POST", "experiments/create", {"json": {}}),
    ("create experiment int name", "POST", "experiments/create", {"json": {"name": 5}}),
    ("create duplicate experiment", "POST", "experiments/create", {"json": {"name": "conf"}}),
    ("search experiments GET", "GET", "experiments/search", {"params": {"max_results": "1"}}),
    ("search experiments POST filter", "POST", "experiments/search", {"json": {"filter": "name = 'conf'", "max_results": 10}}),
    ("search experiments bad max_results", "GET", "experiments/search", {"params": {"max_results": "abc"}}),
    ("set experiment tag", "POST", "experiments/set-experiment-tag", {"json": {"experiment_id": "{exp}", "key": "k", "value": "v"}}),
    ("update experiment", "POST", "experiments/update", {"json": {"experiment_id": "{exp}", "new_name": "conf"}}),
    ("get run", "GET", "runs/get", {"params": {"run_id": "{run}"}}),
    ("get run by run_uuid", "GET", "runs/get", {"params": {"run_uuid": "{run}"}}),
    ("get unknown run", "GET", "runs/get", {"params": {"run_id": "abc"}}),
    ("get run missing id", "GET", "runs/get", {}),
    ("log param", "POST", "runs/log-parameter", {"json": {"run_id": "{run}", "key": "alpha", "value": "0.5"}}),
    ("log same param again", "POST", "runs/log-parameter", {"json": {"run_id": "{run}", "key": "alpha", "value": "0.5"}}),
    ("change param", "POST", "runs/log-parameter", {"json": {"run_id": "{run}", "key": "alpha", "value": "0.7"}}),
    ("param key escapes", "POST", "runs/log-parameter", {"json": {"run_id": "{run}", "key": "../x", "value": "1"}}),
    ("log metric", "POST", "runs/log-metric", {"json": {"run_id": "{run}", "key": "m", "value": 1.5, "timestamp": 1700000000000, "step": 2}}),
    ("log metric string numbers", "POST", "runs/log-metric", {"json": {"run_id": "{run}", "key": "m", "value": 2, "timestamp": "1700000000001", "step": "3"}}),
    ("log metric NaN string", "POST", "runs/log-metric", {"json": {"run_id": "{run}", "key": "n", "value": "NaN", "timestamp": 1700000000000}}),
    ("log metric no timestamp", "POST", "runs/log-metric", {"json": {"run_id": "{run}", "key": "m", "value": 1}}),
    ("log metric no value", "POST", "runs/log-metric", {"json": {"run_id": "{run}", "key": "m", "timestamp": 1}}),
    ("log metric bad value", "POST", "runs/log-metric", {"json": {"run_id": "{run}", "key": "m", "value": "abc", "timestamp": 1}}),
    ("set tag", "POST", "runs/set-tag", {"json": {"run_id": "{run}", "key": "x", "value": "1"}}),
    ("delete tag", "POST", "runs/delete-tag", {"json": {"run_id": "{run}", "key": "x"}}),
    ("log batch", "POST", "runs/log-batch", {"json": {"run_id": "{run}", "metrics": [{"key": "b", "value": 1, "timestamp": 1700000000000, "step": 0}], "params": [{"key": "beta", "value": "2"}], "tags": [{"key": "y", "value": "2"}]}}),
    ("log batch too many params", "POST", "runs/log-batch", {"json": {"run_id": "{run}", "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]}}),
    ("log inputs", "POST", "runs/log-inputs", {"json": {"run_id": "{run}", "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": {"name": "d", "digest": "abc", "source_type": "local", "source": "{}"}}]}}),
    ("run after logging", "GET", "runs/get", {"params": {"run_id": "{run}"}}),
    ("metric history", "GET", "metrics/get-history", {"params": {"run_id": "{run}", "metric_key": "m"}}),
    ("metric history page", "GET", "metrics/get-history", {"params": {"run_id": "{run}", "metric_key": "m", "max_results": "1"}}),
    ("metric history unknown run", "GET", "metrics/get-history", {"params": {"run_id": "nope", "metric_key": "m"}}),
    ("metric history missing key", "GET", "metrics/get-history", {"params": {"run_id": "{run}"}}),
    ("bulk interval", "GET", "metrics/get-history-bulk-interval", {"params": {"run_ids": "{run}", "metric_key": "m"}}),
    ("bulk interval bad max", "GET", "metrics/get-history-bulk-interval", {"params": {"run_ids": "{run}", "metric_key": "m", "max_results": "5000"}}),
    ("search runs", "POST", "runs/search", {"json": {"experiment_ids": ["{exp}"], "filter": "metrics.m > 1", "order_by": ["metrics.m DESC"]}}),
    ("search runs paged", "POST", "runs/search", {"json": {"experiment_ids": ["{exp}"], "max_results": 1}}),
    ("search runs by param", "POST", "runs/search", {"json": {"experiment_ids": ["{exp}"], "filter": "params.alpha = '0.5' and tags.t = 'v'"}}),
    ("search runs bad filter", "POST", "runs/search", {"json": {"experiment_ids": ["{exp}"], "filter": "metrics.m = 'x'"}}),
    ("update run", "POST", "runs/update", {"json": {"run_id": "{run2}", "status": "FINISHED", "end_time": 1700000001000}}),
    ("delete run", "POST", "runs/delete", {"json": {"run_id": "{run2}"}}),
    ("write to deleted run", "POST", "runs/set-tag", {"json": {"run_id": "{run2}", "key": "a", "value": "b"}}),
    ("restore run", "POST", "runs/restore", {"json": {"run_id": "{run2}"}}),
    ("list artifacts of a run", "GET", "artifacts/list", {"params": {"run_id": "{run}"}}),
    ("create logged model", "POST", "logged-models", {"json": {"experiment_id": "{exp}", "name": "m", "source_run_id": "{run}", "params": [{"key": "a", "value": "1"}]}}),
    ("search logged models", "POST", "logged-models/search", {"json": {"experiment_ids": ["{exp}"]}}),
    ("get unknown logged model", "GET", "logged-models/m-00000000000000000000000000000000", {}),
    ("experiment tags after writes", "GET", "experiments/get", {"params": {"experiment_id": "{exp}"}}),
    # The model registry.
    ("create registered model", "POST", "registered-models/create", {"json": {"name": "reg", "tags": [{"key": "k", "value": "v"}], "description": "d"}}),
    ("create registered model again", "POST", "registered-models/create", {"json": {"name": "reg"}}),
    ("create registered model no name", "POST", "registered-models/create", {"json": {}}),
    ("create second registered model", "POST", "registered-models/create", {"json": {"name": "reg-other"}}),
    ("get registered model", "GET", "registered-models/get", {"params": {"name": "reg"}}),
    ("get unknown registered model", "GET", "registered-models/get", {"params": {"name": "nope"}}),
    ("create model version", "POST", "model-versions/create", {"json": {"name": "reg", "source": "runs:/{run}/model", "run_id": "{run}", "tags": [{"key": "t", "value": "1"}]}}),
    ("create model version 2", "POST", "model-versions/create", {"json": {"name": "reg", "source": "runs:/{run}/model", "run_id": "{run}", "description": "second"}}),
    ("create version of unknown model", "POST", "model-versions/create", {"json": {"name": "nope", "source": "runs:/{run}/model", "run_id": "{run}"}}),
    ("create version from a foreign path", "POST", "model-versions/create", {"json": {"name": "reg", "source": "/etc"}}),
    ("create version source of another run", "POST", "model-versions/create", {"json": {"name": "reg", "source": "runs:/{run2}/model", "run_id": "{run}"}}),
    ("get model version", "GET", "model-versions/get", {"params": {"name": "reg", "version": "1"}}),
    ("get unknown model version", "GET", "model-versions/get", {"params": {"name": "reg", "version": "99"}}),
    ("get model version bad number", "GET", "model-versions/get", {"params": {"name": "reg", "version": "abc"}}),
    ("transition to production", "POST", "model-versions/transition-stage", {"json": {"name": "reg", "version": "1", "stage": "Production", "archive_existing_versions": False}}),
    ("transition to a bad stage", "POST", "model-versions/transition-stage", {"json": {"name": "reg", "version": "1", "stage": "Live", "archive_existing_versions": False}}),
    ("transition archiving others", "POST", "model-versions/transition-stage", {"json": {"name": "reg", "version": "2", "stage": "production", "archive_existing_versions": True}}),
    ("latest versions POST", "POST", "registered-models/get-latest-versions", {"json": {"name": "reg", "stages": ["Production"]}}),
    ("latest versions GET", "GET", "registered-models/get-latest-versions", {"params": {"name": "reg"}}),
    ("latest versions bad stage", "POST", "registered-models/get-latest-versions", {"json": {"name": "reg", "stages": ["prod"]}}),
    ("set alias", "POST", "registered-models/alias", {"json": {"name": "reg", "alias": "champion", "version": "2"}}),
    ("get by alias", "GET", "registered-models/alias", {"params": {"name": "reg", "alias": "champion"}}),
    ("alias like a version", "POST", "registered-models/alias", {"json": {"name": "reg", "alias": "v3", "version": "1"}}),
    ("empty alias", "POST", "registered-models/alias", {"json": {"name": "reg", "alias": "", "version": "1"}}),
    ("alias to unknown version", "POST", "registered-models/alias", {"json": {"name": "reg", "alias": "x", "version": "9"}}),
    ("get unknown alias", "GET", "registered-models/alias", {"params": {"name": "reg", "alias": "ghost"}}),
    ("set registered model tag", "POST", "registered-models/set-tag", {"json": {"name": "reg", "key": "owner", "value": "ana"}}),
    ("delete registered model tag", "DELETE", "registered-models/delete-tag", {"json": {"name": "reg", "key": "k"}}),
    ("set model version tag", "POST", "model-versions/set-tag", {"json": {"name": "reg", "version": "2", "key": "ok", "value": "yes"}}),
    ("delete model version tag", "DELETE", "model-versions/delete-tag", {"json": {"name": "reg", "version": "1", "key": "t"}}),
    ("update registered model", "PATCH", "registered-models/update", {"json": {"name": "reg", "description": "new"}}),
    ("update model version", "PATCH", "model-versions/update", {"json": {"name": "reg", "version": "1", "description": "v1"}}),
    ("registered model after writes", "GET", "registered-models/get", {"params": {"name": "reg"}}),
    ("model version after writes", "GET", "model-versions/get", {"params": {"name": "reg", "version": "2"}}),
    ("search registered models", "GET", "registered-models/search", {"params": {"filter": "name LIKE 're%'"}}),
    ("search registered models paged", "GET", "registered-models/search", {"params": {"max_results": "1", "order_by": "name DESC"}}),
    ("search registered models by tag", "GET", "registered-models/search", {"params": {"filter": "tags.owner = 'ana'"}}),
    ("search registered models bad max", "GET", "registered-models/search", {"params": {"max_results": "5000"}}),
    ("search model versions", "GET", "model-versions/search", {"params": {"filter": "name = 'reg'"}}),
    ("search model versions ordered", "GET", "model-versions/search", {"params": {"filter": "run_id = '{run}'", "order_by": "version_number ASC", "max_results": "1"}}),
    ("search model versions bad key", "GET", "model-versions/search", {"params": {"filter": "bogus = 'a'"}}),
    ("download uri", "GET", "model-versions/get-download-uri", {"params": {"name": "reg", "version": "1"}}),
    ("rename onto an existing model", "POST", "registered-models/rename", {"json": {"name": "reg", "new_name": "reg-other"}}),
    ("rename registered model", "POST", "registered-models/rename", {"json": {"name": "reg", "new_name": "reg2"}}),
    ("renamed model's version", "GET", "model-versions/get", {"params": {"name": "reg2", "version": "2"}}),
    ("delete model version", "DELETE", "model-versions/delete", {"json": {"name": "reg2", "version": "2"}}),
    ("get deleted model version", "GET", "model-versions/get", {"params": {"name": "reg2", "version": "2"}}),
    ("delete alias", "DELETE", "registered-models/alias", {"json": {"name": "reg2", "alias": "champion"}}),
    ("delete registered model", "DELETE", "registered-models/delete", {"json": {"name": "reg2"}}),
    ("get deleted registered model", "GET", "registered-models/get", {"params": {"name": "reg2"}}),
]


def send(url, method, endpoint, kw, ids):
    def fill(v):
        if isinstance(v, str):
            for k, x in ids.items():
                v = v.replace("{" + k + "}", x)
            return v
        if isinstance(v, list):
            return [fill(x) for x in v]
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        return v

    return requests.request(method, f"{url}/api/2.0/mlflow/{endpoint}", timeout=60, **fill(kw))


@pytest.fixture(scope="module")
def answers(servers):
    out = {}
    for name, url in servers.items():
        ids = {}
        for method, endpoint, kw, key in SETUP:
            body = send(url, method, endpoint, kw, ids).json()
            ids[key] = body.get("experiment_id") or body["run"]["info"]["run_id"]
        out[name] = [send(url, m, e, kw, ids) for _, m, e, kw in SCENARIOS]
    return out


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=[s[0] for s in SCENARIOS])
def test_same_answer_as_the_reference(answers, index):
    ref, ours = answers["mlflow"][index], answers["ferroflow"][index]
    assert ours.status_code == ref.status_code, (ref.text, ours.text)
    ref_body, our_body = ref.json(), ours.json()
    if ref.status_code >= 400:
        assert our_body["error_code"] == ref_body["error_code"], (ref_body, our_body)
        assert our_body.get("error_class") == ref_body.get("error_class")
        return
    assert shape(redact(our_body)) == shape(redact(ref_body)), (ref_body, our_body)
