"""The fitted merchant-risk table: fitting from partials, and the scoring lookup."""

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from feature_records import D

from risk_model import contract as C
from risk_model.features import fit_merchant_risk
from risk_model.features.build import merchant_risk_partials
from risk_model.features.merchant_table import (
    AS_OF_METADATA_KEY,
    CATEGORY_COUNT,
    CATEGORY_LOG_SUM,
    CATEGORY_PARTIALS_SCHEMA,
    MERCHANT_PARTIALS_SCHEMA,
    MERCHANT_RISK_SCHEMA,
    PAYERS,
    VOLUME,
    _find,
    fitted_lookup,
    table_from_partials,
)

AS_OF = D(2024, 6, 30)


@pytest.fixture(scope="module")
def population(world):
    return world.histories.slice(0, 3000)


def _from_parts(parts: list[pa.Table]) -> pa.Table:
    partials = [merchant_risk_partials(part, AS_OF) for part in parts]
    merchants = pa.concat_tables([m for m, _ in partials])
    categories = pa.concat_tables([c for _, c in partials])
    return table_from_partials(merchants, categories, AS_OF)


def test_partials_of_any_split_give_the_fitted_table_bit_for_bit(population):
    whole = fit_merchant_risk(population, AS_OF)
    assert whole.schema.equals(MERCHANT_RISK_SCHEMA) and whole.num_rows > 100
    assert whole.schema.metadata[AS_OF_METADATA_KEY] == AS_OF.isoformat().encode()
    uneven = [population.slice(2500), population.slice(0, 700), population.slice(700, 1800)]
    assert _from_parts(uneven).equals(whole, check_metadata=True)
    # partials already combined once combine again to the same table
    merchants, categories = merchant_risk_partials(population, AS_OF)
    twice = table_from_partials(
        pa.concat_tables([merchants, merchants.slice(0, 0)]), categories, AS_OF
    )
    assert twice.equals(whole, check_metadata=True)


def test_partials_of_some_accounts_only_give_another_table(population):
    whole = fit_merchant_risk(population, AS_OF)
    part = _from_parts([population.slice(0, 1500)])
    assert not part.equals(whole)
    shared = pc.is_in(whole[C.MERCHANT_ID], part[C.MERCHANT_ID])
    assert pc.sum(whole.filter(shared)[PAYERS]).as_py() > pc.sum(part[PAYERS]).as_py()


def test_the_table_lists_merchants_with_a_payer_sorted_by_id(population):
    table = fit_merchant_risk(population, AS_OF)
    ids = table[C.MERCHANT_ID].to_pylist()
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert pc.min(table[PAYERS]).as_py() >= 1 and pc.min(table[VOLUME]).as_py() > 0


def test_merchants_without_a_payer_are_left_out_and_unknown_categories_are_missing():
    merchants = pa.table(
        {
            C.MERCHANT_ID: ["m2", "m1", "m2"],
            C.MERCHANT_CATEGORY: ["food", "food", "toys"],
            "volume_cents": [150.0, 0.0, 50.0],
            "round_near_limit_cents": [0.0, 0.0, 0.0],
            PAYERS: [1, 0, 1],
            "night_payers": [0, 0, 1],
            "first_payment_month": [D(2024, 3, 1), None, D(2024, 1, 1)],
        },
        schema=MERCHANT_PARTIALS_SCHEMA,
    )
    categories = pa.table(
        {C.MERCHANT_CATEGORY: ["food"], "log_amount_units": [2e6], CATEGORY_COUNT: [4]},
        schema=CATEGORY_PARTIALS_SCHEMA,
    )
    rows = table_from_partials(merchants, categories, AS_OF).to_pylist()
    assert math.isnan(rows[0].pop(CATEGORY_LOG_SUM))  # no category totals for "toys"
    assert rows == [
        {
            C.MERCHANT_ID: "m2",
            C.MERCHANT_CATEGORY: "toys",  # the largest of its parts' categories
            VOLUME: 2.0,
            "round_near_limit_volume": 0.0,
            PAYERS: 2,
            "night_payers": 1,
            "first_payment_month": D(2024, 1, 1),
            CATEGORY_COUNT: 0,
        }
    ]


def test_lookup_is_prepared_once_per_table(population):
    table = fit_merchant_risk(population, AS_OF)
    lookup = fitted_lookup(table)
    assert fitted_lookup(table) is lookup
    other = fit_merchant_risk(population.slice(0, 100), AS_OF)
    assert fitted_lookup(other) is not lookup
    assert list(lookup.merchant_ids) == sorted(table[C.MERCHANT_ID].to_pylist())


def test_find_gives_each_ids_position_or_minus_one():
    ids = np.array(["a", "c", "e"])
    assert _find(ids, pa.array(["e", "b", "a", "z"])).tolist() == [2, -1, 0, -1]
    assert _find(np.array([], dtype=str), pa.array(["a"])).tolist() == [-1]
    assert _find(ids, pa.array([], pa.string())).tolist() == []
