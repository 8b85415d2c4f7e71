"""The conformance floor: behaviours MLflow 3.17.2's own server tests and the seeds check,
compared side by side with the reference (`mlflow server` 3.17.2). Each test sends the
same request to both servers and compares status, error code, message and headers."""

import json
import pathlib
import uuid

import pytest
import requests

from conftest import E2E_DATABASE, Server, client_on, mlflow3


@pytest.fixture(scope="module")
def ff(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("floor")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def both(reference, ff):
    return {"mlflow": reference, "ferroflow": ff}


def unique(prefix="floor"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_run(server, experiment_id="0"):
    r = server.api("POST", "runs/create", json={"experiment_id": experiment_id})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]


def same_error(ref: requests.Response, ours: requests.Response):
    assert ours.status_code == ref.status_code, (ref.text, ours.text)
    rb, ob = ref.json(), ours.json()
    assert ob["error_code"] == rb["error_code"], (rb, ob)
    assert ob["message"] == rb["message"], (rb, ob)


# ---- experiments ----


def test_relative_artifact_location_is_made_absolute_against_the_servers_directory(both):
    got = {}
    for name, s in both.items():
        exp_name = unique()
        r = s.api("POST", "experiments/create", json={"name": exp_name, "artifact_location": "my_location"})
        assert r.status_code == 200, r.text
        e = s.api("GET", "experiments/get", params={"experiment_id": r.json()["experiment_id"]}).json()
        got[name] = e["experiment"]["artifact_location"]
    assert got["mlflow"] == str(both["mlflow"].workdir / "my_location")
    assert got["ferroflow"] == str(both["ferroflow"].workdir / "my_location")


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:1/api/2.0/mlflow-artifacts/artifacts/x",
        "mlflow-artifacts://otherhost/x",
        "ftp://files.example/x",
        "s3://bucket/x#frag",
        "s3://bucket/x?a=..%2f",
        "runs:/abc/model",
        "a" * 2049,
    ],
)
def test_artifact_locations_the_reference_refuses(both, location):
    ref, ours = (
        s.api("POST", "experiments/create", json={"name": unique(), "artifact_location": location})
        for s in both.values()
    )
    same_error(ref, ours)


def test_a_nul_byte_in_an_artifact_location_is_refused(ff):
    # Beyond the reference, which stores it and then fails on every listing (issue 17).
    r = ff.api("POST", "experiments/create", json={"name": unique(), "artifact_location": "file:///x%00y"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# ---- artifact paths ----


def put(server, path, data=b"hi\n"):
    r = requests.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}", data=data, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("bad", ["../path", "a/../b", "/etc/passwd", "sub/../../x"])
def test_invalid_paths_answer_invalid_path(both, bad):
    answers = {}
    for name, s in both.items():
        run = new_run(s)
        answers[name] = [
            s.api("GET", "artifacts/list", params={"run_id": run["run_id"], "path": bad}),
            requests.get(f"{s.url}/get-artifact", params={"run_uuid": run["run_id"], "path": bad}, timeout=30),
            requests.get(f"{s.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": bad}, timeout=30),
            requests.post(
                f"{s.url}/ajax-api/2.0/mlflow/upload-artifact",
                params={"run_uuid": run["run_id"], "path": bad},
                data=b"x",
                headers={"Content-Type": "application/octet-stream"},
                timeout=30,
            ),
        ]
    for ref, ours in zip(answers["mlflow"], answers["ferroflow"]):
        same_error(ref, ours)
        assert ours.json()["message"] == "Invalid path"


