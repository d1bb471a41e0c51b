"""The baseline: the same training as the pipeline, as one plain script.

Read the CSV, split 80/20, fit a 100-tree RandomForest on the preprocessed features,
print the accuracy. No validation, tracking, registry or orchestration.
"""

import sys
import time

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

started = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
target = sys.argv[2]
drop = [c for c in sys.argv[3:]]
y = frame[target]
x = frame.drop(columns=[target, *drop])
numeric = list(x.select_dtypes("number").columns)
categorical = [c for c in x.columns if c not in numeric]
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.2, random_state=42, stratify=y
)
model = Pipeline(
    [
        (
            "prep",
            ColumnTransformer(
                [
                    ("num", SimpleImputer(strategy="median"), numeric),
                    (
                        "cat",
                        Pipeline(
                            [
                                (
                                    "impute",
                                    SimpleImputer(strategy="constant", fill_value="__missing__"),
                                ),
                                ("onehot", OneHotEncoder(handle_unknown="ignore")),
                            ]
                        ),
                        categorical,
                    ),
                ]
            ),
        ),
        ("model", RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=1)),
    ]
)
model.fit(x_train, y_train)
print(
    f"accuracy={model.score(x_test, y_test):.4f} work_seconds={time.perf_counter() - started:.2f}"
)
