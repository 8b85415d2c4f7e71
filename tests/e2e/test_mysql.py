"""Ferroflow on MySQL (Debian's MariaDB), beside Python MLflow 3.17.2 on the same server: one
schema that both open without a migration, databases of either served by the other, the
reference's MySQL behaviour (byte-for-byte filters, names unique regardless of case, strings
ordered by the collation), refusals of what is not MLflow's head, connections lost and
found again, TLS as asked, and three replicas on one database.

Needs FERROFLOW_TEST_MYSQL_URI (a user that may create databases, without a database); CI
starts Debian's MariaDB on loopback with scripts/mariadb.sh and sets it."""

import subprocess

import pytest

from conftest import (
    MLFLOW,
    MYSQL_ADMIN,
    Reference,
    Server,
    client_on,
    mlflow3_schema,
    mysql_admin,
    needs_mysql,
    new_mysql_database,
)
from database_scenarios import (
    connections_come_back,
    ferroflow_writes_and_python_mlflow_continues,
    python_mlflow_logs_and_ferroflow_serves,
    refused_at_start,
    three_replicas,
)

pytestmark = [needs_mysql, mlflow3_schema]


def pymysql_uri(uri: str) -> str:
    """The same database as SQLAlchemy reaches it with PyMySQL (the reference's driver here)."""
    return uri.replace("mysql://", "mysql+pymysql://", 1)


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


def test_a_database_ferroflow_creates_is_mlflows_own_schema_and_python_mlflow_uses_it(workdir):
    ours = new_mysql_database()
    s = Server(workdir, "--backend-store-uri", ours).start()
    c = client_on(s.url)
    c.create_registered_model("my-model")
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
    ferroflow_writes_and_python_mlflow_continues(ours, pymysql_uri(ours), workdir)


def test_a_database_python_mlflow_made_is_served_as_is(workdir):
    uri = new_mysql_database()
    # As a team has it: `mlflow db upgrade`, then scripts logging straight to the database.
    subprocess.run([str(MLFLOW), "db", "upgrade", pymysql_uri(uri)], check=True, capture_output=True, timeout=600)
    # The URL forms MLflow's users write: the driver named or not, MariaDB's own scheme.
    spellings = [uri.replace("mysql://", scheme, 1) + "?charset=utf8mb4"
                 for scheme in ["mysql+pymysql://", "mariadb+mariadbconnector://", "mysql://"]]
    python_mlflow_logs_and_ferroflow_serves(pymysql_uri(uri), spellings, workdir)


def test_searches_and_names_behave_as_mlflow_on_mysql(workdir):
    """The same requests to `mlflow server` and to Ferroflow, each on its own MariaDB
    database: MySQL's collation makes names unique regardless of case and orders strings
    ignoring case; MLflow's filters still compare byte for byte."""
    ref = Reference(workdir, backend=pymysql_uri(new_mysql_database("ff_ref")))
    ours = Server(workdir, "--backend-store-uri", new_mysql_database()).start()
    try:
        def both(method, endpoint, **kw):
            return ref.api(method, endpoint, **kw), ours.api(method, endpoint, **kw)

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
    refused_at_start(old, "'4465047574b1'", "mlflow db upgrade")
    foreign = new_mysql_database()
    mysql_admin(f"CREATE TABLE {db_name(foreign)}.orders (id integer)")
    refused_at_start(foreign, "not an MLflow tracking database")
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
        refused_at_start(uri, needle, secrets=("secret-pw", "wrong-pw"))


def test_connections_lost_while_serving_come_back_without_a_restart(workdir):
    uri = new_mysql_database()

    def end_sessions():
        # The server ends every session of this database (a failover, a restart, wait_timeout).
        ids = mysql_admin(f"SELECT id FROM information_schema.processlist WHERE db = '{db_name(uri)}'")
        for (pid,) in ids:
            try:
                mysql_admin(f"KILL CONNECTION {pid}")
            except Exception:  # gone in the meantime
                pass
        return len(ids)

    connections_come_back(uri, workdir, end_sessions)


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
        refused_at_start(bad, needle, secrets=("tls-only",))


def test_three_replicas_on_one_database(workdir, tmp_path):
    three_replicas(new_mysql_database(), workdir, tmp_path)
