"""Run ``mlflow models serve`` on the loopback address and talk to it (tests and benchmark).

:func:`model_server` starts the server for a model URI on 127.0.0.1 on a free port, waits
until it answers ``/ping`` and stops it (its whole process group) on exit; :func:`post`
sends one JSON request and returns the status and the parsed body.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    """A running model server: where it listens and where it logs."""

    host: str
    port: int
    log: Path


def free_port() -> int:
    """Return a TCP port that is free on the loopback address right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def serve_command(model_uri: str, port: int) -> list[str]:
    """Return the command a user runs (README), with this interpreter's MLflow."""
    return [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
        "--env-manager", "local", "-h", HOST, "-p", str(port),
    ]  # fmt: skip


@contextlib.contextmanager
def model_server(
    model_uri: str, *, tracking_uri: str | None, log: Path, timeout: float = 180.0
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
            serve_command(model_uri, port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stopped with the uvicorn child
        )
    try:
        _wait_until_up(proc, port, timeout, log)
        yield Server(HOST, port, log)
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
