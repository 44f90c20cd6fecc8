"""Declaring a feature (declarer, FeatureSpec checks), reason templates and the context."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from risk_model import contract as C
from risk_model.features.feature import (
    KNOWN_AT_STATEMENT,
    Context,
    FeatureSpec,
    declarer,
    default_detail,
    reason_template,
)
from risk_model.features.monthly import day_number, make_grid


def test_declarer_fills_the_family_and_its_point_in_time_rule():
    feature = declarer("overdue", known_at=KNOWN_AT_STATEMENT)
    spec = feature("x_3m", "overdue", "last 3 months", 1, "months", "Months of x.", "{value} x.")
    assert (spec.family, spec.known_at, spec.detail) == (
        "overdue",
        KNOWN_AT_STATEMENT,
        "{value:.1f} months",
    )
    other = feature("y", "overdue", "at as-of", 0, "count", "Count.", known_at="payment")
    assert other.known_at == "payment"
    with pytest.raises(ValueError, match="family"):
        declarer("weather", known_at="now")("z", "overdue", "at as-of", 0, "count", "Count.")


def test_spec_checks_its_fields():
    with pytest.raises(ValueError, match="direction"):
        FeatureSpec("x", "overdue", "overdue", "d", "w", 2, "u", "r")
    assert FeatureSpec("x", "overdue", "overdue", "d", "w", 0, "u").reason == ""


def test_reason_template_picks_the_variant_for_the_value():
    entry = {"reason": "r {value}", "reason_zero": "zero", "reason_negative": "neg {value}"}
    assert reason_template(entry, 3.0) == ("r {value}", 3.0)
    assert reason_template(entry, 0.2) == ("zero", 0.2)
    assert reason_template(entry, -2.0) == ("neg {value}", 2.0)
    template, number = reason_template(entry, float("nan"))
    assert template == "" and np.isnan(number)


def test_default_detail_by_unit():
    assert default_detail("CNY") == "{value:,.2f} CNY"
    assert default_detail("days") == "{value:,.0f} days"
    assert default_detail("ratio") == "{value:.3f} ratio"


def test_profile_column_is_in_account_id_order_and_missing_when_absent():
    histories = pa.table(
        {
            C.ACCOUNT_ID: ["B", "A", "C"],
            C.BIRTH_YEAR: pa.array([1990, None, 1970], pa.int16()),
        }
    )
    grid = make_grid(np.array([day_number(dt.date(2024, 6, 30))]))
    order = np.array([1, 0, 2])  # A, B, C
    ctx = Context(histories, order, grid, None, None, None, None, 3, None, None)
    got = ctx.profile_column(C.BIRTH_YEAR)
    assert np.isnan(got[0]) and got[1:].tolist() == [1990.0, 1970.0]
    assert np.isnan(ctx.profile_column(C.CITY_TIER)).all()
    assert (ctx.n_acc, ctx.n_asof) == (3, 1)


def test_profile_column_is_read_once_and_read_only():
    histories = pa.table({C.ACCOUNT_ID: ["A", "B"], C.CITY_TIER: pa.array([1, 3], pa.int8())})
    grid = make_grid(np.array([day_number(dt.date(2024, 6, 30))]))
    ctx = Context(histories, np.arange(2), grid, None, None, None, None, 3, None, None)
    tier = ctx.profile_column(C.CITY_TIER)
    assert ctx.profile_column(C.CITY_TIER) is tier  # shared by the families that read it
    with pytest.raises(ValueError, match="read-only"):
        tier[0] = 2  # one family cannot change what another reads
    other = Context(histories, np.array([1, 0]), grid, None, None, None, None, 3, None, None)
    assert other.profile_column(C.CITY_TIER).tolist() == [3.0, 1.0]  # per context, not global
