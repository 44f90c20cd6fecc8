import numpy as np
import pandas as pd
import pytest

from risk_model.modeling.config import SplitConfig
from risk_model.modeling.split import make_split


def _rows(n_months, n_accounts=200, seed=0):
    months = pd.date_range("2024-01-31", periods=n_months, freq="ME").to_numpy()
    as_of = np.tile(months, n_accounts)
    account = np.repeat(np.arange(n_accounts), n_months)
    label = (np.random.default_rng(seed).random(len(as_of)) < 0.1).astype(int)
    return as_of, account, label


def test_time_split_windows_and_gap():
    as_of, account, label = _rows(20)
    split = make_split(as_of, account, label, SplitConfig(), horizon_months=3, seed=0)
    assert split.kind == "time"
    assert split.gap_months == 2
    months = split.months
    assert len(months["oot"]) == 3 and len(months["val"]) == 3
    assert months["oot"][-1] == "2025-08-31"
    assert months["val"] == ["2025-01-31", "2025-02-28", "2025-03-31"]  # 2 gap months before OOT
    assert months["train"][-1] == "2024-10-31"  # 2 gap months before validation
    # last train label window (Oct, Jan] ends at the first validation as-of date
    assert split.mask("gap").sum() == 4 * 200
    assert (split.mask("train") & split.mask("val")).sum() == 0


def test_explicit_gap_zero():
    as_of, account, label = _rows(10)
    split = make_split(as_of, account, label, SplitConfig(gap_months=0), horizon_months=3, seed=0)
    assert split.kind == "time" and split.mask("gap").sum() == 0


def test_single_month_falls_back_to_account_split():
    as_of, account, label = _rows(1, n_accounts=2000)
    split = make_split(as_of, account, label, SplitConfig(), horizon_months=3, seed=0)
    assert split.kind == "account"
    assert "single as-of month" in split.reason
    shares = [split.mask(n).mean() for n in ("train", "val", "oot")]
    assert shares == pytest.approx([0.6, 0.2, 0.2], abs=0.01)
    # stratified: the positive rate is the same in every part (up to rounding)
    rates = [label[split.mask(n)].mean() for n in ("train", "val", "oot")]
    assert max(rates) - min(rates) < 0.01


def test_too_few_months_falls_back_and_keeps_accounts_whole():
    as_of, account, label = _rows(6)
    one = make_split(as_of, account, label, SplitConfig(), horizon_months=3, seed=1)
    two = make_split(as_of, account, label, SplitConfig(), horizon_months=3, seed=1)
    other = make_split(as_of, account, label, SplitConfig(), horizon_months=3, seed=2)
    assert one.kind == "account" and "only 6 labelled months" in one.reason
    assert np.array_equal(one.part, two.part)
    assert not np.array_equal(one.part, other.part)
    parts_per_account = pd.Series(one.part).groupby(account).nunique()
    assert parts_per_account.max() == 1
