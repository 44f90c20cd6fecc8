import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_model.modeling.metrics import gini
from risk_model.modeling.promotion import (
    PROMOTE_HINT,
    ChampionInfo,
    GiniComparison,
    PromotionConfig,
    decide,
    evaluation_fingerprint,
    paired_bootstrap_gini,
)


def _data(n=3000, seed=0, per_account=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 1.5 * x)))).astype(int)
    good = x + rng.normal(scale=0.5, size=n)
    weak = x + rng.normal(scale=2.0, size=n)
    accounts = np.repeat(np.arange(n // per_account + 1), per_account)[:n]
    return y, good, weak, accounts


# --- the bootstrap --------------------------------------------------------------------


def test_point_gini_matches_the_metrics_module_including_ties():
    y, good, weak, _ = _data()
    tied = np.round(good, 1)  # many ties: counted one half, as roc_auc_score does
    c = paired_bootstrap_gini(y, tied, weak, resamples=20)
    assert c.new_gini == pytest.approx(gini(y, tied), abs=1e-12)
    assert c.champion_gini == pytest.approx(gini(y, weak), abs=1e-12)
    assert c.difference == pytest.approx(c.new_gini - c.champion_gini)


def test_clearly_better_model_has_a_positive_interval_and_worse_a_negative_one():
    y, good, weak, accounts = _data()
    better = paired_bootstrap_gini(y, good, weak, groups=accounts)
    worse = paired_bootstrap_gini(y, weak, good, groups=accounts)
    assert 0 < better.lower < better.difference < better.upper
    assert worse.lower < worse.difference < worse.upper < 0


def test_identical_predictions_give_exactly_zero():
    y, good, _, accounts = _data()
    c = paired_bootstrap_gini(y, good, good.copy(), groups=accounts)
    assert (c.difference, c.lower, c.upper) == (0.0, 0.0, 0.0)


def test_different_predictions_do_not_give_zero():
    y, good, weak, _ = _data()
    c = paired_bootstrap_gini(y, good, weak)
    assert c.lower != 0.0 and c.upper != 0.0 and c.upper > c.lower


def test_deterministic_for_a_seed_and_different_for_another():
    y, good, weak, accounts = _data()
    first = paired_bootstrap_gini(y, good, weak, groups=accounts, seed=5)
    assert paired_bootstrap_gini(y, good, weak, groups=accounts, seed=5) == first
    other = paired_bootstrap_gini(y, good, weak, groups=accounts, seed=6)
    assert (other.lower, other.upper) != (first.lower, first.upper)


def test_groups_resample_whole_accounts():
    # Each row copied 4 times under one account: resampling accounts sees 1,000 units and
    # gives the interval of the original rows; resampling rows pretends to have 4,000.
    y, good, weak, _ = _data(n=1000, seed=3)
    rep = lambda a: np.repeat(a, 4)  # noqa: E731
    accounts = np.repeat(np.arange(1000), 4)
    grouped = paired_bootstrap_gini(rep(y), rep(good), rep(weak), groups=accounts)
    by_row = paired_bootstrap_gini(rep(y), rep(good), rep(weak))
    original = paired_bootstrap_gini(y, good, weak)
    width = lambda c: c.upper - c.lower  # noqa: E731
    assert grouped.groups == 1000 and by_row.groups == 4000
    assert width(grouped) == pytest.approx(width(original), rel=0.35)
    assert width(by_row) < 0.75 * width(grouped)


def test_level_widens_the_interval():
    y, good, weak, _ = _data()
    narrow = paired_bootstrap_gini(y, good, weak, level=0.5)
    wide = paired_bootstrap_gini(y, good, weak, level=0.98)
    assert wide.lower < narrow.lower and narrow.upper < wide.upper


def test_one_class_resamples_are_skipped_and_all_one_class_gives_nan():
    y = np.zeros(50, dtype=int)
    y[0] = 1  # most resamples miss the single positive
    p = np.linspace(0, 1, 50)
    c = paired_bootstrap_gini(y, p, p[::-1].copy(), resamples=50)
    assert 0 < c.valid_resamples < 50
    none = paired_bootstrap_gini(np.zeros(10), p[:10], p[:10], resamples=5)
    assert none.valid_resamples == 0 and np.isnan(none.lower) and np.isnan(none.upper)


def test_bad_inputs_are_refused():
    y, good, weak, _ = _data(n=30)
    with pytest.raises(ValueError, match="equal length"):
        paired_bootstrap_gini(y, good[:-1], weak)
    with pytest.raises(ValueError, match="0/1"):
        paired_bootstrap_gini(y * 2, good, weak)
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap_gini(y, np.full(30, np.nan), weak)
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap_gini(y, good, weak, level=1.0)
    with pytest.raises(ValueError, match="groups"):
        paired_bootstrap_gini(y, good, weak, groups=np.arange(3))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 200),
    seed=st.integers(0, 2**16),
    ties=st.booleans(),
    grouped=st.booleans(),
)
def test_properties_swap_negates_and_identical_is_zero(n, seed, ties, grouped):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = (0, 1)
    a, b = rng.normal(size=(2, n))
    if ties:
        a, b = np.round(a), np.round(b)
    groups = rng.integers(0, max(2, n // 3), n) if grouped else None
    kw = {"groups": groups, "resamples": 40, "seed": seed}
    ab = paired_bootstrap_gini(y, a, b, **kw)
    ba = paired_bootstrap_gini(y, b, a, **kw)
    assert ba.difference == pytest.approx(-ab.difference, abs=1e-12)
    assert ba.lower == pytest.approx(-ab.upper, abs=1e-12)
    assert ba.upper == pytest.approx(-ab.lower, abs=1e-12)
    same = paired_bootstrap_gini(y, a, a.copy(), **kw)
    assert (same.difference, same.lower, same.upper) == (0.0, 0.0, 0.0)
    assert paired_bootstrap_gini(y, a, b, **kw) == ab


# --- the rule ---------------------------------------------------------------------------

FP = "f" * 64


def _cmp(diff, lower, upper):
    return GiniComparison(0.5 + diff, 0.5, diff, lower, upper, 0.9, 200, 200, 0, 100, 50)


def _champ(**kw):
    return ChampionInfo(**({"version": "1", "horizon_months": 3, "eval_fingerprint": FP} | kw))


def _decide(champion, comparison, **kw):
    return decide(
        champion=champion, comparison=comparison, horizon_months=3, eval_fingerprint=FP, **kw
    )


def test_no_champion_promotes_and_an_existing_one_does_not_by_default():
    assert _decide(None, None).alias == "champion"
    assert _decide(None, None).rule == "no_champion"
    assert _decide(_champ(), _cmp(0.0, -0.01, 0.01)).alias == "challenger"


def test_promotes_only_when_the_lower_bound_exceeds_the_margin():
    better = _decide(_champ(), _cmp(0.05, 0.02, 0.08))
    assert (better.alias, better.rule) == ("champion", "better")
    assert "v1" in better.reason and "+0.0200" in better.reason
    assert _decide(_champ(), _cmp(0.05, 0.02, 0.08), margin=0.03).alias == "challenger"
    assert _decide(_champ(), _cmp(0.05, -0.001, 0.08)).rule == "not_better"


def test_identical_rerun_is_never_promoted():
    twin = _decide(_champ(), _cmp(0.0, 0.0, 0.0))
    assert (twin.alias, twin.rule) == ("challenger", "not_better")


def test_nan_interval_is_never_promoted():
    assert _decide(_champ(), _cmp(0.1, np.nan, np.nan)).alias == "challenger"


@pytest.mark.parametrize(
    ("champion", "words"),
    [
        (_champ(horizon_months=6), "6-month horizon"),
        (_champ(eval_fingerprint="other"), "fingerprint differs"),
        (_champ(eval_fingerprint=None), "no evaluation fingerprint"),
        (_champ(scoring_error="KeyError: 'f_new'"), "cannot score"),
    ],
)
def test_not_comparable_gives_challenger_with_the_promote_hint(champion, words):
    d = _decide(champion, _cmp(0.2, 0.1, 0.3))
    assert (d.alias, d.rule) == ("challenger", "not_comparable")
    assert words in d.reason and PROMOTE_HINT in d.reason and "--promote" in d.reason


def test_comparable_champion_without_a_comparison_is_not_promoted_over():
    assert _decide(_champ(), None).rule == "not_comparable"


def test_force_promotes_whatever_the_evidence():
    for champion in (None, _champ(), _champ(eval_fingerprint="other")):
        d = _decide(champion, _cmp(-0.2, -0.3, -0.1), force=True)
        assert (d.alias, d.reason, d.rule) == ("champion", "forced", "forced")
    assert _decide(_champ(), _cmp(-0.2, -0.3, -0.1), force=False).alias == "challenger"


def test_config_is_checked():
    assert PromotionConfig().check() == PromotionConfig(200, 0, 0.0, 0.90)
    for bad in (
        PromotionConfig(resamples=0),
        PromotionConfig(level=0),
        PromotionConfig(margin=np.nan),
    ):
        with pytest.raises(ValueError):
            bad.check()


def test_evaluation_fingerprint_follows_rows_and_labels():
    keys = pd.DataFrame(
        {"account_id": ["a", "b", "c"], "as_of": pd.to_datetime(["2025-01-31"] * 3)}
    )
    y = np.array([0, 1, 0])
    fp = evaluation_fingerprint(keys, y)
    assert fp == evaluation_fingerprint(keys.copy(), y.copy()) and len(fp) == 64
    assert fp != evaluation_fingerprint(keys, np.array([0, 0, 0]))
    assert fp != evaluation_fingerprint(keys.iloc[::-1], y[::-1])
    assert fp != evaluation_fingerprint(keys.head(2), y[:2])
