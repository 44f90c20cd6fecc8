"""``python -m pipelines.benchmark serve``: HTTP latency of ``mlflow models serve``.

Starts the command a user runs (docs/serving.md) on 127.0.0.1 on a free port for the registered
champion (``--model``), sends one-account requests (account records of a cached synthetic
world, ``data/bench/``, as JSON with its as-of date) from 1, 4 and 8 client threads
(``--concurrency``; each thread keeps one HTTP connection, stdlib ``http.client``), a bounded
number per level (``--requests``, at most ``--max-seconds``), stops the server and prints p50
/ p99 latency, throughput, errors (any answer but 200) and the server's CPU time per request
(user + system time of every server process, read from ``/proc``) per level. Exit code 1 on
errors.

On a shared machine the latencies include the waits for other jobs; the CPU time per request
hardly does, so it tells what a quiet machine would do: each worker serves one request at a
time, so with ``w`` workers on ``w`` free cores and ``c`` clients a request waits for about
``c / w`` service times.

The same helpers serve the tests: :func:`model_server` starts the server, waits until it
answers ``/ping`` and stops it (its whole process group) on exit; :func:`post` sends one JSON
request and returns the status and the parsed body.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import importlib.util
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines._bench_score import at_least_one, cpu_seconds, proc_stat

if TYPE_CHECKING:
    import pyarrow as pa

HOST = "127.0.0.1"
DEFAULT_MODEL = "models:/closure-risk@champion"
MAX_CONCURRENCY = 64
WORKERS = os.cpu_count() or 1  # one server process per core: the scoring is CPU-bound


@dataclass(frozen=True)
class Server:
    """A running model server: where it listens, where it logs, its process group."""

    host: str
    port: int
    log: Path
    group: int | None = None


def free_port() -> int:
    """Return a TCP port that is free on the loopback address right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def serve_command(model_uri: str, port: int, workers: int = 1) -> list[str]:
    """Return the command a user runs (docs/serving.md), with this interpreter's MLflow."""
    return [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
        "--env-manager", "local", "-h", HOST, "-p", str(port), "-w", str(workers),
    ]  # fmt: skip


@contextlib.contextmanager
def model_server(
    model_uri: str,
    *,
    tracking_uri: str | None,
    log: Path,
    workers: int = 1,
    timeout: float = 180.0,
) -> Iterator[Server]:
    """Serve ``model_uri`` on 127.0.0.1 for the enclosed block.

    Parameters
    ----------
    model_uri : str
        E.g. ``models:/closure-risk@champion``.
    tracking_uri : str, optional
        MLflow store holding the model (else ``MLFLOW_TRACKING_URI`` or MLflow's default).
    log : Path
        File receiving the server's output.
    workers : int
        Server processes (uvicorn workers; each loads the model).
    timeout : float
        Seconds to wait for the server to answer ``/ping``.

    Raises
    ------
    RuntimeError
        When the server exits or does not answer in time (its log's tail is quoted).
    """
    port = free_port()
    from risk_model.modeling.mlflow_adapter import QUIET_ENVIRONMENT

    env = QUIET_ENVIRONMENT | os.environ | {"OMP_WAIT_POLICY": "passive"}
    # `mlflow models serve` execs `uvicorn` by name: this interpreter's scripts come first.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            serve_command(model_uri, port, workers),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stopped with the uvicorn child
        )
    try:
        _wait_until_up(proc, port, timeout, log)
        yield Server(HOST, port, log, proc.pid)
    finally:
        _stop(proc)


