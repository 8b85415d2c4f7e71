"""Ferroflow vs. the Python MLflow server, side by side on one machine.

Starts each server on SQLite in a fresh directory (one after the other), seeds the same
data through the REST API, checks the answers, loads each endpoint with wrk (Lua scripts
in lua/ vary the bodies), measures start-up time and memory, and prints the ratios.

    python bench.py --ferroflow target/release/ferroflow --mlflow .venv/bin/mlflow
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

HERE = pathlib.Path(__file__).resolve().parent
LUA = HERE / "lua"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_pids(pid):
    pids = [pid]
    for p in list(pids):
        try:
            for child in pathlib.Path(f"/proc/{p}/task/{p}/children").read_text().split():
                pids.append(int(child))
                pids.extend(tree_pids(int(child))[1:])
        except OSError:
            pass
    return list(dict.fromkeys(pids))


def status_kib(pid, field):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def rss_mib(pid, field="VmRSS"):
    return sum(status_kib(p, field) for p in tree_pids(pid)) / 1024


class Target:
    def __init__(self, name, cmd, workdir):
        self.name, self.cmd, self.workdir = name, cmd, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        cmd = [c.replace("{port}", str(self.port)) for c in self.cmd]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=open(self.workdir / "server.log", "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited: {(self.workdir / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/health", timeout=0.5).status_code == 200:
                    return time.perf_counter() - t0
            except requests.RequestException:
                pass
            time.sleep(0.002)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def api(session, url, method, endpoint, **kw):
    r = session.request(method, f"{url}/api/2.0/mlflow/{endpoint}", timeout=600, **kw)
    r.raise_for_status()
    return r.json()


def metric_value(i, j):
    return ((i * 7919 + j * 104729) % 1000) / 1000


def seed(url, n_runs, history_points, workers=16):
    s = requests.Session()
    exp_id = api(s, url, "POST", "experiments/create", json={"name": "bench"})["experiment_id"]

    def one(i):
        sess = requests.Session()
        run = api(sess, url, "POST", "runs/create", json={"experiment_id": exp_id, "run_name": f"run-{i:05d}", "start_time": 1_700_000_000_000 + i})
        rid = run["run"]["info"]["run_id"]
        api(sess, url, "POST", "runs/log-batch", json={
            "run_id": rid,
            "params": [{"key": f"p{j}", "value": str((i + j) % 7)} for j in range(5)],
            "metrics": [{"key": f"m{j}", "value": metric_value(i, j), "timestamp": 1_700_000_000_000, "step": 0} for j in range(5)],
            "tags": [{"key": f"t{j}", "value": f"tag-{(i * j) % 3}"} for j in range(3)],
        })
        return rid

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        run_ids = list(pool.map(one, range(n_runs)))
    hist = api(s, url, "POST", "runs/create", json={"experiment_id": exp_id, "run_name": "history"})["run"]["info"]["run_id"]

    def chunk(start):
        sess = requests.Session()
        api(sess, url, "POST", "runs/log-batch", json={"run_id": hist, "metrics": [
            {"key": "loss", "value": 1.0 / (k + 1), "timestamp": 1_700_000_000_000 + k, "step": k}
            for k in range(start, min(start + 1000, history_points))]})

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(chunk, range(0, history_points, 1000)))
    bench_run = api(s, url, "POST", "runs/create", json={"experiment_id": exp_id, "run_name": "log-batch target"})["run"]["info"]["run_id"]
    # runs/create load goes to its own experiment, so the search keeps its 10,000 runs.
    create_exp = api(s, url, "POST", "experiments/create", json={"name": "bench-create"})["experiment_id"]
    return exp_id, run_ids, hist, bench_run, create_exp


def check(url, exp_id, history_run, n_runs, history_points):
    """The answers must be right before their speed means anything."""
    s = requests.Session()
    found = api(s, url, "POST", "runs/search", json={"experiment_ids": [exp_id], "filter": "metrics.m0 > 0.1",
                                                      "order_by": ["metrics.m0 DESC"], "max_results": 1000})["runs"]
    values = [next(m["value"] for m in r["data"]["metrics"] if m["key"] == "m0") for r in found]
    expected = sorted((v for v in (metric_value(i, 0) for i in range(n_runs)) if v > 0.1), reverse=True)[:1000]
    assert len(found) == min(1000, len(expected)), len(found)
    assert values == expected, "search returned the wrong runs or order"
    assert all(len(r["data"]["params"]) == 5 and len(r["data"]["tags"]) >= 3 for r in found)
    hist = api(s, url, "GET", "metrics/get-history", params={"run_id": history_run, "metric_key": "loss"})["metrics"]
    assert [m["step"] for m in hist] == list(range(history_points)), "history is incomplete"
    # By key: a run's params come in no particular order (MLflow's own differ from the
    # order they were logged in, on PostgreSQL).
    return sorted(next(p["value"] for p in r["data"]["params"] if p["key"] == "p0") + r["info"]["run_name"] for r in found)


def wrk(url, script, threads, conns, duration, env, warmup=3):
    """Runs a scenario for `warmup` seconds unrecorded, then measures it for `duration`."""
    subprocess.run(["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{warmup}s", "--timeout", "120s",
                    "-s", str(LUA / script), url], capture_output=True, env={**os.environ, **env, "BENCH_LUA_DIR": str(LUA)},
                   timeout=warmup + 300)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s", "--timeout", "120s",
                          "-s", str(LUA / script), url], capture_output=True, text=True, env={**os.environ, **env,
                          "BENCH_LUA_DIR": str(LUA)}, timeout=duration + 300)
    line = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not line:
        sys.exit(f"wrk failed on {script}: {out.stdout}\n{out.stderr}")
    result = json.loads(line[-1])
    if result["non2xx"] or result["errors"]:
        print(f"  warning: {script} had {result['non2xx']} non-2xx answers and {result['errors']} socket errors", file=sys.stderr)
    return result


class MemorySampler:
    """Samples a process tree's anonymous (heap) and file-backed (mapped database) memory."""

    def __init__(self, pid):
        import threading

        self.pid, self.peak_anon, self.peak_total, self.running = pid, 0.0, 0.0, True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            self.peak_anon = max(self.peak_anon, rss_mib(self.pid, "RssAnon"))
            self.peak_total = max(self.peak_total, rss_mib(self.pid, "VmRSS"))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()


