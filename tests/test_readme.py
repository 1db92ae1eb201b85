"""Every ``$ `` command in the README's console blocks, run in order, prints what the README shows.

The commands run with bash in an empty folder holding a copy of ``examples/``,
``tabserve`` from this interpreter's environment first on PATH; a block that
uses curl gets a ``tabserve serve`` started in that folder first, on a free
port that replaces ``localhost:5000``. Output is compared line by line after
rounding floats to 4 significant digits and masking job ids and timestamps;
a README line ``...`` stands for any number of lines and ``...`` inside a
line for any text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.polling import eventually
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_PORT = "localhost:5000"
COMMAND_TIMEOUT_S = 600

FLOAT = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")
JOB_ID = re.compile(r"\b[0-9a-f]{32}\b")
TIMES = (
    re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"),
    re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?"),
)


@dataclass
class Step:
    command: str
    expected: list[str]
    line: int


@dataclass
class Block:
    line: int
    steps: list[Step] = field(default_factory=list)
    server_env: dict[str, str] = field(default_factory=dict)  # for the block's `tabserve serve`

    @property
    def needs_server(self) -> bool:
        return any(README_PORT in step.command for step in self.steps)


SKIP_MARK = "<!-- readme-test: skip"
SERVER_ENV_MARK = "<!-- readme-test: server-env "


def console_blocks(text: str) -> list[Block]:
    """The ```console blocks: each ``$ `` line a command, the lines up to the next one its output.

    A block right after a ``<!-- readme-test: skip (why) -->`` line is left out: one whose
    output needs what a test cannot make in order (e.g. minutes of drifted traffic). After a
    ``<!-- readme-test: server-env NAME=value ... -->`` line, the block's server runs with those
    environment variables (the settings a reader would put in the server's config).
    """
    blocks: list[Block] = []
    current: Block | None = None
    previous = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            if line.strip() == "```console" and not previous.startswith(SKIP_MARK):
                current = Block(number)
                if previous.startswith(SERVER_ENV_MARK):
                    pairs = previous.removeprefix(SERVER_ENV_MARK).removesuffix("-->").split()
                    current.server_env = dict(pair.split("=", 1) for pair in pairs)
            if line.strip():
                previous = line.strip()
            continue
        if line.strip() == "```":
            blocks.append(current)
            current = None
        elif line.startswith("$ "):
            current.steps.append(Step(line[2:], [], number))
        elif current.steps:
            current.steps[-1].expected.append(line)
        else:
            raise AssertionError(f"README.md:{number}: a console block must start with a $ command")
    return blocks


def normalise(line: str) -> str:
    """A line with what legitimately varies masked: floats past 4 significant digits, ids, times."""
    line = line.rstrip()
    for pattern in TIMES:
        line = pattern.sub("<time>", line)
    line = JOB_ID.sub("<id>", line)
    return FLOAT.sub(lambda m: f"{float(m.group()):.4g}", line)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whole-output match; a ``...`` line takes any run of lines, ``...`` in a line any text."""
    expected = [normalise(line) for line in expected]
    while expected and not expected[-1]:
        expected.pop()
    actual = [normalise(line) for line in actual]
    while actual and not actual[-1]:
        actual.pop()
    pattern = "".join(
        r"(?:.*\n)*?" if line == "..." else ".*".join(map(re.escape, line.split("..."))) + r"\n"
        for line in expected
    )
    return re.fullmatch(pattern, "\n".join(actual) + "\n" if actual else "") is not None


def wait_ready(port: int, server: subprocess.Popen) -> None:
    """Return once /readyz answers 200 (the model is loaded); fail if the server dies first."""
    import httpx

    def ready() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"tabserve serve exited with {server.returncode}")
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200

    eventually(ready, "tabserve serve ready", 120, 0.2)


@pytest.mark.slow
@pytest.mark.timeout(900)  # the whole README, training four models, on a shared machine
def test_readme_console_blocks_run_as_shown(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TZ"] = "UTC"
    # curl draws a progress meter on stderr when its output is not a terminal; a reader sees none.
    (tmp_path / ".curlrc").write_text("silent\nshow-error\n")
    env["CURL_HOME"] = str(tmp_path)
    ids: dict[str, str] = {}  # a job id in the README -> the id this run got
    failures: list[str] = []
    for block in console_blocks(README.read_text(encoding="utf-8")):
        server = None
        port = free_port()
        try:
            if block.needs_server:
                server = subprocess.Popen(
                    ["tabserve", "serve", "--port", str(port)],
                    cwd=tmp_path,
                    env={**env, **block.server_env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                wait_ready(port, server)
            for step in block.steps:
                command = step.command.replace(README_PORT, f"127.0.0.1:{port}")
                for readme_id, real_id in ids.items():
                    command = command.replace(readme_id, real_id)
                done = subprocess.run(
                    ["bash", "-c", command],
                    check=False,  # a README command may show a failure and its exit code
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=COMMAND_TIMEOUT_S,
                )
                actual = done.stdout.splitlines()
                for readme_id, real_id in zip(
                    JOB_ID.findall("\n".join(step.expected)), JOB_ID.findall("\n".join(actual)), strict=False
                ):
                    ids.setdefault(readme_id, real_id)
                if not matches(step.expected, actual):
                    failures.append(
                        f"README.md:{step.line}: $ {step.command}\n--- README\n"
                        + "\n".join(step.expected)
                        + "\n--- got\n"
                        + "\n".join(actual)
                    )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=60)
    assert not failures, "\n\n".join(failures)


def test_a_server_env_line_sets_the_blocks_server_environment():
    text = "<!-- readme-test: server-env A=1 B=x=y -->\n```console\n$ true\n```\n```console\n$ true\n```\n"
    first, second = console_blocks(text)
    assert first.server_env == {"A": "1", "B": "x=y"} and second.server_env == {}


def test_matching_masks_only_what_varies():
    assert matches(["p 0.98521234"], ["p 0.98524999"])
    assert not matches(["p 0.9852"], ["p 0.9853"])
    assert matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert matches(["a", "...", "z"], ["a", "z"])
    assert not matches(["a", "z"], ["a", "b", "z"])
    assert matches(
        ['{"id":"7b6315b6cba14e299a50c2b7c63becad","status":"queued",...}'],
        ['{"id":"0123456789abcdef0123456789abcdef","status":"queued","x":1}'],
    )
    assert matches(["v1  2026-11-29 04:07  x"], ["v1  2025-01-02 13:00  x"])
    assert not matches(["setosa"], ["virginica"])
    assert not matches(["one"], [])
