import dataclasses
import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from risk_model import contract as C
from risk_model import predict as P
from risk_model.features import fit_merchant_risk
from risk_model.reason_check import TABLE_AS_OF, explain_closures, most_likely_causes

MERCHANT_FEATURE = "merchant_payers_wmean_6m"
N_DONORS = 40


@pytest.fixture(scope="module")
def world(model):
    closures = pq.read_table(model.world / "closures.parquet")
    return model.histories, closures


@pytest.fixture(scope="module")
def as_of(predictor) -> dt.date:
    return dt.date.fromisoformat(predictor.artefact.spec["split"]["months_oot"][0])


def _oot_dates(predictor) -> list[dt.date]:
    """The model's first three OOT dates (the small model has twelve; three show it)."""
    return [dt.date.fromisoformat(d) for d in predictor.artefact.spec["split"]["months_oot"][:3]]


def _busy_merchant(histories: pa.Table, accounts: set[str], as_of: dt.date) -> tuple[str, str]:
    """The merchant (id, category) the explained accounts bought from most before as_of."""
    since = dt.datetime.combine(as_of - dt.timedelta(days=150), dt.time())
    counts: Counter = Counter()
    chosen = histories.filter(pc.is_in(histories[C.ACCOUNT_ID], pa.array(sorted(accounts))))
    for row in chosen.select([C.TRANSACTIONS]).to_pylist():
        for tx in row[C.TRANSACTIONS] or []:
            if tx["merchant_id"] and since <= tx["ts"] <= dt.datetime.combine(as_of, dt.time()):
                counts[(tx["merchant_id"], tx["merchant_category"])] += 1
    return counts.most_common(1)[0][0]


def _donors(
    histories: pa.Table, closures: pa.Table, explained: set[str], as_of: dt.date, merchant: str
) -> np.ndarray:
    """Rows of the first N_DONORS accounts that never close, are not explained, opened a year
    before ``as_of`` and never bought at ``merchant``."""
    events = histories[C.TRANSACTIONS].combine_chunks()
    at_merchant = pc.equal(pc.list_flatten(events).field("merchant_id"), merchant)
    bought = np.zeros(histories.num_rows, dtype=bool)
    bought[pc.list_parent_indices(events).filter(at_merchant).to_numpy()] = True
    others = pa.array(sorted(set(closures[C.ACCOUNT_ID].to_pylist()) | explained))
    opened_by = pa.scalar(as_of - dt.timedelta(days=365), pa.date32())
    ok = ~pc.is_in(histories[C.ACCOUNT_ID], others).to_numpy(zero_copy_only=False)
    ok &= pc.less_equal(histories[C.OPEN_DATE], opened_by).to_numpy(zero_copy_only=False)
    return np.flatnonzero(ok & ~bought)[:N_DONORS]


def _with_purchases(
    histories: pa.Table, closures: pa.Table, explained: set[str], as_of: dt.date, ts: dt.datetime
) -> tuple[pa.Table, pa.Table]:
    """Histories with donor accounts moved last: (unchanged, donors buying at one merchant).

    Donors never close and never bought at the merchant; each gets one purchase there at
    ``ts``. Both tables hold the same rows in the same order, so they differ only by those
    purchases. Only the donors go through Python records; the other rows are taken as they are.
    """
    merchant, category = _busy_merchant(histories, explained, as_of)
    donors = _donors(histories, closures, explained, as_of, merchant)
    assert len(donors) == N_DONORS
    rest = histories.take(np.setdiff1d(np.arange(histories.num_rows), donors))
    donor_rows = histories.take(donors)
    records = donor_rows.to_pylist()
    purchase = {
        "ts": ts,
        "kind": "purchase",
        "amount": 500.0,
        "merchant_id": merchant,
        "merchant_category": category,
        "channel": "offline_qr",
    }
    for r in records:
        r[C.TRANSACTIONS] = sorted([*(r[C.TRANSACTIONS] or []), purchase], key=lambda t: t["ts"])
    bought = pa.Table.from_pylist(records, schema=histories.schema)
    base = pa.concat_tables([rest, donor_rows]).combine_chunks()
    return base, pa.concat_tables([rest, bought]).combine_chunks()


