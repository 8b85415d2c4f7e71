"""basic-auth's cost: `runs/log-batch` (10 metrics, 16 connections) on Ferroflow without
auth, on Ferroflow with `--app-name basic-auth`, and on `mlflow server --app-name
basic-auth`, one after the other on SQLite in fresh directories. Behind auth the load signs
in as a user who is not an administrator and logs into a run of an experiment they created
(MANAGE, decided through their grants on every request); both auth servers cache verified
credentials for 60 s (`auth_cache_ttl_seconds`), as the issue's target assumes.

Targets: Ferroflow with auth keeps >= 80 % of its throughput without, and is >= 100x
MLflow's basic-auth server.
"""

import argparse
import base64
import json
import os
import pathlib
import sys
import tempfile

import requests

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import bench  # noqa: E402

ADMIN = ("admin", "bench-admin-password")
USER = ("alice", "alice-bench-password")


def ini(workdir):
    path = workdir / "auth.ini"
    path.write_text(
        "[mlflow]\ndefault_permission = NO_PERMISSIONS\ndatabase_uri = sqlite:///basic_auth.db\n"
        f"admin_username = {ADMIN[0]}\nadmin_password = {ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    return path


def run_for(url, auth):
    s = requests.Session()
    if auth:
        s.auth = ADMIN
        r = s.post(f"{url}/api/2.0/mlflow/users/create", json={"username": USER[0], "password": USER[1]}, timeout=60)
        r.raise_for_status()
        s.auth = USER
    exp = bench.api(s, url, "POST", "experiments/create", json={"name": "auth-bench"})["experiment_id"]
    return bench.api(s, url, "POST", "runs/create", json={"experiment_id": exp})["run"]["info"]["run_id"]


def measure(name, cmd, auth, duration, root):
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    env_before = dict(os.environ)
    if auth:
        os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(ini(workdir))
        os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "bench"
    target = bench.Target(name, cmd, workdir)
    try:
        target.start()
        run = run_for(target.url, auth)
        env = {"BENCH_RUN_ID": run}
        if auth:
            env["BENCH_BASIC_AUTH"] = base64.b64encode(f"{USER[0]}:{USER[1]}".encode()).decode()
        res = bench.wrk(target.url, "log_batch.lua", 2, 16, duration, env)
        print(f"  {name}: {res['rps']:.1f} req/s, p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms "
              f"({res['non2xx']} non-2xx)", file=sys.stderr)
        return res
    finally:
        target.stop()
        os.environ.clear()
        os.environ.update(env_before)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferroflow", required=True)
    ap.add_argument("--mlflow", required=True)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--out")
    a = ap.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="ff-auth-bench-"))
    ff = [a.ferroflow, "server", "--port", "{port}"]
    ml = [a.mlflow, "server", "--port", "{port}", "--backend-store-uri", "sqlite:///mlflow.db"]
    r = {
        "ferroflow": measure("ferroflow", ff, False, a.duration, root),
        "ferroflow_auth": measure("ferroflow-basic-auth", ff + ["--app-name", "basic-auth"], True, a.duration, root),
        "mlflow_auth": measure("mlflow-basic-auth", ml + ["--app-name", "basic-auth"], True, a.duration, root),
    }
    kept = r["ferroflow_auth"]["rps"] / r["ferroflow"]["rps"]
    ratio = r["ferroflow_auth"]["rps"] / r["mlflow_auth"]["rps"]
    rows = [
        ("log-batch, Ferroflow without auth", f"{r['ferroflow']['rps']:.1f} req/s", f"p99 {r['ferroflow']['p99_ms']:.2f} ms", ""),
        ("log-batch, Ferroflow with basic-auth", f"{r['ferroflow_auth']['rps']:.1f} req/s", f"p99 {r['ferroflow_auth']['p99_ms']:.2f} ms", f"{kept:.0%} kept (target >= 80 %)"),
        ("log-batch, MLflow with basic-auth", f"{r['mlflow_auth']['rps']:.1f} req/s", f"p99 {r['mlflow_auth']['p99_ms']:.2f} ms", f"{ratio:.1f}x (target >= 100x)"),
    ]
    print("| what | throughput | latency | against the target |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if a.out:
        pathlib.Path(a.out).write_text(json.dumps({**r, "kept": kept, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