def measure(target, args):
    print(f"== {target.name}", file=sys.stderr)
    startup = target.start()
    time.sleep(2)
    idle = rss_mib(target.proc.pid)
    print(f"  healthy after {startup * 1000:.0f} ms, idle RSS {idle:.1f} MiB; seeding...", file=sys.stderr)
    t0 = time.perf_counter()
    exp_id, run_ids, hist_run, bench_run, create_exp = seed(target.url, args.runs, args.history)
    print(f"  seeded {args.runs} runs and a {args.history}-point history in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    fingerprint = check(target.url, exp_id, hist_run, args.runs, args.history)
    ids_file = target.workdir / "run_ids.txt"
    ids_file.write_text("\n".join(run_ids))
    env = {"BENCH_EXPERIMENT_ID": exp_id, "BENCH_CREATE_EXPERIMENT_ID": create_exp, "BENCH_RUN_ID": bench_run,
           "BENCH_RUN_IDS_FILE": str(ids_file), "BENCH_HISTORY_RUN_ID": hist_run}
    d = args.duration
    res = {"startup_ms": startup * 1000, "idle_rss_mib": idle, "fingerprint": fingerprint}
    sampler = MemorySampler(target.proc.pid)
    for name, script, t, c, dur in [
        ("log_batch", "log_batch.lua", 2, 16, d),
        ("runs_create", "runs_create.lua", 2, 16, d),
        ("runs_get", "runs_get.lua", 2, 16, d),
        ("experiments_search", "experiments_search.lua", 2, 16, d),
        ("runs_search", "runs_search.lua", 1, 1, 2 * d),
        ("get_history", "get_history.lua", 1, 1, 2 * d),
    ]:
        res[name] = wrk(target.url, script, t, c, dur, env)
        print(f"  {name}: {res[name]['rps']:.1f} req/s, p50 {res[name]['p50_ms']:.2f} ms, p99 {res[name]['p99_ms']:.2f} ms", file=sys.stderr)
    sampler.stop()
    res["peak_anon_mib"] = sampler.peak_anon
    res["peak_rss_mib"] = sampler.peak_total
    res["rss_after_mib"] = rss_mib(target.proc.pid)
    target.stop()
    return res


def new_database(admin_uri, name):
    """(Re)creates database `name` on the PostgreSQL server of `admin_uri`; returns its URI."""
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    return f"{admin_uri.rsplit('/', 1)[0]}/{name}"


def new_mysql_database(admin_uri, name):
    """(Re)creates database `name` on the MySQL server of `admin_uri` (mysql://user:pw@host:port);
    returns its URI as PyMySQL reaches it, which both servers take."""
    import urllib.parse

    import pymysql

    u = urllib.parse.urlsplit(admin_uri)
    with pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username, password=u.password or "", autocommit=True) as c:
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"CREATE DATABASE {name}")
    return f"mysql+pymysql://{u.netloc}/{name}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferroflow", required=True)
    ap.add_argument("--mlflow", required=True, help="the mlflow executable of a venv with mlflow==3.17.2")
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=20, help="seconds per throughput scenario")
    ap.add_argument("--out", help="also write the results as JSON here")
    ap.add_argument("--postgres", metavar="ADMIN_URI", help="run both servers on PostgreSQL: each gets a new database on the server this role reaches (bash bench/run.sh --postgres starts Debian's)")
    ap.add_argument("--mysql", metavar="ADMIN_URI", help="run both servers on MySQL: each gets a new database on the server this user reaches (bash bench/run.sh --mysql starts Debian's MariaDB)")
    ap.add_argument("--reuse-mlflow", help="take MLflow's results from this JSON (a previous --out) instead of measuring again")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    results = {}
    backend = lambda name: "sqlite:///bench.db"
    if args.postgres:
        backend = lambda name: new_database(args.postgres, f"bench_{name}")
    if args.mysql:
        backend = lambda name: new_mysql_database(args.mysql, f"bench_{name}")
    targets = [
        ("ferroflow", [args.ferroflow, "server", "--port", "{port}", "--backend-store-uri", backend("ferroflow")]),
        ("mlflow", [args.mlflow, "server", "--port", "{port}", "--backend-store-uri", backend("mlflow")]),
    ]
    if args.reuse_mlflow:
        results["mlflow"] = json.loads(pathlib.Path(args.reuse_mlflow).read_text())["mlflow"]
        targets = targets[:1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in targets:
            wd = pathlib.Path(tmp) / name
            wd.mkdir()
            results[name] = measure(Target(name, cmd, wd), args)
    fingerprint = results["ferroflow"].pop("fingerprint")
    if "fingerprint" in results["mlflow"]:
        assert fingerprint == results["mlflow"]["fingerprint"], "the servers answered differently"
        if not args.out:
            results["mlflow"].pop("fingerprint")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=2))
    results["mlflow"].pop("fingerprint", None)
    report(results, args)


