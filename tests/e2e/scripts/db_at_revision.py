"""Makes a database at an older MLflow schema revision, with rows in it, the way MLflow
itself would have: MLflow's first tables, then its own alembic migrations up to the
revision (run with the reference's Python, MLflow 3.17.2). The rows fill only the columns
that exist at that revision.

    python db_at_revision.py <sqlalchemy-url> <revision> [--trace]

With --trace, the revision's trace tables (MLflow 3) also get a trace with a span.
"""

import sys

import sqlalchemy as sa
from alembic import command
from mlflow.store.db.utils import InitialBase, _get_alembic_config

url, revision = sys.argv[1], sys.argv[2]
with_trace = "--trace" in sys.argv[3:]
engine = sa.create_engine(url)
InitialBase.metadata.create_all(engine)
config = _get_alembic_config(url)
with engine.begin() as conn:
    config.attributes["connection"] = conn
    command.upgrade(config, revision)

meta = sa.MetaData()
meta.reflect(engine)


def insert(table: str, **values):
    t = meta.tables[table]
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":  # experiment 0 is an id, not "the next one"
            conn.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        conn.execute(t.insert().values({k: v for k, v in values.items() if k in t.c}))


insert("experiments", experiment_id=0, name="Default", artifact_location="/tmp/mlruns/0",
       lifecycle_stage="active", creation_time=1_700_000_000_000, last_update_time=1_700_000_000_000)
insert("experiments", experiment_id=1, name="wine", artifact_location="/tmp/mlruns/1",
       lifecycle_stage="active", creation_time=1_700_000_000_001, last_update_time=1_700_000_000_002)
runs = [("a" * 32, "alice"), ("b" * 32, "bob"), ("c" * 32, ""), ("d" * 32, None)]
for i, (run_id, user) in enumerate(runs):
    insert("runs", run_uuid=run_id, name=f"run {i}", source_type="LOCAL", source_name="train.py",
           entry_point_name="", user_id=user, status="FINISHED", start_time=1_700_000_000_000 + i,
           end_time=1_700_000_001_000 + i, source_version="", lifecycle_stage="active",
           artifact_uri=f"/tmp/mlruns/1/{run_id}/artifacts", experiment_id=1)
    insert("params", key="alpha", value=str(0.1 * i), run_uuid=run_id)
    insert("tags", key="mlflow.runName", value=f"run {i}", run_uuid=run_id)
# bob already has an mlflow.user tag, which is kept as it is.
insert("tags", key="mlflow.user", value="robert", run_uuid="b" * 32)
metrics = [
    # key, value, timestamp, step: the latest is the greatest step, then the latest time,
    # then the greatest value.
    ("rmse", 0.9, 100, 0), ("rmse", 0.7, 200, 1), ("rmse", 0.8, 150, 1), ("rmse", 0.6, 90, 1),
    ("r2", 0.1, 100, 0), ("r2", 0.3, 100, 0), ("r2", 0.2, 100, 0),
    ("loss", 5.0, 300, 0),
]
for run_id, _ in runs[:2]:
    for key, value, ts, step in metrics:
        insert("metrics", key=key, value=value, timestamp=ts, step=step, run_uuid=run_id, is_nan=False)
if with_trace:
    trace_id = "tr-" + "e" * 32
    insert("trace_info", request_id=trace_id, experiment_id=1, timestamp_ms=1_700_000_000_000,
           execution_time_ms=5, status="OK", trace_name="predict")
    insert("trace_tags", key="mlflow.traceName", value="predict", request_id=trace_id)
    insert("spans", trace_id=trace_id, experiment_id=1, span_id="s1", name="predict", type="CHAIN", status="OK",
           start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_000_005_000_000,
           content='{"name": "predict"}')
