"""Acknowledged writes survive `kill -9`, and concurrent writers all land."""

import concurrent.futures
import signal

import mlflow
from mlflow.entities import Metric

from conftest import Server


def test_acknowledged_writes_survive_kill_9(workdir):
    s = Server(workdir).start()
    c = mlflow.MlflowClient(s.url)
    run_id = c.create_run("0").info.run_id
    acknowledged = []

    def writer(t):
        for i in range(40):
            step = t * 1000 + i
            c.log_batch(run_id, metrics=[Metric("m", float(step), 1, step)])
            acknowledged.append(step)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    s.stop(signal.SIGKILL)

    s2 = Server(workdir).start()
    try:
        hist = mlflow.MlflowClient(s2.url).get_metric_history(run_id, "m")
        assert sorted(m.step for m in hist) == sorted(acknowledged)
        assert len(acknowledged) == 320
    finally:
        s2.stop()


def test_concurrent_writers_to_one_run(server):
    c = mlflow.MlflowClient(server.url)
    run_id = c.create_run("0").info.run_id

    def work(t):
        c.log_param(run_id, f"p{t}", str(t))
        c.set_tag(run_id, f"t{t}", str(t))
        for i in range(10):
            c.log_metric(run_id, "shared", float(t * 10 + i), step=t * 10 + i)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(16)))
    run = c.get_run(run_id)
    assert len(run.data.params) == 16
    assert run.data.metrics["shared"] == 159.0
    assert len(c.get_metric_history(run_id, "shared")) == 160
