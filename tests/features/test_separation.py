"""On a synthetic world, each family's key features point towards the true closure cause."""

import pandas as pd
import pytest

from risk_model import contract as C
from risk_model.features import build_features

# feature -> minimum ratio of the high-cause mean to the others' mean
EXPECTED_HIGHER = {
    "overdue": {"dpd_max_6m": 5, "below_min_months_6m": 5},
    "cashout": {
        "round_near_limit_count_6m": 5,
        "merchant_round_nl_share_wmean_6m": 5,
        "cashout_like_months_36m": 5,
    },
    "dormancy": {"months_since_purchase": 5},
    "regulatory": {"is_student": 5, "other_credit_lines": 1.3, "months_since_kyc": 1.3},
}
EXPECTED_LOWER = {"overdue": ["paid_ratio_mean_6m"], "dormancy": ["active_months_6m"]}


@pytest.fixture(scope="module")
def merged(world):
    dates = sorted(set(world.truth.column(C.AS_OF).to_pylist()))[8:20:5]
    feats = build_features(world.histories, dates, policy=world.config.policy)
    truth = world.truth.to_pandas()
    truth[C.AS_OF] = pd.to_datetime(truth[C.AS_OF]).astype("datetime64[s]")
    return feats.merge(truth, on=[C.ACCOUNT_ID, C.AS_OF])


def groups(merged, cause):
    share = merged[f"p_{cause}"] / merged[C.P_CLOSE].where(merged[C.P_CLOSE] > 0)
    high = (share > 0.5) & (merged[C.P_CLOSE] > 0.05)
    assert high.sum() >= 20, f"too few high-{cause} accounts for a comparison"
    return merged[high], merged[~high]


@pytest.mark.parametrize("cause", sorted(EXPECTED_HIGHER))
def test_key_features_separate_the_cause(merged, cause):
    high, other = groups(merged, cause)
    for name, ratio in EXPECTED_HIGHER[cause].items():
        assert high[name].mean() > ratio * other[name].mean(), name
    for name in EXPECTED_LOWER.get(cause, []):
        assert high[name].mean() < 0.7 * other[name].mean(), name


def test_unrelated_feature_does_not_separate_cashout(merged):
    """Negative control: a profile field carries no cash-out signal in this world."""
    high, other = groups(merged, "cashout")
    assert high["city_tier"].mean() == pytest.approx(other["city_tier"].mean(), rel=0.3)
