"""Training-mode merchant statistics from population totals summed outside the batch."""

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from feature_records import D

from risk_model import contract as C
from risk_model.features import build_features
from risk_model.features.build import population_partials
from risk_model.features.merchant_population import (
    KEY_COLUMNS,
    POPULATION_SCHEMA,
    VALUES,
    PopulationTotals,
    combine_partials,
)

DATES = [D(2024, 3, 31), D(2024, 9, 30)]
# read the population's merchant and category totals (the rest are the account's own)
POPULATION_FEATURES = ("merchant_", "category_amount_ratio_6m")


@pytest.fixture(scope="module")
def population(world):
    table = world.histories.slice(0, 1500)
    parts = [table.slice(0, 600), table.slice(600, 500), table.slice(1100)]
    return table, parts


def _rows_of(frame: pd.DataFrame, part: pa.Table) -> pd.DataFrame:
    ids = set(part[C.ACCOUNT_ID].to_pylist())
    return frame[frame[C.ACCOUNT_ID].isin(ids)].reset_index(drop=True)


def test_each_part_with_the_population_totals_equals_one_batch_of_everyone(population):
    table, parts = population
    whole = build_features(table, DATES)
    totals = PopulationTotals.of([population_partials(part, DATES) for part in parts])
    assert totals.dates() == DATES
    for part in parts:
        got = build_features(part, DATES, population=totals)
        pd.testing.assert_frame_equal(got, _rows_of(whole, part), check_exact=True)


def test_a_part_with_its_own_totals_only_sees_fewer_payers(population):
    table, parts = population
    whole = _rows_of(build_features(table, DATES), parts[0])
    alone = PopulationTotals.of([population_partials(parts[0], DATES)])
    got = build_features(parts[0], DATES, population=alone)
    assert got["merchant_payers_wmean_6m"].mean() < whole["merchant_payers_wmean_6m"].mean()
    assert not got["category_amount_ratio_6m"].equals(whole["category_amount_ratio_6m"])
    others = [c for c in got.columns if not c.startswith(POPULATION_FEATURES)]
    pd.testing.assert_frame_equal(got[others], whole[others], check_exact=True)


def test_totals_without_the_as_of_date_are_refused(population):
    _, parts = population
    totals = PopulationTotals.of([population_partials(parts[0], DATES[:1])])
    with pytest.raises(KeyError, match="no as-of date"):
        build_features(parts[0], DATES[1:], population=totals)


def _two_merchant_rows() -> pa.Table:
    """Two merchant rows of one as-of date (kind 0), values as a part would give them."""
    return pa.table(
        {
            "kind": [0, 0],
            "as_of": [DATES[0], DATES[0]],
            "key": ["m1", "m2"],
            "month": [-1, -1],
            "v1": [100.0, 250.0],
            "v2": [0.0, 50.0],
            "v3": [1.0, 2.0],
            "v4": [0.0, 1.0],
        },
        schema=POPULATION_SCHEMA,
    )


def test_partials_are_summed_by_key():
    partials = _two_merchant_rows()
    combined = combine_partials(pa.concat_tables([partials, partials]))
    assert combined.schema.equals(POPULATION_SCHEMA) and combined.num_rows == 2
    once = combine_partials(partials)
    for v in VALUES:
        assert pc.multiply(once[v], 2).equals(combined[v]), v
    keys = combined.select(list(KEY_COLUMNS)).to_pylist()
    assert keys == once.select(list(KEY_COLUMNS)).to_pylist()


def test_no_totals_without_partials():
    totals = PopulationTotals.of([])
    assert totals.dates() == [] and totals.table.num_rows == 0
