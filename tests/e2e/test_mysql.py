"""Ferroflow on MySQL (Debian's MariaDB), beside Python MLflow 3.17.2 on the same server: one
schema that both open without a migration, databases of either served by the other, the
reference's MySQL behaviour (byte-for-byte filters, names unique regardless of case, strings
ordered by the collation), refusals of what is not MLflow's head, connections lost and
found again, TLS as asked, and three replicas on one database.

Needs FERROFLOW_TEST_MYSQL_URI (a user that may create databases, without a database); CI
starts Debian's MariaDB on loopback with scripts/mariadb.sh and sets it."""

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
    MLFLOW,
    MYSQL_ADMIN,
    Server,
    client_on,
    free_port,
    mlflow3_schema,
    mysql_admin,
    needs_mysql,
    new_mysql_database,
    run_cli,
)

pytestmark = [needs_mysql, mlflow3_schema]


def pymysql_uri(uri: str) -> str:
    """The same database as SQLAlchemy reaches it with PyMySQL (the reference's driver here)."""
    return uri.replace("mysql://", "mysql+pymysql://", 1)


def mlflow_python(uri: str, code: str, workdir) -> str:
    """Runs `code` in a fresh Python with the reference client on tracking URI `uri`."""
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": pymysql_uri(uri)},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def db_name(uri: str) -> str:
    return uri.rsplit("/", 1)[1].split("?", 1)[0]


def schema_of(uri: str) -> dict:
    """Tables, columns, constraints, indexes and triggers, by name, as information_schema has them."""
    db = db_name(uri)
    q = lambda sql: mysql_admin(sql.replace("{db}", db))
    return {
        "columns": q("""SELECT table_name, column_name, column_type, is_nullable, column_default,
                               collation_name, extra
                        FROM information_schema.columns WHERE table_schema = '{db}'
                        ORDER BY table_name, column_name"""),
        "constraints": q("""SELECT table_name, constraint_name, constraint_type
                            FROM information_schema.table_constraints WHERE constraint_schema = '{db}'
                            ORDER BY 1, 2"""),
        "checks": q("""SELECT table_name, constraint_name, check_clause
                       FROM information_schema.check_constraints WHERE constraint_schema = '{db}'
                       ORDER BY 1, 2"""),
        "foreign_keys": q("""SELECT table_name, constraint_name, referenced_table_name, update_rule, delete_rule
                             FROM information_schema.referential_constraints WHERE constraint_schema = '{db}'
                             ORDER BY 1, 2"""),
        "indexes": q("""SELECT table_name, index_name, non_unique, seq_in_index, column_name, sub_part
                        FROM information_schema.statistics
                        WHERE table_schema = '{db}' AND index_name NOT LIKE 'ferroflow%'
                        ORDER BY 1, 2, 4"""),
        "triggers": q("""SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_statement
                         FROM information_schema.triggers WHERE trigger_schema = '{db}' ORDER BY 1, 2"""),
    }


