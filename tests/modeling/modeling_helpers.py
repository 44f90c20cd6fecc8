"""Hand-made snapshot frame and catalogue shared by the modeling tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["f_up", "f_down", "f_noise"]
CATALOGUE = [
    {"name": "f_up", "family": "overdue", "cause": "overdue", "direction": 1, "reason": "{value}"},
    {"name": "f_down", "family": "activity", "cause": "dormancy", "direction": -1, "reason": "x"},
    {"name": "f_noise", "family": "profile", "cause": "regulatory", "direction": 0, "reason": ""},
]


def make_frame(n_accounts: int = 1500, n_months: int = 14, seed: int = 0) -> pd.DataFrame:
    """Snapshot-like frame whose truth is a logistic model of two features."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2024-01-31", periods=n_months, freq="ME")
    account = np.repeat([f"a{i:05d}" for i in range(n_accounts)], n_months)
    as_of = np.tile(months, n_accounts)
    up, down, noise = rng.normal(size=(3, len(account)))
    p = 1 / (1 + np.exp(-(-2.8 + 1.3 * up - 0.6 * down)))
    y = (rng.random(len(account)) < p).astype(np.int8)
    cause = np.where(y > 0, np.where(up > 0, "overdue", "dormancy"), "")
    return pd.DataFrame(
        {
            "account_id": account,
            "as_of": as_of,
            "f_up": up.astype(np.float32),
            "f_down": down.astype(np.float32),
            "f_noise": noise.astype(np.float32),
            "label": y,
            "cause": cause,
            "truth_p_close": p,
        }
    )
