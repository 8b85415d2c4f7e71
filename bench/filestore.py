"""The file store, side by side: Ferroflow vs. MLflow 3.17.2 on the same directories.

1. `migrate-filestore` of a file store with --migrate-runs runs x (20 params, 10 metrics x
   --steps steps): `mlflow migrate-filestore` and `ferroflow migrate-filestore`, one after
   the other, each into a new SQLite file; both databases are checked to hold the same
   row counts before the times are compared.
2. `runs/search` over --search-runs file-store runs: `mlflow server` (with
   MLFLOW_ALLOW_FILE_STORE=true) and `ferroflow server` serving the same ./mlruns, each
   asked the same search (all runs, 1,000 per page, ordered by a metric) after one
   unrecorded warm-up request; the answers are checked equal, then timed --repeat times.

The file stores are written as MLflow's file store writes them (meta.yaml, one file per
param, tag and metric), directly rather than through a client, so that seeding takes
seconds (tests/e2e/scripts/filestore_gen.py).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e" / "scripts"))
import filestore_gen  # noqa: E402


def write_store(root: Path, runs: int, params: int, metrics: int, steps: int) -> Path:
    filestore_gen.experiment(root, "0", "Default")
    filestore_gen.write_runs(root, runs, metrics, steps, params=params, name="bench")
    # Nothing of the seeding may still be on its way to disk while a tool is timed.
    os.sync()
    return root


def counts(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("experiments", "runs", "params", "tags", "metrics", "latest_metrics")}
    finally:
        con.close()


def timed(cmd, cwd, env=None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return elapsed


def bench_migrate(args, work: Path) -> dict:
    src = write_store(work / "migrate", args.migrate_runs, 20, 10, args.steps)
    print(f"migrate: {args.migrate_runs} runs x (20 params, 10 metrics x {args.steps} steps) in {src}", flush=True)
    ff = timed([args.ferroflow, "migrate-filestore", "--source", src, "--target", f"sqlite:///{work}/ff.db",
                "--no-progress"], work)
    print(f"  ferroflow: {ff:.2f} s", flush=True)
    if args.reuse_mlflow:
        ml = json.loads(Path(args.reuse_mlflow).read_text())["migrate"]["mlflow_s"]
    else:
        ml = timed([args.mlflow, "migrate-filestore", "--source", src, "--target", f"sqlite:///{work}/ml.db",
                    "--no-progress"], work, {"MLFLOW_ALLOW_FILE_STORE": "true"})
        a, b = counts(work / "ff.db"), counts(work / "ml.db")
        if a != b:
            sys.exit(f"the databases differ: ferroflow {a}, mlflow {b}")
    print(f"  mlflow:    {ml:.2f} s", flush=True)
    rows = counts(work / "ff.db")
    shutil.rmtree(work / "migrate")
    return {"runs": args.migrate_runs, "steps": args.steps, "rows": rows, "ferroflow_s": ff, "mlflow_s": ml,
            "ratio": ml / ff}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd, cwd, port, env=None, timeout=300):
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    sys.exit(f"{cmd[0]} did not start")


SEARCH = {"experiment_ids": ["1"], "max_results": 1000, "order_by": ["metrics.m0 DESC"]}


def search_times(port, repeat):
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search"
    first = requests.post(url, json=SEARCH, timeout=600).json()  # warm-up, and the answer to compare
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = requests.post(url, json=SEARCH, timeout=600)
        times.append(time.perf_counter() - t)
        r.raise_for_status()
    return first, times


def bench_search(args, work: Path) -> dict:
    root = write_store(work / "search", args.search_runs, 5, 5, 3)
    print(f"runs/search: {args.search_runs} file-store runs in {root}", flush=True)
    port = free_port()
    proc = serve([args.ferroflow, "server", "--port", str(port), "--backend-store-uri", str(root / "mlruns")], root, port)
    try:
        ff_answer, ff = search_times(port, args.repeat)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    print(f"  ferroflow p50: {statistics.median(ff) * 1000:.1f} ms", flush=True)
    if args.reuse_mlflow:
        ml = json.loads(Path(args.reuse_mlflow).read_text())["search"]["mlflow_times_s"]
    else:
        port = free_port()
        proc = serve([args.mlflow, "server", "--port", str(port), "--workers", "1",
                      "--backend-store-uri", str(root / "mlruns")], root, port, {"MLFLOW_ALLOW_FILE_STORE": "true"})
        try:
            ml_answer, ml = search_times(port, args.repeat)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
        ours = [r["info"]["run_id"] for r in ff_answer["runs"]]
        theirs = [r["info"]["run_id"] for r in ml_answer["runs"]]
        if ours != theirs or len(ours) != min(1000, args.search_runs) or \
                bool(ff_answer.get("next_page_token")) != bool(ml_answer.get("next_page_token")):
            sys.exit("the servers' answers differ")
    print(f"  mlflow p50:    {statistics.median(ml) * 1000:.1f} ms", flush=True)
    shutil.rmtree(work / "search")
    return {"runs": args.search_runs, "ferroflow_times_s": ff, "mlflow_times_s": ml,
            "ratio": statistics.median(ml) / statistics.median(ff)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferroflow", required=True)
    ap.add_argument("--mlflow", required=True, help="the mlflow executable of a venv with mlflow==3.17.2")
    ap.add_argument("--migrate-runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--search-runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", help="also write the results as JSON here")
    ap.add_argument("--reuse-mlflow", help="take MLflow's results from this JSON (a previous --out)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferroflow-bench-fs-") as tmp:
        work = Path(tmp)
        result = {"migrate": bench_migrate(args, work), "search": bench_search(args, work)}
    m, s = result["migrate"], result["search"]
    print()
    print("| what | ferroflow | mlflow 3.17.2 | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| migrate-filestore, {m['runs']} runs x (20 params, 10 metrics x {m['steps']} steps) "
          f"| {m['ferroflow_s']:.2f} s | {m['mlflow_s']:.2f} s | {m['ratio']:.1f}x | >= 20x |")
    print(f"| runs/search over {s['runs']} file-store runs (1,000 per page) p50 "
          f"| {statistics.median(s['ferroflow_times_s']) * 1000:.1f} ms "
          f"| {statistics.median(s['mlflow_times_s']) * 1000:.1f} ms | {s['ratio']:.1f}x | >= 20x |")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
