"""Write examples/houses.csv: a synthetic price table for the regression example.

Run once (``python examples/make_houses.py``); the CSV is committed. The price
is a known function of the features plus Gaussian noise (standard deviation 15),
with a categorical column and missing values, as real tables have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 400
NOISE = 15.0


def make(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 160, rows).round(1)
    rooms = rng.integers(1, 6, rows)
    age = rng.uniform(0, 80, rows).round(0)
    district = rng.choice(["north", "south", "east", "west"], rows)
    bonus = pd.Series(district).map({"north": 40.0, "south": 0.0, "east": 15.0, "west": 25.0}).to_numpy()
    price = 20 + 2.5 * area + 8 * rooms - 0.6 * age + bonus + rng.normal(0, NOISE, rows)
    frame = pd.DataFrame(
        {"area": area, "rooms": rooms, "age": age, "district": district, "price": price.round(2)}
    )
    # Missing values in a numeric and in the categorical column.
    frame.loc[rng.random(rows) < 0.05, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "district"] = None
    return frame


if __name__ == "__main__":
    make().to_csv(Path(__file__).with_name("houses.csv"), index=False)
