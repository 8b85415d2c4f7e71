"""Seed 000's tutorial as a project, without a download: a small neural network (an MLP)
on scikit-learn's bundled 8x8 digits, trained epoch by epoch. Each epoch logs its
metrics with `step=epoch`; the model is logged with a signature and registered.

Usage (what MLproject runs): train.py EPOCHS LEARNING_RATE BATCH_SIZE HIDDEN MODEL_NAME
"""

import sys

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

epochs, learning_rate, batch_size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
hidden, model_name = int(sys.argv[4]), sys.argv[5]

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
classes = np.unique(y)

model = MLPClassifier(hidden_layer_sizes=(hidden,), learning_rate_init=learning_rate, batch_size=batch_size, random_state=0)
rng = np.random.default_rng(0)
best_acc = 0.0
with mlflow.start_run() as run:
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            model.partial_fit(X_train[idx], y_train[idx], classes=classes)
        train_loss = log_loss(y_train, model.predict_proba(X_train), labels=classes)
        test_loss = log_loss(y_test, model.predict_proba(X_test), labels=classes)
        test_acc = accuracy_score(y_test, model.predict(X_test))
        best_acc = max(best_acc, test_acc)
        mlflow.log_metrics({"train_loss": train_loss, "test_loss": test_loss, "test_acc": test_acc}, step=epoch)
        print(f"epoch {epoch}/{epochs}: test_loss={test_loss:.4f} test_acc={test_acc:.4f}")
    mlflow.log_metric("best_acc", best_acc)
    where = (
        # skops (MLflow 3's default format) asks that the optimizer's state be trusted explicitly.
        {"name": "model", "skops_trusted_types": ["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"]}
        if int(mlflow.__version__.split(".")[0]) >= 3
        else {"artifact_path": "model"}  # MLflow 2.x
    )
    mlflow.sklearn.log_model(
        model,
        signature=infer_signature(X_test, model.predict(X_test)),
        input_example=X_test[:2],
        registered_model_name=model_name or None,
        **where,
    )
    print(f"run {run.info.run_id}: best_acc={best_acc:.4f}")
