"""`ferroflow server` flags and process behaviour."""

import re
import signal
import subprocess

import mlflow
import pytest
import requests

from conftest import BIN, MLFLOW, Reference, Server, client_on, free_port, mlflow3, run_cli


def test_index_version_health_and_server_info(server):
    page = requests.get(server.url + "/")
    assert page.status_code == 200 and "Ferroflow" in page.text
    if '<div id="app">' in page.text:
        # The web UI is built in: its page loads its hashed assets from this server.
        assets = re.findall(r'(?:src|href)="(?:\./|/)?(assets/[^"]+)"', page.text)
        assert assets and all(requests.get(f"{server.url}/{a}").status_code == 200 for a in assets)
    else:
        assert "/api/2.0/mlflow" in page.text and "npm run build" in page.text
    assert requests.get(server.url + "/version").text == "3.17.2"
    assert requests.get(server.url + "/health").text == "OK"
    info = requests.get(server.url + "/api/3.0/mlflow/server-info").json()
    assert info["store_type"] == "SqlStore"
    ajax = requests.get(server.url + "/ajax-api/2.0/mlflow/experiments/search", params={"max_results": 10}).json()
    assert ajax["experiments"][0]["name"] == "Default"


def test_static_prefix(workdir):
    s = Server(workdir, "--static-prefix", "/mlflow").start()
    try:
        assert requests.get(f"http://127.0.0.1:{s.port}/mlflow/health").text == "OK"
        assert requests.get(f"http://127.0.0.1:{s.port}/api/2.0/mlflow/experiments/search").status_code == 404
        c = client_on(s.url)
        exp = c.create_experiment("prefixed")
        run = c.create_run(exp)
        c.log_text(run.info.run_id, "hi", "a.txt")
        assert [a.path for a in c.list_artifacts(run.info.run_id)] == ["a.txt"]
    finally:
        s.stop()


def test_allowed_hosts_and_cors(workdir):
    s = Server(workdir, "--allowed-hosts", "good.example:*,127.0.0.1:*", "--cors-allowed-origins", "https://app.example").start()
    try:
        url = f"{s.url}/api/2.0/mlflow/experiments/search"
        assert requests.get(url).status_code == 200
        bad = requests.get(url, headers={"Host": "evil.example"})
        assert bad.status_code == 403 and bad.json()["error_code"] == "PERMISSION_DENIED"
        assert requests.get(url, headers={"Host": "good.example:5000"}).status_code == 200
        assert requests.get(f"{s.url}/health", headers={"Host": "evil.example"}).status_code == 200
        pre = requests.options(url, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        assert pre.headers.get("access-control-allow-origin") == "https://app.example"
        blocked = requests.post(f"{s.url}/api/2.0/mlflow/experiments/create", json={"name": "x"}, headers={"Origin": "https://evil.example"})
        assert blocked.status_code == 403
        ok = requests.post(f"{s.url}/api/2.0/mlflow/experiments/create", json={"name": "x"}, headers={"Origin": "https://app.example"})
        assert ok.status_code == 200
    finally:
        s.stop()


FRAMED = ["/", "/health", "/api/2.0/mlflow/experiments/search?max_results=1", "/api/2.0/mlflow/experiments/get?experiment_id=404"]


def frame_headers(base):
    return {p: requests.get(base + p, timeout=30).headers.get("x-frame-options") for p in FRAMED}


@mlflow3
@pytest.mark.parametrize("flag", [None, "deny", "NONE"])
def test_x_frame_options_match_the_reference(workdir, flag):
    """Clickjacking: every answer says who may frame it, as MLflow 3.17.2 says it (SAMEORIGIN
    by default, --x-frame-options DENY or NONE); the UI's page adds a Content-Security-Policy
    whose frame-ancestors follows it."""
    if not MLFLOW.exists():
        pytest.skip("mlflow server is not installed beside this Python")
    args = ["--x-frame-options", flag] if flag else []
    (workdir / "ff").mkdir()
    (workdir / "ref").mkdir()
    ours = Server(workdir / "ff", *args).start()
    theirs = Reference(workdir / "ref", *args)
    try:
        assert frame_headers(ours.url) == frame_headers(theirs.url)
        page = requests.get(ours.url + "/", timeout=30)
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp
        ancestors = {None: "frame-ancestors 'self'", "deny": "frame-ancestors 'none'", "NONE": None}[flag]
        assert (ancestors in csp) if ancestors else ("frame-ancestors" not in csp)
        assert "content-security-policy" not in requests.get(ours.url + "/health", timeout=30).headers
    finally:
        ours.stop()
        theirs.stop()


def test_no_serve_artifacts_uses_the_artifact_root_directly(workdir):
    s = Server(workdir, "--no-serve-artifacts", "--default-artifact-root", str(workdir / "store")).start()
    try:
        c = mlflow.MlflowClient(s.url)
        exp = c.create_experiment("direct")
        assert c.get_experiment(exp).artifact_location == str(workdir / "store" / exp)
        r = c.create_run(exp)
        c.log_text(r.info.run_id, "x", "f.txt")
        assert (workdir / "store" / exp / r.info.run_id / "artifacts" / "f.txt").read_text() == "x"
        proxied = requests.get(f"{s.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": "x"})
        assert proxied.status_code == 404
    finally:
        s.stop()


