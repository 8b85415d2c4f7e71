"""Writes a file store as MLflow's file store writes one (a meta.yaml per experiment and
run, a file per param, tag and metric), directly rather than through a client, so that
thousands of runs take seconds. Used by the migration tests and bench/filestore.py."""

from pathlib import Path


def experiment(root: Path, exp_id: str, name: str) -> Path:
    exp = root / "mlruns" / exp_id
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        f"artifact_location: file://{exp}\ncreation_time: 1700000000000\nexperiment_id: '{exp_id}'\n"
        f"last_update_time: 1700000000000\nlifecycle_stage: active\nname: {name}\n")
    return exp


def write_runs(root: Path, runs: int, metrics: int, steps: int, params: int = 5, name: str = "gen") -> Path:
    """Experiment 1 with `runs` finished runs, each with `params` params, `metrics`
    metrics of `steps` points and two tags; the last point of each metric varies by run.
    Run i's id is i in hexadecimal, 32 digits; it starts a minute after run i - 1 and logs
    a step every 10 ms, as runs trained one after another do."""
    exp = experiment(root, "1", name)
    for i in range(runs):
        rid = f"{i:032x}"
        start = 1700000000000 + i * 60_000
        d = exp / rid
        for sub in ("params", "metrics", "tags", "artifacts"):
            (d / sub).mkdir(parents=True)
        (d / "meta.yaml").write_text(
            f"artifact_uri: file://{d}/artifacts\nend_time: {start + steps * 10}\nentry_point_name: ''\n"
            f"experiment_id: '1'\nlifecycle_stage: active\nrun_id: '{rid}'\nrun_name: run-{i}\nrun_uuid: '{rid}'\n"
            f"source_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: {start}\nstatus: 3\n"
            "tags: []\nuser_id: gen\n")
        for k in range(params):
            (d / "params" / f"p{k}").write_text(f"{(i * 7 + k) % 13}")
        for k in range(metrics):
            last = ((i * 31 + k * 17) % 1000) / 1000
            lines = "".join(f"{start + s * 10} {s * 0.5} {s}\n" for s in range(steps - 1))
            (d / "metrics" / f"m{k}").write_text(lines + f"{start + (steps - 1) * 10} {last} {steps - 1}\n")
        (d / "tags" / "mlflow.runName").write_text(f"run-{i}")
        (d / "tags" / "mlflow.user").write_text("gen")
    return exp
