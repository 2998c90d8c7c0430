"""Writes the small LightGBM models and LightGBM's own predictions that engine/test/rankerModel.test.ts
compares the TypeScript scorer with (engine/test/fixtures/ranker/*.json):

    ~/.cache/recs/venv/bin/python3 trainer/python/make_fixture.py

- lambdarank.json: a LambdaRank model on 4 numerical features with missing values (NaN) in
  training and in the rows scored, so splits send NaN to their default side;
- zero-categorical.json: a regression model with zero_as_missing (missing_type Zero) and a
  categorical feature (decision_type '==').
Each file: {"lightgbm": version, "model": booster.dump_model(), "rows": [...], "expected": raw scores},
NaN written as null. Deterministic (fixed seeds, deterministic=True).
"""

import json
import math
import os

import lightgbm as lgb
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine", "test", "fixtures", "ranker")
COMMON = {"deterministic": True, "force_row_wise": True, "num_threads": 1, "seed": 7, "verbosity": -1, "min_data_in_leaf": 3, "min_data_in_bin": 1}


def rows_json(rows):
    return [[None if math.isnan(v) else float(v) for v in row] for row in rows]


def write(name, booster, rows):
    expected = booster.predict(rows, raw_score=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"lightgbm": lgb.__version__, "model": booster.dump_model(), "rows": rows_json(rows), "expected": [float(v) for v in expected]}, f)
        f.write("\n")


def lambdarank(rng):
    queries, per_query, features = 30, 10, 4
    x = rng.normal(size=(queries * per_query, features))
    x[rng.random(x.shape) < 0.15] = np.nan
    relevance = np.nan_to_num(x[:, 0], nan=-1.0) + 0.5 * np.nan_to_num(x[:, 1], nan=0.8) - 0.3 * np.nan_to_num(x[:, 2])
    labels = (relevance > np.quantile(relevance, 0.8)).astype(float)
    data = lgb.Dataset(x, labels, group=[per_query] * queries, feature_name=["f0", "f1", "f2", "f3"])
    booster = lgb.train({**COMMON, "objective": "lambdarank", "num_leaves": 7, "learning_rate": 0.3}, data, num_boost_round=8)
    test = rng.normal(size=(40, features))
    test[rng.random(test.shape) < 0.25] = np.nan
    write("lambdarank.json", booster, test)


def zero_categorical(rng):
    n = 400
    numeric = rng.normal(size=n)
    numeric[rng.random(n) < 0.2] = 0.0
    category = rng.integers(0, 6, size=n).astype(float)
    effect = np.array([0.0, 2.0, -1.0, 0.5, 3.0, -2.0])
    y = effect[category.astype(int)] + np.where(numeric == 0.0, 1.5, numeric) + 0.1 * rng.normal(size=n)
    x = np.column_stack([numeric, category])
    data = lgb.Dataset(x, y, feature_name=["num", "cat"], categorical_feature=[1])
    params = {**COMMON, "objective": "regression", "num_leaves": 6, "learning_rate": 0.5, "zero_as_missing": True, "min_data_per_group": 3, "cat_smooth": 1, "max_cat_to_onehot": 2}
    booster = lgb.train(params, data, num_boost_round=6)
    test = np.column_stack([np.concatenate([rng.normal(size=20), [0.0, 0.0, np.nan, 1e-40]]), np.concatenate([rng.integers(0, 8, size=20).astype(float), [1.0, 4.0, 2.0, np.nan]])])
    write("zero-categorical.json", booster, test)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(11)
    lambdarank(rng)
    zero_categorical(rng)
    print(f"wrote {OUT}")