def test_artifacts_destination(workdir):
    s = Server(workdir, "--artifacts-destination", str(workdir / "dest")).start()
    try:
        c = client_on(s.url)
        r = c.create_run("0")
        c.log_text(r.info.run_id, "x", "f.txt")
        assert (workdir / "dest" / "0" / r.info.run_id / "artifacts" / "f.txt").exists()
    finally:
        s.stop()


def test_graceful_shutdown_on_sigterm_and_sigint(workdir):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = Server(workdir).start()
        assert s.stop(sig) == 0
        assert "stopped" in s.log.read_text()


def test_ui_is_the_server_and_workers_are_accepted(workdir):
    import conftest

    port = conftest.free_port()
    p = subprocess.Popen([BIN, "ui", "--port", str(port), "--workers", "4"], cwd=workdir, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                import time

                time.sleep(0.05)
        assert requests.get(f"http://127.0.0.1:{port}/health").text == "OK"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=15) == 0


def test_an_unusable_file_store_is_a_clear_error(workdir):
    # A file where the store's directory should be: the server says which and stops.
    (workdir / "notadir").write_text("x")
    p = run_cli("server", "--backend-store-uri", "./notadir", "--port", str(free_port()), check=False, cwd=workdir, timeout=30)
    assert p.returncode != 0
    assert "cannot open the backend store ./notadir" in p.stderr and "notadir" in p.stderr, p.stderr


def test_port_in_use_is_a_clear_error(server, workdir):
    p = run_cli("server", "--port", str(server.port), check=False, cwd=workdir, timeout=30)
    assert p.returncode != 0 and f"cannot listen on 127.0.0.1:{server.port}" in p.stderr


def test_help_is_complete():
    out = run_cli("server", "--help").stdout
    for flag in ["--host", "--port", "--backend-store-uri", "--default-artifact-root", "--serve-artifacts", "--no-serve-artifacts",
                 "--artifacts-destination", "--workers", "--allowed-hosts", "--cors-allowed-origins", "--static-prefix"]:
        assert flag in out, flag
    top = run_cli("--help").stdout
    for cmd in ["server", "ui", "experiments", "runs", "artifacts", "db", "gc"]:
        assert cmd in top


def test_an_empty_variable_counts_as_unset(workdir):
    """As MLflow's click options read them: `MLFLOW_SERVER_ALLOWED_HOSTS=` keeps the default
    hosts (mlflow server 3.17.2 answers 200 to localhost and a private address alike), and
    an empty `MLFLOW_DEFAULT_ARTIFACT_ROOT` keeps the default root."""
    s = Server(workdir, env={"MLFLOW_SERVER_ALLOWED_HOSTS": "", "MLFLOW_DEFAULT_ARTIFACT_ROOT": ""}).start()
    try:
        for host in (None, f"10.1.2.3:{s.port}"):
            r = requests.get(f"{s.url}/api/2.0/mlflow/experiments/search", params={"max_results": 1},
                             headers={"Host": host} if host else {}, timeout=10)
            assert r.status_code == 200, r.text
        exp = s.api("POST", "experiments/create", json={"name": "empty-env"}).json()["experiment_id"]
        loc = s.api("GET", "experiments/get", params={"experiment_id": exp}).json()["experiment"]["artifact_location"]
        assert loc == f"mlflow-artifacts:/{exp}"
    finally:
        s.stop()
