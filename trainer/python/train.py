"""Trains the learned ranking stage: LightGBM LambdaRank on a training set written by
trainer/src/trainingSet.ts, early stopping on a time-based validation slice.

    python3 trainer/python/train.py --data DIR --out DIR [--seed 1] [--no-refit] [--rounds N] [--params JSON]

DIR holds meta.json (feature names, rows, validFrom), features.f64 (rows x features, float64
little-endian, NaN = missing), labels.u8 (one per row) and queries.tsv (one line per query, in
time order: at, customer, invoice, rows). Queries at or after validFrom are the validation slice:
the model is trained on the earlier ones until NDCG@10 on it has not improved for
`early_stopping` rounds; then (unless --no-refit) retrained on every query for that many rounds,
so the latest weeks are learned from too. With --rounds N: trained on every query for N rounds,
no validation slice (the training job's final fit, the holdout weeks added, for the rounds its
judged model was early-stopped at). Writes OUT/model.json (booster.dump_model(), what the
TypeScript scorer reads), OUT/model.txt (LightGBM's own format) and OUT/report.json (rounds,
validation NDCG, gain importances, seconds), and prints report.json's content as the last line.
"""

import argparse
import json
import os
import time

import lightgbm as lgb
import numpy as np

DEFAULT_PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_data_in_leaf": 300,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 20,
    "max_bin": 255,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
MAX_ROUNDS = 1000
EARLY_STOPPING = 50


def read_set(directory):
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)
    names = meta["features"]
    rows = meta["rows"]
    features = np.fromfile(os.path.join(directory, "features.f64"), dtype="<f8")
    if features.size != rows * len(names):
        raise SystemExit(f"train.py: features.f64 has {features.size} values, expected {rows} x {len(names)}")
    features = features.reshape(rows, len(names))
    labels = np.fromfile(os.path.join(directory, "labels.u8"), dtype=np.uint8).astype(np.float64)
    at, sizes = [], []
    with open(os.path.join(directory, "queries.tsv")) as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            at.append(int(parts[0]))
            sizes.append(int(parts[3]))
    if sum(sizes) != rows or labels.size != rows:
        raise SystemExit("train.py: queries.tsv, labels.u8 and meta.json disagree on the rows")
    return meta, names, features, labels, np.array(at, dtype=np.int64), np.array(sizes, dtype=np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-refit", action="store_true")
    parser.add_argument("--rounds", type=int, help="train on every query for this many rounds: no early stopping, no validation slice")
    parser.add_argument("--params", default="{}", help="JSON object of LightGBM parameters over the defaults")
    args = parser.parse_args()
    started = time.time()
    meta, names, features, labels, at, sizes = read_set(args.data)
    params = {**DEFAULT_PARAMS, **json.loads(args.params), "seed": args.seed}
    read_seconds = time.time() - started

    if args.rounds is not None:
        if args.rounds < 1:
            raise SystemExit("train.py: --rounds must be at least 1")
        fit_started = time.time()
        all_set = lgb.Dataset(features, labels, group=sizes, feature_name=names)
        booster = lgb.train(params, all_set, num_boost_round=args.rounds)
        rounds, valid_ndcg, cut, refit = args.rounds, None, len(sizes), True
    else:
        valid = at >= meta["validFrom"]
        if valid.all() or not valid.any():
            raise SystemExit("train.py: the validation slice must hold some queries but not all")
        cut = int(np.argmax(valid))  # queries are in time order
        if not valid[cut:].all():
            raise SystemExit("train.py: queries.tsv is not in time order")
        train_rows = int(sizes[:cut].sum())

        fit_started = time.time()
        train_set = lgb.Dataset(features[:train_rows], labels[:train_rows], group=sizes[:cut], feature_name=names, free_raw_data=False)
        valid_set = lgb.Dataset(features[train_rows:], labels[train_rows:], group=sizes[cut:], reference=train_set)
        history = {}
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid_set],
            valid_names=["valid"],
            callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False), lgb.record_evaluation(history), lgb.log_evaluation(50)],
        )
        rounds = booster.best_iteration or MAX_ROUNDS
        valid_ndcg = history["valid"]["ndcg@10"][rounds - 1]
        if not args.no_refit:
            all_set = lgb.Dataset(features, labels, group=sizes, feature_name=names)
            booster = lgb.train(params, all_set, num_boost_round=rounds)
        else:
            booster = lgb.train(params, train_set, num_boost_round=rounds)
        refit = not args.no_refit
    fit_seconds = time.time() - fit_started

    os.makedirs(args.out, exist_ok=True)
    dump = booster.dump_model()
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(dump, f)
    booster.save_model(os.path.join(args.out, "model.txt"))
    gain = booster.feature_importance(importance_type="gain")
    total = float(gain.sum()) or 1.0
    report = {
        "lightgbm": lgb.__version__,
        "params": params,
        "rounds": rounds,
        "refit": refit,
        "validNdcg10": valid_ndcg,
        "trainQueries": cut,
        "validQueries": int(len(sizes) - cut),
        "rows": int(len(labels)),
        "importance": sorted(([name, float(g) / total] for name, g in zip(names, gain)), key=lambda item: -item[1]),
        "readSeconds": read_seconds,
        "fitSeconds": fit_seconds,
    }
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
