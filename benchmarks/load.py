"""Drive HTTP load: wrk when it is installed, else a small asyncio client. Bounded in time."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def spread(values: list[float]) -> str:
    """A ratio as the reports print it: the median of the rounds, then their range."""
    return f"{statistics.median(values):.2f} (rounds {min(values):.2f}-{max(values):.2f})"


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk output has no {label} line:\n{text}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _run_wrk(url: str, body: bytes, connections: int, seconds: float, headers: dict[str, str]) -> LoadResult:
    with tempfile.TemporaryDirectory() as folder:
        # The body is read from a file, so any bytes (the OIP binary extension's tensors) go as sent.
        (Path(folder) / "body").write_bytes(body)
        lines = [
            f"local file = io.open({json.dumps(str(Path(folder) / 'body'))}, 'rb')",
            "wrk.body = file:read('*a')",
            "file:close()",
            'wrk.method = "POST"',
            *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()),
        ]
        script = Path(folder) / "post.lua"
        script.write_text("\n".join(lines) + "\n")
        threads = 1 if connections == 1 else 2
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        text = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 30, check=True
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+)"):
        match = re.search(pattern, text)
        if match:
            errors += int(match.group(1))
    return LoadResult(rate, _wrk_ms(text, "50%"), _wrk_ms(text, "99%"), errors)


async def _client(
    host: str, port: int, request: bytes, deadline: float, latencies: list, errors: list
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head[:20])
    finally:
        writer.close()


def _run_python(
    url: str, body: bytes, connections: int, seconds: float, headers: dict[str, str]
) -> LoadResult:
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{fields}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors: list[bytes] = []

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(_client(host, port, request, deadline, latencies, errors) for _ in range(connections))
        )

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return LoadResult(len(latencies) / elapsed, pick(0.50), pick(0.99), len(errors))


def drive(
    url: str, body: bytes, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> LoadResult:
    """Keep ``connections`` keep-alive connections busy for ``seconds`` (a JSON body unless
    ``headers`` say otherwise)."""
    headers = headers or {"Content-Type": "application/json"}
    if load_tool() == "wrk":
        return _run_wrk(url, body, connections, seconds, headers)
    return _run_python(url, body, connections, seconds, headers)
