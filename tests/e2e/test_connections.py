"""Hostile connections: a client that sends half a header, goes idle, stalls its body or opens
thousands of sockets cannot hold the server. Connections are closed after --header-timeout /
--body-timeout, and beyond --max-connections a new one is answered 503 at once; both servers
(`server` and `models serve`) take their connections the same way. Bounds here are generous
upper limits on when the server must have acted, never speed measurements."""

import socket
import time

import pytest
import requests

from conftest import Server

# Far above the configured timeouts: a server that never closes fails, a slow CI machine doesn't.
BOUND = 30


def connect(url):
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=BOUND)
    return s


def closed_by_server(s):
    """Waits (up to BOUND seconds) until the server closes `s`; what it sent before, if anything."""
    got = b""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return got
        except socket.timeout:
            break
        if not chunk:
            return got
        got += chunk
    raise AssertionError(f"the server kept the connection open for {BOUND} s (got {got[:200]!r})")


def healthy(url):
    return requests.get(url + "/health", timeout=BOUND).status_code == 200


@pytest.fixture
def bounded(workdir):
    s = Server(workdir, "--header-timeout", "2", "--body-timeout", "2", "--max-connections", "64").start()
    yield s
    s.stop()


def test_half_a_header_is_closed_after_the_header_timeout(bounded):
    s = connect(bounded.url)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    closed_by_server(s)
    assert healthy(bounded.url)


def test_an_idle_kept_alive_connection_is_closed(bounded):
    s = connect(bounded.url)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    # The response came; the connection stays open for the next request only so long.
    closed_by_server(s)


def test_a_stalled_body_fails_and_frees_its_connection(bounded):
    s = connect(bounded.url)
    s.sendall(b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\": ")
    answer = closed_by_server(s)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:200]
    assert requests.post(bounded.url + "/api/2.0/mlflow/experiments/search", json={"max_results": 5},
                         timeout=BOUND).json()["experiments"][0]["name"] == "Default"


def test_a_socket_flood_meets_503_and_the_server_recovers(bounded):
    """64 idle sockets fill the server; the next ones are answered 503 at once (not left
    hanging); once the idle ones time out, /health answers again."""
    flood = [connect(bounded.url) for _ in range(64)]
    time.sleep(0.5)
    extra = [connect(bounded.url) for _ in range(20)]
    for s in extra:
        answer = closed_by_server(s)
        assert answer.startswith(b"HTTP/1.1 503") and b"TEMPORARILY_UNAVAILABLE" in answer, answer[:200]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert f"content-length: {len(body)}".encode() in head.lower(), answer
    for s in flood:
        closed_by_server(s)
    assert healthy(bounded.url)


def test_a_flood_of_thousands_of_sockets_does_not_stop_health(workdir):
    """Far more sockets than the cap, none of which sends a byte: the server neither runs out
    of descriptors nor stops answering for good."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    s = Server(workdir, "--header-timeout", "2", "--max-connections", "256").start()
    flood = []
    try:
        for _ in range(2000):
            flood.append(connect(s.url))
        deadline = time.monotonic() + BOUND
        while True:
            try:
                if healthy(s.url):
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "/health did not answer while the flood held its sockets"
            time.sleep(0.5)
        assert s.proc.poll() is None
    finally:
        for c in flood:
            c.close()
        s.stop()


def test_the_scoring_server_bounds_its_connections_too(workdir):
    import mlflow
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    from test_models import Scorer, env

    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    mlflow.onnx.save_model(to_onnx(LinearRegression().fit(X, X.sum(axis=1)), X[:1]), str(workdir / "model"))
    scorer = Scorer(workdir, "-m", str(workdir / "model"), "--header-timeout", "2", "--max-connections", "8", environ=env())
    try:
        idle = [connect(scorer.url) for _ in range(8)]
        time.sleep(0.5)
        extra = connect(scorer.url)
        assert closed_by_server(extra).startswith(b"HTTP/1.1 503")
        half = idle[0]
        half.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
        for c in idle:
            closed_by_server(c)
        assert requests.get(scorer.url + "/ping", timeout=BOUND).status_code == 200
    finally:
        scorer.stop()
