import json

import numpy as np
import pytest

from risk_model.modeling.calibration import (
    METHODS,
    _fold_of,
    _increasing_blocks,
    apply_calibration,
    fit_calibrator,
)
from risk_model.modeling.config import CalibrationConfig, ConfigError
from risk_model.modeling.metrics import log_loss


def _data(n=40_000, a=0.7, b=-0.4, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.5, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a * raw + b)))).astype(float)
    return raw, y


def _step_data(n=20_000, seed=1):
    """Closure rate 2% below raw = -2 and 32% above: a map no sigmoid can follow."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.5, 1.5, n)
    y = (rng.random(n) < 0.02 + 0.3 * (raw > -2)).astype(float)
    return raw, y


@pytest.mark.parametrize(("a", "b", "other_a"), [(0.7, -0.4, 1.3), (1.3, 0.5, 0.7)])
def test_sigmoid_recovers_the_platt_map(a, b, other_a):
    raw, y = _data(a=a, b=b)
    cal = fit_calibrator(raw, y, method="sigmoid")
    assert cal.params["a"] == pytest.approx(a, abs=0.05)
    assert cal.params["a"] != pytest.approx(other_a, abs=0.05)  # twin: a is read, not fixed
    assert cal.params["b"] == pytest.approx(b, abs=0.15)
    assert cal.cv_log_loss == {}


def test_isotonic_interp_is_strictly_increasing_on_a_wide_grid():
    raw, y = _data()
    cal = fit_calibrator(raw, y, method="isotonic")
    p = cal(np.linspace(-15, 10, 200_001))
    assert np.all(np.diff(p) > 0)
    assert p.min() > 1e-6 and p.max() < 1 - 1e-6
    # Only the probability clip, at extreme log-odds, ties rows.
    far = cal(np.linspace(-60, 60, 20_001))
    assert np.all(np.diff(far) >= 0)
    assert far.min() == 1e-6 and far.max() == 1 - 1e-6


def test_isotonic_interp_leaves_no_ties():
    raw, y = _data()
    cal = fit_calibrator(raw, y, method="isotonic")
    fresh = np.random.default_rng(5).normal(-2.5, 2.5, 20_000)
    assert len(np.unique(cal(fresh))) == len(np.unique(fresh))
    assert len(np.unique(cal(raw))) == len(np.unique(raw))


def test_the_old_step_map_does_tie_rows():
    # Negative twin of the no-ties test: sklearn's step map collapses the same scores.
    from sklearn.isotonic import IsotonicRegression

    raw, y = _data()
    iso = IsotonicRegression(out_of_bounds="clip").fit(raw, y)
    spec = {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    assert len(np.unique(apply_calibration(spec, raw))) < len(raw) / 10


def test_isotonic_name_fits_the_interpolated_map_stored_as_numbers():
    raw, y = _data(5000)
    spec = fit_calibrator(raw, y, method="isotonic").to_dict()
    assert spec["method"] == "isotonic_interp"
    assert set(spec) == {"method", "cv_log_loss", "x", "y", "tail_slope"}
    assert json.loads(json.dumps(spec)) == spec
    assert np.all(np.diff(spec["x"]) > 0) and np.all(np.diff(spec["y"]) > 0)
    assert spec["tail_slope"] == pytest.approx(0.7, abs=0.1)  # the Platt slope


def test_old_isotonic_spec_still_applies_flat_beyond_the_knots():
    spec = {"method": "isotonic", "x": [-3.0, -1.0, 1.0], "y": [0.01, 0.1, 0.5]}
    p = apply_calibration(spec, np.array([-5.0, -3.0, -2.0, 0.0, 1.0, 5.0]))
    assert p == pytest.approx([0.01, 0.01, 0.055, 0.3, 0.5, 0.5])


def test_interpolated_spec_is_not_flat_beyond_the_knots():
    # Negative twin: the same knots as isotonic_interp keep rising past both ends.
    spec = {"method": "isotonic_interp", "x": [-3.0, -1.0, 1.0], "y": [0.01, 0.1, 0.5]}
    p = apply_calibration({**spec, "tail_slope": 0.5}, np.array([-5.0, -3.0, 0.0, 1.0, 5.0]))
    assert p[1:4] == pytest.approx([0.01, 0.3, 0.5])
    assert p[0] == pytest.approx(1 / (1 + np.exp(-(np.log(0.01 / 0.99) - 1.0))))
    assert p[4] == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_pure_end_blocks_stay_clear_of_the_clip():
    raw = np.linspace(-5, 5, 1000)
    y = (raw > 0).astype(float)  # isotonic: one block of 500 zeros, one of 500 ones
    spec = fit_calibrator(raw, y, method="isotonic").to_dict()
    assert spec["y"] == pytest.approx([0.5 / 501, 1 - 0.5 / 501])
    assert spec["x"] == pytest.approx([raw[:500].mean(), raw[500:].mean()])


def test_blocks_merge_only_when_rates_do_not_increase():
    one = _increasing_blocks(
        np.array([0.0, 1000.0]), np.array([0.0, 1.0]), np.array([10.0, 1000.0])
    )
    assert one[1].tolist() == [1 / 1010]  # 0 / 10 floored to 0.045 > 1 / 1000: merged
    two = _increasing_blocks(
        np.array([0.0, 1000.0]), np.array([0.0, 100.0]), np.array([10.0, 1000.0])
    )
    assert two[1].tolist() == [0.5 / 11, 0.1]  # twin: 0.045 < 0.1 stays two knots


def test_auto_compares_out_of_fold_and_is_seeded():
    raw, y = _data()
    groups = np.arange(len(y)) // 4
    one = fit_calibrator(raw, y, method="auto", groups=groups, seed=3)
    two = fit_calibrator(raw, y, method="auto", groups=groups, seed=3)
    assert set(one.cv_log_loss) == {"identity", "sigmoid", "isotonic_interp"}
    beats_identity = [
        m
        for m in ("sigmoid", "isotonic_interp")
        if all(one.cv_by_fold[m][k] < one.cv_by_fold["identity"][k] for k in one.cv_by_fold[m])
    ]
    assert one.method == min(beats_identity, key=one.cv_log_loss.get)
    assert one.to_dict() == two.to_dict()
    # The true map is a sigmoid: Platt should win out of sample.
    assert one.method == "sigmoid"


def test_auto_scores_are_out_of_fold_log_losses():
    raw, y = _step_data()
    groups = np.arange(len(y)) // 4
    cal = fit_calibrator(raw, y, groups=groups, seed=2)
    fold = _fold_of(groups, 2, 2)
    for method, score in cal.cv_log_loss.items():
        oof = np.empty_like(raw)
        for k in range(2):
            held = fold == k
            oof[held] = fit_calibrator(raw[~held], y[~held], method=method)(raw[held])
        assert score == pytest.approx(log_loss(y, oof), rel=1e-12)
        if method == "identity":
            continue  # nothing is fitted: out of fold and in sample agree
        in_sample = log_loss(y, fit_calibrator(raw, y, method=method)(raw))
        assert score != pytest.approx(in_sample, rel=1e-6)  # twin: not the in-sample loss
    # Negative twin of the sigmoid test: a step in the truth is the isotonic map's case.
    assert cal.method == "isotonic_interp"


def test_apply_round_trips_through_the_dict():
    raw, y = _data(5000)
    cal = fit_calibrator(raw, y, method="isotonic")
    assert np.array_equal(apply_calibration(cal.to_dict(), raw), cal(raw))


def test_bad_inputs_are_refused():
    raw, y = _data(1000)
    with pytest.raises(ValueError, match="both classes"):
        fit_calibrator(raw, np.zeros_like(y))
    with pytest.raises(ValueError, match="method"):
        fit_calibrator(raw, y, method="spline")
    with pytest.raises(ValueError, match="equal length"):
        fit_calibrator(raw, y[:-1])
    with pytest.raises(ValueError, match="unknown calibration"):
        apply_calibration({"method": "nope"}, raw)


def _months_data(levels, n=15_000, seed=4):
    """Rows over months whose closure log-odds are ``raw + level`` (one level a month)."""
    rng = np.random.default_rng(seed)
    raw, y, month = [], [], []
    for k, level in enumerate(levels):
        r = rng.normal(-3.5, 1.2, n)
        raw.append(r)
        y.append((rng.random(n) < 1 / (1 + np.exp(-(r + level)))).astype(float))
        month.append(np.full(n, f"2025-0{k + 1}-28"))
    return np.concatenate(raw), np.concatenate(y), np.concatenate(month)


def test_month_folds_keep_identity_when_one_unusual_month_drives_the_map():
    # A sweep-like month (+1.2 log-odds) in three: a fitted map helps on average there but
    # not on the ordinary months, so the booster's own probability is kept.
    raw, y, month = _months_data([1.2, 0.0, 0.0])
    cal = fit_calibrator(raw, y, months=month)
    assert set(cal.cv_log_loss) == {"identity", "sigmoid", "isotonic_interp"}
    assert cal.method == "identity"
    assert set(cal.cv_by_fold["identity"]) == {"2025-01-28", "2025-02-28", "2025-03-28"}
    assert np.array_equal(cal(raw), np.clip(1 / (1 + np.exp(-raw)), 1e-6, 1 - 1e-6))
    # Twin: account folds mix the unusual month into every fold, so there a fitted map wins
    # on each fold and recalibrates the same rows.
    assert fit_calibrator(raw, y, groups=np.arange(len(y))).method != "identity"


def test_month_folds_recalibrate_when_every_month_is_off_the_same_way():
    # Negative twin: the booster is 0.8 log-odds low in every month, so a fitted map
    # beats identity on each held-out month and is chosen.
    raw, y, month = _months_data([0.8, 0.8, 0.8])
    cal = fit_calibrator(raw, y, months=month)
    assert cal.method in ("sigmoid", "isotonic_interp")
    assert cal(raw).mean() == pytest.approx(y.mean(), rel=0.05)
    # Against the known truth, not the calibrator's own fold scores: the map undoes the
    # shift, so it lands far closer to the true probabilities than the booster's own.
    truth = 1 / (1 + np.exp(-(raw + 0.8)))
    booster = 1 / (1 + np.exp(-raw))
    assert np.abs(cal(raw) - truth).mean() < 0.2 * np.abs(booster - truth).mean()


def test_identity_is_stored_as_the_unit_platt_map():
    raw, y, _ = _months_data([0.0, 0.0])
    cal = fit_calibrator(raw, y, method="identity")
    spec = cal.to_dict()
    assert cal.method == "identity"
    assert spec == {"method": "sigmoid", "cv_log_loss": {}, "a": 1.0, "b": 0.0}
    assert np.array_equal(apply_calibration(spec, raw), cal(raw))
    # Twin: a fitted sigmoid on the same rows is stored with its own numbers.
    fitted = fit_calibrator(raw, y, method="sigmoid").to_dict()
    assert (fitted["a"], fitted["b"]) != (1.0, 0.0)


def test_a_single_month_falls_back_to_account_folds():
    raw, y, month = _months_data([0.0])
    one = fit_calibrator(raw, y, months=month, groups=np.arange(len(y)) // 3)
    assert set(one.cv_by_fold["identity"]) == {"accounts 0", "accounts 1"}
    # Twin: two months give month folds.
    raw2, y2, month2 = _months_data([0.0, 0.0])
    two = fit_calibrator(raw2, y2, months=month2)
    assert not any(key.startswith("accounts") for key in two.cv_by_fold["identity"])


def test_too_few_positives_to_judge_a_fitted_map_keeps_identity():
    raw, y = _data(400)
    y = np.zeros_like(y)
    y[:1] = 1.0  # one positive: the fold without it has none to fit on
    groups = np.arange(len(y))
    cal = fit_calibrator(raw, y, groups=groups, seed=0)
    assert cal.method == "identity"
    assert set(cal.cv_log_loss) <= {"identity", "sigmoid", "isotonic_interp"}
    # Twin: with positives in every fold a fitted map is judged (and wins on a sigmoid truth).
    raw2, y2 = _data()
    assert set(fit_calibrator(raw2, y2, groups=np.arange(len(y2)), seed=0).cv_log_loss) == {
        "identity",
        "sigmoid",
        "isotonic_interp",
    }


def test_months_must_match_the_rows():
    raw, y, month = _months_data([0.0, 0.0], n=2000)
    with pytest.raises(ValueError, match="one value per row"):
        fit_calibrator(raw, y, months=month[:-1])
    assert fit_calibrator(raw, y, months=month).method in ("identity", *METHODS)


def test_calibration_config_checks_folds_by():
    assert CalibrationConfig().folds_by == "month"
    CalibrationConfig(folds_by="account", method="identity").check()
    with pytest.raises(ConfigError, match="folds_by"):
        CalibrationConfig(folds_by="week").check()
