"""Ferroflow's downsampled metric history, on 200,000 points logged by the official client:
a bounded answer that keeps the extremes and the last point, step ranges for zoom,
MLflow error bodies, and gzip on the wire."""

import math
import time

import requests
from mlflow.entities import Metric

ROUTE = "ferroflow/metrics/get-history-downsampled"
N = 200_000
SPIKE, DIP = 123_456, 7_777


def value(i: int) -> float:
    if i == SPIKE:
        return 1e6
    if i == DIP:
        return -1e6
    return math.sin(i / 1000)


def log_points(client) -> str:
    run_id = client.create_run("0").info.run_id
    ts = int(time.time() * 1000)
    for start in range(0, N, 1000):
        client.log_batch(run_id, metrics=[Metric("loss", value(i), ts + i, i) for i in range(start, start + 1000)])
    return run_id


def test_downsampled_history_is_small_and_keeps_extremes(server, mlflow_client):
    run_id = log_points(mlflow_client)
    # The official client reads all of it back through get-history.
    assert len(mlflow_client.get_metric_history(run_id, "loss")) == N

    r = server.api("GET", ROUTE, params={"run_id": run_id, "metric_key": "loss", "max_points": 2000})
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Encoding") == "gzip"
    body = r.json()
    assert body["total_points"] == N
    steps, values = body["steps"], body["values"]
    assert 500 <= len(steps) <= 2000
    assert len(body["timestamps"]) == len(values) == len(steps)
    assert len(r.content) < 100_000
    raw = server.api("GET", ROUTE, params={"run_id": run_id, "metric_key": "loss", "max_points": 2000}, stream=True)
    wire = raw.raw.read(decode_content=False)
    assert len(wire) < len(r.content) / 2, f"gzip on the wire: {len(wire)} of {len(r.content)} bytes"
    assert 1e6 in values and -1e6 in values
    assert steps[0] == 0 and steps[-1] == N - 1
    assert values[-1] == value(N - 1)
    assert steps == sorted(steps)

    # A zoomed range small enough comes back whole, at full resolution.
    r = server.api(
        "GET", ROUTE, params={"run_id": run_id, "metric_key": "loss", "start_step": SPIKE - 500, "end_step": SPIKE + 499}
    )
    body = r.json()
    assert body["total_points"] == 1000
    assert body["steps"] == list(range(SPIKE - 500, SPIKE + 500))
    assert body["values"][500] == 1e6

    # Under /ajax-api too, with the default budget.
    r = server.api("GET", ROUTE, params={"run_id": run_id, "metric_key": "loss"})
    assert len(r.json()["steps"]) <= 1000


def test_bad_requests_are_mlflow_errors(server, mlflow_client):
    run_id = mlflow_client.create_run("0").info.run_id
    r = server.api("GET", ROUTE, params={"run_id": "f" * 32, "metric_key": "loss"})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for params in (
        {"run_id": run_id},
        {"run_id": run_id, "metric_key": "loss", "max_points": 10_001},
        {"run_id": run_id, "metric_key": "loss", "max_points": "x"},
        {"run_id": run_id, "metric_key": "loss", "start_step": 9, "end_step": 1},
    ):
        r = server.api("GET", ROUTE, params=params)
        assert r.status_code == 400, params
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.get(f"{server.url}/ajax-api/2.0/mlflow/{ROUTE}", params={"run_id": run_id, "metric_key": "loss"}, timeout=30)
    assert r.json() == {"metric_key": "loss", "total_points": 0, "steps": [], "timestamps": [], "values": []}
