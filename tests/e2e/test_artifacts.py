"""Artifacts through the proxy: big files stream in bounded memory, the multipart-upload
protocol of the official client works against the local store, and deletion."""

import hashlib
import os

import mlflow
import requests


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_large_artifacts_stream_in_bounded_memory(server, mlflow_client, tmp_path):
    big = tmp_path / "weights.bin"
    with open(big, "wb") as f:
        for i in range(96):
            f.write(os.urandom(1 << 20))
    run = mlflow_client.create_run("0")
    mlflow_client.log_artifact(run.info.run_id, str(big), "model")
    peak_after_upload = rss_mib(server.proc.pid)
    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model/weights.bin", dst_path=str(tmp_path / "dl"))
    assert sha256(out) == sha256(big)
    # A 96 MiB file went through the server twice; it never held it whole.
    assert peak_after_upload < 90 and rss_mib(server.proc.pid) < 90, (peak_after_upload, rss_mib(server.proc.pid))


def test_multipart_upload_with_the_official_client(server, mlflow_client, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1 << 20))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(1 << 20))
    data = tmp_path / "parts.bin"
    data.write_bytes(os.urandom((5 << 20) + 12345))
    run = mlflow_client.create_run("0")
    mlflow_client.log_artifact(run.info.run_id, str(data))
    stored = server.workdir / "mlruns" / "0" / run.info.run_id / "artifacts" / "parts.bin"
    assert sha256(stored) == sha256(data)
    # The scratch space of the upload is gone and never listed.
    assert not list((server.workdir / "mlruns" / ".ferroflow-mpu").glob("*"))
    assert [a.path for a in mlflow_client.list_artifacts(run.info.run_id)] == ["parts.bin"]


def test_multipart_routes_and_abort(server):
    base = f"{server.url}/api/2.0/mlflow-artifacts"
    created = requests.post(f"{base}/mpu/create/x", json={"path": "/local/dir/y.bin", "num_parts": 2}).json()
    assert len(created["credentials"]) == 2
    put = requests.put(created["credentials"][0]["url"], data=b"abc")
    assert put.status_code == 200 and put.headers["ETag"]
    aborted = requests.post(f"{base}/mpu/abort/x", json={"path": "y.bin", "upload_id": created["upload_id"]})
    assert aborted.status_code == 200
    incomplete = requests.post(
        f"{base}/mpu/complete/x",
        json={"path": "y.bin", "upload_id": created["upload_id"], "parts": [{"part_number": 1, "etag": "x"}]},
    )
    assert incomplete.status_code == 404 and incomplete.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_delete_and_list_through_the_proxy(server):
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    assert requests.put(f"{base}/1/r/artifacts/a/b.txt", data=b"hello").status_code == 200
    assert requests.get(f"{base}/1/r/artifacts/a/b.txt").content == b"hello"
    listing = requests.get(base, params={"path": "1/r/artifacts"}).json()
    assert listing == {"files": [{"path": "a", "is_dir": True}]}
    assert requests.delete(f"{base}/1/r/artifacts/a").status_code == 200
    assert requests.get(f"{base}/1/r/artifacts/a/b.txt").json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    html = requests.put(f"{base}/1/r/artifacts/page.html", data=b"<script>alert(1)</script>")
    assert html.status_code == 200
    served = requests.get(f"{base}/1/r/artifacts/page.html")
    # As the reference serves it: its own type, but as an attachment that browsers save
    # rather than render in the server's origin, and never sniffed.
    assert served.headers["content-type"] == "text/html"
    assert served.headers["content-disposition"] == "attachment; filename=page.html"
    assert served.headers["x-content-type-options"] == "nosniff"