def _wait_until_up(proc: subprocess.Popen, port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"model server exited ({proc.returncode}): {_tail(log)}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"model server not up after {timeout:g} s: {_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group; SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def group_cpu_seconds(group: int) -> float | None:
    """CPU seconds (user + system) used so far by the live processes of a process group.

    Read from ``/proc`` (Linux); None where there is none.
    """
    if proc_stat(os.getpid()) is None:
        return None
    seconds = 0.0
    for path in Path("/proc").glob("[0-9]*"):
        fields = proc_stat(int(path.name))  # None: the process ended meanwhile
        if fields is not None and int(fields[2]) == group:
            seconds += cpu_seconds(fields)
    return seconds


def event_loop() -> str:
    """Name the event loop uvicorn picks in this environment (uvloop when installed)."""
    if importlib.util.find_spec("uvloop") is not None:
        return "uvloop"
    return "asyncio (uvloop missing: with -w > 1 each keep-alive answer waits ~40 ms)"


def post(
    server: Server,
    body: bytes | dict[str, Any],
    *,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, Any]:
    """POST ``body`` to ``/invocations``; return the status and the parsed JSON answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn = connection or http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("POST", "/invocations", data, {"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if connection is None:
        conn.close()
    try:
        return response.status, json.loads(payload)
    except ValueError:
        return response.status, payload.decode("utf-8", errors="replace")


# --- the benchmark: `python -m pipelines.benchmark serve` ---------------------------------


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``serve`` sub-command on the benchmark's sub-parsers."""
    p = sub.add_parser("serve", help="HTTP latency of `mlflow models serve`, one account a request")
    p.add_argument("--model", default=DEFAULT_MODEL, help="registered model URI to serve")
    p.add_argument(
        "--tracking-uri", help="MLflow store (default MLFLOW_TRACKING_URI or ./mlflow.db)"
    )
    p.add_argument("--requests", type=at_least_one, default=1500, help="timed requests per level")
    p.add_argument(
        "--concurrency", type=_levels, default=(1, 4, 8), help="comma-separated client threads"
    )
    p.add_argument("--max-seconds", type=float, default=90.0, help="time bound of each level")
    p.add_argument(
        "--workers",
        type=at_least_one,
        default=WORKERS,
        help="server processes (-w; default: one per core)",
    )
    p.add_argument("--warmup", type=int, default=50, help="untimed requests first")
    p.add_argument("--accounts", type=at_least_one, default=1000, help="distinct accounts sent")
    p.add_argument("--months", type=int, default=12, help="history months of the sent accounts")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2024-07", help="first month (as-of: its last month end)")
    p.add_argument("--data-dir", type=Path, default=None, help="cache of generated worlds")


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give numbers like 1,4,8, got {text!r}") from None
    if not levels or min(levels) < 1 or max(levels) > MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"each level must be 1..{MAX_CONCURRENCY}, got {text!r}")
    return levels


@dataclass(frozen=True)
class Level:
    """What one concurrency level measured."""

    concurrency: int
    latencies_ms: np.ndarray
    errors: int
    seconds: float
    server_cpu_seconds: float | None = None

    def row(self) -> str:
        """Return the printed line of this level."""
        lat = self.latencies_ms
        p50, p99 = np.percentile(lat, [50, 99]) if lat.size else (float("nan"),) * 2
        rate = lat.size / self.seconds if self.seconds else float("nan")
        sent = lat.size + self.errors
        cpu = float("nan")
        if self.server_cpu_seconds is not None and sent:
            cpu = self.server_cpu_seconds * 1000 / sent
        return (
            f"{self.concurrency:>11} {sent:>9,} {p50:>8.1f} {p99:>8.1f} "
            f"{rate:>10.1f} {self.errors:>7} {cpu:>14.1f}"
        )


def request_bodies(histories: pa.Table, as_of: dt.date) -> list[bytes]:
    """One JSON request per account, as a client would send it."""
    records = histories.to_pylist()
    return [
        json.dumps(
            {"dataframe_records": [record], "params": {"as_of": as_of.isoformat()}},
            default=lambda value: value.isoformat(),
        ).encode()
        for record in records
    ]


def run_level(
    server: Server, bodies: list[bytes], concurrency: int, count: int, max_seconds: float
) -> Level:
    """Send ``count`` requests from ``concurrency`` threads (stops at ``max_seconds``)."""
    lock = threading.Lock()
    sent = itertools.count()
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        try:
            while time.monotonic() < deadline:
                i = next(sent)
                if i >= count:
                    return
                began = time.perf_counter()
                try:
                    status, _ = post(server, bodies[i % len(bodies)], connection=conn)
                except (OSError, http.client.HTTPException):
                    status = 0
                    conn.close()
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
                took = (time.perf_counter() - began) * 1000
                with lock:
                    if status == 200:
                        latencies.append(took)
                    else:
                        errors[0] += 1
        finally:
            conn.close()

    cpu_before = None if server.group is None else group_cpu_seconds(server.group)
    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    cpu_after = None if server.group is None else group_cpu_seconds(server.group)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Level(concurrency, np.array(latencies), errors[0], took, cpu)


def run_serve(args: argparse.Namespace) -> int:
    """HTTP latency and throughput of the served model, one account per request."""
    import pyarrow.parquet as pq

    from pipelines.benchmark import BENCH_DIR, month_ends, world_dir
    from risk_model.modeling.tracking import resolve_tracking_uri

    folder = world_dir(args.accounts, args.months, args.seed, args.data_dir or BENCH_DIR,
                       start=args.start)  # fmt: skip
    as_of = month_ends(folder, 1)[0]
    histories = pq.read_table(folder / "histories.parquet").slice(0, args.accounts)
    bodies = request_bodies(histories, as_of)
    uri = resolve_tracking_uri(args.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="closure-risk-serve-") as tmp:
        log = Path(tmp) / "server.log"
        began = time.perf_counter()
        with model_server(args.model, tracking_uri=uri, log=log, workers=args.workers) as server:
            started = time.perf_counter() - began
            warm = run_level(server, bodies, 1, args.warmup, args.max_seconds)
            levels = [
                run_level(server, bodies, c, args.requests, args.max_seconds)
                for c in args.concurrency
            ]
    print(f"model {args.model} on {uri}; {args.workers} worker(s), up in {started:.1f} s")
    print(f"server event loop: {event_loop()}")
    print(
        f"{len(bodies):,} distinct accounts ({args.months} months, seed {args.seed}, as-of "
        f"{as_of}), one account per request, warm-up {warm.latencies_ms.size + warm.errors}"
    )
    print(f"{'concurrency':>11} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests/s':>10} "
          f"{'errors':>7} {'server CPU ms':>14}")  # fmt: skip
    for level in levels:
        print(level.row())
    return 1 if any(level.errors for level in [warm, *levels]) else 0
