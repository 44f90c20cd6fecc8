import datetime as dt
import json
import os

import numpy as np
import pyarrow as pa
import pytest

from pipelines import benchmark
from pipelines._bench_serve import (
    Level,
    event_loop,
    group_cpu_seconds,
    request_bodies,
)


def test_serve_arguments_and_their_defaults():
    args = benchmark.parse_args(["serve"])
    assert args.command == "serve" and args.concurrency == (1, 4, 8)
    assert args.requests == 1500 and args.model == "models:/closure-risk@champion"
    assert args.workers == (os.cpu_count() or 1)
    args = benchmark.parse_args(["serve", "--concurrency", "2,16", "--requests", "10"])
    assert args.concurrency == (2, 16) and args.requests == 10


@pytest.mark.parametrize(
    "argv",
    [
        ["--concurrency", "0,4"],
        ["--concurrency", "a,b"],
        ["--concurrency", "65"],
        ["--requests", "0"],
        ["--workers", "0"],
    ],
)
def test_serve_refuses_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(["serve", *argv])
    assert "error" in capsys.readouterr().err


def test_one_account_per_request_with_its_as_of():
    table = pa.table(
        {"account_id": ["A", "B"], "open_date": [dt.date(2024, 1, 2), dt.date(2024, 3, 4)]}
    )
    bodies = [json.loads(b) for b in request_bodies(table, dt.date(2025, 6, 30))]
    assert bodies == [
        {
            "dataframe_records": [{"account_id": "A", "open_date": "2024-01-02"}],
            "params": {"as_of": "2025-06-30"},
        },
        {
            "dataframe_records": [{"account_id": "B", "open_date": "2024-03-04"}],
            "params": {"as_of": "2025-06-30"},
        },
    ]


def test_a_level_row_counts_errors_among_the_requests():
    level = Level(8, np.array([10.0, 20.0, 30.0, 40.0]), errors=1, seconds=2.0)
    assert level.row().split() == ["8", "5", "25.0", "39.7", "2.0", "1", "nan"]


def test_a_level_row_gives_the_servers_cpu_per_request():
    level = Level(8, np.array([10.0, 20.0, 30.0, 40.0]), 1, 2.0, server_cpu_seconds=0.05)
    assert level.row().split()[-1] == "10.0"  # 50 ms over 5 requests


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc (Linux)")
def test_group_cpu_counts_the_live_processes_of_a_group():
    assert group_cpu_seconds(os.getpgrp()) > 0  # this process's group has used CPU
    assert group_cpu_seconds(_unused_group()) == 0


def _unused_group() -> int:
    """A process group id that no live process has (ids are bounded by pid_max)."""
    with open("/proc/sys/kernel/pid_max", encoding="ascii") as limit:
        return int(limit.read()) + 1


def test_the_benchmark_names_the_servers_event_loop():
    assert event_loop() == "uvloop"  # a dependency of closure-risk where it exists
