"""Where a single-row request's server CPU goes, by component, on the live server (no target).

Trains iris into a temporary registry, serves it as ``tabserve serve`` does (or
serves the raw-ASGI no-op with ``--noop``) with a CPU-time sampler inside the
server process, drives single-row ``POST /predict`` at 8 connections with the
load tool for ``--seconds``, and prints the server's CPU per request (psutil,
user+system) split by component.

The sampler is ``setitimer(ITIMER_PROF)``: a signal per slice of the process's
CPU time (user and system), whose handler records the main thread's Python
stack. A signal is handled between two bytecodes, so time in C (the socket
read and write system calls, the HTTP parser) counts to the Python line that
called it, or for the event loop's own work to the first Python line it calls
next (``data_received``'s first line is the socket read). Each component's
share of the samples times the CPU per request gives its microseconds. A wall
clock profiler (py-spy) on a busy machine counts the time a preempted server
waits for a core, mostly at the write that woke the client; this does not.

Bounded: about ``--seconds`` plus the training and start-up.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import drive, load_tool
from serve import ROW, free_port, prepare, server

# (where the innermost matching frame is, component); the first rule that matches a frame wins,
# frames are tried from the innermost out.
RULES = [
    ("transport.write", "the response write (system call, loopback TCP)"),
    ("data_received@first", "the socket read (uvloop, system call)"),
    ("prometheus_client", "metrics"),
    ("predict/metrics.py", "metrics"),
    ("monitoring/ids.py", "request id"),
    ("request_id_header", "request id"),
    ("monitoring/", "drift watch"),
    ("compiled_runtime.py", "the row predict (linear model, Python floats)"),
    ("tabserve/predictor.py", "the row predict (linear model, Python floats)"),
    ("tabserve/answers.py", "JSON encode"),
    ("predict/core.py", "core: value checks, canary check, accounting"),
    ("http/bodies.py", "handler: media type, body read, JSON decode"),
    ("tabserve/handler.py", "handler: media type, body read, JSON decode"),
    ("dispatch.py", "dispatcher and adapter"),
    ("tabserve/adapter.py", "dispatcher and adapter"),
    ("protocols/adapter.py", "dispatcher and adapter"),
    ("same_site.py", "Host check"),
    ("http/guard.py", "HTTP guard (limits, deadlines)"),
    ("uvicorn/", "uvicorn: parser callbacks, request cycle, task"),
    ("asyncio/", "uvicorn: parser callbacks, request cycle, task"),
    ("_weakrefset.py", "uvicorn: parser callbacks, request cycle, task"),
    ("<string>", "dispatcher and adapter"),  # NamedTuple constructors (Reply, RawRequest, Answer)
]


def _serve(port: str, noop: bool, out: str) -> None:
    """In the server process: sample on SIGPROF while switched on (SIGUSR2 toggles; off writes ``out``)."""
    counts: collections.Counter = collections.Counter()
    on = [False]

    def sample(_signum: int, frame) -> None:
        if not on[0]:
            return
        parts = []
        first = True
        while frame is not None:
            code = frame.f_code
            name = code.co_filename.split("site-packages/")[-1].split("/src/")[-1]
            line = frame.f_lineno
            if first and code.co_name == "data_received" and line <= _first_line(code):
                parts.append("data_received@first")
            elif first and frame.f_code.co_name in ("send", "write") and _writes(frame, line):
                parts.append("transport.write")
            parts.append(f"{code.co_name} {name}:{line}")
            first = False
            frame = frame.f_back
        counts[";".join(reversed(parts))] += 1

    def toggle(_signum: int, _frame) -> None:
        if on[0]:
            on[0] = False
            Path(out).write_text("".join(f"{k}\t{n}\n" for k, n in counts.items()))
        else:
            counts.clear()
            on[0] = True

    signal.signal(signal.SIGPROF, sample)
    signal.signal(signal.SIGUSR2, toggle)
    signal.setitimer(signal.ITIMER_PROF, 0.0005, 0.0005)
    if noop:
        import runpy

        sys.argv = ["noop_app.py", port]
        runpy.run_path(str(Path(__file__).with_name("noop_app.py")), run_name="__main__")
        return
    from tabserve.cli import main

    sys.argv = ["tabserve", "serve", "--port", port, "--workers", "1"]
    sys.exit(main())


_first_lines: dict = {}


def _first_line(code) -> int:
    """The line of a function's first statement (its entry counts to the line of its `def`)."""
    found = _first_lines.get(code)
    if found is None:
        found = _first_lines[code] = min(n for _, _, n in code.co_lines() if n and n > code.co_firstlineno)
    return found


def _writes(frame, line: int) -> bool:
    """Whether the line the frame is on calls ``transport.write``."""
    import linecache

    return "transport.write(" in linecache.getline(frame.f_code.co_filename, line)


def component(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for pattern, name in RULES:
            if pattern in frame:
                return name
    return "other (event loop, ...)"


def profile(noop: bool, seconds: float) -> tuple[float, float, dict[str, float]]:
    """(req/s, CPU us per request, us per request by component) for one server."""
    with tempfile.TemporaryDirectory() as tmp:
        env, _ = prepare(Path(tmp))
        out = Path(tmp) / "samples.tsv"
        port = free_port()
        command = [sys.executable, __file__, "--serve", str(port), str(out)] + (["--noop"] if noop else [])
        with server(command, port, env) as process:
            url = f"http://127.0.0.1:{port}/predict"
            drive(url, ROW, 8, 2.0)  # warm up
            watched = psutil.Process(process.pid)
            os.kill(process.pid, signal.SIGUSR2)
            before = watched.cpu_times()
            load = drive(url, ROW, 8, seconds)
            after = watched.cpu_times()
            os.kill(process.pid, signal.SIGUSR2)
            for _ in range(100):
                if out.exists():
                    break
                time.sleep(0.05)
            lines = out.read_text().splitlines()
    requests = load.requests_per_s * max(1, round(seconds))
    cpu_us = 1e6 * (after.user + after.system - before.user - before.system) / requests
    samples: collections.Counter = collections.Counter()
    for line in lines:
        stack, n = line.rsplit("\t", 1)
        samples[component(stack)] += int(n)
    total = sum(samples.values()) or 1
    return load.requests_per_s, cpu_us, {k: cpu_us * n / total for k, n in samples.most_common()}


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2], "--noop" in sys.argv, sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the sampled load run")
    parser.add_argument("--noop", action="store_true", help="profile the raw-ASGI no-op instead")
    args = parser.parse_args()
    print(f"load generator: {load_tool()}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rate, cpu_us, parts = profile(args.noop, args.seconds)
    who = "no-op" if args.noop else "tabserve"
    print(f"{who}: {rate:,.0f} req/s, server CPU {cpu_us:.1f} us per request")
    print("\n| component | us per request |\n| --- | --- |")
    for name, us in parts.items():
        print(f"| {name} | {us:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