class MysqlReference:
    """`mlflow server` 3.17.2 on a MariaDB database, through PyMySQL."""

    def __init__(self, workdir, uri: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"ref-mysql-{self.port}.log"
        self.proc = subprocess.Popen(
            [str(MLFLOW), "server", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", pymysql_uri(uri)],
            cwd=workdir, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
            env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.url + "/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(self.log.read_text()[-3000:])

    def api(self, method: str, endpoint: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.url}/api/2.0/mlflow/{endpoint}", timeout=60, **kw)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def test_a_database_ferroflow_creates_is_mlflows_own_schema_and_python_mlflow_uses_it(workdir):
    ours = new_mysql_database()
    s = Server(workdir, "--backend-store-uri", ours).start()
    c = client_on(s.url)
    exp = c.create_experiment("made-by-ferroflow")
    run = c.create_run(exp)
    c.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("loss", 0.25, 1, 3)],
                params=[mlflow.entities.Param("lr", "0.1")])
    c.create_registered_model("my-model")
    c.create_model_version("my-model", f"{run.info.artifact_uri}/model", run.info.run_id)
    s.stop()

    # Column for column, key for key, what `mlflow db upgrade` makes.
    theirs = new_mysql_database()
    p = subprocess.run([str(MLFLOW), "db", "upgrade", pymysql_uri(theirs)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    a, b = schema_of(ours), schema_of(theirs)
    for part in a:
        assert a[part] == b[part], part
    assert mysql_admin(f"SELECT version_num FROM {db_name(ours)}.alembic_version") == \
        mysql_admin(f"SELECT version_num FROM {db_name(theirs)}.alembic_version")
    assert mysql_admin(f"SELECT experiment_id, name FROM {db_name(ours)}.experiments WHERE experiment_id = 0") == [(0, "Default")]

    # Python MLflow opens it as is, reads what Ferroflow wrote and writes beside it.
    out = mlflow_python(ours, f"""
import mlflow
c = mlflow.MlflowClient()
r = c.get_run("{run.info.run_id}")
print(r.data.metrics["loss"], r.data.params["lr"], c.get_model_version("my-model", "1").run_id == r.info.run_id)
mlflow.set_experiment("made-by-ferroflow")
with mlflow.start_run() as new:
    mlflow.log_metric("loss", 0.5, step=2)
c.create_model_version("my-model", new.info.artifact_uri + "/model", new.info.run_id)
print(new.info.run_id)
""", workdir)
    first, python_run = out.strip().splitlines()[-2:]
    assert first == "0.25 0.1 True"
    s = Server(workdir, "--backend-store-uri", ours).start()
    c = client_on(s.url)
    assert c.get_run(python_run).data.metrics == {"loss": 0.5}
    assert [v.version for v in c.search_model_versions("name='my-model'")] == ["2", "1"]
    # Ferroflow numbers the next version after Python's.
    assert c.create_model_version("my-model", f"{run.info.artifact_uri}/model", run.info.run_id).version == "3"
    s.stop()


def test_a_database_python_mlflow_made_is_served_as_is(workdir):
    uri = new_mysql_database()
    # As a team has it: `mlflow db upgrade`, then scripts logging straight to the database.
    subprocess.run([str(MLFLOW), "db", "upgrade", pymysql_uri(uri)], check=True, capture_output=True, timeout=600)
    out = mlflow_python(uri, """
import mlflow
mlflow.set_experiment("from-python")
with mlflow.start_run(run_name="py") as r:
    mlflow.log_params({"alpha": "0.5", "l1": "0.1"})
    for i in range(5):
        mlflow.log_metric("rmse", 1.0 / (i + 1), step=i)
    mlflow.log_metric("inf", float("inf"))
    mlflow.log_metric("nan", float("nan"))
    mlflow.set_tag("team", "ds")
print(r.info.run_id)
""", workdir)
    run_id = out.strip().splitlines()[-1]
    # The URL forms MLflow's users write: the driver named or not, MariaDB's own scheme.
    for scheme in ["mysql+pymysql://", "mariadb+mariadbconnector://", "mysql://"]:
        s = Server(workdir, "--backend-store-uri", uri.replace("mysql://", scheme, 1) + "?charset=utf8mb4").start()
        c = client_on(s.url)
        # `mlflow db upgrade` makes no Default experiment; the server adds it, as MLflow's does.
        assert c.get_experiment("0").name == "Default"
        got = c.search_runs([c.get_experiment_by_name("from-python").experiment_id], "metrics.rmse < 0.3 and params.alpha = '0.5'")
        assert [r.info.run_id for r in got] == [run_id]
        assert got[0].data.tags["team"] == "ds" and got[0].info.run_name == "py"
        assert got[0].data.metrics["inf"] == 1.7976931348623157e308
        assert got[0].data.metrics["nan"] != got[0].data.metrics["nan"]
        hist = c.get_metric_history(run_id, "rmse")
        assert [(m.step, m.value) for m in hist] == [(i, 1.0 / (i + 1)) for i in range(5)]
        s.stop()


def test_searches_and_names_behave_as_mlflow_on_mysql(workdir):
    """The same requests to `mlflow server` and to Ferroflow, each on its own MariaDB
    database: MySQL's collation makes names unique regardless of case and orders strings
    ignoring case; MLflow's filters still compare byte for byte."""
    ref = MysqlReference(workdir, new_mysql_database("ff_ref"))
    ours = Server(workdir, "--backend-store-uri", new_mysql_database()).start()
    try:
        def both(method, endpoint, **kw):
            a, b = ref.api(method, endpoint, **kw), ours.api(method, endpoint, **kw)
            return a, b

        ids = {}
        for side, api in (("ref", ref.api), ("ours", ours.api)):
            exp = api("POST", "experiments/create", json={"name": "Case"}).json()["experiment_id"]
            runs = []
            for i, value in enumerate(["x", "X", "Y", "xy", "z ", "z"]):
                r = api("POST", "runs/create", json={"experiment_id": exp, "start_time": 1000 + i, "run_name": f"r{i}"}).json()["run"]["info"]["run_id"]
                assert api("POST", "runs/log-batch", json={
                    "run_id": r, "params": [{"key": "p", "value": value}], "tags": [{"key": "t", "value": value}],
                    "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": 0}]}).status_code == 200
                runs.append(r)
            ids[side] = (exp, runs)

        # An experiment name differing only in case is taken already, on both.
        a, b = both("POST", "experiments/create", json={"name": "case"})
        assert (a.status_code, a.json()["error_code"]) == (b.status_code, b.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
        a, b = both("GET", "experiments/get-by-name", params={"experiment_name": "CASE"})
        assert a.status_code == b.status_code == 200
        assert a.json()["experiment"]["name"] == b.json()["experiment"]["name"] == "Case"

        def names(side, resp):
            runs = ids[side][1]
            return [f"r{runs.index(r['info']['run_id'])}" for r in resp.json().get("runs", [])]

        for flt in ["params.p = 'x'", "params.p != 'x'", "tags.t = 'X'", "params.p LIKE 'x%'", "params.p ILIKE 'x%'",
                    "params.p IN ('x', 'Y')", "params.p = 'z'", "params.p = 'z '", "attributes.run_name = 'R1'",
                    "params.p NOT IN ('x')"]:
            for order in ([], ["params.p ASC"], ["tags.t DESC"]):
                got = {}
                for side, api in (("ref", ref.api), ("ours", ours.api)):
                    got[side] = names(side, api("POST", "runs/search", json={
                        "experiment_ids": [ids[side][0]], "filter": flt, "order_by": order}))
                assert got["ours"] == got["ref"], (flt, order, got)

        # A tag key differing in case names the same row on MySQL.
        for side, api in (("ref", ref.api), ("ours", ours.api)):
            r = ids[side][1][0]
            assert api("POST", "runs/set-tag", json={"run_id": r, "key": "T", "value": "upper"}).status_code == 200
        a = ref.api("GET", "runs/get", params={"run_id": ids["ref"][1][0]}).json()["run"]["data"]["tags"]
        b = ours.api("GET", "runs/get", params={"run_id": ids["ours"][1][0]}).json()["run"]["data"]["tags"]
        user = lambda tags: sorted((t["key"], t["value"]) for t in tags if not t["key"].startswith("mlflow."))
        assert user(a) == user(b)
    finally:
        ours.stop()
        ref.stop()


def test_what_is_not_mlflows_head_is_refused_with_instructions(workdir):
    old = new_mysql_database()
    subprocess.run([str(MLFLOW), "db", "upgrade", pymysql_uri(old)], check=True, capture_output=True, timeout=600)
    mysql_admin(f"UPDATE {db_name(old)}.alembic_version SET version_num = '4465047574b1'")
    p = run_cli("server", "--port", "0", "--backend-store-uri", old, check=False, timeout=60)
    assert p.returncode != 0
    assert "'4465047574b1'" in p.stderr and "mlflow db upgrade" in p.stderr, p.stderr
    foreign = new_mysql_database()
    mysql_admin(f"CREATE TABLE {db_name(foreign)}.orders (id integer)")
    p = run_cli("server", "--port", "0", "--backend-store-uri", foreign, check=False, timeout=60)
    assert p.returncode != 0 and "not an MLflow tracking database" in p.stderr, p.stderr
    assert mysql_admin(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{db_name(foreign)}'") == [(1,)]


def test_an_unreachable_database_is_a_clear_error_at_start(workdir):
    port = MYSQL_ADMIN.rsplit(":", 1)[1]
    user = MYSQL_ADMIN.split("://", 1)[1].split(":", 1)[0]
    cases = [
        # Nothing listens on port 1.
        (f"mysql://{user}:secret-pw@127.0.0.1:1/mlflow", "Cannot connect to the MySQL database"),
        (f"mysql+pymysql://{user}:wrong-pw@127.0.0.1:{port}/mlflow", "Access denied"),
        (f"mysql://{user}@127.0.0.1/mlflow?charset=latin1", "Invalid MySQL URI"),
        (f"mysql://{user}:secret-pw@127.0.0.1:{port}", "names no database"),
        (f"mysql+pymysql://{user}:secret-pw@127.0.0.1:{port}/no_such_database_here", "no_such_database_here"),
    ]
    for uri, needle in cases:
        p = run_cli("server", "--port", "0", "--backend-store-uri", uri, check=False, timeout=60)
        assert p.returncode != 0 and needle in p.stderr, (uri, p.stderr)
        assert "secret-pw" not in p.stderr and "wrong-pw" not in p.stderr and "panicked" not in p.stderr


def test_connections_lost_while_serving_come_back_without_a_restart(workdir):
    uri = new_mysql_database()
    s = Server(workdir, "--backend-store-uri", uri).start()
    c = client_on(s.url)
    exp = c.create_experiment("flaky-network")
    run_id = c.create_run(exp).info.run_id
    db = db_name(uri)
    for round_ in range(3):
        # The server ends every session of this database (a failover, a restart, wait_timeout).
        ids = mysql_admin(f"SELECT id FROM information_schema.processlist WHERE db = '{db}'")
        assert ids, "the server holds connections"
        for (pid,) in ids:
            try:
                mysql_admin(f"KILL CONNECTION {pid}")
            except Exception:  # gone in the meantime
                pass
        c.log_metric(run_id, "m", float(round_), step=round_)
        assert c.get_run(run_id).data.metrics["m"] == float(round_)
        assert len(c.search_runs([exp])) == 1
    assert [m.value for m in c.get_metric_history(run_id, "m")] == [0.0, 1.0, 2.0]
    s.stop()


def test_tls_is_used_as_asked(workdir):
    """PyMySQL's and mysqlclient's TLS parameters, against Debian's MariaDB with the
    snakeoil certificate scripts/mariadb.sh gives it (its CN is this host's name). The
    database belongs to a user that the server admits over TLS only (REQUIRE SSL)."""
    if mysql_admin("SHOW VARIABLES LIKE 'have_ssl'") != [("have_ssl", "YES")]:
        pytest.skip("this MariaDB does not offer TLS")
    uri = new_mysql_database()
    db = db_name(uri)
    mysql_admin("CREATE USER IF NOT EXISTS 'ff_tls'@'127.0.0.1' IDENTIFIED BY 'tls-only' REQUIRE SSL")
    mysql_admin(f"GRANT ALL PRIVILEGES ON {db}.* TO 'ff_tls'@'127.0.0.1'")
    host_port = MYSQL_ADMIN.rsplit("@", 1)[1]
    tls_uri = f"mysql://ff_tls:tls-only@{host_port}/{db}"
    ca = "/etc/ssl/certs/ssl-cert-snakeoil.pem"

    for good in [tls_uri + "?ssl_mode=REQUIRED", tls_uri + "?ssl_mode=PREFERRED",
                 tls_uri + f"?ssl_ca={ca}&ssl_verify_identity=false", tls_uri + f"?ssl_ca={ca}&ssl_check_hostname=false"]:
        s = Server(workdir, "--backend-store-uri", good).start()
        assert s.api("GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
        s.stop()
    for bad, needle in [
        # No TLS unless asked for, as PyMySQL: the server refuses this user then.
        (tls_uri, "Access denied"),
        (tls_uri + "?ssl_disabled=true", "Access denied"),
        # The certificate names this host, not 127.0.0.1.
        (tls_uri + f"?ssl_ca={ca}", "certificate"),
        # A self-signed certificate chains to no public root.
        (tls_uri + "?ssl_mode=VERIFY_CA", "certificate"),
        (tls_uri + "?ssl_ca=/nonexistent/ca.pem", "/nonexistent/ca.pem does not exist"),
        (tls_uri + "?ssl_mode=SOMETIMES", "ssl_mode=SOMETIMES"),
    ]:
        p = run_cli("server", "--port", "0", "--backend-store-uri", bad, check=False, timeout=60)
        assert p.returncode != 0 and needle in p.stderr, (bad, p.stderr)
        assert "tls-only" not in p.stderr


def test_three_replicas_on_one_database(workdir, tmp_path):
    uri = new_mysql_database()
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

    # The latest value of a metric that replicas update at once is the greatest (step, timestamp, value).
    def log(i):
        resp = api(i, "POST", "runs/log-batch", json={"run_id": runs[0], "metrics": [
            {"key": "race", "value": float(i % 7), "timestamp": i % 5, "step": i % 11}]})
        assert resp.status_code == 200, resp.text

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        list(pool.map(log, range(120)))
    best = max(((i % 11, i % 5, float(i % 7)) for i in range(120)))
    got = [m for m in api(0, "GET", "runs/get", params={"run_id": runs[0]}).json()["run"]["data"]["metrics"] if m["key"] == "race"][0]
    assert (got["step"], got["timestamp"], got["value"]) == best

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

    # gc on a database the replicas still serve: it removes the deleted run and its artifacts only.
    doomed = api(1, "POST", "runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
    doomed_file = f"{urls[1]}/api/2.0/mlflow-artifacts/artifacts/{exp}/{doomed}/artifacts/x/model.bin"
    assert requests.put(doomed_file, data=b"weights", timeout=30).status_code == 200
    assert api(2, "POST", "runs/delete", json={"run_id": doomed}).status_code == 200
    out = run_cli("gc", "--backend-store-uri", uri, "--artifacts-destination", artifacts, "--run-ids", doomed, cwd=workdir)
    assert f"Removed run {doomed}" in out.stdout, out.stdout + out.stderr
    assert api(2, "GET", "runs/get", params={"run_id": doomed}).json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.get(doomed_file, timeout=30).status_code == 404
    assert api(1, "GET", "runs/get", params={"run_id": runs[10]}).status_code == 200
    for r in replicas[1:]:
        r.stop()
