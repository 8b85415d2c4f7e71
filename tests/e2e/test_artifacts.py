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
