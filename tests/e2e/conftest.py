"""Fixtures for the end-to-end suite: a real `ferroflow` process per test, on a free
loopback port, in its own working directory, driven by the official MLflow client."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid

import mlflow
import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The suite runs with the MLflow 3.17.2 client and again with a 2.22 client; what only
# MLflow 3 has (logged models, `log_model(name=...)`) is asked for through these.
MLFLOW_3 = int(mlflow.__version__.split(".")[0]) >= 3
mlflow3 = pytest.mark.skipif(not MLFLOW_3, reason="needs the MLflow 3 client (logged models)")
# A 2.x client cannot open a database at MLflow 3's schema (Python MLflow 3.17.2's own
# databases included): it reaches one through a server, which the rest of the suite does.
mlflow3_schema = pytest.mark.skipif(
    not MLFLOW_3, reason="the test opens the database with the Python client, which needs MLflow 3 for MLflow 3's schema"
)


def client_on(url: str) -> "mlflow.MlflowClient":
    """The official client on `url`, with the global tracking URI following it: MLflow 2.x
    resolves `mlflow-artifacts:/` through the global one, not the client's."""
    mlflow.set_tracking_uri(url)
    return mlflow.MlflowClient(url)


def model_path(name: str) -> dict:
    """Where `log_model` puts a model: `name=` in MLflow 3, `artifact_path=` in 2.x."""
    return {"name": name} if MLFLOW_3 else {"artifact_path": name}
BIN = os.environ.get("FERROFLOW_BIN") or str(
    pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/ferroflow/target")) / "debug/ferroflow"
)
DATA = pathlib.Path(os.environ.get("FERROFLOW_DATA") or ROOT / "examples" / "wine-quality" / "data")


# PostgreSQL: a role that may create databases (CI starts Debian's server on loopback);
# MySQL: a MariaDB user that may (FERROFLOW_TEST_MYSQL_URI, without a database).
# With FERROFLOW_E2E_DATABASE=postgresql (or mysql), every server a test starts without
# naming its backend store gets a new database there instead of ./mlflow.db.
PG_ADMIN = os.environ.get("FERROFLOW_TEST_POSTGRES_URI", "")
MYSQL_ADMIN = os.environ.get("FERROFLOW_TEST_MYSQL_URI", "").rstrip("/")
E2E_DATABASE = os.environ.get("FERROFLOW_E2E_DATABASE", "sqlite")
_pg_databases: list[str] = []
_mysql_databases: list[str] = []
_db_by_workdir: dict[str, str] = {}
needs_postgres = pytest.mark.skipif(
    not PG_ADMIN and not os.environ.get("CI"), reason="FERROFLOW_TEST_POSTGRES_URI is not set"
)
needs_mysql = pytest.mark.skipif(
    not MYSQL_ADMIN and not os.environ.get("CI"), reason="FERROFLOW_TEST_MYSQL_URI is not set"
)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(sql)


def _new_database(admin_uri: str, base: str, admin, made: list[str], prefix: str) -> str:
    """A new, empty database on the server `admin_uri` names (created through `admin`),
    noted in `made` to be dropped when the session ends; returns `base`/name."""
    if not admin_uri:
        raise RuntimeError("no database server is configured (FERROFLOW_TEST_POSTGRES_URI, FERROFLOW_TEST_MYSQL_URI)")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin(f"CREATE DATABASE {name}")
    made.append(name)
    return f"{base}/{name}"


def new_pg_database(prefix: str = "ff_e2e") -> str:
    """A new, empty PostgreSQL database; returns its URI. Dropped when the session ends."""
    return _new_database(PG_ADMIN, PG_ADMIN.rsplit("/", 1)[0], pg_admin, _pg_databases, prefix)


def mysql_connect(uri: str):
    """A PyMySQL connection (autocommit) to `uri` (mysql://user:password@host:port[/db])."""
    import urllib.parse

    import pymysql

    u = urllib.parse.urlsplit(uri)
    return pymysql.connect(
        host=u.hostname, port=u.port or 3306, user=urllib.parse.unquote(u.username or ""),
        password=urllib.parse.unquote(u.password or ""), database=u.path.lstrip("/") or None,
        autocommit=True, charset="utf8mb4",
    )


def mysql_admin(sql: str, uri: str | None = None) -> list[tuple]:
    with mysql_connect(uri or MYSQL_ADMIN) as c, c.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def new_mysql_database(prefix: str = "ff_e2e") -> str:
    """A new, empty MariaDB database; returns its URI. Dropped when the session ends."""
    return _new_database(MYSQL_ADMIN, MYSQL_ADMIN, mysql_admin, _mysql_databases, prefix)


