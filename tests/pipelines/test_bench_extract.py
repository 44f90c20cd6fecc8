"""The ``extract`` benchmark: package vs plain LightGBM on a statements-only extract."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from factory import account, statement

from pipelines import benchmark
from pipelines._bench_extract import (
    RAW_PROFILE_FIELDS,
    RAW_STATEMENT_FIELDS,
    assign_folds,
    compare_on_extract,
    fold_split,
    raw_statement_frame,
)
from risk_model import contract as C
from risk_model.records import from_records
from risk_model.synthetic import WorldConfig, generate_world, statements_only_extract

AS_OF = dt.date(2023, 6, 30)
# The package must be at least as good as the plain model (mean fold AUC), as issue 11 asks.
# Measured on the comparison below (world seed 1, 12,000 accounts x 14 months, as-of
# 2024-01-31, horizon 1, 8,954 accounts, 77 positives, 3 folds): with the statement lags
# package 0.8805 +- 0.0588, plain LightGBM 0.8308 +- 0.0195 (without them the package had
# 0.8619 +- 0.0630 and needed a tolerance of 0.02). With 4,000 accounts (36 positives) the
# figures mean little: too few positives.
TOLERANCE = 0.0


def _histories():
    months = [dt.date(2023, m, 1) for m in (1, 2, 3, 5, 6, 7)]  # April missing, July later
    first = account("A1", statements=[statement(m, billed_amount=m.month) for m in months])
    second = account("A2", statements=[], birth_year=None)
    return from_records([first, second]).drop_columns([C.TRANSACTIONS])


def test_raw_columns_are_aligned_by_calendar_month():
    frame = raw_statement_frame(_histories(), AS_OF)
    assert list(frame.index) == ["A1", "A2"]
    assert frame.shape == (2, 6 * len(RAW_STATEMENT_FIELDS) + len(RAW_PROFILE_FIELDS))
    a1 = frame.loc["A1"]
    assert [a1[f"billed_amount_lag{k}"] for k in (0, 1, 3, 4, 5)] == [6, 5, 3, 2, 1]
    assert np.isnan(a1["billed_amount_lag2"])  # negative twin: April is missing, not shifted
    assert "billed_amount_lag6" not in frame and "billed_amount_lag-1" not in frame


def test_an_account_without_statements_is_all_missing_but_kept():
    a2 = raw_statement_frame(_histories(), AS_OF).loc["A2"]
    assert a2[[f"credit_limit_lag{k}" for k in range(6)]].isna().all()
    assert np.isnan(a2[C.BIRTH_YEAR]) and a2[C.CITY_TIER] == 2


def test_folds_are_stratified_seeded_and_cover_every_row():
    label = np.r_[np.zeros(90), np.ones(10)]
    fold = assign_folds(label, 5, seed=3)
    assert sorted(set(fold)) == [0, 1, 2, 3, 4]
    assert all(label[fold == k].sum() == 2 for k in range(5))
    assert np.array_equal(fold, assign_folds(label, 5, seed=3))
    assert not np.array_equal(fold, assign_folds(label, 5, seed=4))  # negative twin


def test_fold_split_selects_only_outside_the_test_fold():
    label = np.r_[np.zeros(80), np.ones(20)]
    test = assign_folds(label, 5, seed=0) == 0
    split = fold_split(label, test, 0.25, seed=0)
    assert np.array_equal(split.mask("oot"), test)
    val = split.mask("val")
    assert not (val & test).any() and val.sum() == 20 and label[val].sum() == 4
    assert split.mask("train").sum() == 60 and not split.mask("gap").any()


@pytest.fixture(scope="module")
def comparison():
    world = generate_world(WorldConfig(n_accounts=12_000, n_months=14, seed=1))
    as_of = dt.date(2024, 1, 31)
    histories, closures = statements_only_extract(world.histories, world.closures, as_of)
    return compare_on_extract(
        histories, closures, as_of, folds=3, seed=0, policy=world.config.policy
    )


@pytest.mark.bench
def test_both_models_are_scored_on_the_same_folds(comparison):
    result = comparison
    assert len(result.folds) == 3
    assert sum(f.test_rows for f in result.folds) == result.accounts
    assert sum(f.test_positives for f in result.folds) == result.positives > 0
    for f in result.folds:
        assert 0.5 < f.package_auc <= 1 and 0.5 < f.plain_auc <= 1
    assert result.mean_sd("package")[1] > 0


@pytest.mark.bench
def test_the_package_is_not_behind_a_plain_lightgbm_on_raw_statements(comparison):
    result = comparison
    package, plain = result.mean_sd("package")[0], result.mean_sd("plain")[0]
    assert package >= plain - TOLERANCE, f"package {package:.4f} vs plain {plain:.4f}"


@pytest.mark.bench
def test_the_extract_command_prints_both_models_per_seed(tmp_path, capsys):
    # Fewer accounts leave the selection part too few positives for calibration folds.
    argv = ["extract", "--accounts", "4000", "--months", "14", "--seeds", "1"]
    assert benchmark.main([*argv, "--folds", "3", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("  fold ") == 3 and "package AUC" in out and "plain LightGBM AUC" in out
    assert "world seed 1, as-of 2024-01-31, horizon 1" in out
    assert "package ahead on" in out
