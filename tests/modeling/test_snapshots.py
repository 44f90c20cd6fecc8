"""Served-path evaluation on a small generated world: the OOT figures are what scoring gives."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from risk_model import contract as C
from risk_model.features import FEATURES, feature_names
from risk_model.features.feature import KNOWN_AT_MERCHANTS
from risk_model.features.merchant_risk import AS_OF_METADATA_KEY
from risk_model.modeling.config_load import load_config
from risk_model.modeling.evaluation import evaluate_served
from risk_model.modeling.package import in_memory_artefact
from risk_model.modeling.snapshots import served_frame, snapshot_frame
from risk_model.modeling.spec import build_spec
from risk_model.modeling.train import catalogue_records, split_rows, train_model
from risk_model.policy import PolicyCalendar
from risk_model.predict import Predictor
from risk_model.synthetic import WorldConfig, read_world, write_world

# The served path is the subject, not the model's shape: no capacity search (~60% of the
# training's CPU), the configured shape as it stands.
CONFIG = load_config(overrides={"model.num_boost_round": 60, "model.capacity_search": False})
# the features a merchant-risk table feeds
MERCHANT_NAMES = [f.name for f in FEATURES if f.known_at == KNOWN_AT_MERCHANTS]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("snap_world")
    write_world(WorldConfig(n_accounts=1200, n_months=18, seed=5, n_merchants=250), out)
    return read_world(out)


@pytest.fixture(scope="module")
def served_setup(world):
    from risk_model.modeling.dataset import labelled_as_of_dates

    dates, _ = labelled_as_of_dates(world.histories, world.closures, CONFIG.horizon_months)
    policy = world.config.policy or PolicyCalendar()
    frame = snapshot_frame(
        world.histories, world.closures, dates, horizon_months=3, policy=policy, truth=None
    )
    split = split_rows(frame, CONFIG)
    served, table, table_as_of = served_frame(
        world.histories, frame, split, policy=policy, horizon_months=3
    )
    return frame, split, served, table, table_as_of, policy


@pytest.fixture(scope="module")
def trained(served_setup):
    """The model of the served-path tests (one training, read by both)."""
    frame, split, served, *_ = served_setup
    catalogue = catalogue_records(FEATURES)
    return train_model(frame, feature_names(), catalogue, CONFIG, served=served, split=split)


def test_table_is_fitted_at_the_end_of_the_train_window(served_setup):
    frame, split, _, table, table_as_of, _ = served_setup
    last_train = pd.Timestamp(frame.loc[split.mask("train"), C.AS_OF].max()).date()
    assert table_as_of == last_train
    assert table.schema.metadata[AS_OF_METADATA_KEY] == last_train.isoformat().encode()


def test_only_selection_and_oot_rows_are_rebuilt(served_setup):
    frame, split, served, *_ = served_setup
    names = feature_names()
    kept = split.mask("train") | split.mask("gap")
    assert served.loc[kept, names].equals(frame.loc[kept, names])
    rebuilt = split.mask("val") | split.mask("oot")
    merchant = MERCHANT_NAMES
    other = [n for n in names if n not in merchant]
    assert served.loc[rebuilt, other].equals(frame.loc[rebuilt, other])
    assert not served.loc[rebuilt, merchant].equals(frame.loc[rebuilt, merchant])


def test_served_rows_ignore_payments_after_the_table_date(world, served_setup):
    frame, split, served, table, table_as_of, policy = served_setup
    later = served_frame(
        _with_late_spree(world.histories, table_as_of),
        frame,
        split,
        policy=policy,
        horizon_months=3,
    )
    rebuilt = split.mask("val") | split.mask("oot")
    assert later[1].equals(table)  # the spree is after the table date: same table
    spree_accounts = served[C.ACCOUNT_ID].isin(world.histories[C.ACCOUNT_ID][:50].to_pylist())
    others = rebuilt & ~spree_accounts.to_numpy()
    names = MERCHANT_NAMES
    assert later[0].loc[others, names].equals(served.loc[others, names])


def _with_late_spree(histories: pa.Table, after: dt.date) -> pa.Table:
    """Every account pays a new merchant the day after ``after`` (future for the table)."""
    from risk_model.records import from_records, to_records

    records = to_records(histories.slice(0, 50))
    for record in records:
        record.setdefault("transactions", [])
        when = dt.datetime.combine(after + dt.timedelta(days=1), dt.time(3))
        record["transactions"] = sorted(
            [*record["transactions"], _spree(when)], key=lambda t: t["ts"]
        )
    from risk_model.validation import conform

    return pa.concat_tables([conform(from_records(records)), histories.slice(50)])


def _spree(when: dt.datetime) -> dict:
    return {
        "ts": when,
        "kind": "purchase",
        "amount": 1000.0,
        "merchant_id": "M-SPREE",
        "merchant_category": "5999",
        "channel": "offline_qr",
    }


def test_oot_report_equals_scoring_the_histories(world, served_setup, trained):
    frame, split, served, table, table_as_of, policy = served_setup
    catalogue = catalogue_records(FEATURES)
    result = trained
    spec = build_spec(
        result=result,
        feature_names=result.feature_names,
        catalogue=catalogue,
        config=CONFIG,
        policy=policy,
        merchant_risk_as_of=table_as_of,
        version="v-test",
        data_fingerprint="x",
        code="test",
    )
    report, scores = evaluate_served(result, frame=frame, served=served, spec=spec, table=table)
    predictor = Predictor(in_memory_artefact(result.booster, spec, table))
    oot_rows = served.loc[split.mask("oot")].reset_index(drop=True)
    last = oot_rows[C.AS_OF].max()
    mine = scores.to_pandas()[(oot_rows[C.AS_OF] == last).to_numpy()]
    as_of = pd.Timestamp(last).date()
    scored, rejects = predictor.score(_extract_at(world.histories, as_of), as_of)
    merged = mine.merge(scored, on=C.ACCOUNT_ID, suffixes=("_report", "_served"))
    assert len(merged) == len(mine) > 0, rejects.to_pandas().head()
    assert np.array_equal(merged["probability_report"], merged["probability_served"])
    assert report["oot"]["metrics"]["rows"] == float(split.mask("oot").sum())


def _extract_at(histories: pa.Table, as_of: dt.date) -> pa.Table:
    """The histories as an extract taken at ``as_of`` holds them (nothing later)."""
    import pyarrow.compute as pc

    from risk_model.records import to_flat, to_nested
    from risk_model.synthetic.extract import payments_known_at

    flat = to_flat(histories)
    st = flat.statements.filter(
        pc.less_equal(flat.statements[C.STATEMENT_MONTH], pa.scalar(as_of.replace(day=1)))
    )
    st = payments_known_at(st, as_of)
    end = pa.scalar(dt.datetime.combine(as_of, dt.time(23, 59, 59)), pa.timestamp("s"))
    tx = flat.transactions.filter(pc.less_equal(flat.transactions[C.TS], end))
    opened = pc.less_equal(flat.accounts[C.OPEN_DATE], pa.scalar(as_of))
    return to_nested(flat.accounts.filter(opened), st, tx)


def test_oot_ece_and_deciles_ignore_row_order(served_setup, trained):
    from risk_model.modeling.metrics import decile_table, ece

    frame, split, served, *_ = served_setup
    result = trained
    oot = split.mask("oot")
    y = frame.loc[oot, "label"].to_numpy(float)
    p = result.predict_proba(served.loc[oot, result.feature_names].to_numpy())
    coarse = np.round(p, 2)  # heavy ties as well as the model's own values
    rng = np.random.default_rng(0)
    for probs in (p, coarse):
        first, table0 = ece(y, probs), decile_table(y, probs)
        for _ in range(20):
            order = rng.permutation(len(y))
            assert ece(y[order], probs[order]) == first
            pd.testing.assert_frame_equal(decile_table(y[order], probs[order]), table0)
