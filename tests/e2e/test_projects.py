"""`ferroflow run`: MLproject directories and git repositories, run as MLflow runs that the
project's own script (using the official client) logs into."""

import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import mlflow
import pytest

from conftest import BIN, DATA, ROOT, Server, client_on, MLFLOW_3, mlflow3_schema

EXAMPLES = ROOT / "examples"


def ff_env(**extra):
    """The environment of a user's shell: the test venv's python (with mlflow) first on
    PATH, no tracking URI unless given, and a private cache for git mirrors and envs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["WINE_DATA"] = str(DATA / "winequality-red.csv")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ff_run(*args, cwd, env, check=True, timeout=300):
    p = subprocess.run([BIN, "run", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"ferroflow run {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def run_id_of(p):
    for line in p.stderr.splitlines():
        if line.startswith("Run ") and "(experiment" in line:
            return line.split()[1]
    raise AssertionError(f"no run id in:\n{p.stderr}")


@pytest.fixture
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ffcache")


def test_seed_002_order_ui_first_then_projects_in_the_same_directory(workdir, cache):
    # Seed 002: `mlflow ui` in the project's directory, then `mlflow run` there while it runs.
    project = workdir / "wine"
    shutil.copytree(EXAMPLES / "wine-quality", project)
    server = Server(project).start()
    try:
        env = ff_env(FERROFLOW_CACHE_DIR=cache)
        main = ff_run(".", "--env-manager", "local", cwd=project, env=env)
        assert f"Logging to the ferroflow server at {server.url}" in main.stderr
        huber = ff_run("-e", "huber", ".", "-P", "alpha=0.47", "-P", "epsilon=1", "--env-manager=local", cwd=project, env=env)
        clf = ff_run("-e", "classifier", ".", "--experiment-name", "classifier", "--env-manager", "local", cwd=project, env=env)

        client = client_on(server.url)
        r = client.get_run(run_id_of(huber))
        assert r.info.status == "FINISHED"
        assert r.data.params == {"alpha": "0.47", "epsilon": "1", "data": ""}
        assert r.data.tags["mlflow.source.type"] == "PROJECT"
        assert r.data.tags["mlflow.project.entryPoint"] == "huber"
        assert r.data.tags["mlflow.project.env"] == "local"
        assert r.data.tags["mlflow.source.name"] == str(project)
        assert set(r.data.metrics) == {"rmse", "mae", "r2"}
        # MLflow 3 keeps the model as a logged model; 2.x among the run's artifacts.
        assert [a.path for a in client.list_artifacts(r.info.run_id)] == (["residuals.png"] if MLFLOW_3 else ["model", "residuals.png"])
        # The artifacts went through the server's proxy into ./mlruns/<experiment>/<run>, as in the seed.
        assert (project / "mlruns" / "0" / r.info.run_id / "artifacts" / "residuals.png").is_file()
        assert client.get_run(run_id_of(main)).data.params["alpha"] == "0.5"
        exp = client.get_experiment_by_name("classifier")
        c = client.get_run(run_id_of(clf))
        assert c.info.experiment_id == exp.experiment_id and "accuracy" in c.data.metrics
        assert (project / ".mlflow.db.ferroflow-server").is_file()
        # "A new directory mlruns/1 holds the new experiment's models" (seed 002): MLflow 3's
        # logged models of the experiment, under mlruns/<experiment_id>/models.
        if MLFLOW_3:
            assert list((project / "mlruns" / exp.experiment_id / "models").glob("m-*/artifacts/MLmodel"))
        else:
            assert (project / "mlruns" / exp.experiment_id / c.info.run_id / "artifacts" / "model" / "MLmodel").is_file()
        # `mlflow experiments create -n classificacao`, then `experiments list`, in the same shell.
        cli = lambda *a: subprocess.run([BIN, *a], cwd=project, env=env, capture_output=True, text=True, timeout=60)
        created = cli("experiments", "create", "-n", "classificacao")
        assert created.returncode == 0, created.stderr
        listed = cli("experiments", "list")
        assert "classificacao" in listed.stdout and "classifier" in listed.stdout, listed.stdout
        # `mlflow models serve -m mlruns/1/<ID>/artifacts/model/ --port 5001`, verbatim.
        port = __import__("conftest").free_port()
        serve = subprocess.Popen([BIN, "models", "serve", "-m", f"mlruns/{exp.experiment_id}/{c.info.run_id}/artifacts/model/",
                                  "--port", str(port), "--env-manager", "local"], cwd=project, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            import requests
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            columns = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
                       "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]
            row = [-0.96860107, 0.16580424, 0.55633228, 0.97056386, 0.09408896, 1.03266429, 0.20843976, -0.05401888,
                   -0.61083071, 0.85930445, 0.34699202]
            resp = requests.post(f"http://127.0.0.1:{port}/invocations", data=__import__("json").dumps({"columns": columns, "data": [row]}),
                              headers={"Content-Type": "application/json; format=pandas-split"}, timeout=60)
            assert resp.status_code == 200 and isinstance(resp.json(), list) and len(resp.json()) == 1, resp.text
        finally:
            serve.terminate()
            out = serve.communicate(timeout=30)[0]
        # With MLflow 3 that path is no directory: one line says which logged model it is.
        assert ("logged model m-" in out) == MLFLOW_3, out

        # A `path` parameter given as a URI is downloaded first; the run logs the URI.
        reader = workdir / "reader"
        reader.mkdir()
        (reader / "MLproject").write_text(
            "entry_points:\n  main:\n    parameters:\n      plot: path\n"
            "    command: \"python -c 'import os, sys; print(\\\"size\\\", os.path.getsize(sys.argv[1]))' {plot}\"\n"
        )
        uri = f"runs:/{r.info.run_id}/residuals.png"
        got = ff_run(str(reader), "-P", f"plot={uri}", cwd=project, env=env)
        size = (project / "mlruns" / "0" / r.info.run_id / "artifacts" / "residuals.png").stat().st_size
        assert f"size {size}" in got.stdout and f"Downloading {uri} for parameter 'plot'" in got.stderr
        assert client.get_run(run_id_of(got)).data.params == {"plot": uri}
        missing = ff_run(str(reader), "-P", f"plot=runs:/{r.info.run_id}/nope.png", cwd=project, env=env, check=False)
        assert missing.returncode == 1 and "parameter 'plot' (type path): cannot download" in missing.stderr
    finally:
        server.stop()
    assert not (project / ".mlflow.db.ferroflow-server").exists()


@mlflow3_schema
def test_default_sqlite_store_and_the_digits_example(workdir, cache):
    # No server and no MLFLOW_TRACKING_URI: ./mlflow.db and ./mlruns, as MLflow does.
    p = ff_run(str(EXAMPLES / "digits"), "-P", "epochs=3", "-P", "learning_rate=0.01", "-P", "batch_size=64",
               "--env-manager", "local", "--run-name", "digits-3", cwd=workdir, env=ff_env(FERROFLOW_CACHE_DIR=cache))
    run_id = run_id_of(p)
    client = mlflow.MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    r = client.get_run(run_id)
    assert r.info.run_name == "digits-3" and r.info.status == "FINISHED"
    assert r.data.params["epochs"] == "3" and r.data.params["batch_size"] == "64"
    history = client.get_metric_history(run_id, "test_acc")
    assert [m.step for m in history] == [1, 2, 3]
    version = client.get_model_version("digits_mlp", "1")
    assert version.run_id == run_id
    assert (workdir / "mlruns" / "0").is_dir()


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


def rev(ref, cwd):
    return subprocess.run(["git", "rev-parse", ref], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path_factory):
    """A git repository with a project in `proj/`: tag v1, main (two commits), branch feature."""
    r = tmp_path_factory.mktemp("repo")
    (r / "proj").mkdir()
    mlproject = r / "proj" / "MLproject"
    body = ("name: g\nentry_points:\n  main:\n    parameters:\n      n: {type: int, default: 1}\n"
            "    command: \"python -c 'import sys; print(\\\"LABEL\\\", sys.argv[1:])' {n}\"\n")
    git("init", "-q", "-b", "main", cwd=r)
    mlproject.write_text(body.replace("LABEL", "label-one"))
    git("add", "-A", cwd=r)
    git("commit", "-qm", "one", cwd=r)
    git("tag", "v1", cwd=r)
    mlproject.write_text(body.replace("LABEL", "label-two"))
    git("commit", "-qam", "two", cwd=r)
    git("checkout", "-qb", "feature", cwd=r)
    mlproject.write_text(body.replace("LABEL", "label-feature"))
    git("commit", "-qam", "three", cwd=r)
    git("checkout", "-q", "main", cwd=r)
    return r


@mlflow3_schema
def test_git_sources_with_subdirectory_and_version(workdir, cache, repo):
    env = ff_env(FERROFLOW_CACHE_DIR=cache)
    url = f"file://{repo}#proj"
    head = ff_run(url, "--version", "main", "-P", "n=5", cwd=workdir, env=env)
    assert "label-two ['5']" in head.stdout and "Cloning" in head.stderr
    tagged = ff_run(url, "--version", "v1", cwd=workdir, env=env)
    assert "label-one ['1']" in tagged.stdout and "Fetching" in tagged.stderr
    branch = ff_run(f"{repo}#proj", "--version", "feature", cwd=workdir, env=env)
    assert "label-feature" in branch.stdout
    client = mlflow.MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    t = client.get_run(run_id_of(tagged)).data.tags
    assert t["mlflow.source.git.commit"] == rev("v1", repo)
    assert t["mlflow.source.git.repoURL"] == f"file://{repo}"
    assert t["mlflow.source.name"] == url
    assert "mlflow.source.git.branch" not in t
    b = client.get_run(run_id_of(branch)).data.tags
    assert b["mlflow.source.git.branch"] == "feature" and b["mlflow.source.git.commit"] == rev("feature", repo)
    # A local repository without --version runs in place, with its commit recorded.
    local = ff_run(f"{repo}#proj", cwd=workdir, env=env)
    assert client.get_run(run_id_of(local)).data.tags["mlflow.source.git.commit"] == rev("main", repo)

    runs_before = len(client.search_runs(["0"]))
    for args, message in [
        ((url, "--version", "nope"), "has no commit, branch or tag 'nope'"),
        ((f"file://{repo}#nope", "--version", "main"), "has no subdirectory 'nope'"),
        (("https://127.0.0.1:9/nothing.git",), "cannot clone https://127.0.0.1:9/nothing.git"),
        ((str(workdir), "--version", "v1"), "is not a git repository"),
    ]:
        p = ff_run(*args, cwd=workdir, env=env, check=False)
        assert p.returncode == 1 and message in p.stderr, p.stderr
    assert len(client.search_runs(["0"])) == runs_before


def env_project(root, body):
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLproject").write_text(
        "python_env: python_env.yaml\nentry_points:\n  main:\n"
        "    command: \"python -c 'import sys, six; print(\\\"prefix\\\", sys.prefix, six.__version__)'\"\n"
    )
    (root / "python_env.yaml").write_text(body)
    return root


@mlflow3_schema
def test_virtualenv_and_uv_environments_are_built_once(workdir, cache):
    project = env_project(workdir / "p", 'python: "3.11"\nbuild_dependencies:\n  - pip\ndependencies:\n  - six==1.16.0\n')
    env = ff_env(FERROFLOW_CACHE_DIR=cache)
    first = ff_run(str(project), cwd=workdir, env=env)
    assert "Creating a virtualenv environment" in first.stderr and "Installing dependencies: six==1.16.0" in first.stderr
    prefix = next(line.split()[1] for line in first.stdout.splitlines() if line.startswith("prefix"))
    assert prefix.startswith(str(cache / "envs" / "virtualenv-")) and first.stdout.strip().endswith("1.16.0")
    second = ff_run(str(project), cwd=workdir, env=env)
    assert f"Using the environment in {prefix}" in second.stderr and "Creating" not in second.stderr
    client = mlflow.MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    assert client.get_run(run_id_of(second)).data.tags["mlflow.project.env"] == "virtualenv"

    uv = os.environ.get("FERROFLOW_TEST_UV")
    assert uv, "scripts/test.sh sets FERROFLOW_TEST_UV to a uv binary"
    uv_env = ff_env(FERROFLOW_CACHE_DIR=cache, PATH=f"{pathlib.Path(uv).parent}{os.pathsep}{env['PATH']}")
    with_uv = ff_run(str(project), "--env-manager", "uv", cwd=workdir, env=uv_env)
    assert "Creating a uv environment" in with_uv.stderr
    assert f"prefix {cache}/envs/uv-" in with_uv.stdout
    assert client.get_run(run_id_of(with_uv)).data.tags["mlflow.project.env"] == "uv"
    # Without uv on PATH, a clear error before any run exists.
    no_uv = ff_run(str(project), "--env-manager", "uv", cwd=workdir, check=False,
                   env=ff_env(FERROFLOW_CACHE_DIR=cache, PATH=f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin"))
    assert no_uv.returncode == 1 and "--env-manager uv needs the uv command on PATH" in no_uv.stderr


@mlflow3_schema
def test_a_failing_command_fails_the_run_and_its_exit_code_propagates(workdir, cache):
    project = workdir / "p"
    project.mkdir()
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: \"echo about to fail; exit 3\"\n")
    p = ff_run(str(project), cwd=workdir, env=ff_env(FERROFLOW_CACHE_DIR=cache), check=False)
    assert p.returncode == 3 and "about to fail" in p.stdout
    r = mlflow.MlflowClient(f"sqlite:///{workdir}/mlflow.db").get_run(run_id_of(p))
    assert r.info.status == "FAILED" and r.info.end_time
    assert r.data.tags["ferroflow.project.failure"] == "the command exited with status 3"


@mlflow3_schema
def test_an_interrupted_run_is_killed(workdir, cache):
    project = workdir / "p"
    project.mkdir()
    (project / "MLproject").write_text(
        "entry_points:\n  main:\n    command: \"python -c 'import time; print(\\\"started\\\", flush=True); time.sleep(120)'\"\n"
    )
    proc = subprocess.Popen([BIN, "run", str(project)], cwd=workdir, env=ff_env(FERROFLOW_CACHE_DIR=cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    r = mlflow.MlflowClient(f"sqlite:///{workdir}/mlflow.db").get_run(run_id_of(subprocess.CompletedProcess([], 0, out, err)))
    assert r.info.status == "KILLED" and r.info.end_time


@mlflow3_schema
def test_scripts_without_mlproject_extra_parameters_and_experiment_flags(workdir, cache):
    project = workdir / "scripts"
    project.mkdir()
    (project / "train.py").write_text("import sys; print('argv', sys.argv[1:])\n")
    (project / "run.sh").write_text("echo shell \"$@\"\n")
    env = ff_env(FERROFLOW_CACHE_DIR=cache)
    client = mlflow.MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    p = ff_run(str(project), "-e", "train.py", "-P", "alpha=0.5", "-P", "name=a b", "--experiment-name", "scripts", cwd=workdir, env=env)
    assert "argv ['--alpha', '0.5', '--name', 'a b']" in p.stdout
    r = client.get_run(run_id_of(p))
    assert r.data.params == {"alpha": "0.5", "name": "a b"}
    exp_id = client.get_experiment_by_name("scripts").experiment_id
    assert r.info.experiment_id == exp_id
    sh = ff_run(str(project), "-e", "run.sh", "--experiment-id", exp_id, "--run-name", "by-shell", cwd=workdir, env=env)
    assert "shell" in sh.stdout
    assert client.get_run(run_id_of(sh)).info.run_name == "by-shell"
    # The 1.x form of --env-manager local.
    assert ff_run(str(project), "-e", "train.py", "--no-conda", cwd=workdir, env=env).returncode == 0


BAD = [
    ("", ("-e", "main"), "has no MLproject file, so the entry point must be a .py or .sh file"),
    ("entry_points:\n  main:\n    command: \"echo {n}\"\n    parameters:\n      n: int\n", ("-e", "lasso"),
     "entry point 'lasso' is not in"),
    ("entry_points:\n  main: [unclosed\n", (), "MLproject: line 3, column 1: while parsing a flow sequence"),
    ("entry_points:\n  main:\n    command: \"echo {n}\"\n    parameters:\n      n: int\n", ("-P", "n=ten"),
     "parameter 'n' must be an integer (type int), but got 'ten'"),
    ("entry_points:\n  main:\n    command: \"echo {n}\"\n    parameters:\n      n: int\n", (),
     "entry point 'main' needs a value for 'n'"),
    ("entry_points:\n  main:\n    command: \"echo {m}\"\n", (), "the command uses {m}, which is not one of its parameters"),
    ("conda_env: conda.yaml\nentry_points:\n  main:\n    command: echo\n", (), "conda is not installed"),
    ("docker_env:\n  image: python:3.11\nentry_points:\n  main:\n    command: echo\n", (), "needs a Docker engine"),
    ("entry_points:\n  main:\n    command: echo\n", ("-P", "novalue"), "-P novalue: a parameter is KEY=VALUE"),
    ("entry_points:\n  main:\n    command: echo\n", ("--experiment-id", "42"), "No Experiment with id=42 exists"),
]


@pytest.mark.parametrize("mlproject,args,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_refused_before_a_run_exists(workdir, cache, mlproject, args, message):
    project = workdir / "p"
    project.mkdir()
    if mlproject:
        (project / "MLproject").write_text(mlproject)
        (project / "conda.yaml").write_text("dependencies: [python=3.11]\n")
    env = ff_env(FERROFLOW_CACHE_DIR=cache, PATH=f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin")
    p = ff_run(str(project), *args, cwd=workdir, env=env, check=False)
    assert p.returncode != 0 and message in p.stderr, p.stderr
    assert "Run " not in p.stderr
    if (workdir / "mlflow.db").exists():
        with sqlite3.connect(workdir / "mlflow.db") as db:
            assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
