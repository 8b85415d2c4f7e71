"""`ferroflow models serve` vs. `mlflow models serve`, side by side on one machine.

Trains seed 002's ElasticNet on the wine data and saves it twice with the official client:
as a scikit-learn model (the pyfunc path: Python workers in both servers) and converted
with skl2onnx as an ONNX model (ferroflow runs it natively; MLflow through onnxruntime in
its Python workers). Each server serves the same model directory (the Python on PATH:
--env-manager local), both must answer the same prediction, then wrk loads /invocations
(16 connections, one row per request) and the script reports requests/s, latency
percentiles, start-up to ready and memory, with the ratios.

    python bench/models.py --ferroflow target/release/ferroflow --mlflow .venv/bin/mlflow

The Python running it needs mlflow, scikit-learn, skl2onnx and onnxruntime
(tests/e2e/requirements.txt has them).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench import LUA, free_port, rss_mib  # noqa: E402

ROW = {"dataframe_split": {"columns": ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
                                       "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"],
                           "data": [[6.0, 0.29, 0.41, 10.8, 0.048, 55.0, 149.0, 0.9937, 3.09, 0.59, 10.966667]]}}


def save_models(data: pathlib.Path, tmp: pathlib.Path):
    """The same ElasticNet as a scikit-learn model and as an ONNX model."""
    import mlflow
    import numpy as np
    import pandas as pd
    from skl2onnx import to_onnx
    from sklearn.linear_model import ElasticNet

    df = pd.read_csv(data)
    X, y = df.drop(columns=["quality"]), df["quality"]
    model = ElasticNet(alpha=0.5, l1_ratio=0.1, random_state=42).fit(X, y)
    mlflow.sklearn.save_model(model, str(tmp / "pyfunc"), signature=mlflow.models.infer_signature(X, model.predict(X)))
    X32 = X.astype(np.float32)
    mlflow.onnx.save_model(to_onnx(model, X32.values[:1]), str(tmp / "onnx"), signature=mlflow.models.infer_signature(X32))
    return {"pyfunc": tmp / "pyfunc", "onnx": tmp / "onnx"}


def prediction(answer):
    """The first prediction: a number, or the one output of a record (ONNX answers by name)."""
    p = answer["predictions"][0]
    return next(iter(p.values())) if isinstance(p, dict) else p


def serve(cmd, env, port):
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while time.monotonic() - started < 300:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return proc, time.monotonic() - started
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
        time.sleep(0.05)
    raise SystemExit(f"{cmd[0]} did not become ready")


def wrk(port, duration, connections):
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA)}
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", "-s",
                          str(LUA / "invocations.lua"), f"http://127.0.0.1:{port}/invocations"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferroflow", required=True)
    ap.add_argument("--mlflow", required=True)
    ap.add_argument("--data", default=str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "wine-quality" / "data" / "winequality-red.csv"))
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="worker processes for both servers")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--paths", default="pyfunc,onnx", help="the model paths to compare, comma-separated: pyfunc, onnx")
    a = ap.parse_args()

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ferroflow-models-bench-"))
    models = save_models(pathlib.Path(a.data), tmp)
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    report = {}
    for path in a.paths.split(","):
        model = models[path]
        results = {}
        for name, cmd in [
            ("ferroflow", lambda p: [a.ferroflow, "models", "serve", "-m", str(model), "--env-manager", "local", "-p", str(p), "-w", str(a.workers)]),
            ("mlflow", lambda p: [a.mlflow, "models", "serve", "-m", str(model), "--env-manager", "local", "-p", str(p), "-w", str(a.workers)]),
        ]:
            port = free_port()
            proc, startup = serve(cmd(port), env, port)
            try:
                answer = requests.post(f"http://127.0.0.1:{port}/invocations", json=ROW, timeout=30).json()
                wrk(port, 3, a.connections)  # warm-up
                r = wrk(port, a.duration, a.connections)
                r.update(startup_s=round(startup, 2), rss_mib=round(rss_mib(proc.pid), 1), prediction=prediction(answer))
                results[name] = r
                print(f"{path:6s} {name:10s} {r['rps']:9.1f} rps  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                      f"ready in {r['startup_s']:.2f} s  RSS {r['rss_mib']:.0f} MiB  errors {r['errors'] + r['non2xx']}")
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=30)
        f, m = results["ferroflow"], results["mlflow"]
        assert abs(f["prediction"] - m["prediction"]) < 1e-6, (f["prediction"], m["prediction"])
        ratios = {"rps": f["rps"] / m["rps"], "p99": m["p99_ms"] / f["p99_ms"], "p50": m["p50_ms"] / f["p50_ms"]}
        print(f"{path}: {ratios['rps']:.1f}x requests/s, p99 {ratios['p99']:.1f}x lower, p50 {ratios['p50']:.1f}x lower")
        report[path] = {"results": results, "ratios": ratios}
    if a.out:
        pathlib.Path(a.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
