import pytest

from pipelines.benchmark import COMMANDS, parse_args


def test_score_sub_command_is_registered_with_its_options():
    args = parse_args(["score", "--accounts", "500", "--model", "m", "--large", "2000"])
    assert args.command == "score" and COMMANDS["score"].__name__ == "run_score"
    assert (args.accounts, args.months, args.batch_rows, args.large) == (500, 12, 10_000, 2000)


def test_score_sub_command_rejects_unknown_options():
    with pytest.raises(SystemExit):
        parse_args(["score", "--no-such-option"])
