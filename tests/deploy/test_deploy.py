"""Checks of the deployment files in deploy/ that need no Docker engine and no cluster.

- deploy/Dockerfile (and the root .dockerignore): its stages, what the runtime stage holds,
  that every file it copies from the build context is in the checkout and in the context.
- deploy/docker-compose.yml and deploy/nginx.conf: the services, how they depend on each
  other, that the replicas share one database and one bucket, that nginx balances exactly
  over them and streams bodies.
- deploy/k8s/: every manifest validated offline against Kubernetes' OpenAPI schemas (strict),
  and the references between them (labels, ports, Secret and ConfigMap keys, the HPA target).

Where the files tell the server how to run (CMD, the compose command and environment, the
Deployment's args and env), the real `ferroflow` binary ($FERROFLOW_BIN) is started with
exactly that, on a free loopback port and with SQLite and a local directory standing in for
PostgreSQL and S3, and the health checks the files declare must answer.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.client
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = DEPLOY / "docker-compose.yml"
NGINX_CONF = DEPLOY / "nginx.conf"

BIN = os.environ.get("FERROFLOW_BIN") or str(Path.home() / ".cache/ferroflow/target-dev/debug/ferroflow")

# One fixed Kubernetes version for the schema validation.
K8S_VERSION = "1.30.0"

# What the S3 client reads besides the server's own variables (those come from --help).
S3_VARIABLES = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "MLFLOW_S3_ENDPOINT_URL",
    "MLFLOW_S3_IGNORE_TLS",
}

# How long a started server may take to answer its health check.
READY_WITHIN = 10.0


# --------------------------------------------------------------------------------------------
# The real binary's command line.


def clean_env(**extra: str) -> dict[str, str]:
    """An environment without any MLFLOW_*, FERROFLOW_* or AWS_* setting of the caller's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "FERROFLOW_", "AWS_")) and k not in ("COLUMNS", "LINES")
    }
    env.update(extra)
    return env


