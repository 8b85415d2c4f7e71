"""Ferroflow on PostgreSQL, beside Python MLflow 3.17.2 on the same server: one schema that
both open without a migration, databases of either served by the other, refusals of what
is not MLflow's head, a connection lost and found again, and three replicas on one database.

Needs FERROFLOW_TEST_POSTGRES_URI (a role that may create databases); CI starts Debian's
PostgreSQL on loopback and sets it."""

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import mlflow
import pytest
import requests

from conftest import (
    BIN,
    MLFLOW,
    PG_ADMIN,
    Server,
    client_on,
    mlflow3_schema,
    needs_postgres,
    new_pg_database,
    run_cli,
)

pytestmark = [needs_postgres, mlflow3_schema]


def psql(uri: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else []


def mlflow_python(uri: str, code: str, workdir) -> str:
    """Runs `code` in a fresh Python with the reference client on tracking URI `uri`."""
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def schema_of(uri: str) -> dict:
    """Tables, columns (type, nullability, default), constraints and indexes, by name."""
    cols = psql(uri, """
        SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,
               regexp_replace(coalesce(column_default, ''), 'nextval\\(''(\\w+\\.)?', 'nextval(''')
        FROM information_schema.columns WHERE table_schema = current_schema()
        ORDER BY table_name, column_name""")
    cons = psql(uri, """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2""")
    idx = psql(uri, """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = current_schema() AND indexname NOT LIKE 'ferroflow\\_%' ORDER BY 1, 2""")
    trig = psql(uri, """
        SELECT event_object_table, trigger_name, action_timing, event_manipulation
        FROM information_schema.triggers ORDER BY 1, 2, 4""")
    return {"columns": cols, "constraints": cons, "indexes": idx, "triggers": trig}


def test_a_database_ferroflow_creates_is_mlflows_own_schema_and_python_mlflow_uses_it(workdir):
    ours = new_pg_database()
    s = Server(workdir, "--backend-store-uri", ours).start()
    c = client_on(s.url)
    exp = c.create_experiment("made-by-ferroflow")
    run = c.create_run(exp)
    c.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("loss", 0.25, 1, 3)],
                params=[mlflow.entities.Param("lr", "0.1")])
    c.create_registered_model("pg-model")
    c.create_model_version("pg-model", f"{run.info.artifact_uri}/model", run.info.run_id)
    s.stop()

    # Column for column, constraint for constraint, what `mlflow db upgrade` makes.
    theirs = new_pg_database()
    subprocess.run([str(MLFLOW), "db", "upgrade", theirs], check=True, capture_output=True, timeout=300)
    a, b = schema_of(ours), schema_of(theirs)
    for part in a:
        assert a[part] == b[part], part
    assert psql(ours, "SELECT version_num FROM alembic_version") == psql(theirs, "SELECT version_num FROM alembic_version")

    # Python MLflow opens it as is, reads what Ferroflow wrote and writes beside it.
    out = mlflow_python(ours, f"""
import mlflow
c = mlflow.MlflowClient()
r = c.get_run("{run.info.run_id}")
print(r.data.metrics["loss"], r.data.params["lr"], c.get_model_version("pg-model", "1").run_id == r.info.run_id)
mlflow.set_experiment("made-by-ferroflow")
with mlflow.start_run() as new:
    mlflow.log_metric("loss", 0.5, step=2)
c.create_model_version("pg-model", new.info.artifact_uri + "/model", new.info.run_id)
print(new.info.run_id)
""", workdir)
    first, python_run = out.strip().splitlines()[-2:]
    assert first == "0.25 0.1 True"
    s = Server(workdir, "--backend-store-uri", ours).start()
    c = client_on(s.url)
    assert c.get_run(python_run).data.metrics == {"loss": 0.5}
    assert [v.version for v in c.search_model_versions("name='pg-model'")] == ["2", "1"]
    # Ferroflow numbers the next version after Python's.
    assert c.create_model_version("pg-model", f"{run.info.artifact_uri}/model", run.info.run_id).version == "3"
    s.stop()


def test_a_database_python_mlflow_made_is_served_as_is(workdir):
    uri = new_pg_database()
    # As a team has it: `mlflow db upgrade`, then scripts logging straight to the database.
    subprocess.run([str(MLFLOW), "db", "upgrade", uri], check=True, capture_output=True, timeout=300)
    out = mlflow_python(uri, """
import mlflow
mlflow.set_experiment("from-python")
with mlflow.start_run(run_name="py") as r:
    mlflow.log_params({"alpha": "0.5", "l1": "0.1"})
    for i in range(5):
        mlflow.log_metric("rmse", 1.0 / (i + 1), step=i)
    mlflow.set_tag("team", "ds")
print(r.info.run_id)
""", workdir)
    run_id = out.strip().splitlines()[-1]
    s = Server(workdir, "--backend-store-uri", uri).start()
    c = client_on(s.url)
    # `mlflow db upgrade` makes no Default experiment; the server adds it, as MLflow's does.
    assert c.get_experiment("0").name == "Default"
    got = c.search_runs([c.get_experiment_by_name("from-python").experiment_id], "metrics.rmse < 0.3 and params.alpha = '0.5'")
    assert [r.info.run_id for r in got] == [run_id]
    assert got[0].data.tags["team"] == "ds" and got[0].info.run_name == "py"
    hist = c.get_metric_history(run_id, "rmse")
    assert [(m.step, m.value) for m in hist] == [(i, 1.0 / (i + 1)) for i in range(5)]
    s.stop()


