"""Artifacts in S3 (moto_server on loopback, started by scripts/s3.sh), with the official
client: through the server's proxy (`--artifacts-destination s3://...`), and straight from
the client with boto3 (`--default-artifact-root s3://... --no-serve-artifacts`) while the
server reads the same objects. MLflow 3.17.2's server runs beside it on the same bucket
and lists the same things."""

import hashlib
import os
import pathlib
import uuid

import pytest
import requests

from conftest import Server, free_port, run_cli

ENDPOINT = os.environ.get("FERROFLOW_TEST_S3_ENDPOINT")
BUCKET = os.environ.get("FERROFLOW_TEST_S3_URI", "s3://ferroflow-test").removeprefix("s3://")

if not ENDPOINT:
    if os.environ.get("CI"):
        raise RuntimeError("CI runs the S3 tests: scripts/test.sh starts moto_server (scripts/s3.sh)")
    pytest.skip("no S3 endpoint here (FERROFLOW_TEST_S3_ENDPOINT)", allow_module_level=True)

boto3 = pytest.importorskip("boto3")


def s3():
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1")


def keys(prefix: str) -> dict:
    """Every object under `prefix`: key (relative to it) -> size."""
    out = {}
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) + 1:]] = o["Size"]
    return out


def make_files(root: pathlib.Path) -> None:
    (root / "plots").mkdir(parents=True)
    (root / "plots" / "loss.txt").write_text("0.9 0.5 0.2\n")
    (root / "plots" / "deep").mkdir()
    (root / "plots" / "deep" / "x.json").write_text('{"a": 1}')
    (root / "notes with spaces+1.md").write_text("# hi\n")


@pytest.fixture
def prefix():
    return f"e2e-{uuid.uuid4().hex[:12]}"


