"""What prediction intervals cost a batch (`python benchmarks/intervals.py`).

A HistGradientBoostingRegressor (100 trees, six numeric features) is fitted on
synthetic data and registered with ``tabserve.register`` and a hold-out, so the
version carries split-conformal residuals, into a temporary registry. In
process, ``Predictor.predict`` then answers the same 10,000-row batch without
and with ``interval=0.9``, as back-to-back pairs in alternating order, many
times per round; each round's figure is the median of its pairs' ratios (with
the median times beside it), and the target is that ratio (intervals add at
most 5%: <= 1.05), judged on the median of the rounds with
the spread (min-max of the rounds) beside it. No HTTP: this is the model path.

The script prints pass/miss and exits 0 (``--strict``: 1 on a miss).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

# One OpenMP thread: on a shared host a thread pool's waits swing far more than the intervals cost.
os.environ.setdefault("OMP_NUM_THREADS", "1")

NAMES = ["a", "b", "c", "d", "e", "f"]
TARGET_RATIO = 1.05


def fitted(rows: int) -> tuple[object, object, object, object]:
    """(model, hold-out X, hold-out y, the 10,000-row batch frame), all synthetic and seeded."""
    import pandas as pd
    from sklearn.datasets import make_regression
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, y = make_regression(n_samples=20_000 + rows, n_features=len(NAMES), noise=10.0, random_state=0)
    frame = pd.DataFrame(x, columns=NAMES)
    train, test, batch = frame[:16_000], frame[16_000:20_000], frame[20_000:]
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(train, y[:16_000])
    return model, test, pd.Series(y[16_000:20_000], name="value"), batch


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def one_round(plain, banded, calls: int) -> tuple[float, float, float]:
    """(median plain s, median with-interval s, median ratio of back-to-back pairs): each pair runs
    the two calls next to each other, in alternating order, so a load swing hits both alike."""
    without, within, ratios = [], [], []
    for index in range(calls):
        if index % 2:
            b, a = timed(banded), timed(plain)
        else:
            a, b = timed(plain), timed(banded)
        without.append(a)
        within.append(b)
        ratios.append(b / a)
    return float(np.median(without)), float(np.median(within)), float(np.median(ratios))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20, help="calls of each kind per round")
    parser.add_argument("--coverage", type=float, default=0.9)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    import tabserve
    from tabserve.config import load_settings
    from tabserve.inputs import batch_from_frame
    from tabserve.predictor import Predictor

    model, x_test, y_test, frame = fitted(args.rows)
    with tempfile.TemporaryDirectory() as root:
        settings = load_settings(
            environ={},
            overrides={
                "registry": {
                    "url": f"sqlite:///{Path(root) / 'registry.db'}",
                    "artifacts": f"{root}/artifacts",
                },
                "logging": {"file": None},
            },
        )
        with tabserve.Registry(settings=settings) as registry:
            tabserve.register(
                model, name="bench", X_sample=x_test.head(50), X_test=x_test, y_test=y_test, registry=registry
            )
            predictor = Predictor.load(registry.store, "bench")
            batch = batch_from_frame(frame, predictor.schema)
            plain = predictor.predict(batch)
            banded = predictor.predict(batch, interval=args.coverage)
            assert banded.interval is not None and len(banded.interval.lower) == args.rows
            np.testing.assert_array_equal(np.asarray(plain.values), np.asarray(banded.values))
            for _ in range(3):  # warm-up
                predictor.predict(batch)
                predictor.predict(batch, interval=args.coverage)
            rounds = []
            for _ in range(args.rounds):
                rounds.append(
                    one_round(
                        lambda: predictor.predict(batch),
                        lambda: predictor.predict(batch, interval=args.coverage),
                        args.calls,
                    )
                )

    ratios = [r[2] for r in rounds]
    ratio = statistics.median(ratios)
    ok = ratio <= TARGET_RATIO
    print(f"tabserve intervals benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"{type(predictor.runner).__name__} over {type(model).__name__}: {args.rows:,}-row batch, "
        f"coverage {args.coverage}, {args.rounds} rounds x {args.calls} calls of each"
    )
    for index, (without, within, r) in enumerate(rounds, 1):
        print(
            f"  round {index}: predict {without * 1e3:7.2f} ms  with interval {within * 1e3:7.2f} ms  "
            f"ratio {r:.3f}"
        )
    print(
        f"predict {statistics.median(r[0] for r in rounds) * 1e3:.2f} ms, "
        f"with interval {statistics.median(r[1] for r in rounds) * 1e3:.2f} ms (medians of the rounds)"
    )
    print(
        f"ratio {ratio:.3f} (spread {min(ratios):.3f}-{max(ratios):.3f})  target <= {TARGET_RATIO}  "
        f"{'pass' if ok else 'MISS'}"
    )
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
