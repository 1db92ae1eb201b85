"""Before a training job is accepted: can its scorer and every candidate be built at all?

A bad ``search.scoring`` or a grid value an estimator refuses (``C: -1``) would
otherwise be found by the job, after POST /train has answered 202. The check
needs scikit-learn, which the serving process never imports, so the server runs
it in a short-lived process (``python -m tabserve.jobs.precheck``, the run's
settings on stdin, the refusal on stdout). Refusals name the key and what it
accepts, never the value sent.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

from tabserve.config import Settings
from tabserve.errors import ConfigError

CHECK_TIMEOUT_S = 60
_GOT = re.compile(r"\s*Got .*$", re.DOTALL)  # scikit-learn's echo of the value sent


def check_run(settings: Settings) -> None:
    """ConfigError naming the first key whose value cannot be used: the scorer, an estimator, a grid value."""
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    from tabserve.regression import candidates_for
    from tabserve.training import build_param_grid

    try:
        get_scorer(settings.search.scoring)
    except (ValueError, TypeError):
        raise ConfigError(
            "search.scoring: not a scikit-learn scorer name (e.g. accuracy, balanced_accuracy, f1_macro)"
        ) from None
    grid = build_param_grid(candidates_for(settings, settings.task), settings.split.random_state)
    for index, entry in enumerate(grid):
        base = entry["clf"][0]
        for key, values in entry.items():
            if key == "clf":
                continue
            name = key.removeprefix("clf__")
            tried = values if isinstance(values, list) else _ends(values)
            for value in tried:
                _check_value(clone(base), name, value, f"candidates.{index}.grid.{name}")


def _ends(distribution: Any) -> list[Any]:
    """A distribution's lowest and highest values as plain numbers: every draw lies between."""
    return [value.item() if hasattr(value, "item") else value for value in distribution.support()]


def _check_value(estimator: object, name: str, value: object, where: str) -> None:
    label = type(estimator).__name__
    try:
        estimator.set_params(**{name: value})  # type: ignore[attr-defined]
        validate = getattr(estimator, "_validate_params", None)
        if validate is not None:
            validate()
    except Exception as exc:  # scikit-learn raises InvalidParameterError (a ValueError) or TypeError
        reason = _GOT.sub("", str(exc)).strip().rstrip(".")
        raise ConfigError(f"{where}: a value {label} does not accept ({reason[:300]})") from None


def check_in_process(settings: Settings) -> None:
    """Run ``check_run`` in a child process (the server stays free of scikit-learn).

    ConfigError if the run is refused.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tabserve.jobs.precheck"],
            input=settings.model_dump_json().encode(),
            capture_output=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"candidates: checking the run took more than {CHECK_TIMEOUT_S} s") from None
    if done.returncode == 0:
        return
    try:
        message = json.loads(done.stdout)["refused"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(f"the run's check exited with code {done.returncode}") from None
    raise ConfigError(message)


def main() -> int:
    settings = Settings.model_validate_json(sys.stdin.buffer.read())
    try:
        check_run(settings)
    except ConfigError as exc:
        print(json.dumps({"refused": str(exc)}))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