def run_bin(*args: str) -> str:
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"no ferroflow binary at {BIN}: build it or set FERROFLOW_BIN")
    out = subprocess.run([BIN, *args], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"{BIN} {' '.join(args)} failed: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="session")
def server_help() -> str:
    """`ferroflow server --help`, its wrapped lines joined into one."""
    return " ".join(run_bin("server", "--help").split())


@pytest.fixture(scope="session")
def top_help() -> str:
    return " ".join(run_bin("--help").split())


@pytest.fixture(scope="session")
def server_flags(server_help: str) -> set[str]:
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", server_help))
    flags |= set(re.findall(r"(?<![\w-])(-[a-zA-Z])(?=[ ,])", server_help))
    assert {"--host", "--port", "--backend-store-uri", "--artifacts-destination"} <= flags, flags
    return flags


@pytest.fixture(scope="session")
def readable_env(server_help: str, top_help: str) -> set[str]:
    """Every variable the server reads: the `[env: NAME=]` of its options, FERROFLOW_LOG
    when the help names it, and the S3 client's."""
    names = set(re.findall(r"\[env:\s*([A-Z][A-Z0-9_]*)=", server_help))
    assert {"MLFLOW_BACKEND_STORE_URI", "MLFLOW_ARTIFACTS_DESTINATION", "MLFLOW_HOST"} <= names, names
    if "FERROFLOW_LOG" in server_help or "FERROFLOW_LOG" in top_help:
        names.add("FERROFLOW_LOG")
    return names | S3_VARIABLES


def option_value(args: list[str], *names: str) -> str | None:
    """The value of the last `--name value` / `--name=value` / `-n value` in args."""
    found = None
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                found = args[i + 1]
            elif a.startswith(n + "="):
                found = a.split("=", 1)[1]
    return found


def with_option(args: list[str], value: str, *names: str) -> list[str]:
    """args with every occurrence of the option set to value (appended when absent)."""
    out, i, seen = [], 0, False
    while i < len(args):
        a = args[i]
        if a in names and i + 1 < len(args):
            out += [a, value]
            i += 2
            seen = True
            continue
        if any(a.startswith(n + "=") for n in names if n.startswith("--")):
            out.append(a.split("=", 1)[0] + "=" + value)
            seen = True
        else:
            out.append(a)
        i += 1
    return out if seen else out + [names[0], value]


def flags_of(args: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in args if a.startswith("-")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, host: str | None = None, timeout: float = 2.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_health(self, path: str, host: str | None = None) -> float:
        """Seconds until `path` answered 200; fails after READY_WITHIN."""
        start = time.monotonic()
        last = "no answer"
        while time.monotonic() - start < READY_WITHIN:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                status, body = get(self.port, path, host)
                if status == 200:
                    return time.monotonic() - start
                last = f"{status} {body[:200]}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        pytest.fail(f"{path} did not answer 200 within {READY_WITHIN} s (last: {last}):\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM, as Docker and the kubelet stop a container; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                pytest.fail(f"the server ignored SIGTERM for 10 s:\n{self.output()}")
        return self.proc.returncode


@contextlib.contextmanager
def serve(args: list[str], env: dict[str, str], cwd: Path, log: Path):
    """`ferroflow <args>` (host and port already set by the caller) until the block ends."""
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"no ferroflow binary at {BIN}: build it or set FERROFLOW_BIN")
    port = int(option_value(args, "--port", "-p"))
    assert option_value(args, "--host", "-h") == "127.0.0.1", "tests listen on loopback only"
    with open(log, "wb") as out:
        proc = subprocess.Popen([BIN, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, port, log)
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def loopback(args: list[str], port: int) -> list[str]:
    """args listening on 127.0.0.1:port instead of what the deployment file says."""
    return with_option(with_option(args, "127.0.0.1", "--host", "-h"), str(port), "--port", "-p")


# --------------------------------------------------------------------------------------------
# deploy/Dockerfile


class Stage:
    def __init__(self, base: str, name: str | None, index: int):
        self.base, self.name, self.index = base, name, index
        self.instructions: list[tuple[str, str]] = []

    def all(self, instruction: str) -> list[str]:
        return [v for i, v in self.instructions if i == instruction]

    def last(self, instruction: str) -> str | None:
        values = self.all(instruction)
        return values[-1] if values else None


@pytest.fixture(scope="session")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


@pytest.fixture(scope="session")
def stages(dockerfile: DockerfileParser) -> list[Stage]:
    bases = dockerfile.parent_images  # with the global ARGs' defaults substituted
    out: list[Stage] = []
    for item in dockerfile.structure:
        ins, value = item["instruction"], item["value"]
        if ins == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            out.append(Stage(bases[len(out)], name, len(out)))
        elif out and ins != "COMMENT":
            out[-1].instructions.append((ins, value))
    assert out, "no FROM in the Dockerfile"
    assert all("$" not in s.base for s in out), [s.base for s in out]
    return out


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), value
    return parsed


def copy_parts(value: str) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of a COPY/ADD value."""
    value = value.strip()
    flags: dict[str, str] = {}
    words = shlex.split(value) if not value.startswith("[") else None
    if words is None:
        parts = exec_form(value)
    else:
        parts = []
        for w in words:
            if w.startswith("--") and not parts:
                k, _, v = w[2:].partition("=")
                flags[k] = v
            else:
                parts.append(w)
    assert len(parts) >= 2, f"COPY needs a source and a destination: {value}"
    return flags, parts[:-1], parts[-1]


def image_version(base: str, repo: str) -> tuple[int, ...]:
    name, _, tag = base.partition(":")
    assert name in (repo, f"docker.io/library/{repo}", f"library/{repo}"), base
    m = re.match(r"(\d+(?:\.\d+)*)", tag)
    assert m, f"{base}: the tag names no version"
    return tuple(int(p) for p in m.group(1).split("."))


def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_dockerfile_has_node_rust_and_slim_runtime_stages(stages):
    names = [s.name for s in stages]
    assert len(stages) == 3, names
    ui, builder, runtime = stages
    assert ui.base.startswith("node:"), ui.base
    assert builder.base.startswith("rust:") and "bookworm" in builder.base, builder.base
    assert runtime.base in ("debian:bookworm-slim", "gcr.io/distroless/cc-debian12"), runtime.base
    # Every FROM --from reference names an earlier stage.
    for s in stages:
        for v in s.all("COPY"):
            src_stage = copy_parts(v)[0].get("from")
            if src_stage:
                assert src_stage in names[: s.index], f"stage {s.name} copies from unknown {src_stage}"


def test_dockerfile_syntax_line_enables_buildkit_mounts():
    first = DOCKERFILE.read_text().splitlines()[0]
    if "--mount=" in DOCKERFILE.read_text():
        assert re.fullmatch(r"#\s*syntax=docker/dockerfile:1(\.\d+)*", first), first


def test_rust_builder_is_at_least_the_toolchain_in_use(stages):
    builder = stages[1]
    version = image_version(builder.base, "rust")
    assert len(version) >= 2 and version >= (1, 95), builder.base
    rust_version = re.search(r'^rust-version\s*=\s*"([\d.]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    if rust_version:
        assert version >= tuple(int(p) for p in rust_version.group(1).split(".")), "below the workspace's rust-version"
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("no rustc here to compare with")
    out = subprocess.run([rustc, "--version"], capture_output=True, text=True, timeout=30).stdout
    in_use = tuple(int(p) for p in re.match(r"rustc (\d+)\.(\d+)\.(\d+)", out).groups())
    # The tag may omit the patch level (rust:1.95 is the newest 1.95.x).
    assert version >= in_use[: len(version)], f"{builder.base} is older than the {out.strip()} in use"


def test_node_stage_is_a_maintained_lts_and_builds_the_ui(stages):
    ui = stages[0]
    # Vite 8 needs Node 20.19 or later; 22 is the LTS line maintained in 2026.
    assert image_version(ui.base, "node")[0] >= 22, ui.base
    runs = " ".join(ui.all("RUN"))
    assert "npm ci" in runs and "npm run build" in runs, runs


def test_builder_embeds_the_ui_before_cargo_build(stages):
    ui, builder, _ = stages
    dist_copy = next(
        (n for n, (i, v) in enumerate(builder.instructions) if i == "COPY" and copy_parts(v)[0].get("from") == ui.name),
        None,
    )
    assert dist_copy is not None, "the builder never copies the UI stage's output"
    flags, sources, dest = copy_parts(builder.instructions[dist_copy][1])
    assert sources[0].rstrip("/").endswith("ui/dist"), sources
    workdir = builder.last("WORKDIR")
    assert posixpath.normpath(posixpath.join(workdir, dest)) == posixpath.join(workdir, "ui/dist"), dest
    build = next(
        (n for n, (i, v) in enumerate(builder.instructions) if i == "RUN" and "cargo build" in v),
        None,
    )
    assert build is not None and dist_copy < build, "ui/dist must be in place before cargo build runs"
    cmd = builder.instructions[build][1]
    for part in ("--release", "--locked", "-p ferroflow-cli"):
        assert part in cmd, f"cargo build lacks {part}: {cmd}"
    # ferroflow-cli is the package whose binary is `ferroflow`.
    cli = (ROOT / "crates/cli/Cargo.toml").read_text()
    assert re.search(r'^name\s*=\s*"ferroflow-cli"', cli, re.M)
    assert re.search(r'\[\[bin\]\]\s*name\s*=\s*"ferroflow"', cli)
    assert "target/release/ferroflow" in cmd


def test_every_copy_source_exists_and_is_in_the_build_context(stages):
    checked = []
    for s in stages:
        for v in s.all("COPY") + s.all("ADD"):
            flags, sources, _ = copy_parts(v)
            if "from" in flags:
                continue
            for src in sources:
                path = ROOT / src
                assert path.exists(), f"COPY {src}: not in the repository"
                assert not dockerignored(src.rstrip("/")), f"COPY {src}: excluded by .dockerignore"
                checked.append(src)
    assert {"Cargo.toml", "Cargo.lock", "crates", "ui/package-lock.json"} <= {c.rstrip("/") for c in checked}, checked
    assert any(c.rstrip("/") == "ui" for c in checked), checked


def test_dockerignore_keeps_every_tracked_source_of_the_copies(stages):
    """A pattern that is too wide (say **/*.sql) would drop files the build needs."""
    sources = [
        src.rstrip("/")
        for s in stages
        for v in s.all("COPY")
        if "from" not in copy_parts(v)[0]
        for src in copy_parts(v)[1]
    ]
    tracked = subprocess.run(
        ["git", "ls-files", "--", *sources], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    files = [f for f in tracked.stdout.splitlines() if f]
    assert len(files) > 20, files
    # ui/dist is rebuilt by the UI stage, never taken from the context.
    lost = [f for f in files if dockerignored(f) and not f.startswith("ui/dist/")]
    assert not lost, f".dockerignore drops files the image build copies: {lost}"


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        "target/debug/ferroflow",
        "crates/server/target/x",
        "ui/node_modules/vite/package.json",
        "tests/emulators/node_modules/x/index.js",
        "ui/dist/index.html",
        "mlflow.db",
        "examples/wine-quality/mlflow.db",
        "mlruns/0/meta.yaml",
        "mlartifacts/1/x",
        "tests/e2e/__pycache__/conftest.cpython-311.pyc",
        "tests/e2e/.pytest_cache/v/cache/lastfailed",
    ],
)
def test_dockerignore_excludes_build_output_and_local_data(path):
    assert dockerignored(path), path


def test_runtime_stage_installs_only_ca_certificates_and_no_python(stages):
    runtime = final(stages)
    assert not any(re.search(r"python|pypy|conda", s.base) for s in stages), [s.base for s in stages]
    runs = runtime.all("RUN")
    for run in runs:
        assert not re.search(r"\b(python[\d.]*|pip[\d.]*|pipx|virtualenv|conda|uv)\b", run), run
    installed = set()
    for run in runs:
        for cmd in re.split(r"&&|;|\|\|", run):
            words = cmd.split()
            if "apt-get" in words and "install" in words:
                assert "--no-install-recommends" in words, f"recommends would pull more: {cmd.strip()}"
                installed |= {w for w in words[words.index("install") + 1 :] if not w.startswith("-")}
            assert "apk" not in words and "dnf" not in words and "yum" not in words, cmd
    assert installed <= {"ca-certificates"}, installed
    if runtime.base.startswith("debian:"):
        assert installed == {"ca-certificates"}, "the runtime needs CA certificates for TLS"
    # Only the binary comes from the build stages.
    for v in runtime.all("COPY"):
        flags, sources, dest = copy_parts(v)
        assert flags.get("from") == stages[1].name and sources == ["/out/ferroflow"], v
    assert "/out/ferroflow" in " ".join(stages[1].all("RUN")), "the builder never puts the binary at /out/ferroflow"


def runtime_user(stages) -> tuple[int, int]:
    user = final(stages).last("USER")
    assert user, "the runtime stage has no USER: it would run as root"
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), f"USER {user}: a numeric uid lets Kubernetes' runAsNonRoot verify it"
    return int(uid), int(gid or uid)


def test_runtime_runs_as_a_non_root_user_owning_the_workdir(stages):
    runtime = final(stages)
    uid, gid = runtime_user(stages)
    assert uid != 0 and gid != 0
    runs = " ".join(runtime.all("RUN"))
    if runtime.base.startswith("debian:"):
        assert re.search(rf"useradd\b[^&;]*--uid {uid}\b", runs), f"no user with uid {uid} is created"
    workdir = runtime.last("WORKDIR")
    assert workdir and workdir != "/", workdir
    owned = re.search(rf"install -d -o {uid} -g {gid}\b[^&;]*\s{re.escape(workdir)}\b", runs) or re.search(
        rf"chown [^&;]*{uid}[^&;]*\s{re.escape(workdir)}\b", runs
    )
    assert owned, f"WORKDIR {workdir} is not made writable for uid {uid}"


def test_runtime_entrypoint_cmd_and_port(stages, server_flags):
    runtime = final(stages)
    entrypoint = exec_form(runtime.last("ENTRYPOINT"))
    cmd = exec_form(runtime.last("CMD"))
    assert entrypoint == ["ferroflow"]
    assert cmd == ["server", "--host", "0.0.0.0", "--port", "5000"]
    # `ferroflow` is on the image's PATH: the binary is copied into a PATH directory.
    dests = [copy_parts(v)[2] for v in runtime.all("COPY")]
    assert "/usr/local/bin/ferroflow" in dests or any(d.rstrip("/") == "/usr/local/bin" for d in dests), dests
    assert runtime.all("EXPOSE") == [option_value(cmd, "--port")], runtime.all("EXPOSE")
    for flag in flags_of(cmd):
        assert flag in server_flags, f"CMD uses {flag}, which `ferroflow server --help` does not list"


def test_runtime_env_names_are_read_by_the_server(stages, readable_env):
    for v in final(stages).all("ENV"):
        for name in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", v):
            assert name in readable_env, name


def test_the_image_command_serves_from_its_workdir(stages, tmp_path):
    """CMD as it is (only host and port changed), in an empty directory standing for
    WORKDIR: health answers, and the default database lands in that directory."""
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    port = free_port()
    cmd = loopback(exec_form(final(stages).last("CMD")), port)
    with serve(cmd, clean_env(HOME=str(tmp_path)), workdir, tmp_path / "log") as server:
        server.wait_health("/health")
        assert get(port, "/version", host=f"localhost:{port}")[0] == 200
        assert server.stop() == 0, server.output()
    assert (workdir / "mlflow.db").exists(), sorted(p.name for p in workdir.iterdir())


# .dockerignore, as Docker reads it: patterns relative to the context root, `**` for any number
# of directories, `*` and `?` within one name, `!` re-including, the last match deciding, and a
# path excluded when one of its parent directories is.


def _ignore_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.index("]", i)
            out += pattern[i : j + 1]
            i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def _ignore_patterns() -> list[tuple[bool, re.Pattern]]:
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = posixpath.normpath(line.lstrip("!").strip().lstrip("/"))
        patterns.append((negate, _ignore_regex(line)))
    return patterns


def dockerignored(path: str) -> bool:
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, rx in _ignore_patterns():
        if any(rx.match(p) for p in prefixes):
            excluded = not negate
    return excluded


# --------------------------------------------------------------------------------------------
# deploy/docker-compose.yml and deploy/nginx.conf

_COMPOSE_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution, recursively; a reference without a default that env
    does not set is an error (the file must run as it is)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("named")
        op, arg, val = m.group("op"), m.group("arg") or "", env.get(name)
        if op is None:
            if val is None:
                raise AssertionError(f"${{{name}}} has no default")
            return val
        if op == ":-":
            return val if val else arg
        if op == "-":
            return arg if val is None else val
        if op == ":+":
            return arg if val else ""
        if op == "+":
            return "" if val is None else arg
        missing = not val if op == ":?" else val is None
        if missing:
            raise AssertionError(f"${{{name}}} is required: {arg}")
        return val

    return _COMPOSE_VAR.sub(sub, value)


def expand_container_vars(text: str, env: dict[str, str]) -> str:
    """What a shell in the container makes of $NAME / ${NAME} (after compose turned $$ into $)."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        lambda m: env.get(m.group(1) or m.group(2), ""),
        text,
    )


@pytest.fixture(scope="session")
def compose_raw() -> dict:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services"
    return data


@pytest.fixture(scope="session")
def compose(compose_raw) -> dict:
    """The file as compose runs it with nothing set in the environment: every default."""
    return interpolate(compose_raw, {})


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    out = {}
    for k, v in env.items():
        assert v is not None, f"{k} is passed through from the host: it would be unset for a demo"
        out[k] = v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else str(v)
    return out


def command_of(service: dict) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def ports_of(service: dict) -> list[tuple[str | None, int, int]]:
    """(host ip, published, target) of each published port."""
    out = []
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip"), int(p["published"]), int(p["target"])))
            continue
        parts = str(p).split("/")[0].split(":")
        assert len(parts) in (2, 3), f"port {p}: publish it on a fixed host port"
        ip = parts[0] if len(parts) == 3 else None
        out.append((ip, int(parts[-2]), int(parts[-1])))
    return out


def replica_names(compose) -> list[str]:
    def is_replica(svc: dict) -> bool:
        build = svc.get("build")
        return isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile"

    return sorted(n for n, s in compose["services"].items() if is_replica(s))


def replica_settings(service: dict) -> tuple[str, str]:
    """(backend store URI, artifacts destination) as the replica's server sees them."""
    args, env = command_of(service), environment_of(service)
    backend = option_value(args, "--backend-store-uri") or env.get("MLFLOW_BACKEND_STORE_URI")
    dest = option_value(args, "--artifacts-destination") or env.get("MLFLOW_ARTIFACTS_DESTINATION")
    return backend, dest


def test_compose_has_every_service(compose):
    services = compose["services"]
    assert {"postgres", "minio", "bucket-init", "nginx"} <= set(services), sorted(services)
    assert replica_names(compose) == ["ferroflow-1", "ferroflow-2"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["minio"]["image"].startswith("minio/minio:")
    assert services["bucket-init"]["image"].startswith("minio/mc:")
    assert services["nginx"]["image"].startswith("nginx:")
    for name, svc in services.items():
        if "build" not in svc:
            tag = svc["image"].rpartition(":")[2]
            assert ":" in svc["image"] and tag not in ("", "latest"), f"{name}: pin the image ({svc['image']})"


def test_compose_runs_as_is_with_defaults(compose_raw):
    """Every ${VAR} has a default, and no setting comes out empty (an empty
    MLFLOW_SERVER_ALLOWED_HOSTS, say, would make the server refuse every Host)."""
    resolved = interpolate(compose_raw, {})
    for name, svc in resolved["services"].items():
        for k, v in environment_of(svc).items():
            assert v.strip(), f"{name}: {k} is empty with the defaults"


def test_compose_replicas_build_the_deploy_image(compose):
    for name in replica_names(compose):
        build = compose["services"][name]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT, f"{name}: the build context must be the repository root, not {context}"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_replicas_wait_for_the_database_and_the_bucket(compose):
    services = compose["services"]
    for name in replica_names(compose):
        deps = depends_on(services[name])
        assert deps.get("postgres") == "service_healthy", deps
        assert deps.get("bucket-init") == "service_completed_successfully", deps
    assert "pg_isready" in json.dumps(services["postgres"]["healthcheck"]["test"])
    assert services["minio"].get("healthcheck", {}).get("test"), "minio needs a healthcheck"
    assert depends_on(services["bucket-init"]).get("minio") == "service_healthy"
    assert depends_on(services["nginx"]) == {n: "service_healthy" for n in replica_names(compose)}
    for name in replica_names(compose):
        assert services[name].get("healthcheck", {}).get("test"), f"{name}: nginx waits for its health"


def test_compose_postgres_keeps_its_data_in_a_named_volume(compose):
    volumes = compose.get("volumes") or {}
    mounts = [str(v).split(":") for v in compose["services"]["postgres"].get("volumes") or []]
    named = [m for m in mounts if len(m) >= 2 and m[0] in volumes]
    assert any(m[1] == "/var/lib/postgresql/data" for m in named), mounts


def test_compose_replicas_share_one_database_and_one_bucket(compose):
    services = compose["services"]
    settings = {replica_settings(services[n]) for n in replica_names(compose)}
    assert len(settings) == 1, f"the replicas disagree: {settings}"
    backend, dest = settings.pop()

    pg = urllib.parse.urlsplit(backend)
    assert pg.scheme in ("postgresql", "postgres"), backend
    pg_env = environment_of(services["postgres"])
    assert pg.hostname == "postgres" and (pg.port or 5432) == 5432, backend
    assert urllib.parse.unquote(pg.username) == pg_env["POSTGRES_USER"]
    assert urllib.parse.unquote(pg.password) == pg_env["POSTGRES_PASSWORD"]
    assert pg.path.lstrip("/") == pg_env.get("POSTGRES_DB", pg_env["POSTGRES_USER"])
    sslmode = urllib.parse.parse_qs(pg.query).get("sslmode", ["prefer"])[0]
    assert sslmode == "disable", "the postgres image serves no TLS"

    s3 = urllib.parse.urlsplit(dest)
    assert s3.scheme == "s3" and s3.netloc and s3.path.strip("/"), dest
    minio_env = environment_of(services["minio"])
    for name in replica_names(compose):
        env = environment_of(services[name])
        endpoint = urllib.parse.urlsplit(env["MLFLOW_S3_ENDPOINT_URL"])
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == ("http", "minio", 9000), endpoint
        assert env["AWS_ACCESS_KEY_ID"] == minio_env["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == minio_env["MINIO_ROOT_PASSWORD"]
        assert env.get("AWS_DEFAULT_REGION"), "object_store needs a region, MinIO accepts any"
    # MinIO refuses to start with shorter credentials.
    assert len(minio_env["MINIO_ROOT_USER"]) >= 3 and len(minio_env["MINIO_ROOT_PASSWORD"]) >= 8

    # The init job creates exactly that bucket, on that MinIO, with those credentials.
    init = services["bucket-init"]
    script = expand_container_vars(" ".join(command_of(init)), environment_of(init))
    assert re.search(rf"\bmc mb\b[^&;]*\blocal/{re.escape(s3.netloc)}\b", script), script
    alias = re.search(r"\bmc alias set local (\S+) (\S+) (\S+)", script)
    assert alias, script
    assert [a.strip("\"'") for a in alias.groups()] == [
        "http://minio:9000",
        minio_env["MINIO_ROOT_USER"],
        minio_env["MINIO_ROOT_PASSWORD"],
    ]


def test_compose_replicas_set_only_variables_the_server_reads(compose, readable_env, server_flags):
    for name in replica_names(compose):
        svc = compose["services"][name]
        unknown = set(environment_of(svc)) - readable_env
        assert not unknown, f"{name} sets {unknown}, which neither the server nor its S3 client reads"
        args = command_of(svc)
        assert args[0] == "server", args
        for flag in flags_of(args):
            assert flag in server_flags, f"{name}: {flag} is not a `ferroflow server` option"
        assert option_value(args, "--host") == "0.0.0.0", "listen on every interface in the container"


def nginx_parse(text: str) -> list:
    """nginx.conf as nested [(directive, [args], children or None)]."""
    tokens = re.findall(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|#[^\n]*|[{};]|[^\s{};\"'#]+", text)
    tokens = [t for t in tokens if not t.startswith("#")]
    pos = 0

    def block() -> list:
        nonlocal pos
        out = []
        while pos < len(tokens):
            t = tokens[pos]
            if t == "}":
                pos += 1
                return out
            words = []
            while tokens[pos] not in (";", "{", "}"):
                words.append(tokens[pos].strip("\"'"))
                pos += 1
            assert words, f"empty directive near token {pos}"
            if tokens[pos] == ";":
                pos += 1
                out.append((words[0], words[1:], None))
            elif tokens[pos] == "{":
                pos += 1
                out.append((words[0], words[1:], block()))
            else:
                raise AssertionError(f"missing ; after {words}")
        return out

    parsed = block()
    assert pos == len(tokens), "unbalanced braces in nginx.conf"
    return parsed


def directives(tree: list, name: str) -> list:
    return [d for d in tree if d[0] == name]


def one(tree: list, name: str):
    found = directives(tree, name)
    assert len(found) == 1, f"{name}: {len(found)} times"
    return found[0]


def effective(name: str, *levels: list) -> list[str] | None:
    """A directive's args as nginx inherits them (innermost level wins)."""
    for level in reversed(levels):
        found = directives(level, name)
        if found:
            return found[-1][1]
    return None


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", value)
    assert m, value
    return int(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


def test_nginx_balances_round_robin_over_exactly_the_replicas(compose):
    tree = nginx_parse(NGINX_CONF.read_text())
    one(tree, "events")
    http = one(tree, "http")[2]
    upstreams = directives(http, "upstream")
    assert len(upstreams) == 1, upstreams
    _, (upstream_name,), upstream = upstreams[0]
    for method in ("ip_hash", "hash", "least_conn", "least_time", "random", "sticky"):
        assert not directives(upstream, method), f"{method}: the upstream should be round robin"
    servers = {d[1][0] for d in directives(upstream, "server")}
    ports = {option_value(command_of(compose["services"][n]), "--port") for n in replica_names(compose)}
    assert ports == {"5000"}, ports
    assert servers == {f"{n}:5000" for n in replica_names(compose)}, servers

    (server,) = [d[2] for d in directives(http, "server")]
    locations = directives(server, "location")
    assert [l[1] for l in locations] == [["/"]], locations
    location = locations[0][2]
    assert one(location, "proxy_pass")[1] == [f"http://{upstream_name}"]


def test_nginx_streams_large_bodies_with_generous_timeouts(compose):
    tree = nginx_parse(NGINX_CONF.read_text())
    http = one(tree, "http")[2]
    (server,) = [d[2] for d in directives(http, "server")]
    location = one(server, "location")[2]
    levels = (http, server, location)
    assert effective("client_max_body_size", *levels) == ["0"], "uploads of any size"
    assert effective("proxy_request_buffering", *levels) == ["off"], "uploads must stream to the replica"
    assert effective("proxy_buffering", *levels) == ["off"], "downloads must stream to the client"
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        value = effective(timeout, *levels)
        assert value and seconds(value[0]) >= 300, f"{timeout} {value}: nginx's 60 s default cuts long transfers"
    # The replicas check the Host header: nginx must pass the client's on, not its upstream name.
    hosts = [d[1] for d in directives(location, "proxy_set_header") if d[1][0].lower() == "host"]
    assert hosts in ([["Host", "$http_host"]], [["Host", "$host"]]), hosts


def test_nginx_is_published_on_port_5000_and_mounts_this_config(compose):
    nginx = compose["services"]["nginx"]
    ports = ports_of(nginx)
    assert [p[1] for p in ports] == [5000], ports
    server = one(one(nginx_parse(NGINX_CONF.read_text()), "http")[2], "server")[2]
    listens = {int(d[1][0].rsplit(":", 1)[-1]) for d in directives(server, "listen")}
    assert listens == {ports[0][2]}, f"nginx listens on {listens}, compose publishes {ports[0][2]}"
    mounts = [str(v).split(":") for v in nginx.get("volumes") or []]
    conf = [m for m in mounts if (COMPOSE.parent / m[0]).resolve() == NGINX_CONF]
    assert conf and conf[0][1] == "/etc/nginx/nginx.conf", mounts
    # The replicas themselves are reached through nginx only.
    for name in replica_names(compose):
        assert not compose["services"][name].get("ports"), f"{name} publishes a port"


def replica_run_args(compose, name: str, port: int, tmp: Path) -> tuple[list[str], dict[str, str]]:
    svc = compose["services"][name]
    args = loopback(command_of(svc), port)
    args = with_option(args, str(tmp / "artifacts"), "--artifacts-destination")
    env = environment_of(svc)
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    env["MLFLOW_BACKEND_STORE_URI"] = f"sqlite:///{tmp}/mlflow.db"
    return args, env


def test_compose_replica_command_serves_and_passes_its_healthcheck(compose, tmp_path):
    """A replica's command and environment as compose gives them (SQLite and a directory in
    place of PostgreSQL and MinIO), with its own healthcheck command run against it."""
    port = free_port()
    args, env = replica_run_args(compose, "ferroflow-1", port, tmp_path)
    test = compose["services"]["ferroflow-1"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["bash", "-c"], test
    probe = re.search(r"/dev/tcp/([^/\s]+)/(\d+)", test[3])
    assert probe and probe.group(1) in ("127.0.0.1", "localhost"), test[3]
    assert probe.group(2) == option_value(command_of(compose["services"]["ferroflow-1"]), "--port")
    check = [test[1], test[2], test[3].replace(probe.group(0), f"/dev/tcp/127.0.0.1/{port}")]

    def healthcheck() -> int:
        return subprocess.run(check, env={"PATH": os.environ["PATH"]}, capture_output=True, timeout=10).returncode

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with serve(args, clean_env(HOME=str(tmp_path), **env), cwd, tmp_path / "log") as server:
        server.wait_health("/health")
        assert healthcheck() == 0, server.output()
        # A browser on the published port, through nginx's `Host $http_host`.
        assert get(port, "/version", host="localhost:5000")[0] == 200, server.output()
        assert get(port, "/version", host="attacker.example")[0] == 403
        assert server.stop() == 0, server.output()
    assert healthcheck() != 0, "the healthcheck passes with no server"
    assert (tmp_path / "mlflow.db").exists()
    assert not list(cwd.iterdir()), "the replica wrote into its working directory"


def test_compose_replicas_serve_side_by_side_on_one_database(compose, tmp_path):
    """Both replicas' commands at once, on one database: each is healthy and answers from
    the shared store. (They start one after the other: SQLite stands in for PostgreSQL, whose
    concurrent first starts serialize on an advisory lock.)"""
    servers = []
    with contextlib.ExitStack() as stack:
        for n, name in enumerate(replica_names(compose)):
            port = free_port()
            args, env = replica_run_args(compose, name, port, tmp_path)
            cwd = tmp_path / f"cwd{n}"
            cwd.mkdir()
            s = stack.enter_context(serve(args, clean_env(HOME=str(tmp_path), **env), cwd, tmp_path / f"log{n}"))
            s.wait_health("/health")
            servers.append(s)
        for s in servers:
            status, body = get(s.port, "/api/2.0/mlflow/experiments/search?max_results=10", host="localhost:5000")
            assert status == 200 and "Default" in body, body
        for s in servers:
            assert s.stop() == 0, s.output()


# --------------------------------------------------------------------------------------------
# deploy/k8s/


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.iterdir() if p.suffix in (".yaml", ".yml") and p.name != "kustomization.yaml")


@pytest.fixture(scope="session")
def manifests() -> list[dict]:
    docs = []
    for f in k8s_files():
        for doc in yaml.safe_load_all(f.read_text()):
            if doc is not None:
                docs.append(doc)
    return docs


def of_kind(manifests: list[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m["kind"] == kind]


@pytest.fixture(scope="session")
def deployment(manifests) -> dict:
    (d,) = of_kind(manifests, "Deployment")
    return d


@pytest.fixture(scope="session")
def container(deployment) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


@pytest.fixture(scope="session")
def secrets(manifests) -> dict[str, dict[str, str]]:
    out = {}
    for s in of_kind(manifests, "Secret"):
        data = {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}
        data.update({k: str(v) for k, v in (s.get("stringData") or {}).items()})
        out[s["metadata"]["name"]] = data
    return out


@pytest.fixture(scope="session")
def configmaps(manifests) -> dict[str, dict[str, str]]:
    return {
        c["metadata"]["name"]: {k: str(v) for k, v in (c.get("data") or {}).items()}
        for c in of_kind(manifests, "ConfigMap")
    }


def resolve_env(container: dict, secrets: dict, configmaps: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, env over it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = configmaps[source["configMapRef"]["name"]]
        else:
            data = secrets[source["secretRef"]["name"]]
        env.update({prefix + k: v for k, v in data.items()})
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        ref = e["valueFrom"]
        if "secretKeyRef" in ref:
            env[e["name"]] = secrets[ref["secretKeyRef"]["name"]][ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            env[e["name"]] = configmaps[ref["configMapKeyRef"]["name"]][ref["configMapKeyRef"]["key"]]
        else:
            raise AssertionError(f"{e['name']}: unsupported valueFrom {ref}")
    return env


@pytest.mark.parametrize("path", k8s_files(), ids=lambda p: p.name)
def test_k8s_manifest_validates_strictly(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs, f"{path.name} is empty"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{path.name} ({doc.get('kind')}): {'.'.join(map(str, e.path))}: {e.message}")


def test_k8s_validation_catches_a_misspelled_field(deployment):
    """The validator is strict: an unknown field fails."""
    broken = copy.deepcopy(deployment)
    probe = {"httpGet": {"path": "/health", "port": 5000}}
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = probe
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), resources
    assert sorted(resources) == [p.name for p in k8s_files()]
    for image in kustomization.get("images") or []:
        assert image["name"] == "ferroflow"


def test_kustomize_builds_the_whole_set(deployment):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed here")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    built = [d for d in yaml.safe_load_all(out.stdout) if d]
    kinds = sorted(d["kind"] for d in built)
    assert kinds == sorted(d["kind"] for f in k8s_files() for d in yaml.safe_load_all(f.read_text()) if d)
    for d in built:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    (dep,) = [d for d in built if d["kind"] == "Deployment"]
    images = yaml.safe_load((K8S / "kustomization.yaml").read_text()).get("images") or []
    if images:
        want = f"{images[0].get('newName', 'ferroflow')}:{images[0]['newTag']}"
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == want


def test_k8s_labels_and_selectors_agree(manifests, deployment):
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.get("app.kubernetes.io/name") == "ferroflow"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert deployment["spec"]["replicas"] == 2
    (service,) = of_kind(manifests, "Service")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert service["spec"]["selector"].items() <= pod_labels.items(), "the Service selects no pod"
    for pdb in of_kind(manifests, "PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert pdb["spec"]["minAvailable"] == 1
        assert "maxUnavailable" not in pdb["spec"], "the API server refuses both minAvailable and maxUnavailable"
    for m in manifests:
        assert m["metadata"]["labels"]["app.kubernetes.io/name"] == "ferroflow", m["kind"]


def test_k8s_ports_and_probes_name_the_container_port(manifests, container, stages):
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 5000}
    assert str(ports["http"]) == option_value(container["args"], "--port")
    assert final(stages).all("EXPOSE") == ["5000"]
    (service,) = of_kind(manifests, "Service")
    (sport,) = service["spec"]["ports"]
    assert sport["port"] == 80 and sport["targetPort"] == "http"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe == "startupProbe" and probe not in container:
            continue
        get_ = container[probe]["httpGet"]
        assert get_["path"] == "/health" and get_["port"] == "http", (probe, get_)
        assert container[probe].get("timeoutSeconds", 1) >= 1
    ready, live = container["readinessProbe"], container["livenessProbe"]
    # Liveness is the more patient of the two: a busy pod leaves the Service before it is killed.
    assert live.get("periodSeconds", 10) * live.get("failureThreshold", 3) > ready.get("periodSeconds", 10) * ready.get(
        "failureThreshold", 3
    )


def test_k8s_pod_is_locked_down(deployment, container, stages):
    pod = deployment["spec"]["template"]["spec"]
    sc = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
    uid, gid = runtime_user(stages)
    assert pod["securityContext"].get("runAsUser", uid) == uid, "runAsUser differs from the image's USER"
    assert pod["securityContext"].get("runAsGroup", gid) == gid
    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert tmp, "no writable /tmp"
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp[0]["name"]]
    assert "emptyDir" in volume
    # Requests and limits both (the HPA's CPU utilization is relative to the request).
    res = container["resources"]
    assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])
    assert container.get("args", [None])[0] == "server"
    assert "command" not in container, "the image's ENTRYPOINT is ferroflow"


def test_k8s_env_references_exist(container, secrets, configmaps):
    refs = 0
    for e in container.get("env") or []:
        ref = e.get("valueFrom") or {}
        for kind, store in (("secretKeyRef", secrets), ("configMapKeyRef", configmaps)):
            if kind in ref:
                refs += 1
                name, key = ref[kind]["name"], ref[kind]["key"]
                assert name in store, f"{e['name']}: no {kind[:-6]} named {name}"
                assert key in store[name], f"{e['name']}: {name} has no key {key}"
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] in configmaps
        if "secretRef" in source:
            assert source["secretRef"]["name"] in secrets
    assert refs >= 3
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]
    assert "secretKeyRef" in env["AWS_ACCESS_KEY_ID"]["valueFrom"]
    assert "secretKeyRef" in env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]


def test_k8s_sets_only_variables_the_server_reads(container, secrets, configmaps, readable_env, server_flags):
    env = resolve_env(container, secrets, configmaps)
    unknown = set(env) - readable_env
    assert not unknown, f"the Deployment sets {unknown}, which neither the server nor its S3 client reads"
    assert all(v.strip() for v in env.values()), env
    for flag in flags_of(container["args"]):
        assert flag in server_flags, flag
    assert urllib.parse.urlsplit(env["MLFLOW_ARTIFACTS_DESTINATION"]).scheme == "s3"


def test_k8s_secret_holds_only_placeholders(manifests):
    (secret,) = of_kind(manifests, "Secret")
    assert secret["type"] == "Opaque"
    assert not secret.get("data"), "committed values belong in stringData, as placeholders"
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, f"{key} is not a placeholder"
    uri = urllib.parse.urlsplit(secret["stringData"]["backend-store-uri"])
    assert uri.scheme == "postgresql" and uri.hostname and uri.path.strip("/"), uri
    assert urllib.parse.parse_qs(uri.query).get("sslmode", ["prefer"])[0] in (
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    )


def test_k8s_hpa_targets_the_deployment(manifests, deployment):
    (hpa,) = of_kind(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        deployment["kind"],
        deployment["metadata"]["name"],
    )
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]


def test_k8s_container_serves_with_its_args_and_env(manifests, deployment, container, secrets, configmaps, tmp_path):
    """The container's args and env as the kubelet would give them (SQLite and a directory in
    place of PostgreSQL and S3): every probe answers, a kubelet-style Host included; in-cluster
    names of the Service are accepted and others refused; nothing is written to the (read-only)
    working directory; SIGTERM stops it cleanly within the grace period."""
    env = resolve_env(container, secrets, configmaps)
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    env["MLFLOW_BACKEND_STORE_URI"] = f"sqlite:///{tmp_path}/mlflow.db"
    env["MLFLOW_ARTIFACTS_DESTINATION"] = str(tmp_path / "artifacts")
    port = free_port()
    args = loopback(container["args"], port)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (service,) = of_kind(manifests, "Service")
    name = service["metadata"]["name"]
    with serve(args, clean_env(HOME=str(tmp_path), **env), cwd, tmp_path / "log") as server:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in container:
                # The kubelet connects to the pod IP and sends it as the Host.
                server.wait_health(container[probe]["httpGet"]["path"], host="10.244.1.17:5000")
        for host in (name, f"{name}.mlops.svc.cluster.local", "localhost:5000"):
            status, body = get(port, "/version", host=host)
            assert status == 200, f"Host {host}: {status} {body}"
        assert get(port, "/version", host="attacker.example")[0] == 403
        grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        started = time.monotonic()
        assert server.stop() == 0, server.output()
        assert time.monotonic() - started < grace
    assert not list(cwd.iterdir()), "the server wrote into its working directory, read-only in the pod"
    assert (tmp_path / "mlflow.db").exists()
