import numpy as np

from risk_model.problems import (
    MAX_IDS_SHOWN,
    ContractError,
    ContractWarning,
    IdTwinWarning,
    Problem,
    UnknownClosureWarning,
)


def _problem(ids):
    return Problem(
        "statements.minimum_due",
        "minimum_above_billed",
        "minimum due above the bill",
        "send the minimum due of the statement",
        rows=np.arange(len(ids)),
        account_ids=tuple(ids),
    )


def test_a_row_problem_names_its_accounts_and_counts_the_rest():
    ids = [f"A{i}" for i in range(MAX_IDS_SHOWN + 3)]
    text = _problem(ids).describe()
    assert text.startswith("statements.minimum_due: minimum due above the bill")
    assert "[minimum_above_billed]" in text and text.endswith(
        "Fix: send the minimum due of the statement"
    )
    assert f"{len(ids)} account(s): 'A0', 'A1', 'A2', 'A3', 'A4' and 3 more" in text
    assert "'A5'" not in text


def test_a_few_accounts_are_all_named_and_a_table_problem_names_all_rows():
    assert "2 account(s): 'A0', 'A1'." in _problem(["A0", "A1"]).describe()
    assert "more" not in _problem(["A0", "A1"]).describe()
    table = Problem("histories", "missing_column", "column missing", "add it")
    assert table.table_level and not _problem(["A0"]).table_level
    assert "in all rows." in table.describe()


def test_contract_error_lists_every_problem():
    problems = [_problem(["A0"]), Problem("closures", "empty", "no rows", "send rows")]
    error = ContractError(problems, what="closures")
    assert error.problems == problems
    lines = str(error).splitlines()
    assert lines[0] == "closures do not meet the data contract (2 problem(s)):"
    assert lines[1:] == [f"  - {p.describe()}" for p in problems]


def test_id_twins_are_shown_escaped_and_counted():
    groups = [("caf\u00e9", "cafe\u0301")] + [(f"x{i}", f"y{i}") for i in range(MAX_IDS_SHOWN)]
    warning = IdTwinWarning(groups)
    assert isinstance(warning, ContractWarning) and isinstance(warning, UserWarning)
    text = str(warning)
    assert text.startswith(f"{len(groups)} group(s) of account ids")
    assert "'caf\\xe9'/'cafe\\u0301'" in text and "and 1 more" in text
    assert "and 1 more" not in str(IdTwinWarning(groups[:1]))
    assert issubclass(UnknownClosureWarning, ContractWarning)
