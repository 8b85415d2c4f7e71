"""Replicas on one PostgreSQL database: `runs/log-batch` throughput of one Ferroflow replica,
then of N replicas side by side on the same database, with `pgbench` as the yardstick of
what this PostgreSQL server sustains on the same machine.

Each load is 16 connections in all (split across the replicas), each wrk process logging
10 metrics per request into a run of its own (training jobs log into their own runs), for
--duration seconds after 3 s of warm-up. Prints the table and writes JSON (--out).
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import threading

import requests

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import bench  # noqa: E402


def load(targets, duration, conns=16):
    """log-batch on every target at once; the summed rate and the worst p99."""
    s = requests.Session()
    exp = bench.api(s, targets[0].url, "POST", "experiments/create", json={"name": f"replicas-{len(targets)}-{id(targets)}"})["experiment_id"]
    results, threads = [None] * len(targets), []
    per = max(2, conns // len(targets))
    for i, t in enumerate(targets):
        run = bench.api(s, t.url, "POST", "runs/create", json={"experiment_id": exp})["run"]["info"]["run_id"]

        def go(i=i, t=t, run=run):
            results[i] = bench.wrk(t.url, "log_batch.lua", 1 if per < 4 else 2, per, duration, {"BENCH_RUN_ID": run})

        threads.append(threading.Thread(target=go))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"rps": sum(r["rps"] for r in results), "p99_ms": max(r["p99_ms"] for r in results),
            "per_replica_rps": [r["rps"] for r in results], "connections": per * len(targets)}


def pgbench(admin_uri, duration):
    """pgbench's TPC-B-like load at 16 clients on a fresh database: this server's own write ceiling here."""
    uri = bench.new_database(admin_uri, "ferroflow_bench_pgbench")
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", uri], check=True, capture_output=True)
    out = subprocess.run(["pgbench", "-c", "16", "-j", "2", "-T", str(duration), uri], check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    return {"tps": tps}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferroflow", required=True)
    ap.add_argument("--postgres", required=True, metavar="ADMIN_URI")
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--out")
    args = ap.parse_args()

    uri = bench.new_database(args.postgres, "ferroflow_bench_replicas")
    work = pathlib.Path(tempfile.mkdtemp(prefix="ferroflow-bench-replicas-"))
    targets = []
    for i in range(args.replicas):
        d = work / f"r{i}"
        d.mkdir()
        targets.append(bench.Target(f"replica-{i}", [args.ferroflow, "server", "--port", "{port}", "--backend-store-uri", uri,
                                                     "--artifacts-destination", str(work / "artifacts")], d))
    for t in targets:
        t.start()
    try:
        one = load(targets[:1], args.duration)
        print(f"1 replica: {one['rps']:.0f} req/s, p99 {one['p99_ms']:.1f} ms", file=sys.stderr)
        many = load(targets, args.duration)
        print(f"{args.replicas} replicas: {many['rps']:.0f} req/s {many['per_replica_rps']}, p99 {many['p99_ms']:.1f} ms", file=sys.stderr)
    finally:
        for t in targets:
            t.stop()
    pg = pgbench(args.postgres, args.duration)
    print(f"pgbench (TPC-B-like, 16 clients): {pg['tps']:.0f} tps", file=sys.stderr)
    res = {"one": one, "many": many, "replicas": args.replicas, "pgbench": pg}
    print(f"| log-batch, 1 replica | {one['rps']:.0f} req/s | p99 {one['p99_ms']:.1f} ms |")
    print(f"| log-batch, {args.replicas} replicas | {many['rps']:.0f} req/s | p99 {many['p99_ms']:.1f} ms | {many['rps'] / one['rps']:.2f}x one replica |")
    print(f"| pgbench, 16 clients | {pg['tps']:.0f} tps | | the database's own ceiling here |")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
