"""Drift figures and lights (pure functions), and the HTML report they render to."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from html_check import assert_self_contained

from risk_model import monitoring as M
from risk_model.modeling.metrics import psi
from risk_model.modeling.reference import build_reference
from risk_model.monitoring_lights import psi_light
from risk_model.monitoring_report import render_html

BANDS = ("low", "medium", "high")
NAMES = ("count", "amount", "age", "months_to_sweep")


def _batch(seed: int, n: int, *, shift: float = 0.0, missing: float = 0.02):
    """Probabilities, bands and raw features of one synthetic batch."""
    rng = np.random.default_rng(seed)
    prob = 1 / (1 + np.exp(-(rng.normal(-3.0 + shift, 1.0, n))))
    bands = np.asarray(BANDS, dtype=object)[np.searchsorted([0.05, 0.2], prob, "right")]
    count = np.where(rng.random(n) < 0.8 - shift / 4, 0.0, rng.integers(1, 30, n))
    amount = rng.lognormal(5.0 + shift, 1.0, n)
    age = np.where(rng.random(n) < missing, np.nan, rng.integers(20, 70, n).astype(float))
    calendar = np.full(n, 3.0)
    return prob, bands, np.column_stack([count, amount, age, calendar])


@pytest.fixture(scope="module")
def reference():
    prob, bands, x = _batch(0, 5000)
    return build_reference(
        prob=prob,
        bands=bands,
        features=x,
        feature_names=NAMES,
        band_names=BANDS,
        as_of=[pd.Timestamp("2024-06-30")] * len(prob),
    )


def _monitor(reference, seed, n=3000, sweep=None, **shift):
    prob, bands, x = _batch(seed, n, **shift)
    if sweep is not None:
        x[:, 3] = sweep  # months to the next sweep: one value per as-of date
    return M.monitor(
        reference,
        model_version="v1",
        as_of="2024-09-30",
        prob=prob,
        bands=bands,
        features=x,
        feature_names=NAMES,
        calendar=["months_to_sweep"],
    )


def test_same_distribution_stays_green(reference):
    result = _monitor(reference, seed=1)
    assert result.light == "green"
    assert result.counts["red"] == result.counts["amber"] == 0
    assert result.score.value < 0.02 and result.bands.value < 0.02
    assert result.noise_psi == pytest.approx(9 * (1 / 3000 + 1 / 5000))


def test_shifted_distribution_turns_red(reference):
    result = _monitor(reference, seed=1, shift=1.0)
    assert result.light == "red"
    assert result.score.light == "red" and result.bands.light == "red"
    csi = {f.name: f for f in result.features}
    assert csi["amount"].csi_light == "red"
    assert csi["count"].csi_light == "red"  # the zeros' own bin sees the positives grow
    assert csi["age"].csi_light == "green"  # not shifted


def test_score_psi_is_trainings_psi_from_the_stored_bins(reference):
    prob, _, _ = _batch(0, 5000)
    batch, bands, _ = _batch(1, 3000, shift=0.5)
    assert M.score_drift(reference, batch).value == pytest.approx(psi(prob, batch), abs=1e-12)
    drift = M.band_drift(reference, bands)
    assert sum(drift.current) == pytest.approx(1.0) and drift.labels == BANDS


def test_missing_values_move_the_missing_light_not_the_csi(reference):
    result = _monitor(reference, seed=1, missing=0.30)
    age = next(f for f in result.features if f.name == "age")
    assert age.missing_light == "red" and age.missing_change == pytest.approx(0.28, abs=0.03)
    assert age.csi_light == "green"  # the values still present did not move
    assert result.light == "red"
    # Negative twin: the reference's own missing share stays green.
    age = next(f for f in _monitor(reference, seed=1).features if f.name == "age")
    assert age.missing_light == "green"


def test_calendar_features_are_listed_not_compared(reference):
    result = _monitor(reference, seed=1, sweep=9.0)  # another date: every account moves
    sweep = next(f for f in result.features if f.name == "months_to_sweep")
    assert (sweep.csi, sweep.csi_light, sweep.missing_light) == (None, "grey", "grey")
    assert sweep.note == M.CALENDAR_NOTE and result.light == "green"
    # Negative twin: compared as a plain feature, the date alone turns it red.
    _, _, x = _batch(1, 3000)
    x[:, 3] = 9.0
    compared = M.feature_drift(reference, x, NAMES)
    assert next(f for f in compared if f.name == "months_to_sweep").csi_light == "red"


def test_feature_with_no_value_in_the_batch_has_no_csi(reference):
    _, _, x = _batch(1, 1000)
    x[:, 2] = np.nan
    drift = M.feature_drift(reference, x, NAMES)
    age = next(f for f in drift if f.name == "age")
    assert age.csi is None and age.csi_light == "grey" and age.missing_light == "red"


def _sparse(seed: int, n: int, present: float, *, flag_share: float = 0.001):
    """A sparse amount (present on a share of rows) and a flag that is rarely 1."""
    rng = np.random.default_rng(seed)
    amount = np.where(rng.random(n) < present, rng.lognormal(5.0, 1.0, n), np.nan)
    flag = (rng.random(n) < flag_share).astype(float)
    return np.column_stack([amount, flag])


SPARSE = ("sparse_amount", "flag")


def _sparse_reference(n: int, present: float):
    prob, bands, _ = _batch(0, n)
    as_of = [pd.Timestamp("2024-06-30")] * n
    x = _sparse(0, n, present=present)
    return build_reference(
        prob=prob, bands=bands, features=x, feature_names=SPARSE, band_names=BANDS, as_of=as_of
    )


@pytest.fixture(scope="module")
def sparse_reference():
    """5,000 rows: the amount present on 0.8% of them (39 values), the flag on 0.1%."""
    return _sparse_reference(5000, present=0.008)


def test_a_sparse_feature_with_few_values_is_not_lit(sparse_reference):
    # 39 present values in the reference, ~24 in each batch, ten bins: fewer than five a bin.
    assert round(5000 * (1 - sparse_reference.features[0].missing_rate)) == 39
    raw_red = 0
    for seed in range(1, 21):  # batches of the reference's own distribution
        drift = M.feature_drift(sparse_reference, _sparse(seed, 3000, present=0.008), SPARSE)
        amount = drift[0]
        assert amount.csi is not None and amount.csi_light == "grey", seed
        assert not amount.csi_lit
        assert amount.note.startswith("too few values to light: ")
        assert amount.note.endswith(" in the batch, 39 in the reference, over 10 bins")
        assert amount.missing_light == "green"
        raw_red += psi_light(amount.csi) == "red"
    assert raw_red >= 10  # what the magnitude alone would have said: red on noise


def test_a_sparse_feature_with_enough_values_is_lit(sparse_reference):
    # Negative twin: with 3% present in a 10,000-row reference (about 300 values) the same
    # feature is compared: green when unchanged, red when its values move.
    ref = _sparse_reference(10_000, present=0.03)
    same = M.feature_drift(ref, _sparse(1, 6000, present=0.03), SPARSE)[0]
    assert (same.csi_light, same.note, same.csi_lit) == ("green", None, True)
    moved = _sparse(1, 6000, present=0.03)
    moved[:, 0] *= 3.0
    shifted = M.feature_drift(ref, moved, SPARSE)[0]
    assert (shifted.csi_light, shifted.note) == ("red", None)


def test_a_rare_flag_that_turns_common_still_lights(sparse_reference):
    # Two bins, a handful of reference rows in the rare one: judged by the count of values,
    # not by the rare bin (3,000 x 0.1% would expect three in it).
    turned = _sparse(1, 3000, present=0.008, flag_share=0.2)
    flag = M.feature_drift(sparse_reference, turned, SPARSE)[1]
    assert flag.csi_light == "red" and flag.note is None
    calm = M.feature_drift(sparse_reference, _sparse(1, 3000, present=0.008), SPARSE)[1]
    assert calm.csi_light == "green"


def test_a_batch_too_small_for_its_bins_has_grey_score_and_bands(reference):
    # Ten score bins need 50 accounts; three bands need 15.
    small = _monitor(reference, seed=1, n=40, shift=1.0)
    assert (small.score.light, small.bands.light) == ("grey", "red")
    why = "too few values to light: 40 in the batch, 5,000 in the reference, over 10 bins"
    assert (small.score.note, small.bands.note) == (why, None)
    assert small.to_dict()["score"]["note"] == why
    tiny = _monitor(reference, seed=1, n=12, shift=1.0)
    assert (tiny.score.light, tiny.bands.light) == ("grey", "grey")
    assert tiny.bands.note.startswith("too few values to light: 12 in the batch")
    lit = _monitor(reference, seed=1, n=50, shift=1.0)
    assert (lit.score.light, lit.score.note) == ("red", None)
    page = " ".join(assert_self_contained(render_html(small)).text)
    assert why in page  # the report says why the score is grey


def test_the_report_says_why_a_csi_is_not_lit(sparse_reference):
    prob, bands, _ = _batch(1, 3000)
    result = M.monitor(
        sparse_reference,
        model_version="v1",
        as_of="2024-09-30",
        prob=prob,
        bands=bands,
        features=_sparse(1, 3000, present=0.008),
        feature_names=SPARSE,
    )
    text = " ".join(assert_self_contained(render_html(result)).text)
    assert "too few values to light" in text and "39 in the reference" in text


def test_features_in_any_column_order_give_the_same_figures(reference):
    _, _, x = _batch(1, 2000, shift=0.3)
    order = [2, 0, 3, 1]
    a = M.feature_drift(reference, x, NAMES)
    b = M.feature_drift(reference, x[:, order], [NAMES[i] for i in order])
    assert a == b


def test_no_reference_says_so(reference):
    prob, bands, _ = _batch(1, 100)
    with pytest.raises(M.NoReferenceError, match="model v0 has no training reference"):
        M.monitor(None, model_version="v0", as_of="2024-09-30", prob=prob, bands=bands)


def test_batch_that_does_not_fit_the_model_is_refused(reference):
    _, bands, x = _batch(1, 100)
    with pytest.raises(ValueError, match="not the model's bands"):
        M.band_drift(reference, np.r_[bands, ["extreme"]])
    with pytest.raises(ValueError, match="differ from the reference"):
        M.feature_drift(reference, x, ["count", "amount", "age", "other"])
    with pytest.raises(ValueError, match="finite probability"):
        M.score_drift(reference, np.array([0.1, np.nan]))


def test_result_json_and_metrics_hold_every_figure(reference):
    result = _monitor(reference, seed=1, shift=1.0)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["light"] == "red" and data["score"]["psi"] == result.score.value
    assert len(data["features"]) == len(NAMES) and len(data["score"]["bins"]) == 10
    metrics = result.metrics()
    assert metrics["score_psi"] == result.score.value
    assert metrics["csi/amount"] == data["features"][1]["csi"]
    assert "csi/months_to_sweep" not in metrics  # calendar: no CSI
    assert metrics["lights_red"] == result.counts["red"] > 0


def test_report_is_self_contained_and_shows_the_verdict(reference):
    result = _monitor(reference, seed=1, shift=1.0)
    page = render_html(result, source={"scores": "batch.scores.parquet"})
    parsed = assert_self_contained(page)
    images = [a["src"] for tag, a in parsed.tags if tag == "img"]
    assert len(images) == 4 and all(s.startswith("data:image/png;base64,") for s in images)
    text = " ".join(parsed.text)
    assert "batch.scores.parquet" in text and "v1" in text
    assert "red above 0.25" in text and "red above 10 pp" in text
    assert M.CALENDAR_NOTE in text


def test_report_without_features_says_how_to_get_them(reference):
    prob, bands, _ = _batch(1, 500)
    result = M.monitor(reference, model_version="v1", as_of="2024-09-30", prob=prob, bands=bands)
    parsed = assert_self_contained(render_html(result))
    assert "--histories FILE" in " ".join(parsed.text)
    assert len([t for t, _ in parsed.tags if t == "img"]) == 2


def test_page_checker_finds_an_external_reference():
    # Negative twin of the self-containment check.
    with pytest.raises(AssertionError):
        assert_self_contained('<html><body><img src="https://example.org/x.png"></body></html>')
    with pytest.raises(AssertionError):
        assert_self_contained("<html><body><p>unclosed</body></html>")
