import os

import pytest

from pipelines.benchmark import COMMANDS, parse_args


def test_score_sub_command_is_registered_with_its_options():
    args = parse_args(["score", "--accounts", "500", "--model", "m", "--large", "2000"])
    assert args.command == "score" and COMMANDS["score"].__name__ == "run_score"
    assert (args.accounts, args.months, args.batch_rows, args.large) == (500, 12, 10_000, 2000)
    assert args.workers is None  # the scoring pipeline's own default
    assert parse_args(["score", "--workers", "1"]).workers == 1


def test_score_sub_command_rejects_unknown_options():
    with pytest.raises(SystemExit):
        parse_args(["score", "--no-such-option"])


def test_tree_sampler_sees_this_process():
    from pipelines._bench_score import TreeSampler

    sampler = TreeSampler(os.getpid(), interval=0.01)
    sampler.start()
    sum(i * i for i in range(300_000))  # some CPU time to see
    sampler.stop()
    assert sampler.peak_mb > 10 and sampler.cpu_s > 0
    assert 10 < sampler.peak_pss_mb <= sampler.peak_mb + 1


def test_tree_sampler_of_a_finished_process_sees_nothing():
    from pipelines._bench_score import TreeSampler

    sampler = TreeSampler(2**22 + 1)  # above pid_max: no such process
    sampler.sample()
    assert sampler.peak_mb == sampler.peak_pss_mb == sampler.cpu_s == 0
