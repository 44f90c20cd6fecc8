import numpy as np
import pytest

from risk_model.modeling import metrics as M


def test_perfect_and_random_ranking():
    y = np.array([0, 0, 1, 1])
    assert M.auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert M.gini(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert M.gini(y, np.array([0.9, 0.8, 0.2, 0.1])) == -1.0
    assert M.ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_single_class_gives_nan_not_an_error():
    assert np.isnan(M.auc(np.zeros(5), np.linspace(0, 1, 5)))


def test_shape_mismatch_and_empty_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        M.auc(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one row"):
        M.brier(np.zeros(0), np.zeros(0))


def test_brier_log_loss_and_ece():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.3, 200_000)
    y = (rng.random(len(p)) < p).astype(float)
    assert M.ece(y, p) < 0.002  # calibrated by construction
    assert M.ece(y, np.clip(p * 2, 0, 1)) > 0.1  # twice too high
    assert M.brier(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0
    assert M.log_loss(np.array([1.0]), np.array([0.0])) == pytest.approx(-np.log(1e-6))


def test_capture_rate_and_decile_table():
    y = np.array([1, 1] + [0] * 18)
    p = np.linspace(1, 0, 20)
    assert M.capture_rate(y, p, 0.10) == 1.0
    assert M.capture_rate(y, p[::-1], 0.10) == 0.0
    with pytest.raises(ValueError):
        M.capture_rate(y, p, 0.0)
    table = M.decile_table(y, p, bins=10)
    assert table["rows"].sum() == 20
    assert table["decile"].tolist() == list(range(1, 11))
    assert table.loc[0, "positives"] == 2  # riskiest decile first
    assert table["cumulative_capture"].iloc[-1] == 1.0


def test_psi_zero_for_same_and_large_for_shifted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50_000)
    assert M.psi(x, x) == 0.0
    assert M.psi(x, x + 1.0) > 0.25
    with pytest.raises(ValueError):
        M.psi(x, np.array([]))


def test_gini_by_period_slope_and_cause():
    y = np.array([0, 1, 0, 1, 0, 1])
    p = np.array([0.1, 0.9, 0.9, 0.1, 0.2, 0.8])
    period = np.array(["2024-01-31", "2024-01-31", "2024-02-29", "2024-02-29", "x", "x"])
    by = M.gini_by_period(y, p, period)
    assert by == {"2024-01-31": 1.0, "2024-02-29": -1.0, "x": 1.0}
    assert M.slope([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert np.isnan(M.slope([1.0]))
    cause = np.array(["", "a", "", "b", "", "a"])
    by_cause = M.gini_by_cause(y, p, cause)
    assert by_cause["a"] > by_cause["b"]


def test_evaluate_has_every_metric():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=1000)
    y = (rng.random(1000) < p).astype(float)
    out = M.evaluate(y, p)
    assert set(out) >= {
        "auc",
        "gini",
        "ks",
        "brier",
        "log_loss",
        "ece",
        "capture_top5",
        "capture_top10",
        "base_rate",
        "ece_to_base_rate",
    }
    assert out["gini"] == pytest.approx(2 * out["auc"] - 1)
