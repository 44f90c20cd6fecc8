import numpy as np

from risk_model.modeling.evaluation import oot_evaluation


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.3, n)
    y = (rng.random(n) < p).astype(float)
    period = np.repeat(np.array(["2025-01-31", "2025-02-28"], dtype="datetime64[D]"), n // 2)
    cause = np.where(y > 0, "overdue", "")
    return y, p, period, cause


def test_report_has_served_training_mode_and_truth_figures():
    y, p, period, cause = _data()
    report = oot_evaluation(
        y,
        p,
        period=period,
        cause=cause,
        prob_train=p[:100],
        raw=np.log(p / (1 - p)),
        prob_training_mode=np.clip(p * 1.1, 0, 1),
        truth=p,
    )
    assert report["gini_ratio"] == 1.0
    assert report["oot_training_mode"]["gini"] == report["oot"]["metrics"]["gini"]
    assert len(report["oot_deciles"]) == 10
    assert report["distinct"]["probabilities_per_10k"] == report["distinct"]["raw_scores_per_10k"]


def test_report_without_side_inputs_has_no_side_figures():
    y, p, period, cause = _data()
    report = oot_evaluation(y, p, period=period, cause=cause, prob_train=p)
    assert "truth" not in report and "oot_training_mode" not in report
    assert np.isnan(report["distinct"]["raw_scores_per_10k"])


def test_psi_reference_is_an_even_subset_of_the_train_rows():
    from risk_model.modeling.evaluation import PSI_REFERENCE_ROWS, _psi_reference

    train = np.zeros(300_000, dtype=bool)
    train[::2] = True
    chosen = _psi_reference(train)
    assert chosen.sum() <= PSI_REFERENCE_ROWS + 1 and chosen.sum() >= PSI_REFERENCE_ROWS // 2
    assert not (chosen & ~train).any()
    # Twin: few train rows are all kept.
    few = np.zeros(100, dtype=bool)
    few[:40] = True
    assert np.array_equal(_psi_reference(few), few)
