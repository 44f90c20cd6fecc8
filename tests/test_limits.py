import pyarrow as pa
import pyarrow.compute as pc
import pytest

from risk_model import contract as C
from risk_model.limits import (
    DEFAULT_LIMITS,
    EventLimits,
    over_limit_problems,
    split_within_limits,
    validate_within_limits,
)
from risk_model.synthetic import WorldConfig, generate_world
from risk_model.validation import ContractError

TINY = WorldConfig(n_accounts=40, n_months=8, seed=4, block_size=40, chunk_size=40)


@pytest.fixture(scope="module")
def histories() -> pa.Table:
    return generate_world(TINY).histories


def _counts(table, column):
    return pc.list_value_length(table[column]).to_pylist()


def test_limits_must_be_positive_integers():
    assert EventLimits(1, 1).max_statements == 1
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="must be an integer >= 1"):
            EventLimits(max_statements=bad)


def test_accounts_above_a_cap_are_rejected_at_their_input_rows(histories):
    cap = sorted(set(_counts(histories, C.STATEMENTS)))[-2]  # the longest accounts go over it
    over = [i for i, n in enumerate(_counts(histories, C.STATEMENTS)) if n > cap]
    assert 0 < len(over) < histories.num_rows
    limits = EventLimits(max_statements=cap)
    problems = over_limit_problems(histories, limits)
    assert [int(p.rows[0]) for p in problems] == over
    assert {p.check for p in problems} == {"too_many_statements"}
    assert "--max-statements" in problems[0].hint
    valid, rejects = split_within_limits(histories, None, limits)
    assert rejects["row"].to_pylist() == over
    assert valid.num_rows == histories.num_rows - len(over)
    assert set(valid[C.ACCOUNT_ID].to_pylist()).isdisjoint(rejects[C.ACCOUNT_ID].to_pylist())


def test_within_the_caps_nothing_is_rejected(histories):
    assert over_limit_problems(histories, DEFAULT_LIMITS) == []
    valid, rejects = split_within_limits(histories, None, DEFAULT_LIMITS)
    assert valid.num_rows == histories.num_rows and rejects.num_rows == 0
    assert validate_within_limits(histories, None, DEFAULT_LIMITS).num_rows == histories.num_rows


def test_validation_lists_the_capped_accounts_and_the_other_problems_at_input_rows(histories):
    cap = max(_counts(histories, C.TRANSACTIONS)) - 1
    top = _counts(histories, C.TRANSACTIONS).index(cap + 1)
    ids = histories[C.ACCOUNT_ID].to_pylist()
    other = 0 if top != 0 else 1
    ids[other] = None  # a second, unrelated problem further on
    broken = histories.set_column(0, C.ACCOUNT_ID, pa.array(ids, pa.string()))
    with pytest.raises(ContractError) as caught:
        validate_within_limits(broken, None, EventLimits(max_transactions=cap))
    rows = {p.check: sorted(int(r) for r in p.rows) for p in caught.value.problems}
    assert rows["too_many_transactions"] == [top]
    assert [other] in rows.values()  # the null id is reported at its own input row
