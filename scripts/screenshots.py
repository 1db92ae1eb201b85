"""`make screenshots`: pictures of the real console pages for the README, from a running server.

Without --url it builds a throwaway registry (iris trained twice, with a
different grid the second time, so the compare page has something to show),
starts `tabserve serve` on a free loopback port, sends it some shifted rows
with a shadow version set (for the drift page), shoots every page with
Debian's Chromium through Playwright, and stops the server it started. With
--url it shoots a server that is already running (read-only: it clicks nothing
that changes the registry).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("TABSERVE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = [
    ("console-home", "/", False),
    ("console-model", "/ui/models/iris", False),
    ("console-compare", "/ui/models/iris/compare?a=1&b=2", True),
    ("console-version", "/ui/models/iris/versions/1", True),
    ("console-predict", "/ui/predict", False),
    ("console-data", "/ui/data", False),
    ("console-jobs", "/ui/jobs", False),
    ("console-drift", "/ui/drift", True),
    ("api-docs", "/docs", False),
]
SECOND_GRID = """candidates:
- estimator: sklearn.tree.DecisionTreeClassifier
  grid: {max_depth: [2, 3]}
- estimator: sklearn.linear_model.LogisticRegression
  grid: {C: [0.1, 1.0]}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url}/readyz did not answer 200 within {limit_s:.0f} s")


def prepare(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    config = folder / "tabserve.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
        f"logging:\n  file: {folder / 'tabserve.log'}\n"
    )
    env["TABSERVE_CONFIG"] = str(config)
    subprocess.run([str(BIN / "tabserve"), "train"], env=env, check=True, capture_output=True)
    second = folder / "second.yaml"
    second.write_text(config.read_text() + SECOND_GRID)
    subprocess.run(
        [str(BIN / "tabserve"), "-c", str(second), "train"], env=env, check=True, capture_output=True
    )
    return env


def traffic(url: str) -> None:
    """Give the drift page something to show: a shadow version, then iris rows with sepal_width moved up."""
    import json

    import numpy as np
    from sklearn.datasets import load_iris

    def call(path: str, body: object) -> dict:
        request = urllib.request.Request(
            f"{url}{path}", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    with urllib.request.urlopen(f"{url}/readyz", timeout=5) as answer:
        production = json.loads(answer.read())["version"]
    call(f"/models/iris/versions/{1 if production != 1 else 2}/shadow", {})
    rows = load_iris().data[np.random.default_rng(0).integers(0, 150, 1000)]
    rows[:, 1] += 1.0
    for start in range(0, len(rows), 100):
        call("/predict", {"instances": rows[start : start + 100].tolist()})


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800}, device_scale_factor=1)
        page.set_default_timeout(120_000)  # the first data page reads the training data
        for name, path, full in SHOTS:
            page.goto(f"{url}{path}")
            page.wait_for_load_state("networkidle")
            if path == "/ui/predict":
                for field, value in zip(
                    page.locator("[data-feature]").all(), ("6.1", "2.8", "4.7", "1.2"), strict=True
                ):
                    field.fill(value)
                page.click("[data-predict-form] button[type=submit]")
                page.locator("[data-predict-result] svg").wait_for()
            if path == "/docs":
                page.locator(".opblock").first.wait_for()
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=full)
            print(f"wrote {target}")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="shoot this running server instead of starting one")
    parser.add_argument("--out", default="docs/images", help="where the PNG files go")
    args = parser.parse_args()
    if args.url:
        shoot(args.url.rstrip("/"), Path(args.out))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        env = prepare(Path(folder))
        port = free_port()
        process = subprocess.Popen(
            [str(BIN / "tabserve"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, process)
            traffic(url)
            shoot(url, Path(args.out))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