def _explained_at(predictor, histories, closures, as_of) -> pd.DataFrame:
    return explain_closures(predictor, histories, closures, [as_of]).rows


@pytest.fixture(scope="module")
def explained_ids(predictor, world, as_of) -> set[str]:
    rows = _explained_at(predictor, *world, as_of)
    assert len(rows) > 0
    return set(rows[C.ACCOUNT_ID])


def test_purchases_after_the_date_change_no_explained_row(predictor, world, as_of, explained_ids):
    after = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(12))
    base, changed = _with_purchases(*world, explained_ids, as_of, after)
    before_rows = _explained_at(predictor, base, world[1], as_of)
    after_rows = _explained_at(predictor, changed, world[1], as_of)
    pd.testing.assert_frame_equal(before_rows, after_rows)


def test_a_table_fitted_after_the_date_sees_purchases_after_it(
    predictor, world, model, as_of, explained_ids
):
    # The look-ahead the point-in-time tables remove: the same purchases, read through a
    # table fitted at the history end, move the explained rows' merchant features.
    after = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(12))
    base, changed = _with_purchases(*world, explained_ids, as_of, after)
    rows = []
    for histories in (base, changed):
        table = fit_merchant_risk(histories, model.as_of)
        late = P.Predictor(dataclasses.replace(predictor.artefact, merchant_risk=table))
        rows.append(explain_closures(late, histories, world[1], [as_of], tables="artefact").rows)
    assert (rows[0][MERCHANT_FEATURE].to_numpy() != rows[1][MERCHANT_FEATURE].to_numpy()).any()


def test_purchases_before_the_date_change_merchant_features(predictor, world, as_of, explained_ids):
    before = dt.datetime.combine(as_of - dt.timedelta(days=10), dt.time(12))
    base, changed = _with_purchases(*world, explained_ids, as_of, before)
    old = _explained_at(predictor, base, world[1], as_of)
    new = _explained_at(predictor, changed, world[1], as_of)
    assert list(old[C.ACCOUNT_ID]) == list(new[C.ACCOUNT_ID])
    moved = old[MERCHANT_FEATURE].to_numpy() != new[MERCHANT_FEATURE].to_numpy()
    assert moved.any()


def test_one_table_per_date_fitted_at_that_date(predictor, world):
    dates = _oot_dates(predictor)
    explained = explain_closures(predictor, *world, [*dates, dates[0]])
    assert explained.table_dates == {d: d for d in dates}
    rows = explained.rows
    assert (rows[TABLE_AS_OF] == rows[C.AS_OF]).all()
    assert rows["label"].eq(1).all() and rows[C.CAUSE].isin(C.CAUSES).all()


def test_artefact_mode_uses_the_artefact_table_for_every_date(predictor, world):
    dates = _oot_dates(predictor)
    explained = explain_closures(predictor, *world, dates, tables="artefact")
    table_date = dt.date.fromisoformat(predictor.artefact.spec["merchant_risk_as_of"])
    assert table_date > max(dates)
    assert explained.table_dates == dict.fromkeys(dates, table_date)


def test_point_in_time_and_artefact_tables_give_different_merchant_features(
    predictor, world, as_of
):
    pit = explain_closures(predictor, *world, [as_of]).rows
    art = explain_closures(predictor, *world, [as_of], tables="artefact").rows
    assert list(pit[C.ACCOUNT_ID]) == list(art[C.ACCOUNT_ID])
    assert (pit[MERCHANT_FEATURE].to_numpy() != art[MERCHANT_FEATURE].to_numpy()).any()
    # the table changes merchant features only
    kyc = "months_since_kyc"
    assert np.array_equal(pit[kyc].to_numpy(), art[kyc].to_numpy(), equal_nan=True)


