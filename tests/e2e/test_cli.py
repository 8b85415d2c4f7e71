"""The command line against both kinds of tracking URI: a server and a SQLite database."""

import csv
import io
import json
import os

import mlflow
import pytest

from conftest import run_cli, MLFLOW_3, client_on, mlflow3_schema


@pytest.fixture(params=["http", "sqlite"])
def tracking_uri(request, workdir):
    if request.param == "http":
        from conftest import Server

        s = Server(workdir).start()
        yield s.url
        s.stop()
    else:
        yield f"sqlite:///{workdir}/cli.db"


def cli(uri, *args, check=True):
    return run_cli(*args, env={"MLFLOW_TRACKING_URI": uri}, check=check)


def test_experiments_commands(tracking_uri):
    # The wine tutorial's own commands (seed 002), including the 1.x `list`.
    out = cli(tracking_uri, "experiments", "create", "-n", "classificacao").stdout
    assert "Created experiment 'classificacao' with id 1" in out
    listing = cli(tracking_uri, "experiments", "list").stdout
    assert "Experiment Id" in listing and "classificacao" in listing and "Default" in listing
    assert "classificacao" in cli(tracking_uri, "experiments", "search", "--filter", "name LIKE 'class%'").stdout
    assert "Default" not in cli(tracking_uri, "experiments", "search", "--filter", "name LIKE 'class%'").stdout
    got = json.loads(cli(tracking_uri, "experiments", "get", "-x", "1").stdout)
    assert got["name"] == "classificacao"
    cli(tracking_uri, "experiments", "rename", "-x", "1", "--new-name", "classifier")
    cli(tracking_uri, "experiments", "delete", "-x", "1")
    assert "classifier" not in cli(tracking_uri, "experiments", "list").stdout
    assert "classifier" in cli(tracking_uri, "experiments", "list", "--view", "all").stdout
    cli(tracking_uri, "experiments", "restore", "-x", "1")
    assert "classifier" in cli(tracking_uri, "experiments", "list").stdout
    dup = cli(tracking_uri, "experiments", "create", "-n", "classifier", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    missing = cli(tracking_uri, "experiments", "get", "-x", "99", check=False)
    assert missing.returncode == 1 and "No Experiment with id=99" in missing.stderr


def test_runs_csv_and_artifacts(tracking_uri, tmp_path):
    if tracking_uri.startswith("sqlite") and not MLFLOW_3:
        pytest.skip("a 2.x client cannot open a database at MLflow 3's schema")
    client = client_on(tracking_uri)
    exp = client.create_experiment("cli")
    run = client.create_run(exp, run_name="r1")
    rid = run.info.run_id
    client.log_param(rid, "alpha", "0.5")
    client.log_metric(rid, "rmse", 0.7)
    client.set_terminated(rid)

    listing = cli(tracking_uri, "runs", "list", "--experiment-id", exp).stdout
    assert rid in listing and "r1" in listing and "FINISHED" in listing
    described = json.loads(cli(tracking_uri, "runs", "describe", "--run-id", rid).stdout)
    assert described["info"]["run_id"] == rid and described["data"]["params"][0]["value"] == "0.5"

    out = cli(tracking_uri, "experiments", "csv", "-x", exp).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["run_id"] == rid and rows[0]["params.alpha"] == "0.5" and rows[0]["metrics.rmse"] == "0.7"
    cli(tracking_uri, "experiments", "csv", "-x", exp, "-f", str(tmp_path / "runs.csv"))
    assert (tmp_path / "runs.csv").read_text().startswith("run_id,")

    f = tmp_path / "model.txt"
    f.write_text("weights")
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("a")
    (d / "sub" / "b.txt").write_text("b")
    cli(tracking_uri, "artifacts", "log-artifact", "--local-file", str(f), "--run-id", rid, "--artifact-path", "models")
    cli(tracking_uri, "artifacts", "log-artifacts", "--local-dir", str(d), "--run-id", rid, "--artifact-path", "data")
    top = json.loads(cli(tracking_uri, "artifacts", "list", "--run-id", rid).stdout)
    assert {x["path"] for x in top} == {"models", "data"}
    sub = json.loads(cli(tracking_uri, "artifacts", "list", "--run-id", rid, "--artifact-path", "data").stdout)
    assert {x["path"] for x in sub} == {"data/a.txt", "data/sub"}
    dst = tmp_path / "dl"
    landed = cli(tracking_uri, "artifacts", "download", "--run-id", rid, "--artifact-path", "data", "--dst-path", str(dst)).stdout.strip()
    assert open(os.path.join(landed, "sub", "b.txt")).read() == "b"
    one = cli(tracking_uri, "artifacts", "download", "-u", f"runs:/{rid}/models/model.txt", "--dst-path", str(dst)).stdout.strip()
    assert open(one).read() == "weights"
    # The Python client sees what the CLI uploaded.
    assert {a.path for a in client.list_artifacts(rid, "data")} == {"data/a.txt", "data/sub"}

    cli(tracking_uri, "runs", "delete", "--run-id", rid)
    assert rid not in cli(tracking_uri, "runs", "list", "--experiment-id", exp).stdout
    assert rid in cli(tracking_uri, "runs", "list", "--experiment-id", exp, "--view", "deleted-only").stdout
    cli(tracking_uri, "runs", "restore", "--run-id", rid)
    assert rid in cli(tracking_uri, "runs", "list", "--experiment-id", exp).stdout
    bad = cli(tracking_uri, "runs", "describe", "--run-id", "0" * 32, check=False)
    assert bad.returncode == 1 and "not found" in bad.stderr


@mlflow3_schema
def test_db_upgrade_and_gc(workdir):
    p = run_cli("db", "upgrade", "sqlite:///new.db", cwd=workdir)
    assert "Created MLflow's schema" in p.stdout
    p = run_cli("db", "upgrade", "sqlite:///new.db", cwd=workdir)
    assert "up to date" in p.stdout

    uri = f"sqlite:///{workdir}/gc.db"
    c = mlflow.MlflowClient(uri)
    exp = c.create_experiment("gone")
    keep = c.create_run(exp).info.run_id
    drop = c.create_run("0")
    c.log_text(drop.info.run_id, "x", "f.txt")
    artifact_dir = drop.info.artifact_uri
    assert os.path.exists(artifact_dir)
    c.delete_run(drop.info.run_id)
    p = run_cli("gc", "--backend-store-uri", uri, cwd=workdir)
    assert f"Removed run {drop.info.run_id}" in p.stdout
    assert not os.path.exists(artifact_dir)
    with pytest.raises(Exception):
        mlflow.MlflowClient(uri).get_run(drop.info.run_id)
    c.delete_experiment(exp)
    p = run_cli("gc", "--backend-store-uri", uri, "--experiment-ids", exp, cwd=workdir)
    assert f"Removed run {keep}" in p.stdout and f"Removed experiment {exp}" in p.stdout
    # The name is free again.
    mlflow.MlflowClient(uri).create_experiment("gone")
    bad = run_cli("gc", "--backend-store-uri", uri, "--run-ids", "f" * 32, check=False, cwd=workdir)
    assert bad.returncode == 1 and "not in the deleted stage" in bad.stderr
    assert run_cli("gc", "--older-than", "xyz", check=False, cwd=workdir).returncode == 1


def test_cli_errors_are_precise(workdir):
    p = run_cli("experiments", "list", env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}, check=False)
    assert p.returncode == 1 and "Cannot reach the tracking server" in p.stderr
    p = run_cli("experiments", "list", env={"MLFLOW_TRACKING_URI": "ftp://x"}, check=False)
    assert p.returncode == 1 and "Unsupported tracking URI scheme" in p.stderr
    for sub in ["experiments", "runs", "artifacts", "db"]:
        assert run_cli(sub, "--help").returncode == 0