def report(r, args):
    f, m = r["ferroflow"], r["mlflow"]
    rows = []

    def add(what, fv, mv, unit, ratio, target):
        rows.append((what, f"{fv:.2f} {unit}", f"{mv:.2f} {unit}", f"{ratio:.1f}x", target))

    add("log-batch (10 metrics, 16 clients) throughput", f["log_batch"]["rps"], m["log_batch"]["rps"], "req/s", f["log_batch"]["rps"] / m["log_batch"]["rps"], ">= 100x")
    add("log-batch p99", f["log_batch"]["p99_ms"], m["log_batch"]["p99_ms"], "ms", m["log_batch"]["p99_ms"] / f["log_batch"]["p99_ms"], ">= 100x lower")
    add(f"runs/search ({args.runs} runs, 1,000 results) p50", f["runs_search"]["p50_ms"], m["runs_search"]["p50_ms"], "ms", m["runs_search"]["p50_ms"] / f["runs_search"]["p50_ms"], ">= 100x faster")
    add(f"get-history ({args.history} points) p50", f["get_history"]["p50_ms"], m["get_history"]["p50_ms"], "ms", m["get_history"]["p50_ms"] / f["get_history"]["p50_ms"], ">= 100x faster")
    for k, label in [("runs_create", "runs/create"), ("runs_get", "runs/get"), ("experiments_search", "experiments/search")]:
        add(f"{label} throughput (16 clients)", f[k]["rps"], m[k]["rps"], "req/s", f[k]["rps"] / m[k]["rps"], ">= 50x")
    add("start-up to healthy", f["startup_ms"], m["startup_ms"], "ms", m["startup_ms"] / f["startup_ms"], "<= 100 ms")
    add("idle RSS", f["idle_rss_mib"], m["idle_rss_mib"], "MiB", m["idle_rss_mib"] / f["idle_rss_mib"], "<= 20 MiB")
    if "peak_anon_mib" in m:
        add("peak heap (anonymous) memory under load", f["peak_anon_mib"], m["peak_anon_mib"], "MiB", m["peak_anon_mib"] / f["peak_anon_mib"], "bounded")
    add("peak RSS under load (incl. mapped database pages)", f["peak_rss_mib"], m["peak_rss_mib"], "MiB", m["peak_rss_mib"] / f["peak_rss_mib"], "bounded")
    widths = [max(len(str(row[i])) for row in rows + [("what", "ferroflow", "mlflow 3.17.2", "ratio", "target")]) for i in range(5)]
    line = lambda row: "| " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(row)) + " |"
    print(line(("what", "ferroflow", "mlflow 3.17.2", "ratio", "target")))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


if __name__ == "__main__":
    main()
