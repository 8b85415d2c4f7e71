"""The conformance floor: behaviours MLflow 3.17.2's own server tests and the seeds check,
compared side by side with the reference (`mlflow server` 3.17.2). Each test sends the
same request to both servers and compares status, error code, message and headers."""

import pathlib
import uuid

import pytest
import requests

from conftest import Server


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
