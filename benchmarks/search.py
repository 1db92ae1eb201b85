"""What does a random search save over the full grid of the same space?

The space: a DecisionTreeClassifier with five parameters of five values each,
a grid of 3,125 candidates, on a synthetic table (``--rows`` rows, 20 numeric
features, 3 classes, written to a temporary CSV). Both searches run through
``tabserve.training.train`` (load, split, search, refit, hold-out) with
n_jobs=1 and 3 folds:

- random: ``search.strategy: random``, ``n_iter`` 20 (``--n-iter``);
- grid: timing all 3,125 candidates takes long, so the script times a grid
  search over a fixed random sample of ``--sample`` of them (each a candidate
  of single values) and extrapolates its seconds per candidate to 3,125.

    .venv/bin/python benchmarks/search.py
    .venv/bin/python benchmarks/search.py --rows 20000 --sample 250

Not a test: run it by hand and record the numbers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.datasets import make_classification

from tabserve.config import load_settings
from tabserve.training import train

ESTIMATOR = "sklearn.tree.DecisionTreeClassifier"
SPACE = {
    "max_depth": [2, 4, 8, 16, None],
    "min_samples_leaf": [1, 2, 5, 10, 20],
    "min_samples_split": [2, 5, 10, 20, 40],
    "max_features": [None, "sqrt", "log2", 0.5, 0.8],
    "ccp_alpha": [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
}


def write_table(folder: Path, rows: int) -> Path:
    features, labels = make_classification(
        n_samples=rows, n_features=20, n_informative=8, n_classes=3, random_state=0
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
    frame["label"] = [f"class_{value}" for value in labels]
    path = folder / "table.csv"
    frame.to_csv(path, index=False)
    return path


def settings_for(folder: Path, table: Path, search: dict, candidates: list[dict]):
    return load_settings(
        environ={},
        overrides={
            "task": "classification",
            "data": {"source": "csv", "path": str(table), "target": "label"},
            "split": {"test_fraction": 0.2, "random_state": 0},
            "search": {"cv": 3, "n_jobs": 1, **search},
            "candidates": candidates,
            "registry": {
                "url": f"sqlite:///{folder / 'r.db'}",
                "artifacts": str(folder / "a"),
                "pictures": False,
            },
            "logging": {"file": None},
        },
    )


def timed(settings) -> tuple[float, float]:
    started = time.perf_counter()
    trained = train(settings)
    return time.perf_counter() - started, trained.cv_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--sample", type=int, default=125, help="grid candidates timed")
    args = parser.parse_args()
    combos = [dict(zip(SPACE, values, strict=True)) for values in itertools.product(*SPACE.values())]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table = write_table(folder, args.rows)
        space = [{"estimator": ESTIMATOR, "grid": SPACE}]
        random_s, random_cv = timed(
            settings_for(folder / "random", table, {"strategy": "random", "n_iter": args.n_iter}, space)
        )
        sample = random.Random(0).sample(combos, args.sample)
        singles = [{"estimator": ESTIMATOR, "grid": {k: [v] for k, v in c.items()}} for c in sample]
        sample_s, sample_cv = timed(settings_for(folder / "grid", table, {"strategy": "grid"}, singles))
    full_s = sample_s / args.sample * len(combos)
    print(f"space: {len(combos)} candidates, {args.rows} rows, 3 folds, n_jobs=1")
    print(f"random n_iter={args.n_iter}: {random_s:.1f} s (best cv accuracy {random_cv:.4f})")
    print(f"grid, {args.sample} sampled candidates: {sample_s:.1f} s (best cv accuracy {sample_cv:.4f})")
    print(
        f"grid, all {len(combos)} (extrapolated): {full_s:.0f} s = {full_s / random_s:.0f}x the random search"
    )


if __name__ == "__main__":
    main()
