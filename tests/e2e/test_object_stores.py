"""Artifacts in object stores — S3 (moto_server) and Azure Blob Storage (Azurite), started on
loopback by scripts/objectstores.sh — with the official client: through the server's proxy
(`--artifacts-destination s3://...`), and straight from the client with boto3 or the Azure
SDK (`--default-artifact-root ... --no-serve-artifacts`) while the server reads the same
objects. MLflow 3.17.2's server runs beside it on the same bucket and lists the same things."""

import hashlib
import os
import pathlib
import uuid

import pytest
import requests

from conftest import Server, free_port, run_cli

S3_ENDPOINT = os.environ.get("FERROFLOW_TEST_S3_ENDPOINT")
S3_URI = os.environ.get("FERROFLOW_TEST_S3_URI")
AZURE_URI = os.environ.get("FERROFLOW_TEST_AZURE_URI")

if not (S3_URI and AZURE_URI):
    if os.environ.get("CI"):
        raise RuntimeError("CI runs the object-store tests: scripts/test.sh starts them (scripts/objectstores.sh)")
    pytest.skip("no object stores here (FERROFLOW_TEST_S3_URI, FERROFLOW_TEST_AZURE_URI)", allow_module_level=True)


class S3:
    name = "s3"
    root = S3_URI

    def __init__(self):
        import boto3

        self.client = boto3.client("s3", endpoint_url=S3_ENDPOINT, region_name="us-east-1")
        self.bucket = S3_URI.removeprefix("s3://")

    def keys(self, prefix: str) -> dict:
        """Every object under `prefix`: key (relative to it) -> size."""
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix + "/"):
            for o in page.get("Contents", []):
                out[o["Key"][len(prefix) + 1:]] = o["Size"]
        return out

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


class Azure:
    name = "azure"
    root = AZURE_URI

    def __init__(self):
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
        self.container = service.get_container_client(AZURE_URI.removeprefix("wasbs://").split("@")[0])

    def keys(self, prefix: str) -> dict:
        return {b.name[len(prefix) + 1:]: b.size for b in self.container.list_blobs(name_starts_with=prefix + "/")}

    def get(self, key: str) -> bytes:
        return self.container.download_blob(key).readall()


@pytest.fixture(params=[S3, Azure], ids=["s3", "azure"])
def store(request):
    pytest.importorskip("boto3" if request.param is S3 else "azure.storage.blob")
    return request.param()


def make_files(root: pathlib.Path) -> None:
    (root / "plots").mkdir(parents=True)
    (root / "plots" / "loss.txt").write_text("0.9 0.5 0.2\n")
    (root / "plots" / "deep").mkdir()
    (root / "plots" / "deep" / "x.json").write_text('{"a": 1}')
    (root / "notes with spaces+1.md").write_text("# hi\n")


@pytest.fixture
def prefix():
    return f"e2e-{uuid.uuid4().hex[:12]}"


def test_proxy_streams_into_the_store_and_back(workdir, store, prefix, monkeypatch):
    import mlflow

    server = Server(workdir, "--artifacts-destination", f"{store.root}/{prefix}").start()
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
        stored = store.keys(prefix)
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
        assert not any(k.startswith(base + "plots/") for k in store.keys(prefix))
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()


def test_multipart_upload_through_the_proxy(workdir, store, prefix, monkeypatch):
    """The client's multipart protocol (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD) lands as one
    multipart upload (S3's parts, Azure's block list): parts go to the bucket as they arrive."""
    import mlflow

    server = Server(workdir, "--artifacts-destination", f"{store.root}/{prefix}").start()
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
        if isinstance(store, S3):
            head = store.client.head_object(Bucket=store.bucket, Key=key)
            assert head["ETag"].strip('"').endswith("-3"), head["ETag"]  # three parts
        else:
            blocks = store.container.get_blob_client(key).get_block_list()[0]
            assert len(blocks) == 3, blocks
        assert store.get(key) == big.read_bytes()
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()


def test_client_logs_straight_to_the_store_and_the_server_reads_it(workdir, store, prefix, monkeypatch):
    """No proxy: runs get s3:// (wasbs://) artifact URIs; the client writes with boto3 (the
    Azure SDK); the server's artifact API, `ferroflow artifacts download` and
    `ferroflow models serve -m s3://...` read the same objects."""
    import mlflow
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    root = f"{store.root}/{prefix}"
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
        # The CLI writes into the bucket as the client does.
        run_cli("artifacts", "log-artifact", "-l", str(workdir / "src" / "plots" / "loss.txt"), "-r", rid, "-a", "cli",
                env={"MLFLOW_TRACKING_URI": server.url})
        base = f"{run.info.experiment_id}/{rid}/artifacts"
        assert store.keys(prefix)[f"{base}/cli/loss.txt"] == 12

        from test_models import Scorer, env

        # The model by its storage URI, then through the registry (models:/ resolves to it).
        client = mlflow.MlflowClient(server.url)
        client.create_registered_model("in-the-bucket")
        client.create_model_version("in-the-bucket", f"{run.info.artifact_uri}/model", run_id=rid)
        for model_uri in (f"{run.info.artifact_uri}/model", "models:/in-the-bucket/1"):
            scorer = Scorer(workdir, "-m", model_uri, "--env-manager", "local",
                            environ=env(MLFLOW_S3_ENDPOINT_URL=S3_ENDPOINT, MLFLOW_TRACKING_URI=server.url))
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


def test_same_listing_as_mlflow_on_the_same_bucket(workdir, store, prefix, monkeypatch):
    """Python MLflow 3.17.2 and Ferroflow, each proxying into its own prefix of one bucket,
    store the same keys and answer the same listings for the same uploads."""
    import mlflow

    from conftest import Reference

    refdir = workdir / "ref"
    refdir.mkdir()
    ref = Reference(refdir, "--artifacts-destination", f"{store.root}/{prefix}-ref")
    ours = Server(workdir, "--artifacts-destination", f"{store.root}/{prefix}-ff").start()
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
        assert strip(store.keys(f"{prefix}-ff"), our_run) == strip(store.keys(f"{prefix}-ref"), ref_run)
    finally:
        mlflow.set_tracking_uri(None)
        ours.stop()
        ref.stop()


@pytest.mark.parametrize("missing", ["s3://ferroflow-no-such-bucket", "wasbs://ferroflow-no-such@devstoreaccount1.blob.core.windows.net"])
def test_a_missing_bucket_is_a_clear_error(workdir, missing):
    server = Server(workdir, "--artifacts-destination", f"{missing}/x").start()
    try:
        r = requests.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/f.txt", data=b"x", timeout=30)
        assert r.status_code == 404, r.text
        body = r.json()
        assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert missing in body["message"] and "f.txt" in body["message"], body
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        server.stop()


def test_missing_credentials_are_named(workdir):
    env = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE=str(workdir / "none"), HOME=str(workdir))
    p = run_cli("server", "--port", str(free_port()), "--artifacts-destination", f"{S3_URI}/x", env=env, check=False, cwd=workdir, timeout=60)
    assert p.returncode != 0
    assert "Unable to locate AWS credentials" in p.stderr and S3_URI in p.stderr, p.stderr
