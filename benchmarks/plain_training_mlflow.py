"""The baseline with what an ML engineer would add by hand: MLflow tracking and registry.

The plain script's training (read, split 80/20, preprocess, RandomForest(100), evaluate),
then the parameters, metrics and model logged to MLflow and the model registered, in a
sqlite store under the folder given.

    python benchmarks/plain_training_mlflow.py DATA TARGET STORE_DIR [DROP ...]
"""

import sys
import time
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

started = time.perf_counter()
data, target, store = sys.argv[1], sys.argv[2], Path(sys.argv[3])
frame = pd.read_csv(data)
y = frame[target]
x = frame.drop(columns=[target, *sys.argv[4:]])
numeric = list(x.select_dtypes("number").columns)
categorical = [c for c in x.columns if c not in numeric]
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.2, random_state=42, stratify=y
)
categories = Pipeline(
    [
        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
        ("onehot", OneHotEncoder(handle_unknown="ignore")),
    ]
)
prep = ColumnTransformer(
    [("num", SimpleImputer(strategy="median"), numeric), ("cat", categories, categorical)]
)
params = {"n_estimators": 100, "random_state": 42, "n_jobs": 1}
model = Pipeline([("prep", prep), ("model", RandomForestClassifier(**params))])
model.fit(x_train, y_train)
metrics = {
    "accuracy": accuracy_score(y_test, model.predict(x_test)),
    "roc_auc": roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]),
}

uri = f"sqlite:///{store / 'mlflow.db'}"
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
mlflow.set_experiment("plain")
with mlflow.start_run() as run:
    mlflow.log_params(params)
    mlflow.log_metrics(metrics)
    mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(x_test, model.predict(x_test)),
        serialization_format="cloudpickle",
        # Pinned as kfops pins them: resolving the environment would cost ~8 s more.
        pip_requirements=[
            f"{name}=={version(name)}"
            for name in ("scikit-learn", "pandas", "numpy", "cloudpickle")
        ],
    )
version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "plain-churn")
mlflow.MlflowClient().set_registered_model_alias("plain-churn", "champion", version.version)
print(
    f"accuracy={metrics['accuracy']:.4f} version={version.version} "
    f"work_seconds={time.perf_counter() - started:.2f}"
)
