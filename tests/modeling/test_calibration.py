import numpy as np
import pytest

from risk_model.modeling.calibration import apply_calibration, fit_calibrator


def _data(n=40_000, a=0.7, b=-0.4, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.5, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a * raw + b)))).astype(float)
    return raw, y


def test_sigmoid_recovers_the_platt_map():
    raw, y = _data()
    cal = fit_calibrator(raw, y, method="sigmoid")
    assert cal.params["a"] == pytest.approx(0.7, abs=0.05)
    assert cal.params["b"] == pytest.approx(-0.4, abs=0.15)
    assert cal.cv_log_loss == {}


def test_isotonic_is_monotone_and_stored_as_numbers():
    raw, y = _data()
    cal = fit_calibrator(raw, y, method="isotonic")
    grid = np.linspace(-10, 5, 500)
    p = cal(grid)
    assert np.all(np.diff(p) >= 0)
    assert isinstance(cal.to_dict()["x"], list)
    assert p.min() >= 1e-6 and p.max() <= 1 - 1e-6


def test_auto_compares_out_of_fold_and_is_seeded():
    raw, y = _data()
    groups = np.arange(len(y)) // 4
    one = fit_calibrator(raw, y, method="auto", groups=groups, seed=3)
    two = fit_calibrator(raw, y, method="auto", groups=groups, seed=3)
    assert set(one.cv_log_loss) == {"sigmoid", "isotonic"}
    assert one.method == min(one.cv_log_loss, key=one.cv_log_loss.get)
    assert one.to_dict() == two.to_dict()
    # The true map is a sigmoid: Platt should win out of sample.
    assert one.method == "sigmoid"


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