def symlink_probes(base, root, outside, tag):
    """Plants links under the artifact `root` to the directory `outside` (holding secret.txt)
    and to the file itself, and asks the proxy for what lies behind them in every way."""
    (root / f"dir-{tag}").symlink_to(outside, target_is_directory=True)
    (root / f"file-{tag}").symlink_to(outside / "secret.txt")
    api = base + "/api/2.0/mlflow-artifacts/artifacts"
    answers = {
        "read through a directory link": requests.get(f"{api}/dir-{tag}/secret.txt", timeout=30),
        "read a file link": requests.get(f"{api}/file-{tag}", timeout=30),
        "list a directory link": requests.get(api, params={"path": f"dir-{tag}"}, timeout=30),
        "write through a directory link": requests.put(f"{api}/dir-{tag}/planted.txt", data=b"x", timeout=30),
        "delete through a directory link": requests.delete(f"{api}/dir-{tag}/secret.txt", timeout=30),
    }
    out = {}
    for what, r in answers.items():
        assert b"top secret" not in r.content, what
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        out[what] = (r.status_code, body.get("error_code"), body.get("message"))
    return out


def test_symlinks_never_lead_out_of_the_artifact_store(workdir, reference, tmp_path):
    """A link inside the proxied store to a directory or file outside it is refused for every
    operation, with MLflow 3.17.2's answer; nothing outside is read, written or deleted.
    (MLflow itself deletes through such a link: there Ferroflow refuses where it answers 200.)"""
    from conftest import Server

    def outside_dir(name):
        d = tmp_path / name
        d.mkdir()
        (d / "secret.txt").write_text("top secret")
        return d

    ours_outside, theirs_outside = outside_dir("outside-ff"), outside_dir("outside-ref")
    dest = workdir / "dest"
    dest.mkdir()
    s = Server(workdir, "--artifacts-destination", str(dest)).start()
    try:
        ours = symlink_probes(s.url, dest, ours_outside, "ff")
        ref_root = reference.workdir / "mlartifacts"
        ref_root.mkdir(exist_ok=True)
        theirs = symlink_probes(reference.url, ref_root, theirs_outside, "ref")
        for what in ours:
            assert ours[what][0] == 400 and "outside the artifact directory" in ours[what][2], (what, ours[what])
            if what != "delete through a directory link":
                assert ours[what][:2] == theirs[what][:2], (what, ours[what], theirs[what])
        assert theirs["delete through a directory link"][0] == 200 and not (theirs_outside / "secret.txt").exists()
        assert sorted(p.name for p in ours_outside.iterdir()) == ["secret.txt"]
        assert (ours_outside / "secret.txt").read_text() == "top secret"
        # Beyond MLflow: the multipart protocol refuses the link too, and a listing of the
        # store does not show where the links lead.
        mpu = requests.post(s.url + "/api/2.0/mlflow-artifacts/mpu/create/dir-ff/big.bin", json={"path": "dir-ff/big.bin", "num_parts": 1}, timeout=30)
        assert mpu.status_code == 400
        listed = requests.get(s.url + "/api/2.0/mlflow-artifacts/artifacts", timeout=30).json().get("files", [])
        assert not any(f["path"].endswith("-ff") for f in listed), listed
    finally:
        s.stop()


def test_get_artifact_of_a_run_refuses_links_out_of_its_artifact_root(workdir, tmp_path):
    """Without the proxy, a run's own artifact directory is the root: `get-artifact` and the
    artifact listing refuse a link in it that leads elsewhere."""
    from conftest import Server

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    s = Server(workdir, "--no-serve-artifacts", "--default-artifact-root", str(workdir / "store")).start()
    try:
        c = mlflow.MlflowClient(s.url)
        run = c.create_run(c.create_experiment("links"))
        c.log_text(run.info.run_id, "fine", "ok.txt")
        root = workdir / "store" / run.info.experiment_id / run.info.run_id / "artifacts"
        (root / "leak").symlink_to(outside, target_is_directory=True)
        fine = requests.get(s.url + "/get-artifact", params={"run_id": run.info.run_id, "path": "ok.txt"}, timeout=30)
        assert fine.status_code == 200 and fine.text == "fine"
        leak = requests.get(s.url + "/get-artifact", params={"run_id": run.info.run_id, "path": "leak/secret.txt"}, timeout=30)
        assert leak.status_code == 400 and b"top secret" not in leak.content
        listed = requests.get(s.url + "/api/2.0/mlflow/artifacts/list", params={"run_id": run.info.run_id, "path": "leak"}, timeout=30)
        assert listed.status_code == 400 and "secret" not in listed.text
    finally:
        s.stop()
