"""The ``extract`` benchmark: the package against a plain LightGBM on a real-shaped extract.

Real users' data sets are often one snapshot date, ~6 monthly statements per account and
no transactions (:func:`risk_model.synthetic.extract.statements_only_extract` cuts the
same shape from a generated world). On such a set a plain LightGBM on the raw statement
columns is the obvious baseline a user will try first, so the package has to beat it.

Both sides see identical folds: accounts are split into ``folds`` parts (seeded,
stratified by label); each part is the test set once. The package trains exactly as
``pipelines.train`` does on an account split (:func:`risk_model.modeling.train.train_model`:
capacity search, early stopping and calibration on a selection part) except that the
test part is the fold: the selection part is a seeded, stratified share of the other
accounts, so nothing is chosen on the test fold. The plain model (LightGBM defaults, fixed
seed) is fitted on every non-test account. AUC is measured on the same test rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import roc_auc_score

from risk_model import contract as C
from risk_model.dates import add_months
from risk_model.modeling.config import TrainConfig
from risk_model.modeling.dataset import LABEL
from risk_model.modeling.split import OOT, TRAIN, VAL, Split
from risk_model.policy import PolicyCalendar
from risk_model.records import to_flat

RAW_STATEMENT_FIELDS = (
    C.CREDIT_LIMIT,
    C.BILLED_AMOUNT,
    C.MINIMUM_DUE,
    C.AMOUNT_PAID,
    C.DAYS_PAST_DUE,
)
RAW_PROFILE_FIELDS = (C.BIRTH_YEAR, C.CITY_TIER, C.OTHER_CREDIT_LINES, C.IS_STUDENT)


def _month_index(values: pd.Series) -> np.ndarray:
    days = pd.to_datetime(values)
    return (days.dt.year * 12 + days.dt.month).to_numpy()


def raw_statement_frame(histories: pa.Table, as_of: dt.date, lags: int = 6) -> pd.DataFrame:
    """Flatten the raw statement columns by calendar lag, plus the raw profile columns.

    Parameters
    ----------
    histories : pyarrow.Table
        Extract histories (nested contract form).
    as_of : datetime.date
        Snapshot date; lag 0 is the statement of its month.
    lags : int
        Statement months, lag ``0 .. lags - 1``.

    Returns
    -------
    pandas.DataFrame
        One row per account in the input order, indexed by ``account_id``: columns
        ``<field>_lag<k>`` (NaN where the statement is missing) then the profile columns.
    """
    # Calendar lags, not positions: a missing statement must not shift older months into
    # its place (a user's pivot by month would not either).
    flat = to_flat(
        histories.drop_columns([c for c in histories.column_names if c == C.TRANSACTIONS])
    )
    statements = flat.statements.to_pandas()
    lag = as_of.year * 12 + as_of.month - _month_index(statements[C.STATEMENT_MONTH])
    statements = statements.assign(lag=lag)
    statements = statements[(statements["lag"] >= 0) & (statements["lag"] < lags)]
    wide = statements.pivot(index=C.ACCOUNT_ID, columns="lag", values=list(RAW_STATEMENT_FIELDS))
    wide = wide.reindex(
        columns=pd.MultiIndex.from_product([RAW_STATEMENT_FIELDS, range(lags)])
    ).astype(np.float64)
    wide.columns = [f"{name}_lag{k}" for name, k in wide.columns]
    profile = histories.select([C.ACCOUNT_ID, *RAW_PROFILE_FIELDS]).to_pandas()
    profile = profile.set_index(C.ACCOUNT_ID).astype(np.float64)
    return wide.reindex(profile.index).join(profile)


def assign_folds(label: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold (``0 .. folds - 1``) per row, stratified by label, from a seeded permutation."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(label), dtype=np.int64)
    for stratum in (False, True):
        members = np.flatnonzero((np.asarray(label) > 0) == stratum)
        members = members[rng.permutation(len(members))]
        fold[members] = np.arange(len(members)) % folds
    return fold


def fold_split(label: np.ndarray, test: np.ndarray, val_share: float, seed: int) -> Split:
    """Account split with ``test`` as the OOT part and a stratified selection share of the rest.

    Parameters
    ----------
    label : numpy.ndarray
        Label per row (one row per account).
    test : numpy.ndarray
        Boolean mask of the test fold.
    val_share : float
        Share of the non-test rows (per class) given to the selection part.
    seed : int
        Seed of the permutation.
    """
    rng = np.random.default_rng(seed)
    part = np.where(test, OOT, TRAIN).astype(np.int8)
    for stratum in (False, True):
        members = np.flatnonzero(~test & ((np.asarray(label) > 0) == stratum))
        members = members[rng.permutation(len(members))]
        part[members[: round(val_share * len(members))]] = VAL
    reason = "benchmark fold: test accounts are the OOT part, selection drawn from the rest"
    return Split("account", part, {}, reason, 0)


@dataclass(frozen=True)
class FoldResult:
    """AUCs of both models on one test fold."""

    fold: int
    test_rows: int
    test_positives: int
    package_auc: float
    plain_auc: float
    package_capacity: str
    package_seconds: float
    plain_seconds: float


@dataclass(frozen=True)
class Comparison:
    """Per-fold results of one extract and their summary."""

    accounts: int
    positives: int
    folds: list[FoldResult]

    def mean_sd(self, side: str) -> tuple[float, float]:
        """Mean and sample standard deviation of ``package`` or ``plain`` fold AUCs."""
        values = np.array([getattr(f, f"{side}_auc") for f in self.folds])
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def package_scores(
    histories: pa.Table,
    frame: pd.DataFrame,
    split: Split,
    *,
    config: TrainConfig,
    policy: PolicyCalendar,
) -> tuple[np.ndarray, str]:
    """Train the package on the split's train/selection rows; score its OOT rows (served).

    Returns
    -------
    tuple
        Calibrated probabilities of the OOT rows and the chosen capacity's label.
    """
    from risk_model.features import FEATURES, feature_names
    from risk_model.modeling.snapshots import served_frame
    from risk_model.modeling.train import catalogue_records, train_model

    served, _, _ = served_frame(
        histories, frame, split, policy=policy, horizon_months=config.horizon_months
    )
    catalogue = catalogue_records(FEATURES)
    result = train_model(frame, feature_names(), catalogue, config, served=served, split=split)
    test = served.loc[split.mask("oot"), result.feature_names].to_numpy(np.float32)
    chosen = result.report["capacity"].get("chosen", "fixed")
    return result.predict_proba(test), f"{chosen}, {result.booster.current_iteration()} trees"


def plain_scores(
    x: np.ndarray, y: np.ndarray, test: np.ndarray, *, seed: int, num_threads: int = 1
) -> np.ndarray:
    """LightGBM defaults (fixed seed) fitted on every non-test row; test-row probabilities."""
    import lightgbm as lgb

    model = lgb.LGBMClassifier(random_state=seed, n_jobs=num_threads, verbose=-1)
    model.fit(x[~test], y[~test])
    return model.predict_proba(x[test])[:, 1]


def compare_on_extract(
    histories: pa.Table,
    closures: pa.Table,
    as_of: dt.date,
    *,
    horizon_months: int = 1,
    folds: int = 5,
    seed: int = 0,
    policy: PolicyCalendar | None = None,
    lags: int = 6,
) -> Comparison:
    """Package vs plain LightGBM on identical stratified account folds of one extract.

    Parameters
    ----------
    histories, closures : pyarrow.Table
        A single-as-of extract (e.g. from ``statements_only_extract``).
    as_of : datetime.date
        Its snapshot date.
    horizon_months : int
        Label horizon of the closures.
    folds : int
        Number of account folds (each is the test set once).
    seed : int
        Seed of the folds, the selection part, the package and the plain model.
    policy : PolicyCalendar, optional
        Policy calendar for the package's date features (constant on one date).
    lags : int
        Statement months flattened for the plain model.

    Returns
    -------
    Comparison
        Per-fold AUCs of both models.
    """
    from risk_model.modeling.snapshots import snapshot_frame

    policy = policy or PolicyCalendar()
    config = TrainConfig(seed=seed, horizon_months=horizon_months).check()
    frame = snapshot_frame(
        histories, closures, [as_of], horizon_months=horizon_months, policy=policy
    )
    y = frame[LABEL].to_numpy(dtype=np.int64)
    raw = raw_statement_frame(histories, as_of, lags).loc[frame[C.ACCOUNT_ID]].to_numpy()
    fold_of = assign_folds(y, folds, seed)
    val_share = config.split.val_fraction / (1 - config.split.test_fraction)
    results = []
    for k in range(folds):
        # The selection draw changes with the fold so no two folds share a selection part.
        split = fold_split(y, fold_of == k, val_share, seed + k)
        results.append(_run_fold(k, histories, frame, split, raw, config=config, policy=policy))
    return Comparison(accounts=len(y), positives=int(y.sum()), folds=results)


def _run_fold(
    k: int,
    histories: pa.Table,
    frame: pd.DataFrame,
    split: Split,
    raw: np.ndarray,
    *,
    config: TrainConfig,
    policy: PolicyCalendar,
) -> FoldResult:
    """Fit both models around one test fold (the split's OOT part) and measure their AUCs."""
    y = frame[LABEL].to_numpy(dtype=np.int64)
    test = split.mask("oot")
    clock = time.perf_counter()
    package, capacity = package_scores(histories, frame, split, config=config, policy=policy)
    package_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    plain = plain_scores(raw, y, test, seed=config.seed)
    return FoldResult(
        fold=k,
        test_rows=int(test.sum()),
        test_positives=int(y[test].sum()),
        package_auc=float(roc_auc_score(y[test], package)),
        plain_auc=float(roc_auc_score(y[test], plain)),
        package_capacity=capacity,
        package_seconds=package_seconds,
        plain_seconds=time.perf_counter() - clock,
    )


def world_extract(
    folder: Path, *, horizon_months: int, months: int
) -> tuple[pa.Table, pa.Table, dt.date, PolicyCalendar]:
    """Read a generated world and cut its extract at the last labelled month end.

    The world observes closures up to the end of its last month, so the last as-of date
    whose whole horizon is observed is ``horizon_months`` before it.
    """
    from risk_model.synthetic import read_world, statements_only_extract

    world = read_world(folder)
    first = dt.date.fromisoformat(f"{world.config.start}-01")
    last = add_months(first, world.config.n_months - 1)
    as_of = add_months(last, -horizon_months)
    histories, closures = statements_only_extract(
        world.histories, world.closures, as_of, months=months, horizon_months=horizon_months
    )
    return histories, closures, as_of, world.config.policy


def render(comparison: Comparison, label: str) -> str:
    """Per-fold lines and the mean +- sd of both models."""
    lines = [
        f"{label}: {comparison.accounts:,} accounts, {comparison.positives} positives "
        f"({comparison.positives / comparison.accounts:.2%})"
    ]
    for f in comparison.folds:
        lines.append(
            f"  fold {f.fold}: {f.test_rows:,} rows, {f.test_positives} positives | package AUC "
            f"{f.package_auc:.4f} ({f.package_capacity}; {f.package_seconds:.1f} s) | plain "
            f"LightGBM AUC {f.plain_auc:.4f} ({f.plain_seconds:.1f} s)"
        )
    (pm, ps), (bm, bs) = comparison.mean_sd("package"), comparison.mean_sd("plain")
    lines.append(
        f"  mean +- sd: package {pm:.4f} +- {ps:.4f} | plain LightGBM {bm:.4f} +- {bs:.4f} "
        f"| difference {pm - bm:+.4f}"
    )
    return "\n".join(lines)


def run_extract(args: argparse.Namespace) -> int:
    """Package vs plain LightGBM AUC on statements-only single-as-of extracts, per world seed."""
    from pipelines.benchmark import BENCH_DIR, world_dir

    summary = []
    for seed in args.seeds:
        folder = world_dir(args.accounts, args.months, seed, args.data_dir or BENCH_DIR)
        histories, closures, as_of, policy = world_extract(
            folder, horizon_months=args.horizon, months=args.statement_months
        )
        comparison = compare_on_extract(
            histories,
            closures,
            as_of,
            horizon_months=args.horizon,
            folds=args.folds,
            seed=args.fold_seed,
            policy=policy,
            lags=args.statement_months,
        )
        print(render(comparison, f"world seed {seed}, as-of {as_of}, horizon {args.horizon}"))
        summary.append((seed, comparison.mean_sd("package")[0], comparison.mean_sd("plain")[0]))
    print("seed | package AUC | plain LightGBM AUC | difference")
    for seed, package, plain in summary:
        print(f"{seed} | {package:.4f} | {plain:.4f} | {package - plain:+.4f}")
    wins = sum(package > plain for _, package, plain in summary)
    print(f"package ahead on {wins} of {len(summary)} seeds")
    return 0


def _seeds(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def add_extract_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``extract`` sub-command on the benchmark's sub-parsers."""
    p = sub.add_parser("extract", help=run_extract.__doc__)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--months", type=int, default=24, help="months of each generated world")
    p.add_argument("--seeds", type=_seeds, default=[1, 2, 3, 4, 5], help="world seeds: 1,2,3")
    p.add_argument("--horizon", type=int, default=1, help="label horizon in months")
    p.add_argument("--statement-months", type=int, default=6, help="statements kept per account")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--fold-seed", type=int, default=0, help="seed of folds and of both models")
    p.add_argument("--data-dir", type=Path, default=None, help="world cache folder")