def test_what_is_not_mlflows_head_is_refused_with_instructions(workdir):
    old = new_pg_database()
    subprocess.run([str(MLFLOW), "db", "upgrade", old], check=True, capture_output=True, timeout=300)
    psql(old, "UPDATE alembic_version SET version_num = '4465047574b1'")
    p = run_cli("server", "--port", "0", "--backend-store-uri", old, check=False, timeout=60)
    assert p.returncode != 0
    assert "'4465047574b1'" in p.stderr and "mlflow db upgrade" in p.stderr, p.stderr
    foreign = new_pg_database()
    psql(foreign, "CREATE TABLE orders (id integer)")
    p = run_cli("server", "--port", "0", "--backend-store-uri", foreign, check=False, timeout=60)
    assert p.returncode != 0 and "not an MLflow tracking database" in p.stderr, p.stderr
    assert psql(foreign, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == [(1,)]


def test_an_unreachable_database_is_a_clear_error_at_start(workdir):
    base = PG_ADMIN.rsplit("/", 1)[0]
    user = base.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
    cases = [
        # Nothing listens on port 1.
        (f"postgresql://{user}:secret-pw@127.0.0.1:1/mlflow", "Cannot connect to the PostgreSQL database"),
        (f"postgresql+psycopg2://{user}:wrong-pw@127.0.0.1:{base.rsplit(':', 1)[1]}/mlflow", "password authentication failed"),
        (f"postgresql://{user}@127.0.0.1/mlflow?sslmode=bogus", "Invalid PostgreSQL URI"),
    ]
    for uri, needle in cases:
        p = run_cli("server", "--port", "0", "--backend-store-uri", uri, check=False, timeout=60)
        assert p.returncode != 0 and needle in p.stderr, (uri, p.stderr)
        assert "secret-pw" not in p.stderr and "wrong-pw" not in p.stderr and "panicked" not in p.stderr


def test_connections_lost_while_serving_come_back_without_a_restart(workdir):
    uri = new_pg_database()
    s = Server(workdir, "--backend-store-uri", uri).start()
    c = client_on(s.url)
    exp = c.create_experiment("flaky-network")
    run_id = c.create_run(exp).info.run_id
    db = uri.rsplit("/", 1)[1]
    for round_ in range(3):
        # The database ends every session of the server (a failover, a restart, an idle timeout).
        killed = psql(PG_ADMIN, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'ferroflow'")
        assert killed, "the server holds connections"
        c.log_metric(run_id, "m", float(round_), step=round_)
        assert c.get_run(run_id).data.metrics["m"] == float(round_)
        assert len(c.search_runs([exp])) == 1
    assert [m.value for m in c.get_metric_history(run_id, "m")] == [0.0, 1.0, 2.0]
    s.stop()


def test_three_replicas_on_one_database(workdir, tmp_path):
    uri = new_pg_database()
    # One bucket for all three when the suite has S3 (scripts/objectstores.sh), else one directory.
    s3 = os.environ.get("FERROFLOW_TEST_S3_URI")
    artifacts = f"{s3}/replicas-{uuid.uuid4().hex[:12]}" if s3 else str(tmp_path / "shared-artifacts")
    replicas = [Server(workdir, "--backend-store-uri", uri, "--artifacts-destination", artifacts).start() for _ in range(3)]
    urls = [r.url for r in replicas]
    api = lambda i, method, endpoint, **kw: requests.request(method, f"{urls[i % 3]}/api/2.0/mlflow/{endpoint}", timeout=60, **kw)

    exp = api(0, "POST", "experiments/create", json={"name": "round-robin"}).json()["experiment_id"]
    # Every read, on whichever replica, sees every acknowledged write.
    runs = []
    for i in range(12):
        r = api(i, "POST", "runs/create", json={"experiment_id": exp, "start_time": 1000 + i}).json()["run"]["info"]["run_id"]
        assert api(i + 1, "POST", "runs/log-batch", json={"run_id": r, "metrics": [{"key": "acc", "value": i / 10, "timestamp": 1, "step": 0}], "params": [{"key": "i", "value": str(i)}]}).status_code == 200
        got = api(i + 2, "GET", "runs/get", params={"run_id": r}).json()["run"]["data"]
        assert got["metrics"][0]["value"] == i / 10 and got["params"] == [{"key": "i", "value": str(i)}]
        runs.append(r)
    found = api(1, "POST", "runs/search", json={"experiment_ids": [exp], "filter": "metrics.acc >= 0.5", "order_by": ["metrics.acc DESC"]}).json()["runs"]
    assert [x["info"]["run_id"] for x in found] == runs[5:][::-1]

    # Version numbers stay atomic across processes: 60 registrations, four at a time per
    # replica, number 1..60 with no gap and no repeat.
    assert api(2, "POST", "registered-models/create", json={"name": "shared"}).status_code == 200

    def register(i):
        body = {"name": "shared", "source": f"mlflow-artifacts:/{exp}/{runs[i % 12]}/artifacts/model", "run_id": runs[i % 12]}
        resp = api(i, "POST", "model-versions/create", json=body)
        assert resp.status_code == 200, resp.text
        return int(resp.json()["model_version"]["version"])

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        versions = list(pool.map(register, range(60)))
    assert sorted(versions) == list(range(1, 61))

    # Artifacts through any replica land in the one store.
    assert requests.put(f"{urls[0]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{runs[0]}/artifacts/note.txt", data=b"hello", timeout=30).status_code == 200
    assert requests.get(f"{urls[2]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{runs[0]}/artifacts/note.txt", timeout=30).content == b"hello"

    # A replica killed under load: what it acknowledged is stored; the others carry on.
    acked, stop = [], threading.Event()

    def writer(n):
        i = 0
        while not stop.is_set():
            try:
                resp = requests.post(f"{urls[0]}/api/2.0/mlflow/runs/log-batch", timeout=10, json={
                    "run_id": runs[n], "metrics": [{"key": "load", "value": float(i), "timestamp": 1, "step": i}]})
            except requests.RequestException:
                return
            if resp.status_code == 200:
                acked.append((runs[n], i))
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    replicas[0].proc.send_signal(signal.SIGKILL)
    replicas[0].proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 20
    stored = set()
    for n in range(4):
        hist = api(1, "GET", "metrics/get-history", params={"run_id": runs[n], "metric_key": "load", "max_results": 25000}).json().get("metrics", [])
        stored |= {(runs[n], m["step"]) for m in hist}
    assert set(acked) <= stored

    # gc on a database the replicas still serve: it removes the deleted run and its
    # artifacts only.
    doomed = api(1, "POST", "runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
    doomed_file = f"{urls[1]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{doomed}/artifacts/x/model.bin"
    assert requests.put(doomed_file, data=b"weights", timeout=30).status_code == 200
    assert api(2, "POST", "runs/delete", json={"run_id": doomed}).status_code == 200
    out = run_cli("gc", "--backend-store-uri", uri, "--artifacts-destination", artifacts, "--run-ids", doomed, cwd=workdir)
    assert f"Removed run {doomed}" in out.stdout, out.stdout + out.stderr
    assert api(2, "GET", "runs/get", params={"run_id": doomed}).json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.get(doomed_file, timeout=30).status_code == 404
    assert requests.get(f"{urls[2]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{runs[0]}/artifacts/note.txt", timeout=30).content == b"hello"
    assert api(1, "GET", "runs/get", params={"run_id": runs[10]}).status_code == 200
    for r in replicas[1:]:
        r.stop()


SNAKEOIL = "/etc/ssl/certs/ssl-cert-snakeoil.pem"


def test_sslmode_is_honoured(workdir):
    """libpq's sslmode meanings, against Debian's PostgreSQL with its snakeoil certificate
    (CN=localhost): TLS or not as asked, the chain and the host name checked as asked."""
    if psql(PG_ADMIN, "SHOW ssl") != [("on",)] or not os.path.exists(SNAKEOIL):
        pytest.skip("this PostgreSQL does not offer TLS")
    uri = new_pg_database()
    db = uri.rsplit("/", 1)[1]
    on_localhost = uri.replace("@127.0.0.1:", "@localhost:")

    def served_with_tls(u):
        s = Server(workdir, "--backend-store-uri", u).start()
        try:
            assert s.api("GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
            return psql(PG_ADMIN, f"SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{db}' AND a.application_name = 'ferroflow'")[0][0]
        finally:
            s.stop()

    assert served_with_tls(uri + "?sslmode=disable") is False
    assert served_with_tls(uri) is True  # prefer, as libpq's default
    assert served_with_tls(uri + "?sslmode=require") is True
    assert served_with_tls(uri + f"?sslmode=verify-ca&sslrootcert={SNAKEOIL}") is True
    assert served_with_tls(on_localhost + f"?sslmode=verify-full&sslrootcert={SNAKEOIL}") is True
    for bad, needle in [
        # The certificate names localhost, not 127.0.0.1.
        (uri + f"?sslmode=verify-full&sslrootcert={SNAKEOIL}", "certificate"),
        # A self-signed certificate chains to no public root.
        (on_localhost + "?sslmode=verify-full&sslrootcert=system", "certificate"),
        (uri + "?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt", 'root certificate file "/nonexistent/root.crt" does not exist'),
        (uri + "?sslmode=sometimes", "sslmode 'sometimes' is not one of"),
        (uri + "?sslmode=require&sslcert=/x.crt", "client certificates are not supported yet"),
    ]:
        p = run_cli("server", "--port", "0", "--backend-store-uri", bad, check=False, timeout=60)
        assert p.returncode != 0 and needle in p.stderr, (bad, p.stderr)
