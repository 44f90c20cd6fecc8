"""Profile / regulatory / migration family: snapshot fields and policy-date distances."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.features.monthly import DAYS_PER_MONTH, Grid, day_number, to_numbers
from risk_model.policy import PolicyCalendar

NAMES = (
    "tenure_months", "age_years", "is_student", "months_since_kyc", "other_credit_lines",
    "city_tier", "legacy_unmigrated", "months_since_migrated", "months_since_sweep",
    "months_to_sweep", "months_to_migration_deadline", "legacy_months_to_deadline",
    "months_since_migration_offer", "sweep_targeted", "sweep_exposure",
)  # fmt: skip


_SMALL = 64


def _column(histories: pa.Table, name: str) -> np.ndarray:
    """Numeric view of a profile column (dates as day numbers), NaN where null/absent."""
    if name not in histories.schema.names:
        return np.full(histories.num_rows, np.nan)
    return to_numbers(histories.column(name), np.float64)


def open_days(histories: pa.Table) -> np.ndarray:
    """open_date as day numbers (NaN if null)."""
    return _column(histories, C.OPEN_DATE)


def sweep_months_ahead(days: np.ndarray, policy: PolicyCalendar, horizon_months: int) -> np.ndarray:
    """Months of ``(as_of, as_of + horizon]`` that fall inside an announced sweep, per as-of.

    Parameters
    ----------
    days : numpy.ndarray
        As-of dates as day numbers (days since 1970-01-01).
    policy : PolicyCalendar
        Sweep dates and length.
    horizon_months : int
        Label horizon in months.

    Returns
    -------
    numpy.ndarray
        Float months per as-of date (0 when no sweep falls in the horizon).
    """
    ahead = np.zeros(len(days))
    after_asof = days + 1  # the as-of date is included up to its end
    for first, after in policy.sweep_windows():
        start, end = day_number(first), day_number(after)
        window_end = after_asof + horizon_months * DAYS_PER_MONTH
        overlap = np.minimum(end, window_end) - np.maximum(start, after_asof)
        ahead += np.clip(overlap, 0, None) / DAYS_PER_MONTH
    return ahead


@functools.lru_cache(maxsize=16)
def _policy_terms(
    asof_days: tuple[int, ...], policy: PolicyCalendar, horizon_months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(n_asof, 1) months since / to the sweep, to the deadline, since the offer, in a sweep.

    They depend on the dates and the calendar only: memoised (scoring repeats them).
    """
    days = np.array(asof_days, dtype=np.int64)
    sweeps = np.array([day_number(d) for d in policy.regulatory_sweeps], dtype=np.float64)
    since = np.full(len(days), np.nan)
    until = np.full(len(days), np.nan)
    if len(sweeps):
        i = np.searchsorted(sweeps, days, side="right")
        since = np.where(i > 0, days - sweeps[np.maximum(i - 1, 0)], np.nan)
        until = np.where(i < len(sweeps), sweeps[np.minimum(i, len(sweeps) - 1)] - days, np.nan)

    def months_to(date) -> np.ndarray:
        if date is None:
            return np.full(len(days), np.nan)
        return (day_number(date) - days) / DAYS_PER_MONTH

    terms = (
        since[:, None] / DAYS_PER_MONTH,
        until[:, None] / DAYS_PER_MONTH,
        months_to(policy.migration_deadline)[:, None],
        -months_to(policy.migration_offer)[:, None],
        sweep_months_ahead(days, policy, horizon_months)[:, None],
    )
    for term in terms:
        term.setflags(write=False)
    return terms


