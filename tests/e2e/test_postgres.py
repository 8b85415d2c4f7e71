"""Ferroflow on PostgreSQL, beside Python MLflow 3.17.2 on the same server: one schema that
both open without a migration, databases of either served by the other, refusals of what
is not MLflow's head, a connection lost and found again, and three replicas on one database.

Needs FERROFLOW_TEST_POSTGRES_URI (a role that may create databases); CI starts Debian's
PostgreSQL on loopback and sets it."""

import os
import subprocess

import pytest

from conftest import (
    MLFLOW,
    PG_ADMIN,
    Server,
    client_on,
    mlflow3_schema,
    needs_postgres,
    new_pg_database,
)
from database_scenarios import (
    connections_come_back,
    ferroflow_writes_and_python_mlflow_continues,
    python_mlflow_logs_and_ferroflow_serves,
    refused_at_start,
    three_replicas,
)

pytestmark = [needs_postgres, mlflow3_schema]


def psql(uri: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else []


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
    c.create_registered_model("pg-model")
    s.stop()

    # Column for column, constraint for constraint, what `mlflow db upgrade` makes.
    theirs = new_pg_database()
    subprocess.run([str(MLFLOW), "db", "upgrade", theirs], check=True, capture_output=True, timeout=300)
    a, b = schema_of(ours), schema_of(theirs)
    for part in a:
        assert a[part] == b[part], part
    assert psql(ours, "SELECT version_num FROM alembic_version") == psql(theirs, "SELECT version_num FROM alembic_version")

    # Python MLflow opens it as is, reads what Ferroflow wrote and writes beside it.
    ferroflow_writes_and_python_mlflow_continues(ours, ours, workdir)


def test_a_database_python_mlflow_made_is_served_as_is(workdir):
    uri = new_pg_database()
    # As a team has it: `mlflow db upgrade`, then scripts logging straight to the database.
    subprocess.run([str(MLFLOW), "db", "upgrade", uri], check=True, capture_output=True, timeout=300)
    python_mlflow_logs_and_ferroflow_serves(uri, [uri, uri.replace("postgresql://", "postgresql+psycopg2://", 1)], workdir)


def test_what_is_not_mlflows_head_is_refused_with_instructions(workdir):
    old = new_pg_database()
    subprocess.run([str(MLFLOW), "db", "upgrade", old], check=True, capture_output=True, timeout=300)
    psql(old, "UPDATE alembic_version SET version_num = '4465047574b1'")
    refused_at_start(old, "'4465047574b1'", "mlflow db upgrade")
    foreign = new_pg_database()
    psql(foreign, "CREATE TABLE orders (id integer)")
    refused_at_start(foreign, "not an MLflow tracking database")
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
        refused_at_start(uri, needle, secrets=("secret-pw", "wrong-pw"))


def test_connections_lost_while_serving_come_back_without_a_restart(workdir):
    uri = new_pg_database()
    db = uri.rsplit("/", 1)[1]
    # The database ends every session of the server (a failover, a restart, an idle timeout).
    connections_come_back(uri, workdir, lambda: psql(
        PG_ADMIN, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'ferroflow'"))


def test_three_replicas_on_one_database(workdir, tmp_path):
    three_replicas(new_pg_database(), workdir, tmp_path)


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
        refused_at_start(bad, needle)