def test_proxy_streams_into_s3_and_back(workdir, prefix, monkeypatch):
    import mlflow

    server = Server(workdir, "--artifacts-destination", f"s3://{BUCKET}/{prefix}").start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        make_files(workdir / "src")
        big = workdir / "weights.bin"
        big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
        with mlflow.start_run() as run:
            mlflow.log_param("p", 1)
            mlflow.log_artifacts(str(workdir / "src"))
            mlflow.log_artifact(str(big), artifact_path="model")
        rid = run.info.run_id
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")

        # The objects sit where the proxy's paths say, under the destination prefix.
        exp = run.info.experiment_id
        stored = keys(prefix)
        base = f"{exp}/{rid}/artifacts/"
        assert stored == {
            base + "plots/loss.txt": 12,
            base + "plots/deep/x.json": 8,
            base + "notes with spaces+1.md": 5,
            base + "model/weights.bin": big.stat().st_size,
        }

        client = mlflow.MlflowClient(server.url)
        top = {(f.path, f.is_dir) for f in client.list_artifacts(rid)}
        assert top == {("plots", True), ("notes with spaces+1.md", False), ("model", True)}
        assert [f.path for f in client.list_artifacts(rid, "plots")] == ["plots/deep", "plots/loss.txt"]
        got = pathlib.Path(mlflow.artifacts.download_artifacts(run_id=rid, dst_path=str(workdir / "dl")))
        assert (got / "plots" / "deep" / "x.json").read_text() == '{"a": 1}'
        assert hashlib.sha256((got / "model" / "weights.bin").read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()

        # A range download through the proxy (what the UI's viewer and resumed downloads ask).
        r = requests.get(
            f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{rid}/artifacts/model/weights.bin",
            headers={"Range": "bytes=3145728-"}, timeout=30,
        )
        assert r.status_code == 206, r.text
        assert r.content == big.read_bytes()[3145728:]

        # Deleting through the proxy deletes the objects.
        r = requests.delete(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{rid}/artifacts/plots", timeout=30)
        assert r.status_code == 200, r.text
        assert not any(k.startswith(base + "plots/") for k in keys(prefix))
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()


def test_multipart_upload_through_the_proxy(workdir, prefix, monkeypatch):
    """The client's multipart protocol (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD) lands as one
    S3 multipart upload: parts go to the bucket as they arrive."""
    import mlflow

    server = Server(workdir, "--artifacts-destination", f"s3://{BUCKET}/{prefix}").start()
    try:
        for k, v in {
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
            "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(6 * 1024 * 1024),
            "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(5 * 1024 * 1024),
        }.items():
            monkeypatch.setenv(k, v)
        mlflow.set_tracking_uri(server.url)
        big = workdir / "big.bin"
        big.write_bytes(os.urandom(12 * 1024 * 1024 + 5))
        with mlflow.start_run() as run:
            mlflow.log_artifact(str(big))
        key = f"{prefix}/{run.info.experiment_id}/{run.info.run_id}/artifacts/big.bin"
        head = s3().head_object(Bucket=BUCKET, Key=key)
        assert head["ContentLength"] == big.stat().st_size
        assert head["ETag"].strip('"').endswith("-3"), head["ETag"]  # three parts
        body = s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == big.read_bytes()
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()


def test_client_logs_straight_to_s3_and_the_server_reads_it(workdir, prefix, monkeypatch):
    """No proxy: runs get s3:// artifact URIs; the client writes with boto3; the server's
    artifact API, `ferroflow artifacts download` and `ferroflow models serve -m s3://`
    read the same objects."""
    import mlflow
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    root = f"s3://{BUCKET}/{prefix}"
    server = Server(workdir, "--default-artifact-root", root, "--no-serve-artifacts").start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        make_files(workdir / "src")
        X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
        y = X["a"] * 2 + X["b"]
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(workdir / "src"))
            # Saved then logged as files: the run's own artifacts hold it with either client.
            mlflow.sklearn.save_model(LinearRegression().fit(X, y), str(workdir / "model"))
            mlflow.log_artifacts(str(workdir / "model"), artifact_path="model")
        rid = run.info.run_id
        assert run.info.artifact_uri == f"{root}/{run.info.experiment_id}/{rid}/artifacts"

        listed = server.api("GET", "artifacts/list", params={"run_id": rid, "path": "plots"}).json()
        assert listed["root_uri"] == run.info.artifact_uri
        assert [(f["path"], f["is_dir"]) for f in listed["files"]] == [("plots/deep", True), ("plots/loss.txt", False)]
        r = requests.get(f"{server.url}/get-artifact", params={"run_id": rid, "path": "plots/loss.txt"}, timeout=30)
        assert r.status_code == 200 and r.text == "0.9 0.5 0.2\n"

        run_cli("artifacts", "download", "-r", rid, "-d", str(workdir / "dl"), env={"MLFLOW_TRACKING_URI": server.url})
        assert (workdir / "dl" / "artifacts" / "plots" / "deep" / "x.json").read_text() == '{"a": 1}'
        one = run_cli("artifacts", "download", "-u", f"{run.info.artifact_uri}/plots/loss.txt", "-d", str(workdir / "one"))
        assert pathlib.Path(one.stdout.strip()).read_text() == "0.9 0.5 0.2\n"

        from test_models import Scorer, env

        scorer = Scorer(workdir, "-m", f"{run.info.artifact_uri}/model", "--env-manager", "local",
                        environ=env(MLFLOW_S3_ENDPOINT_URL=ENDPOINT))
        try:
            r = requests.post(f"{scorer.url}/invocations",
                              json={"dataframe_split": {"columns": ["a", "b"], "data": [[4.0, 1.0]]}}, timeout=30)
            assert r.status_code == 200, r.text
            assert abs(r.json()["predictions"][0] - 9.0) < 1e-6
        finally:
            scorer.proc.terminate()
            scorer.proc.wait(timeout=30)
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()


def test_same_listing_as_mlflow_on_the_same_bucket(workdir, prefix, monkeypatch):
    """Python MLflow 3.17.2 and Ferroflow, each proxying into its own prefix of one bucket,
    store the same keys and answer the same listings for the same uploads."""
    import mlflow

    from conftest import Reference

    refdir = workdir / "ref"
    refdir.mkdir()
    ref = Reference(refdir, "--artifacts-destination", f"s3://{BUCKET}/{prefix}-ref")
    ours = Server(workdir, "--artifacts-destination", f"s3://{BUCKET}/{prefix}-ff").start()
    try:
        make_files(workdir / "src")
        answers = []
        for url in (ref.url, ours.url):
            mlflow.set_tracking_uri(url)
            with mlflow.start_run() as run:
                mlflow.log_artifacts(str(workdir / "src"), artifact_path="a")
            base = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
            listings = []
            for path in ("", "a", "a/plots", "a/plots/deep", "missing"):
                r = requests.get(
                    f"{url}/api/2.0/mlflow-artifacts/artifacts",
                    params={"path": f"{base}/{path}".rstrip("/")}, timeout=30,
                )
                listings.append((r.status_code, r.json()))
            answers.append(listings)
            answers.append(run.info.run_id)
        ref_listing, ref_run, our_listing, our_run = answers
        assert our_listing == ref_listing
        strip = lambda ks, rid: {k.replace(rid, "RUN") for k in ks}  # noqa: E731
        assert strip(keys(f"{prefix}-ff"), our_run) == strip(keys(f"{prefix}-ref"), ref_run)
    finally:
        mlflow.set_tracking_uri(None)
        ours.stop()
        ref.stop()


def test_a_missing_bucket_is_a_clear_error(workdir):
    server = Server(workdir, "--artifacts-destination", "s3://ferroflow-no-such-bucket/x").start()
    try:
        r = requests.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/f.txt", data=b"x", timeout=30)
        assert r.status_code == 404, r.text
        body = r.json()
        assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "s3://ferroflow-no-such-bucket" in body["message"] and "f.txt" in body["message"]
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        server.stop()


def test_missing_credentials_are_named(workdir):
    env = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE=str(workdir / "none"), HOME=str(workdir))
    p = run_cli("server", "--port", str(free_port()), "--artifacts-destination", f"s3://{BUCKET}/x", env=env, check=False, cwd=workdir, timeout=60)
    assert p.returncode != 0
    assert "Unable to locate AWS credentials" in p.stderr and f"s3://{BUCKET}" in p.stderr, p.stderr
