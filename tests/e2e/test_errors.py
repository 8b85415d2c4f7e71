"""Bad input over HTTP: each gets MLflow's error code and status, never a 500, never a
partial write."""

import json

import pytest
import requests


def create_run(server):
    r = server.api("POST", "runs/create", json={"experiment_id": "0"})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


def assert_error(resp, status, code, contains=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert body["message"]
    if contains:
        assert contains in body["message"], body["message"]


def test_malformed_and_wrong_types(server):
    # As the reference: a body that is not JSON is an empty message.
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/create", data="{bad", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'")
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/create", data='{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type must be one of ['application/json'].")
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/create", data='{"name": "x"}')
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.")
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/create", data="[]", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BAD_REQUEST")
    assert_error(server.api("POST", "experiments/create", json={"name": 5}), 400, "INVALID_PARAMETER_VALUE", "parameter 'name'")
    assert_error(server.api("POST", "experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'")
    assert_error(server.api("GET", "experiments/get", params={"experiment_id": "abc"}), 400, "INVALID_PARAMETER_VALUE", "must be a valid integer")
    assert_error(server.api("GET", "experiments/search", params={"max_results": "abc"}), 400, "INVALID_PARAMETER_VALUE", "max_results")
    rid = create_run(server)
    r = server.api("POST", "runs/log-metric", json={"run_id": rid, "key": "m", "value": "abc", "timestamp": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "parameter 'value'")
    r = server.api("POST", "runs/log-metric", json={"run_id": rid, "key": "m", "value": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "'timestamp'")
    r = server.api("POST", "runs/log-batch", json={"run_id": rid, "metrics": [{"key": "m", "timestamp": 1}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "'metrics[0].value'")


def test_unknown_ids_and_routes(server):
    assert_error(server.api("GET", "runs/get", params={"run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST", "not found")
    assert_error(server.api("GET", "runs/get"), 400, "INVALID_PARAMETER_VALUE", "run_id")
    assert_error(server.api("GET", "experiments/get", params={"experiment_id": "999"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.api("GET", "experiments/get-by-name", params={"experiment_name": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.api("GET", "logged-models/m-123"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.api("POST", "runs/update", json={"run_id": "f" * 32, "status": "FINISHED"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.api("GET", "no/such/endpoint"), 404, "ENDPOINT_NOT_FOUND")
    assert_error(requests.get(f"{server.url}/nope"), 404, "ENDPOINT_NOT_FOUND")
    r = requests.get(f"{server.url}/api/2.0/mlflow/runs/create")
    assert r.status_code == 405 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_limits(server):
    rid = create_run(server)
    metric = lambda i: {"key": "m", "value": 1.0, "timestamp": 1, "step": i}
    r = server.api("POST", "runs/log-batch", json={"run_id": rid, "metrics": [metric(i) for i in range(1001)]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics")
    r = server.api("POST", "runs/log-batch", json={"run_id": rid, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 100 params")
    r = server.api("POST", "runs/log-batch", json={"run_id": rid, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 100 tags")
    r = server.api("POST", "runs/log-parameter", json={"run_id": rid, "key": "k" * 251, "value": "v"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "250")
    # MLflow truncates over-long param values to 6,000 characters by default.
    assert server.api("POST", "runs/log-parameter", json={"run_id": rid, "key": "long", "value": "x" * 6001}).status_code == 200
    params = server.api("GET", "runs/get", params={"run_id": rid}).json()["run"]["data"]["params"]
    assert len([p for p in params if p["key"] == "long"][0]["value"]) == 6000
    # Nothing from the rejected batches landed.
    data = server.api("GET", "runs/get", params={"run_id": rid}).json()["run"]["data"]
    assert "metrics" not in data and len(data.get("params", [])) == 1
    # A body over MLflow's 1 MB log-batch limit.
    big = {"run_id": rid, "tags": [{"key": f"t{i}", "value": "x" * 8000} for i in range(100)], "params": [{"key": f"p{i}", "value": "y" * 6000} for i in range(100)]}
    assert_error(server.api("POST", "runs/log-batch", json=big), 400, "INVALID_PARAMETER_VALUE", "at most 1000000 bytes")
    # A body over the server's 64 MiB limit.
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/log-batch", data=b"{" + b" " * (65 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413)
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_param_change_is_rejected_atomically(server):
    rid = create_run(server)
    assert server.api("POST", "runs/log-parameter", json={"run_id": rid, "key": "a", "value": "1"}).status_code == 200
    r = server.api("POST", "runs/log-batch", json={"run_id": rid, "params": [{"key": "b", "value": "2"}, {"key": "a", "value": "9"}], "metrics": [{"key": "m", "value": 1, "timestamp": 1}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
    data = server.api("GET", "runs/get", params={"run_id": rid}).json()["run"]["data"]
    assert [p["key"] for p in data["params"]] == ["a"]
    assert "metrics" not in data


def test_nan_and_infinity(server):
    rid = create_run(server)
    for raw in ['NaN', '"NaN"', 'Infinity', '"-Infinity"']:
        body = '{"run_id": "%s", "key": "m%d", "value": %s, "timestamp": 1}' % (rid, len(raw), raw)
        r = requests.post(f"{server.url}/api/2.0/mlflow/runs/log-metric", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
    hist = server.api("GET", "metrics/get-history", params={"run_id": rid, "metric_key": "m3"}).json()
    assert hist["metrics"][0]["value"] == "NaN"


def test_bad_keys_and_artifact_escapes(server):
    rid = create_run(server)
    r = server.api("POST", "runs/log-parameter", json={"run_id": rid, "key": "../a", "value": "1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "would resolve to")
    r = server.api("POST", "runs/set-tag", json={"run_id": rid, "key": "a$b", "value": "1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Names may only contain")
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    for bad in ["..%2F..%2Fetc%2Fpasswd", "a/%2E%2E/%2E%2E/x", "%2Fetc%2Fpasswd"]:
        r = requests.put(f"{base}/{bad}", data=b"x")
        assert r.status_code in (400, 404), (bad, r.status_code, r.text)
        assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "ENDPOINT_NOT_FOUND")
    r = requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": "../../"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = requests.get(f"{server.url}/get-artifact", params={"run_uuid": rid, "path": "../../../etc/passwd"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = server.api("GET", "artifacts/list", params={"run_id": rid, "path": "/etc"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_deleted_run_rejects_writes(server):
    rid = create_run(server)
    assert server.api("POST", "runs/delete", json={"run_id": rid}).status_code == 200
    r = server.api("POST", "runs/set-tag", json={"run_id": rid, "key": "a", "value": "1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")


def test_search_errors(server):
    r = server.api("POST", "runs/search", json={"experiment_ids": ["0"], "filter": "metrics.a = 'x'"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "numeric")
    r = server.api("POST", "runs/search", json={"experiment_ids": ["0"], "filter": "foo.bar = 'x'"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = server.api("POST", "runs/search", json={"experiment_ids": ["0"], "order_by": ["metrics.a sideways"]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = server.api("POST", "runs/search", json={"experiment_ids": ["0"], "max_results": 50001})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = server.api("POST", "runs/search", json={"experiment_ids": ["0"], "page_token": "garbage!"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_error_bodies_have_mlflow_fields(server):
    body = server.api("GET", "runs/get", params={"run_id": "abc"}).json()
    assert set(body) == {"error_code", "message", "sqlstate", "error_class"}
    assert body["error_class"] == "RESOURCE_NOT_FOUND"