@pytest.fixture(scope="session", autouse=True)
def drop_test_databases():
    yield
    for name in _pg_databases:
        try:
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception:  # the server may be gone already; CI machines are thrown away
            pass
    for name in _mysql_databases:
        try:
            mysql_admin(f"DROP DATABASE IF EXISTS {name}")
        except Exception:
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `ferroflow server` child process."""

    def __init__(self, workdir: pathlib.Path, *args: str, env: dict | None = None):
        self.workdir = workdir
        self.args = list(args)
        if E2E_DATABASE != "sqlite" and "--backend-store-uri" not in self.args:
            # One database per working directory, as ./mlflow.db would be.
            if str(workdir) not in _db_by_workdir:
                new = {"postgresql": new_pg_database, "mysql": new_mysql_database}[E2E_DATABASE]
                _db_by_workdir[str(workdir)] = new()
            self.args += ["--backend-store-uri", _db_by_workdir[str(workdir)]]
        self.port = free_port()
        self.proc = None
        self.env = {**os.environ, **(env or {})}
        self.env.pop("MLFLOW_TRACKING_URI", None)
        self.log = workdir / f"server-{self.port}.log"

    @property
    def backend(self) -> str:
        """The backend store URI the server was given, or its default."""
        if "--backend-store-uri" in self.args:
            return self.args[self.args.index("--backend-store-uri") + 1]
        return "sqlite:///mlflow.db"

    @property
    def url(self) -> str:
        prefix = ""
        if "--static-prefix" in self.args:
            prefix = self.args[self.args.index("--static-prefix") + 1]
        return f"http://127.0.0.1:{self.port}{prefix}"

    def start(self, timeout: float = 30.0) -> "Server":
        self.proc = subprocess.Popen(
            [BIN, "server", "--port", str(self.port), *self.args],
            cwd=self.workdir,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferroflow exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"ferroflow did not become healthy:\n{self.log.read_text()}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def api(self, method: str, endpoint: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.url}/api/2.0/mlflow/{endpoint}", timeout=30, **kw)


# The reference server is always MLflow 3.17.2, whichever client runs the suite.
MLFLOW = pathlib.Path(os.environ.get("FERROFLOW_REFERENCE_MLFLOW") or pathlib.Path(sys.executable).with_name("mlflow"))


class Reference:
    """The reference, `mlflow server` 3.17.2, on SQLite in its own directory (artifacts
    proxied into its ./mlartifacts, as by default), or on the database `backend` names."""

    def __init__(self, workdir: pathlib.Path, *args: str, backend: str = "sqlite:///ref.db", env: dict | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / ("ref.log" if backend == "sqlite:///ref.db" else f"ref-{self.port}.log")
        self.proc = subprocess.Popen(
            [str(MLFLOW), "server", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", backend, *args],
            cwd=workdir, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
            env={**{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}, **(env or {})},
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


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """One reference server for the whole session; tests give their objects unique names."""
    if not MLFLOW.exists():
        pytest.skip("mlflow server is not installed beside this Python")
    ref = Reference(tmp_path_factory.mktemp("reference"))
    yield ref
    ref.stop()


@pytest.fixture(autouse=True)
def clean_mlflow_environment():
    """The client's fluent API leaves MLFLOW_* variables behind (set_experiment exports
    MLFLOW_EXPERIMENT_ID); every test starts with the environment it was given."""
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    mlflow.set_tracking_uri(None)
    for k in [k for k in os.environ if k.startswith("MLFLOW_")]:
        if k not in before:
            del os.environ[k]
    os.environ.update(before)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def server(workdir):
    s = Server(workdir).start()
    yield s
    s.stop()


@pytest.fixture
def mlflow_client(server, monkeypatch):
    """The official client pointed at the server, with clean fluent-API state."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    while mlflow.active_run():
        mlflow.end_run()
    yield mlflow.MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_experiment  # keep the module imported
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None


def run_cli(*args, env=None, cwd=None, check=True, input=None, timeout=120):
    """Runs `ferroflow ...` and returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    p = subprocess.run(
        [BIN, *args], capture_output=True, text=True, env=full_env, cwd=cwd, input=input, timeout=timeout
    )
    if check and p.returncode != 0:
        raise AssertionError(f"ferroflow {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p
