# A ferroflow pyfunc worker: loads one MLflow model with the installed `mlflow` and answers
# prediction batches over stdin/stdout, each message a 4-byte big-endian length and JSON.
# The model's own prints go to stderr, so that stdout carries only messages.
import json
import os
import struct
import sys
import traceback

proto_out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
proto_in = sys.stdin.buffer


def send(obj):
    data = json.dumps(obj, default=_default, allow_nan=True).encode()
    proto_out.write(struct.pack(">I", len(data)) + data)
    proto_out.flush()


def receive():
    head = proto_in.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    return json.loads(proto_in.read(n))


def _default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, bytes):
        import base64

        return base64.b64encode(o).decode()
    return str(o)


def jsonable(pred):
    """Predictions as MLflow's scoring server answers them."""
    import numpy as np
    import pandas as pd

    if isinstance(pred, pd.DataFrame):
        return pred.to_dict(orient="records")
    if isinstance(pred, pd.Series):
        return pred.tolist()
    if isinstance(pred, np.ndarray):
        return pred.tolist()
    if isinstance(pred, dict):
        return {k: jsonable(v) for k, v in pred.items()}
    if isinstance(pred, (list, tuple)):
        return [jsonable(p) for p in pred]
    if isinstance(pred, np.generic):
        return pred.item()
    return pred


def tensor(data, spec):
    import numpy as np

    dtype = spec.get("dtype") if spec else None
    return np.asarray(data, dtype=dtype) if dtype else np.asarray(data)


# numpy dtypes of MLflow's column types: JSON and CSV numbers arrive as int64 or float64,
# which MLflow's schema enforcement refuses for a double column holding only integers.
COLUMN_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def fitted_names(model):
    """The column names a model was fitted on (scikit-learn's `feature_names_in_`), if any."""
    try:
        raw = model.get_raw_model()
    except Exception:  # noqa: BLE001 - not every flavor exposes its model
        return None
    names = getattr(raw, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def build(item, specs, columns=None, fitted=None):
    import pandas as pd

    if item["kind"] == "frame":
        df = pd.DataFrame(item["data"], columns=item["columns"])
        # Without a signature to order them, columns follow the names the model was
        # fitted on, as a frame built from records would not.
        if fitted and not columns and set(fitted) <= set(df.columns) and list(df.columns[: len(fitted)]) != fitted:
            df = df[fitted + [c for c in df.columns if c not in fitted]]
        for name, dtype in (columns or {}).items():
            if name in df.columns and not df[name].isna().any():
                df[name] = df[name].astype(dtype)
        return df
    data = item["data"]
    if isinstance(data, dict):
        by_name = {s.get("name"): s for s in specs or []}
        return {k: tensor(v, by_name.get(k)) for k, v in data.items()}
    return tensor(data, specs[0] if specs and len(specs) == 1 else None)


def error(e):
    out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    # An MlflowException (schema enforcement, most often) keeps its own code and message.
    code = getattr(e, "error_code", None)
    if isinstance(code, str) and getattr(e, "message", None) is not None:
        out.update(error_code=code, message=str(e.message))
    return out


def main():
    model_dir = sys.argv[1]
    try:
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(model_dir)
    except BaseException as e:  # noqa: BLE001 - every failure is reported, then we exit
        send({"loaded": False, **error(e)})
        return
    specs, columns = None, {}
    try:
        sig = model.metadata.get_input_schema()
        if sig is not None and sig.is_tensor_spec():
            specs = [{"name": s.name, "dtype": str(s.type)} for s in sig.inputs]
        elif sig is not None:
            for c in sig.inputs:
                dtype = COLUMN_DTYPES.get(str(getattr(c.type, "name", c.type)).lower())
                if c.name is not None and dtype:
                    columns[c.name] = dtype
    except Exception:  # noqa: BLE001 - a signature we cannot read is only less typing
        specs, columns = None, {}
    fitted = fitted_names(model) if not columns else None
    # What loading made lives as long as the worker: keep the collector from walking it
    # again on every full collection (pauses that show up as the tail latency).
    import gc

    gc.collect()
    gc.freeze()
    send({"loaded": True})
    while True:
        msg = receive()
        if msg is None:
            return
        items = msg["items"]
        results = None
        # Concurrent frames with the same columns and no params: one predict call.
        if len(items) > 1 and all(i["kind"] == "frame" and not i.get("params") for i in items) and len(
            {tuple(i["columns"]) for i in items}
        ) == 1:
            try:
                # The rows joined first: one frame to build and type, not one per request.
                sizes = [len(i["data"]) for i in items]
                joined = {"kind": "frame", "columns": items[0]["columns"], "data": [r for i in items for r in i["data"]]}
                pred = jsonable(model.predict(build(joined, specs, columns, fitted)))
                if isinstance(pred, list) and len(pred) == sum(sizes):
                    results, start = [], 0
                    for n in sizes:
                        results.append({"ok": pred[start : start + n]})
                        start += n
            except Exception:  # noqa: BLE001 - fall back to one call each, which reports
                results = None
        if results is None:
            results = []
            for i in items:
                try:
                    pred = model.predict(build(i, specs, columns, fitted), params=i.get("params")) if i.get("params") else model.predict(build(i, specs, columns, fitted))
                    results.append({"ok": jsonable(pred)})
                except Exception as e:  # noqa: BLE001 - the model's error goes to the client
                    results.append(error(e))
        send({"results": results})


main()
