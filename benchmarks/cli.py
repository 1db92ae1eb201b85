"""CLI start-up benchmark (part of `make bench`): each quick command timed over repeated runs.

Trains iris twice into a temporary registry, then times `tabserve --help`,
`models list/show/promote/rollback` and a one-row `predict` with hyperfine
(warm-up run, then N runs; its own loop of the same shape where hyperfine is
not installed), beside `python -c pass` in the same run as the floor of this
machine. Prints mean, spread and the ratio to that floor for each, and each
target from issue 12 as pass/miss. The issue set its goals in seconds on a
machine whose floor was 11 ms; each is judged here as the same multiple of
this run's floor, so a slower or busier machine is not a miss by itself.
Exits 0 unless ``--strict`` and a target is missed (`make bench-strict`).
Bounded: about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BIN = Path(sys.executable).parent
ISSUE_FLOOR_S = 0.011  # `python -c pass` where issue 12 measured its goals
TABSERVE = str(BIN / "tabserve")


@dataclass(frozen=True)
class Case:
    label: str
    command: list[str]
    target_s: float | None
    prepare: list[str] | None = None  # run before every timed run, untimed (rollback needs a promote)


CASES = (
    Case("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
    Case("tabserve --help", [TABSERVE, "--help"], 0.2),
    Case("tabserve models list", [TABSERVE, "models", "list"], 0.3),
    Case("tabserve models show 1", [TABSERVE, "models", "show", "1"], 0.3),
    Case("tabserve models promote 1", [TABSERVE, "models", "promote", "1"], 0.3),
    Case(
        "tabserve models rollback",
        [TABSERVE, "models", "rollback"],
        0.3,
        [TABSERVE, "models", "promote", "1"],
    ),
    Case("tabserve predict (one row)", [TABSERVE, "predict", "5.1", "3.8", "1.5", "0.3"], 0.5),
)


@dataclass(frozen=True)
class Timing:
    times_s: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times_s)

    @property
    def median(self) -> float:
        return statistics.median(self.times_s)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.times_s) if len(self.times_s) > 1 else 0.0


def with_hyperfine(case: Case, runs: int, env: dict, folder: Path) -> Timing:
    export = folder / "hyperfine.json"
    command = ["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), "--export-json", str(export)]
    if case.prepare:
        command += ["--prepare", " ".join(case.prepare)]
    subprocess.run([*command, " ".join(case.command)], env=env, cwd=folder, check=True, capture_output=True)
    return Timing(json.loads(export.read_text())["results"][0]["times"])


def with_own_loop(case: Case, runs: int, env: dict, folder: Path) -> Timing:
    times = []
    for number in range(runs + 1):  # the first is the warm-up
        if case.prepare:
            subprocess.run(case.prepare, env=env, cwd=folder, check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run(case.command, env=env, cwd=folder, check=True, capture_output=True)
        if number:
            times.append(time.perf_counter() - start)
    return Timing(times)


def prepare(folder: Path) -> dict:
    config = folder / "bench.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
        "logging:\n  file: null\n  level: WARNING\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    env["TABSERVE_CONFIG"] = str(config)
    for _ in range(2):
        subprocess.run([TABSERVE, "train"], env=env, cwd=folder, check=True, capture_output=True)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    timer = with_hyperfine if shutil.which("hyperfine") else with_own_loop
    print(f"tabserve CLI benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"timer: {'hyperfine' if timer is with_hyperfine else 'own loop'}, 1 warm-up + {args.runs} runs each"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = prepare(folder)
        timings = {case.label: timer(case, args.runs, env, folder) for case in CASES}
    floor = timings[CASES[0].label].median
    print()
    print(
        "| command | mean ± sd (s) | min … max (s) | ratio to python -c pass (median) "
        "| target: ratio (s at an 11 ms floor) | met |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    missed = 0
    for case in CASES:
        t = timings[case.label]
        ratio = t.median / floor
        target, met = "", ""
        if case.target_s is not None:
            bound = case.target_s / ISSUE_FLOOR_S
            target = f"<= {bound:.0f} ({case.target_s:.1f} s)"
            met = "pass" if ratio <= bound else "MISS"
        missed += met == "MISS"
        print(
            f"| {case.label} | {t.mean:.3f} ± {t.stdev:.3f} | {min(t.times_s):.3f} … {max(t.times_s):.3f} "
            f"| {ratio:.1f} | {target} | {met} |"
        )
    print("\nall targets met" if not missed else f"\n{missed} target(s) missed")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