@pytest.mark.parametrize(
    ("dates", "tables"), [([], "point_in_time"), ([dt.date(2025, 1, 31)], "end")]
)
def test_explain_closures_refuses_bad_arguments(predictor, world, dates, tables):
    with pytest.raises(ValueError):
        explain_closures(predictor, *world, dates, tables=tables)


def _truth(rows: list[tuple[str, str, int, dict[str, float]]]) -> pa.Table:
    """A truth table: (account, as-of, horizon, {cause: probability}), other causes 0."""
    columns: dict[str, list] = {C.ACCOUNT_ID: [], C.AS_OF: [], "horizon_months": []}
    columns |= {name: [] for name in C.CAUSE_PROBABILITY_COLUMNS}
    for account, as_of, horizon, probabilities in rows:
        columns[C.ACCOUNT_ID].append(account)
        columns[C.AS_OF].append(dt.date.fromisoformat(as_of))
        columns["horizon_months"].append(horizon)
        for cause in C.CAUSES:
            columns[f"p_{cause}"].append(probabilities.get(cause, 0.0))
    return pa.table(columns)


def test_most_likely_cause_is_the_truths_largest_cause_probability():
    truth = _truth(
        [
            ("a", "2025-01-31", 3, {"overdue": 0.02, "dormancy": 0.05}),
            ("a", "2025-02-28", 3, {"cashout": 0.04, "dormancy": 0.01}),
            ("b", "2025-01-31", 3, {"regulatory": 0.01, "overdue": 0.001}),
        ]
    )
    rows = pd.DataFrame(
        {
            C.ACCOUNT_ID: ["b", "a", "a"],
            C.AS_OF: pd.to_datetime(["2025-01-31", "2025-02-28", "2025-01-31"]),
        },
        index=[7, 8, 9],
    )
    found = most_likely_causes(rows, truth, 3)
    assert list(found.index) == [7, 8, 9]
    assert found.tolist() == ["regulatory", "cashout", "dormancy"]


def test_most_likely_cause_is_none_without_a_truth_row_of_the_models_horizon():
    # Negative twin: same account and date, but the truth is for another horizon.
    truth = _truth([("a", "2025-01-31", 6, {"overdue": 0.02})])
    rows = pd.DataFrame({C.ACCOUNT_ID: ["a"], C.AS_OF: [dt.date(2025, 1, 31)]})
    assert most_likely_causes(rows, truth, 3).tolist() == [None]
    assert most_likely_causes(rows, truth, 6).tolist() == ["overdue"]


def test_most_likely_causes_refuses_a_truth_without_cause_probabilities():
    truth = _truth([("a", "2025-01-31", 3, {})]).drop_columns(["p_cashout"])
    rows = pd.DataFrame({C.ACCOUNT_ID: ["a"], C.AS_OF: [dt.date(2025, 1, 31)]})
    with pytest.raises(ValueError, match="p_cashout"):
        most_likely_causes(rows, truth, 3)


def test_the_truths_most_likely_cause_on_the_small_world(predictor, world, model):
    # On real explained rows: every row has truth, and the oracle's cause is one whose
    # true probability is the largest of that row.
    histories, closures = world
    explained = explain_closures(predictor, histories, closures, _oot_dates(predictor))
    truth = pq.read_table(model.world / "truth.parquet")
    found = most_likely_causes(explained.rows, truth, predictor.artefact.horizon_months)
    assert found.index.equals(explained.rows.index)
    assert found.notna().all() and set(found) <= set(C.CAUSES)
    table = truth.to_pandas()
    horizon = predictor.artefact.horizon_months
    table = table[table["horizon_months"] == horizon].set_index([C.ACCOUNT_ID, C.AS_OF])
    keys = zip(explained.rows[C.ACCOUNT_ID], explained.rows[C.AS_OF], strict=True)
    for (account, as_of), cause in zip(keys, found, strict=True):
        row = table.loc[(account, pd.Timestamp(as_of).date())]
        assert row[f"p_{cause}"] == max(row[list(C.CAUSE_PROBABILITY_COLUMNS)])