def test_an_encoded_traversal_in_the_proxy_url_is_an_invalid_path(both):
    for s in both.values():
        r = requests.get(f"{s.url}/api/2.0/mlflow-artifacts/artifacts/a/..%2Fpath", timeout=30)
        assert r.status_code == 400, r.text
        assert r.json() == {**r.json(), "error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}


# ---- downloads ----

FILES = [
    "a.txt", "MLmodel", "MLproject", "m.pkl", "i.png", "d.pdf", "x.json", "conda.yaml", "z.html", "s.svg",
    "c.csv", "t.tar.gz", "j.jpg", "noext", "model.onnx", "u.md", "x.xml", "w.zip", "e.mlmodel", "n.npy",
]


def download_headers(server, run, path):
    out = {}
    for label, url, params in [
        ("get-artifact", f"{server.url}/get-artifact", {"run_uuid": run["run_id"], "path": path}),
        ("proxy", f"{server.url}/api/2.0/mlflow-artifacts/artifacts/0/{run['run_id']}/artifacts/{path}", None),
    ]:
        r = requests.get(url, params=params, timeout=30)
        assert r.status_code == 200, (label, r.text)
        assert r.content == b"hi\n"
        out[label] = {h: r.headers.get(h) for h in ("Content-Type", "Content-Disposition", "X-Content-Type-Options")}
    return out


def test_download_content_types_follow_the_references_table(both):
    got = {}
    for name, s in both.items():
        run = new_run(s)
        for f in FILES:
            put(s, f"0/{run['run_id']}/artifacts/{f}")
        got[name] = {f: download_headers(s, run, f) for f in FILES}
    assert got["ferroflow"] == got["mlflow"]
    assert got["ferroflow"]["a.txt"]["get-artifact"]["Content-Type"] == "text/plain"
    assert got["ferroflow"]["MLmodel"]["proxy"]["Content-Type"] == "text/plain"
    assert got["ferroflow"]["m.pkl"]["proxy"]["Content-Type"] == "application/octet-stream"


def test_model_version_artifacts_are_typed_as_downloads(both):
    # The reference serves /model-versions/get-artifact from local artifact roots only
    # (for mlflow-artifacts:/ sources it answers 500), so the experiment gets a local one.
    got = {}
    for name, s in both.items():
        root = s.workdir / unique("local-root")
        r = s.api("POST", "experiments/create", json={"name": unique(), "artifact_location": str(root)})
        run = new_run(s, r.json()["experiment_id"])
        model_dir = pathlib.Path(run["artifact_uri"]) / "model"
        model_dir.mkdir(parents=True)
        for f in ("MLmodel", "model.pkl", "requirements.txt"):
            (model_dir / f).write_bytes(b"hi\n")
        model = unique()
        assert s.api("POST", "registered-models/create", json={"name": model}).status_code == 200
        r = s.api("POST", "model-versions/create",
                  json={"name": model, "source": str(model_dir), "run_id": run["run_id"]})
        assert r.status_code == 200, r.text
        got[name] = {}
        for f in ("MLmodel", "model.pkl", "requirements.txt"):
            r = requests.get(f"{s.url}/model-versions/get-artifact",
                             params={"name": model, "version": "1", "path": f}, timeout=30)
            assert r.status_code == 200, r.text
            got[name][f] = (r.headers["Content-Type"], r.headers["Content-Disposition"], r.content)
    assert got["ferroflow"] == got["mlflow"]


def test_byte_ranges_are_served_as_the_reference_serves_them(both):
    for s in both.values():
        run = new_run(s)
        put(s, f"0/{run['run_id']}/artifacts/r.txt", b"0123456789")
        for url, params in [
            (f"{s.url}/get-artifact", {"run_uuid": run["run_id"], "path": "r.txt"}),
            (f"{s.url}/api/2.0/mlflow-artifacts/artifacts/0/{run['run_id']}/artifacts/r.txt", None),
        ]:
            r = requests.get(url, params=params, headers={"Range": "bytes=2-4"}, timeout=30)
            assert (r.status_code, r.content, r.headers["Content-Range"]) == (206, b"234", "bytes 2-4/10")
            r = requests.get(url, params=params, headers={"Range": "bytes=-3"}, timeout=30)
            assert (r.status_code, r.content) == (206, b"789")
            r = requests.get(url, params=params, headers={"Range": "bytes=7-"}, timeout=30)
            assert (r.status_code, r.content) == (206, b"789")
            r = requests.get(url, params=params, timeout=30)
            assert (r.status_code, r.headers["Accept-Ranges"]) == (200, "bytes")


# ---- routes the reference's web UI calls, and request decoding ----


def setup_ids(s):
    """The same objects on either server: an experiment, two runs with a metric logged
    out of time order, datasets with and without a context, a logged model with files."""
    ids = {"expname": unique()}
    ids["exp"] = s.api("POST", "experiments/create", json={"name": ids["expname"]}).json()["experiment_id"]
    for k in ("r1", "r2"):
        ids[k] = new_run(s, ids["exp"])["run_id"]
        for step in (0, 1, 2, 5):
            s.api("POST", "runs/log-metric", json={"run_id": ids[k], "key": "m", "value": step + 0.5,
                                                   "timestamp": 1700000000000 + (10 - step), "step": step})
    s.api("POST", "runs/log-inputs", json={"run_id": ids["r1"], "datasets": [
        {"tags": [{"key": "mlflow.data.context", "value": "train"}],
         "dataset": {"name": "d", "digest": "abc", "source_type": "local", "source": "{}"}},
        {"dataset": {"name": "e", "digest": "x", "source_type": "local", "source": "{}"}}]})
    m = s.api("POST", "logged-models", json={"experiment_id": ids["exp"], "name": "lm"}).json()["model"]["info"]
    ids["model"] = m["model_id"]
    base = m["artifact_uri"].removeprefix("mlflow-artifacts:/")
    put(s, f"{base}/MLmodel", b"flavors: {}\n")
    put(s, f"{base}/sub/x.pkl", b"\x00\x01")
    return ids


# (method, path, request kwargs); {name} is replaced by that server's id.
ROUTES = [
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={r1}&run_id={r2}&metric_key=m", {}),
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={r2}&metric_key=m&max_results=3", {}),
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?metric_key=m", {}),
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={r1}", {}),
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=nope&metric_key=m", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={r1}&run_ids={r2}&metric_key=m", {}),
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={r1}&metric_key=m&max_results=2", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={r1}&metric_key=m&start_step=1&end_step=2", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={r1}&metric_key=m&start_step=3&end_step=2", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={r1}&metric_key=m&start_step=1", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?metric_key=m", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={r1}&metric_key=m&max_results=0", {}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=nope&metric_key=m", {}),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {"json": {"experiment_ids": ["{exp}"]}}),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {"json": {}}),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {"json": {"experiment_ids": [str(i) for i in range(21)]}}),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {"data": "{}"}),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact", {}),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r1}", {}),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r1}&path=x.txt", {}),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r1}&path=x.txt", {"data": "abc", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r1}&path=up.txt", {"data": "abc", "headers": {"Content-Type": "application/octet-stream"}}),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=nope&path=x.txt", {"data": "abc", "headers": {"Content-Type": "application/octet-stream"}}),
    ("GET", "/get-artifact?run_uuid={r1}&path=up.txt", {}),
    ("GET", "/ajax-api/2.0/mlflow/logged-models/{model}/artifacts/files?artifact_file_path=MLmodel", {}),
    ("GET", "/ajax-api/2.0/mlflow/logged-models/{model}/artifacts/files?artifact_file_path=sub/x.pkl", {}),
    ("GET", "/ajax-api/2.0/mlflow/logged-models/{model}/artifacts/files?artifact_file_path=../x", {}),
    ("GET", "/ajax-api/2.0/mlflow/logged-models/{model}/artifacts/files", {}),
    ("GET", "/ajax-api/2.0/mlflow/logged-models/m-00000000000000000000000000000000/artifacts/files?artifact_file_path=MLmodel", {}),
    ("GET", "/api/2.0/mlflow/logged-models/{model}/artifacts/directories", {}),
    ("GET", "/api/2.0/mlflow/logged-models/{model}/artifacts/directories?artifact_directory_path=sub", {}),
    ("GET", "/api/2.0/mlflow/logged-models/{model}/artifacts/directories?artifact_directory_path=../x", {}),
    ("POST", "/api/2.0/mlflow/experiments/create", {"data": '{"name": "no-content-type"}'}),
    ("POST", "/api/2.0/mlflow/experiments/create", {"data": '{"name": "x"}', "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/api/2.0/mlflow/runs/search", {"data": "{}", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    ("POST", "/api/2.0/mlflow/runs/log-batch", {"data": '{"run_id": "{r1}"}'}),
    ("POST", "/api/2.0/mlflow/logged-models/search", {"data": "{}"}),
    ("POST", "/api/2.0/mlflow/experiments/create", {"data": "not json", "headers": {"Content-Type": "application/json"}}),
    # Search filters the reference refuses, with its messages (those that name a Python
    # set of valid keys or comparators are left out: the set's order varies by process).
    *[("POST", "/api/2.0/mlflow/experiments/search", {"json": {"filter": f, "max_results": 1}}) for f in [
        "attr.name = 'x'", "attributes.name = 'x'", "foo.x = 'y'", "name = 1", "creation_time > 'a'",
        "name IN ('a')", "experiment_id = 1", "creation_time = 1.5", "name IS NULL", "tags.x > 'y'",
        "tags.x = 1", "name = '{expname}' AND"]],
    *[("POST", "/api/2.0/mlflow/runs/search", {"json": {"experiment_ids": ["{exp}"], "filter": f}}) for f in [
        "metrics.m > 'a'", "metrics.m = 'NaN'", "params.p = 1", "tags.t = 1", "attributes.start_time > 'a'",
        "foo.x = 'y'", "attributes.status IN ('a')", "datasets.name = 1", "metrics.m IS NULL",
        "attributes.run_name IS NOT NULL", "`metrics`.m > 100", "metrics.m > 100 AND",
        "attributes.run_id IN ('{r1}')"]],
    *[("POST", "/api/2.0/mlflow/runs/search", {"json": {"experiment_ids": ["{exp}"], "order_by": [o]}}) for o in [
        "metrics.m FOO", "tags.t DESC, metrics.m", "a b c"]],
    # A double-encoded body, as older clients send it.
    ("POST", "/api/2.0/mlflow/experiments/search", {"data": json.dumps(json.dumps({"filter": "name = '{expname}'", "max_results": 10})), "headers": {"Content-Type": "application/json"}}),
    ("POST", "/api/2.0/mlflow/experiments/search", {"json": {"filter": "name = '{expname}'"}}),
]


def fill(v, ids):
    if isinstance(v, str):
        for k, x in ids.items():
            v = v.replace("{" + k + "}", x)
        return v
    if isinstance(v, list):
        return [fill(x, ids) for x in v]
    if isinstance(v, dict):
        return {k: fill(x, ids) for k, x in v.items()}
    return v


def redact_ids(v, ids, key=""):
    """Puts each server's ids back as their names, and drops what differs by nature
    (times of creation). Short ids (an experiment's "3") only where a key names an id."""
    if isinstance(v, str):
        id_like = "id" in key.lower() or key in ("name", "artifact_location", "artifactLocation")
        for k, x in ids.items():
            if len(x) >= 16:
                v = v.replace(x, "{" + k + "}")
            elif id_like and v == x:
                v = "{" + k + "}"
            elif v == f"mlflow-artifacts:/{x}" or v.startswith(f"mlflow-artifacts:/{x}/"):
                v = v.replace(f":/{x}", ":/{" + k + "}", 1)
        return v
    if isinstance(v, list):
        return [redact_ids(x, ids, key) for x in v]
    if isinstance(v, dict):
        if v.get("key") == "mlflow.runName":
            return {"key": "mlflow.runName"}
        return {k: redact_ids(x, ids, k) for k, x in v.items()
                if not k.endswith("_time") and "timestamp_ms" not in k and k != "run_name"}
    return v


@pytest.fixture(scope="module")
def route_answers(both):
    out = {}
    for name, s in both.items():
        ids = setup_ids(s)
        out[name] = []
        for method, path, kw in ROUTES:
            r = requests.request(method, s.url + fill(path, ids), timeout=60, **fill(kw, ids))
            ct = r.headers.get("Content-Type")
            try:
                body = redact_ids(r.json(), ids)
            except ValueError:
                body = r.content
            out[name].append((r.status_code, ct, body))
    return out


@pytest.mark.parametrize("index", range(len(ROUTES)), ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_routes_answer_as_the_reference(route_answers, index):
    ref, ours = route_answers["mlflow"][index], route_answers["ferroflow"][index]
    if "get-history-bulk?" in ROUTES[index][1] and isinstance(ours[2], dict):
        # Ordered by run id first, and ids differ between the servers: compare each run's
        # points in order, and that ours come in run id order.
        by_run = lambda b: sorted(b.get("metrics", []), key=lambda m: m["run_id"])
        ours, ref = (ours[0], ours[1], by_run(ours[2])), (ref[0], ref[1], by_run(ref[2]))
    if "search-datasets" in ROUTES[index][1] and E2E_DATABASE != "sqlite" and isinstance(ours[2], dict):
        # MLflow's query has no ORDER BY: the reference (on SQLite here) and a server on
        # another database list the same summaries in the order each database finds them.
        by_name = lambda b: sorted(b.get("dataset_summaries", []), key=lambda d: (d["name"], d["digest"]))
        ours, ref = (ours[0], ours[1], by_name(ours[2])), (ref[0], ref[1], by_name(ref[2]))
    assert ours == ref


# ---- registry: model version sources ----

SOURCE_CASES = [
    ("a run id that names no run, runs: source", {"source": "runs:/abc/model", "run_id": "abc"}),
    ("a run id that names no run, object store", {"source": "s3://bucket/x", "run_id": "abcdef"}),
    ("a run id that names no run, local path", {"source": "/tmp/x", "run_id": "abcdef"}),
    ("the run's artifact URI", {"source": "{au}", "run_id": "{run}"}),
    ("a path inside it", {"source": "{au}/model", "run_id": "{run}"}),
    ("a dot path inside it", {"source": "{au}/.", "run_id": "{run}"}),
    ("a path climbing back into it", {"source": "{au}/model/..", "run_id": "{run}"}),
    ("a path climbing out of it", {"source": "{au}/model/../..", "run_id": "{run}"}),
    ("another run's artifacts", {"source": "{au2}/model", "run_id": "{run}"}),
    ("a local path outside", {"source": "/etc", "run_id": "{run}"}),
    ("a local path without a run", {"source": "/etc"}),
    ("a file URI without a run", {"source": "file:///etc"}),
    ("a relative path", {"source": "model"}),
    ("an object store without a run", {"source": "s3://b/k"}),
    ("another run's runs: URI", {"source": "runs:/{run2}/model", "run_id": "{run}"}),
    ("a runs: URI without a run id", {"source": "runs:/{run2}/model"}),
    ("a proxied URI without a run", {"source": "mlflow-artifacts:/x/y"}),
    ("a foreign http host", {"source": "http://example.invalid/x"}),
    ("a version of an unknown model", {"source": "models:/{unique}/1"}),
    ("a copy of a version", {"source": "models:/{model}/1"}),
    ("a copy with another run id", {"source": "models:/{model}/1", "run_id": "{run2}"}),
    ("a registry on another host", {"source": "models://profile/{model}/1"}),
    ("no source", {"source": ""}),
]


@pytest.fixture(scope="module")
def source_answers(both):
    out = {}
    for name, s in both.items():
        # Local artifact roots, so that path containment is what is checked.
        root = s.workdir / unique("mv-root")
        exp = s.api("POST", "experiments/create", json={"name": unique(), "artifact_location": str(root)}).json()["experiment_id"]
        run, run2 = new_run(s, exp), new_run(s, exp)
        model = unique("floor-model")
        s.api("POST", "registered-models/create", json={"name": model})
        first = s.api("POST", "model-versions/create", json={"name": model, "source": f"runs:/{run['run_id']}/model", "run_id": run["run_id"]})
        assert first.status_code == 200, first.text
        ids = {"au": run["artifact_uri"], "au2": run2["artifact_uri"], "run": run["run_id"], "run2": run2["run_id"],
               "model": model, "unique": unique("nope"), "root": str(root)}
        out[name] = []
        for _, body in SOURCE_CASES:
            r = s.api("POST", "model-versions/create", json={"name": model, **fill(body, ids)})
            b = r.json()
            text = b.get("message") or b["model_version"]["source"]
            for k in ("au2", "au", "root", "run2", "run", "model", "unique"):
                text = text.replace(ids[k], "{" + k + "}")
            out[name].append((r.status_code, b.get("error_code"), text))
    return out


@pytest.mark.parametrize("index", range(len(SOURCE_CASES)), ids=[c[0] for c in SOURCE_CASES])
def test_model_version_sources_are_checked_as_the_reference_checks_them(source_answers, index):
    assert source_answers["ferroflow"][index] == source_answers["mlflow"][index]


@mlflow3
def test_a_version_registered_from_a_logged_model_is_noted_on_it(both):
    import mlflow

    tags = {}
    for name, s in both.items():
        c = mlflow.MlflowClient(s.url)
        exp = c.create_experiment(unique())
        m = c.create_logged_model(exp, name="model", source_run_id="123")
        assert m.source_run_id == "123"
        reg = unique("floor-model")
        c.create_registered_model(reg)
        for _ in range(2):
            c.create_model_version(reg, m.model_uri, model_id=m.model_id)
        tags[name] = c.get_logged_model(m.model_id).tags["mlflow.modelVersions"].replace(reg, "{reg}")
    assert tags["ferroflow"] == tags["mlflow"] == '[{"name": "{reg}", "version": 1}, {"name": "{reg}", "version": 2}]'


@mlflow3
def test_logged_models_are_searched_in_the_references_order(both):
    import mlflow

    got = {}
    for name, s in both.items():
        c = mlflow.MlflowClient(s.url)
        exp = c.create_experiment(unique())
        for i in range(3):
            c.create_logged_model(exp, name=f"n{i}")
        got[name] = [
            [m.name for m in c.search_logged_models([exp])],
            [m.name for m in c.search_logged_models([exp], order_by=[{"field_name": "creation_timestamp", "ascending": False}])],
            [m.name for m in c.search_logged_models([exp], order_by=[{"field_name": "creation_timestamp"}])],
            [m.name for m in c.search_logged_models([exp], order_by=[{"field_name": "name", "ascending": False}])],
        ]
    assert got["ferroflow"] == got["mlflow"]
    assert got["ferroflow"][0] == ["n2", "n1", "n0"]


# ---- a default artifact root that names the server itself, over http ----


def test_an_http_artifact_root_through_this_servers_proxy(tmp_path):
    import mlflow
    import numpy as np

    s = Server(tmp_path)
    s.args = ["--default-artifact-root", f"http://127.0.0.1:{s.port}/api/2.0/mlflow-artifacts/artifacts"]
    s.start()
    try:
        c = client_on(s.url)
        exp = c.create_experiment(unique())
        run = c.create_run(exp)
        assert run.info.artifact_uri == f"http://127.0.0.1:{s.port}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run.info.run_id}/artifacts"
        (tmp_path / "a.txt").write_text("abcdefg")
        c.log_artifact(run.info.run_id, str(tmp_path / "a.txt"))
        c.log_image(run.info.run_id, np.zeros((4, 4, 3), dtype=np.uint8), "img.png")
        assert sorted(f.path for f in c.list_artifacts(run.info.run_id)) == ["a.txt", "img.png"]
        r = requests.get(f"{s.url}/get-artifact", params={"run_uuid": run.info.run_id, "path": "a.txt"}, timeout=30)
        assert (r.status_code, r.text, r.headers["Content-Type"]) == (200, "abcdefg", "text/plain")
        listing = s.api("GET", "artifacts/list", params={"run_id": run.info.run_id}).json()
        assert listing["root_uri"] == run.info.artifact_uri
        # Where the bytes are: under the proxy's destination, as for mlflow-artifacts:/.
        assert (tmp_path / "mlruns" / exp / run.info.run_id / "artifacts" / "a.txt").read_text() == "abcdefg"
        # A run created with another server's address is not read from here.
        other = s.api("POST", "experiments/create", json={"name": unique(), "artifact_location": "http://example.invalid/api/2.0/mlflow-artifacts/artifacts/x"})
        assert other.status_code == 400 and "cannot use the 'http' scheme" in other.json()["message"]
    finally:
        s.stop()


def test_server_options_of_other_servers_are_taken_as_mlflow_takes_them(tmp_path):
    # MLflow's own tests pass `--gunicorn-opts "--log-level debug"` as two arguments.
    s = Server(tmp_path, "--gunicorn-opts", "--log-level debug").start()
    s.stop()


def test_logged_models_are_searched_by_dataset(both):
    got = {}
    for name, s in both.items():
        exp = s.api("POST", "experiments/create", json={"name": unique()}).json()["experiment_id"]
        run = new_run(s, exp)["run_id"]
        ids = []
        for ds in ("dataset", "other"):
            m = s.api("POST", "logged-models", json={"experiment_id": exp, "name": ds, "source_run_id": run}).json()["model"]["info"]["model_id"]
            ids.append(m)
            s.api("POST", "runs/log-batch", json={"run_id": run, "metrics": [
                {"key": "acc", "value": 0.9 if ds == "dataset" else 0.5, "timestamp": 1, "step": 0,
                 "model_id": m, "dataset_name": ds, "dataset_digest": "123"}]})
        def names(**body):
            r = s.api("POST", "logged-models/search", json={"experiment_ids": [exp], **body})
            return r.status_code, sorted(x["info"]["name"] for x in r.json().get("models", [])) if r.ok else r.json()["message"]
        got[name] = [
            names(datasets=[{"dataset_name": "dataset", "dataset_digest": "123"}]),
            names(datasets=[{"dataset_name": "dataset"}]),
            names(datasets=[{"dataset_name": "nope"}]),
            names(filter="metrics.acc > 0.1", datasets=[{"dataset_name": "other"}]),
            names(datasets=[{"dataset_digest": "123"}]),
        ]
    assert got["ferroflow"] == got["mlflow"]
    assert got["ferroflow"][0] == (200, ["dataset"])


def test_model_versions_order_ties_as_the_reference(both):
    got = {}
    for name, s in both.items():
        prefix = unique("floor-tie")
        for i in range(2):
            s.api("POST", "registered-models/create", json={"name": f"{prefix}-{i}"})
            for _ in range(3):
                s.api("POST", "model-versions/create", json={"name": f"{prefix}-{i}", "source": "s3://b/k"})
        got[name] = {}
        for order in (["name DESC"], ["name ASC"], ["version_number DESC"], []):
            r = s.api("GET", "model-versions/search", params={"filter": f"name LIKE '{prefix}%'", "order_by": order})
            got[name][str(order)] = [(v["name"].replace(prefix, ""), v["version"]) for v in r.json()["model_versions"]]
    assert got["ferroflow"] == got["mlflow"]


# ---- /graphql, as MLflow's web UI queries it ----


def graphql(server, query, variables=None, operation=None):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation:
        body["operationName"] = operation
    r = requests.post(f"{server.url}/graphql", json=body, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


@pytest.fixture(scope="module")
def graphql_answers(both, tmp_path_factory):
    import math
    import mlflow
    from mlflow.entities import Dataset, DatasetInput, InputTag

    out = {}
    for name, s in both.items():
        c = client_on(s.url)
        model = unique("floor-gql")
        c.create_registered_model(model)
        expname = unique("gql")
        exp = c.create_experiment(expname)
        run = c.create_run(exp)
        run_id = run.info.run_id
        for i in range(10):
            c.log_metric(run_id, "metric_0", i, timestamp=1000 + i, step=i)
        c.log_metric(run_id, "nan_metric", math.nan, timestamp=2, step=2)
        c.log_param(run_id, "alpha", "0.5")
        c.set_tag(run_id, "team", "wine")
        f = tmp_path_factory.mktemp("gql") / "test.txt"
        f.write_text("hello world")
        c.log_artifact(run_id, str(f))
        c.log_artifact(run_id, str(f), "testDir")
        c.log_inputs(run_id, [DatasetInput(Dataset(name="d1", digest="12345", source_type="script", source="t"), tags=[]),
                              DatasetInput(Dataset(name="d2", digest="12346", source_type="script", source="t"),
                                           tags=[InputTag(key="mlflow.data.context", value="training")])])
        c.create_model_version(model, f"runs:/{run_id}/model", run_id)
        run2 = c.create_run(exp).info.run_id
        ids = {"run": run_id, "run2": run2, "exp": exp, "model": model, "expname": expname}
        queries = [
            ('query testQuery {test(inputString: "abc") { output }}', None, "testQuery"),
            ('mutation m {testMutation(inputString: "x") { output __typename }}', None, None),
            (f'query q {{mlflowGetExperiment(input: {{experimentId: "{exp}"}}) {{ experiment {{ name lifecycleStage tags {{ key }} }} apiError {{ code }} }}}}', None, None),
            ('query q($id: String) { e: mlflowGetExperiment(input: {experimentId: $id}) { experiment { experimentId } } }', {"id": exp}, "q"),
            ('query q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }', {"input": {"experimentId": exp}}, None),
            ('query q { mlflowGetExperiment(input: {experimentId: "999999"}) { experiment { name } } }', None, None),
            (f'''query testQuery @component(name: "Test") {{ mlflowGetRun(input: {{runId: "{run_id}"}}) {{
                  run {{ info {{ status runId endTime lifecycleStage }} experiment {{ name }} modelVersions {{ name version source }}
                        data {{ params {{ key value }} tags {{ key }} metrics {{ key value timestamp step }} }}
                        inputs {{ datasetInputs {{ dataset {{ name digest }} tags {{ key value }} }} }}
                        outputs {{ modelOutputs {{ modelId }} }} __typename }} }} }}''', None, "testQuery"),
            (f'query q {{ mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{run_id}"], metricKey: "metric_0"}}) {{ metrics {{ key timestamp value step runId }} }} }}', None, None),
            (f'query q {{ mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{run_id}"], metricKey: "metric_0", startStep: 2, endStep: 4, maxResults: 2}}) {{ metrics {{ step }} }} }}', None, None),
            (f'mutation m {{ mlflowSearchRuns(input: {{ experimentIds: ["{exp}"], orderBy: ["attributes.start_time DESC"] }}) {{ runs {{ info {{ runId }} }} nextPageToken }} }}', None, None),
            (f'query q {{ mlflowSearchRuns(input: {{ experimentIds: ["{exp}"], filter: "params.alpha = \'0.5\'", maxResults: 1 }}) {{ runs {{ info {{ runId }} }} }} }}', None, None),
            (f'query q {{ files: mlflowListArtifacts(input: {{runId: "{run_id}"}}) {{ files {{ path isDir fileSize }} }} }}', None, None),
            (f'query q {{ subdir: mlflowListArtifacts(input: {{runId: "{run_id}", path: "testDir"}}) {{ files {{ path isDir fileSize }} }} }}', None, None),
            (f'mutation m {{ mlflowSearchDatasets(input: {{experimentIds: ["{exp}"]}}) {{ datasetSummaries {{ experimentId name digest context }} }} }}', None, None),
            (f'query q {{ mlflowSearchModelVersions(input: {{filter: "name=\'{model}\'"}}) {{ modelVersions {{ name version currentStage aliases status }} }} }}', None, None),
            ('query q { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { nope } } }', None, None),
            ('query q { nope }', None, None),
            ('query q { mlflowGetRun(input: {runId: "x"}) { run { info { status { x } } } } }', None, None),
            ('query q { mlflowGetRun(input: {runId: "nope"}) { run { info { status } } } }', None, None),
        ]
        answers = []
        for q, v, op in queries:
            a = graphql(s, q, v, op)
            answers.append(redact_ids(a, ids))
        out[name] = answers
    return out


@pytest.mark.parametrize("index", range(19))
def test_graphql_answers_as_the_reference(graphql_answers, index):
    ours, ref = graphql_answers["ferroflow"][index], graphql_answers["mlflow"][index]
    summaries = ((ours or {}).get("data") or {}).get("mlflowSearchDatasets")
    if E2E_DATABASE != "sqlite" and summaries and summaries.get("datasetSummaries"):
        # As for the REST route: no ORDER BY in MLflow's query, each database its own order.
        for answer in (ours, ref):
            answer["data"]["mlflowSearchDatasets"]["datasetSummaries"].sort(key=lambda d: (d["name"], d["digest"]))
    assert ours == ref, json.dumps({"ferroflow": ours, "mlflow": ref})


@pytest.mark.parametrize("query, message", [
    (" ".join(["query q {"] + [f'k{i}: test(inputString: "a") {{ output }}' for i in range(12)] + ["}"]),
     "GraphQL queries should have at most 10 root fields, got 12 root fields"),
    ('query q { mlflowGetExperiment(input: {experimentId: "1"}) { ' + " ".join(f"e{i}: experiment {{ name }}" for i in range(12)) + " } }",
     "queries should have at most 10 aliases"),
    ('query q { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { ' + "name { " * 12 + "name" + " }" * 12 + " } } }",
     "Query exceeds maximum depth of 10"),
    ('query q { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { ' + " ".join(f"f{i} {{ name }}" for i in range(1002)) + " } } }",
     "Query exceeds maximum total selections of 1000"),
])
def test_graphql_limits_as_the_reference(both, query, message):
    for s in both.values():
        a = graphql(s, query)
        assert a["data"] is None and message in a["errors"][0], a