def _targeted(out: dict[str, np.ndarray], policy: PolicyCalendar) -> np.ndarray:
    """Return 1 where a clause of the published sweep rule holds, else 0 or NaN.

    0 where every clause is known not to hold; NaN when an input is missing or no rule is
    known.
    """
    if not policy.sweep_targets:
        return np.full(out["tenure_months"].shape, np.nan)
    shape = np.broadcast_shapes(*(out[c.feature].shape for c in policy.sweep_targets))
    any_holds, all_known = np.zeros(shape, dtype=bool), np.ones(shape, dtype=bool)
    for clause in policy.sweep_targets:
        values = np.broadcast_to(out[clause.feature], shape)
        any_holds |= clause.holds(values)
        all_known &= ~np.isnan(values)
    return np.where(any_holds, 1.0, np.where(all_known, 0.0, np.nan))


def compute(
    histories: pa.Table, grid: Grid, policy: PolicyCalendar | None, horizon_months: int = 3
) -> dict[str, np.ndarray]:
    """Return profile features as (n_asof, n_acc) arrays.

    ``horizon_months`` is the label horizon of the model the features feed: the sweep
    exposure counts the months of that horizon inside an announced sweep.
    """
    n_acc = histories.num_rows
    asof = grid.asof_day.astype(np.float64)[:, None]
    year = (
        np.asarray(grid.asof_day, dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64)
        + 1970
    )
    kyc = _column(histories, C.KYC_DATE)[None, :]
    migrated = _column(histories, C.MIGRATED_DATE)[None, :]
    if C.PRODUCT_VERSION in histories.schema.names and n_acc <= _SMALL:
        # a few accounts (one scored record): Python beats two Arrow compute calls
        versions = histories.column(C.PRODUCT_VERSION).to_pylist()
        legacy = np.array([v == C.PRODUCT_VERSIONS[0] for v in versions], dtype=bool)
    elif C.PRODUCT_VERSION in histories.schema.names and n_acc:
        is_legacy = pc.equal(histories.column(C.PRODUCT_VERSION), C.PRODUCT_VERSIONS[0])
        legacy = is_legacy.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    else:
        legacy = np.zeros(n_acc, dtype=bool)
    migrated_by = migrated <= asof  # NaN compares False: not migrated / unknown
    unmigrated = legacy[None, :] & ~migrated_by
    out = {
        "tenure_months": (asof - open_days(histories)[None, :]) / DAYS_PER_MONTH,
        "age_years": year[:, None] - _column(histories, C.BIRTH_YEAR)[None, :],
        "is_student": _column(histories, C.IS_STUDENT)[None, :],
        "months_since_kyc": np.where(kyc <= asof, (asof - kyc) / DAYS_PER_MONTH, np.nan),
        "other_credit_lines": _column(histories, C.OTHER_CREDIT_LINES)[None, :],
        "city_tier": _column(histories, C.CITY_TIER)[None, :],
        "legacy_unmigrated": unmigrated.astype(np.float64),
        "months_since_migrated": np.where(migrated_by, (asof - migrated) / DAYS_PER_MONTH, np.nan),
    }
    policy = policy or PolicyCalendar()
    terms = _policy_terms(tuple(int(d) for d in grid.asof_day), policy, horizon_months)
    since_sweep, to_sweep, to_deadline, since_offer, sweep_ahead = terms
    out["months_since_sweep"] = since_sweep
    out["months_to_sweep"] = to_sweep
    out["months_to_migration_deadline"] = to_deadline
    out["legacy_months_to_deadline"] = np.where(unmigrated, to_deadline, np.nan)
    out["months_since_migration_offer"] = since_offer
    # the sweep's hazard falls on targeted accounts during the sweep only: one column holds
    # that interaction, which shallow trees otherwise spread over every targeted account
    out["sweep_targeted"] = _targeted(out, policy)
    out["sweep_exposure"] = out["sweep_targeted"] * sweep_ahead
    shape = (len(year), n_acc)
    # one float32 block filled by broadcasting assignment (the same cast as astype)
    block = np.empty((len(NAMES), *shape), dtype=np.float32)
    for i, name in enumerate(NAMES):
        block[i] = out[name]
    return dict(zip(NAMES, block, strict=True))
