"""A large artifact through the proxy into S3, beside a direct upload to the same endpoint.

Starts `ferroflow server --artifacts-destination s3://BUCKET/...` (and, with --mlflow,
`mlflow server` the same way) against an S3 endpoint (moto_server by default, started by
bench/artifacts_s3.sh), then for a file of --size MiB:

1. uploads it straight to the bucket with boto3's managed transfer (what `aws s3 cp` does:
   8 MiB multipart chunks, 10 threads), and times it;
2. PUTs it through each server's artifact proxy (one streamed request, as the MLflow
   client sends a file), timing it and sampling the server's peak RSS (VmHWM) and its RSS
   every 50 ms;
3. downloads it back through the proxy, checking the SHA-256, and times that.

Prints a table and writes JSON (--out).
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import boto3
import requests
from boto3.s3.transfer import TransferConfig

CHUNK = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_pids(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = pathlib.Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo += [int(k) for k in kids]
    return out


def rss_mib(pid):
    total = 0
    for p in tree_pids(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Sampler:
    """The peak RSS of a process tree, sampled every 50 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self.done = pid, 0.0, False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.done:
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.05)

    def stop(self):
        self.done = True
        self.t.join()
        return self.peak


def start(name, cmd, workdir, env):
    port = free_port()
    proc = subprocess.Popen([*cmd, "--port", str(port)], cwd=workdir, env=env, stdout=open(workdir / f"{name}.log", "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError((workdir / f"{name}.log").read_text()[-2000:])


def file_chunks(path):
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def through_proxy(name, proc, url, path, digest, size):
    rel = f"bench/{uuid.uuid4().hex}/blob.bin"
    idle = rss_mib(proc.pid)
    s = Sampler(proc.pid)
    t = time.perf_counter()
    r = requests.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/{rel}", data=file_chunks(path), timeout=3600)
    up = time.perf_counter() - t
    peak_up = s.stop()
    r.raise_for_status()
    s = Sampler(proc.pid)
    h = hashlib.sha256()
    t = time.perf_counter()
    with requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/{rel}", stream=True, timeout=3600) as r:
        r.raise_for_status()
        for chunk in r.iter_content(CHUNK):
            h.update(chunk)
    down = time.perf_counter() - t
    peak_down = s.stop()
    assert h.hexdigest() == digest, f"{name}: the download differs from the upload"
    mib = size / (1 << 20)
    return {"upload_s": up, "upload_mib_s": mib / up, "download_s": down, "download_mib_s": mib / down,
            "idle_rss_mib": idle, "peak_rss_upload_mib": peak_up, "peak_rss_download_mib": peak_down}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferroflow", required=True)
    ap.add_argument("--mlflow", help="also measure `mlflow server` (the mlflow executable of a venv with mlflow==3.17.2 and boto3)")
    ap.add_argument("--size", type=int, default=2048, help="MiB (default 2048)")
    ap.add_argument("--endpoint", default=os.environ.get("MLFLOW_S3_ENDPOINT_URL"))
    ap.add_argument("--bucket", default=os.environ.get("FERROFLOW_TEST_S3_URI", "s3://ferroflow-test").removeprefix("s3://"))
    ap.add_argument("--out")
    args = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="ferroflow-bench-s3-"))
    path = work / "blob.bin"
    size = args.size << 20
    h = hashlib.sha256()
    with open(path, "wb") as f:
        block = os.urandom(CHUNK)
        for i in range(args.size):
            chunk = block[i % 997:] + block[: i % 997]
            h.update(chunk)
            f.write(chunk)
    digest = h.hexdigest()
    env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": args.endpoint}
    results = {"size_mib": args.size, "endpoint": args.endpoint}
    try:
        s3 = boto3.client("s3", endpoint_url=args.endpoint)
        t = time.perf_counter()
        s3.upload_file(str(path), args.bucket, f"bench-direct/{uuid.uuid4().hex}",
                       Config=TransferConfig(multipart_chunksize=8 << 20, max_concurrency=10))
        direct = time.perf_counter() - t
        results["direct"] = {"upload_s": direct, "upload_mib_s": args.size / direct}
        print(f"direct boto3 upload: {direct:.1f} s ({args.size / direct:.0f} MiB/s)", flush=True)

        servers = [("ferroflow", [args.ferroflow, "server", "--host", "127.0.0.1"])]
        if args.mlflow:
            servers.append(("mlflow", [args.mlflow, "server", "--host", "127.0.0.1", "--workers", "1"]))
        for name, cmd in servers:
            d = work / name
            d.mkdir()
            proc, url = start(name, [*cmd, "--backend-store-uri", f"sqlite:///{d}/mlflow.db",
                                     "--artifacts-destination", f"s3://{args.bucket}/bench-{name}-{uuid.uuid4().hex[:8]}"], d, env)
            try:
                results[name] = through_proxy(name, proc, url, path, digest, size)
                print(name, json.dumps({k: round(v, 1) for k, v in results[name].items()}), flush=True)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    f = results["ferroflow"]
    rows = [("upload through the proxy", f"{f['upload_mib_s']:.0f} MiB/s", f"{f['upload_mib_s'] / results['direct']['upload_mib_s']:.0%} of direct boto3 ({results['direct']['upload_mib_s']:.0f} MiB/s)"),
            ("download through the proxy", f"{f['download_mib_s']:.0f} MiB/s", ""),
            ("server peak RSS, upload / download", f"{f['peak_rss_upload_mib']:.0f} / {f['peak_rss_download_mib']:.0f} MiB", f"idle {f['idle_rss_mib']:.0f} MiB")]
    if "mlflow" in results:
        m = results["mlflow"]
        rows += [("mlflow server: upload / download", f"{m['upload_mib_s']:.0f} / {m['download_mib_s']:.0f} MiB/s", ""),
                 ("mlflow server: peak RSS, upload / download", f"{m['peak_rss_upload_mib']:.0f} / {m['peak_rss_download_mib']:.0f} MiB", f"idle {m['idle_rss_mib']:.0f} MiB")]
    print(f"\n{args.size} MiB artifact, S3 at {args.endpoint}")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
