"""Profile / regulatory / migration family: snapshot fields and policy-date distances."""

from __future__ import annotations

import functools

import numpy as np

from risk_model import contract as C
from risk_model.features.feature import (
    ANY_SWEEP_RULE,
    KNOWN_AT_CALENDAR,
    KNOWN_AT_PROFILE,
    Context,
    declarer,
)
from risk_model.features.monthly import DAYS_PER_MONTH, day_number
from risk_model.policy import PolicyCalendar


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


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return profile features as arrays that broadcast to (n_asof, n_acc).

    The sweep exposure counts the months of the label horizon (``ctx.horizon_months``)
    inside an announced sweep.
    """
    histories, grid, n_acc = ctx.histories, ctx.grid, ctx.n_acc
    asof = grid.asof_day.astype(np.float64)[:, None]
    year = (
        np.asarray(grid.asof_day, dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64)
        + 1970
    )
    kyc = ctx.profile_column(C.KYC_DATE)[None, :]
    migrated = ctx.profile_column(C.MIGRATED_DATE)[None, :]
    if C.PRODUCT_VERSION in histories.schema.names:
        versions = histories.column(C.PRODUCT_VERSION).to_numpy()[ctx.order]
        legacy = versions == C.PRODUCT_VERSIONS[0]  # a null (None) is not legacy
    else:
        legacy = np.zeros(n_acc, dtype=bool)
    migrated_by = migrated <= asof  # NaN compares False: not migrated / unknown
    unmigrated = legacy[None, :] & ~migrated_by
    out = {
        "tenure_months": (asof - ctx.profile_column(C.OPEN_DATE)[None, :]) / DAYS_PER_MONTH,
        "age_years": year[:, None] - ctx.profile_column(C.BIRTH_YEAR)[None, :],
        "is_student": ctx.profile_column(C.IS_STUDENT)[None, :],
        "months_since_kyc": np.where(kyc <= asof, (asof - kyc) / DAYS_PER_MONTH, np.nan),
        "other_credit_lines": ctx.profile_column(C.OTHER_CREDIT_LINES)[None, :],
        "city_tier": ctx.profile_column(C.CITY_TIER)[None, :],
        "legacy_unmigrated": unmigrated.astype(np.float64),
        "months_since_migrated": np.where(migrated_by, (asof - migrated) / DAYS_PER_MONTH, np.nan),
    }
    policy = ctx.policy or PolicyCalendar()
    terms = _policy_terms(tuple(int(d) for d in grid.asof_day), policy, ctx.horizon_months)
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
    return out  # float64 arrays that broadcast to (n_asof, n_acc)


feature = declarer("profile", known_at=KNOWN_AT_PROFILE)
# fmt: off
FEATURES = (
    feature("tenure_months", "other", "at as-of", 0, "months",
            "Months since the account was opened.",
            "Your account was opened {value:z.0f} month{s} ago.",
            zero="Your account was opened this month."),
    feature("age_years", "regulatory", "at as-of", 0, "years",
            "as-of year - birth year.",
            "You are {value:z.0f} year{s} old.",
            rule="age"),
    feature("is_student", "regulatory", "at as-of", 1, "flag",
            "1 if the holder is registered as a student.",
            "You are registered as a student.",
            zero="You are not registered as a student.",
            rule="student"),
    feature("months_since_kyc", "regulatory", "at as-of", 1, "months",
            "Months since the latest identity check; NaN if unknown or after the as-of date.",
            "Your identity was last checked {value:z.0f} month{s} ago.",
            zero="Your identity was checked this month.",
            missing="We have no record of an identity check for you.",
            rule="kyc"),
    feature("other_credit_lines", "regulatory", "at as-of", 1, "count",
            "Credit lines held elsewhere (snapshot field, used as given).",
            "You hold {value:z.0f} credit line{s} with other lenders.",
            rule="credit_lines"),
    feature("city_tier", "other", "at as-of", 0, "tier",
            "Tier of the holder's city (1 = largest).",
            "Your city is in tier {value:z.0f} (tier 1 is the largest cities)."),
    feature("legacy_unmigrated", "migration", "at as-of", 1, "flag",
            "1 if on the legacy product and not migrated by the as-of date.",
            "Your account is still on the old version of the product, which is being retired.",
            zero="Your account is on the current version of the product.",
            rule="migration"),
    feature("months_since_migrated", "migration", "at as-of", 0, "months",
            "Months since migration to the current version; NaN if not migrated by then.",
            "Your account moved to the current version of the product {value:z.0f} month{s} "
            "ago.",
            zero="Your account moved to the current version of the product this month.",
            missing="Your account has not moved to the current version of the product.",
            rule="migration"),
    feature("months_since_sweep", "regulatory", "at as-of", 0, "months",
            "Months since the start of the latest regulatory sweep on or before the as-of date.",
            reason="The latest regulatory review began {value:z.0f} month{s} ago.",
            zero="A regulatory review began this month.",
            missing="No regulatory review has taken place yet.",
            scope="date",
            known_at=KNOWN_AT_CALENDAR),
    feature("months_to_sweep", "regulatory", "at as-of", 0, "months",
            "Months until the next announced regulatory sweep after the as-of date.",
            reason="The next regulatory review begins in {value:z.0f} month{s}.",
            zero="A regulatory review begins this month.",
            missing="No regulatory review is announced.",
            scope="date",
            known_at=KNOWN_AT_CALENDAR),
    feature("months_to_migration_deadline", "migration", "at as-of", 0, "months",
            "Months from the as-of date to the migration deadline (negative once passed).",
            reason="The old version of the product will be retired in {value:z.0f} month{s}.",
            zero="The old version of the product is retired this month.",
            negative="The old version of the product was retired {value:z.0f} month{s} ago.",
            missing="No retirement date is set for the old version of the product.",
            scope="date",
            known_at=KNOWN_AT_CALENDAR),
    feature("legacy_months_to_deadline", "migration", "at as-of", -1, "months",
            "months_to_migration_deadline for legacy accounts not yet migrated, else NaN.",
            "The old version of the product that your account is on will be retired in "
            "{value:z.0f} month{s}.",
            zero="The old version of the product that your account is on is retired this month.",
            negative="The old version of the product that your account is on was retired "
                     "{value:z.0f} month{s} ago.",
            rule="migration"),
    feature("months_since_migration_offer", "migration", "at as-of", 0, "months",
            "Months since migration was first offered (negative before the offer).",
            reason="Moving to the current version of the product has been offered for {value:z.0f} "
            "month{s}.",
            zero="Moving to the current version of the product is offered from this month.",
            negative="Moving to the current version of the product will be offered in {value:z.0f} "
                     "month{s}.",
            missing="No move to the current version of the product has been offered.",
            scope="date",
            known_at=KNOWN_AT_CALENDAR),
    feature("sweep_targeted", "regulatory", "at as-of", 1, "flag",
            "1 if any clause of the policy calendar's published sweep rule holds at the as-of "
            "date, 0 if none does; NaN when no rule is known or an input is missing.",
            "Your account is of a kind that announced regulatory reviews cover.",
            zero="Your account is not of a kind that announced regulatory reviews cover.",
            missing="It is not known whether announced regulatory reviews cover your account.",
            rule=ANY_SWEEP_RULE),
    feature("sweep_exposure", "regulatory", "label horizon", 1, "months",
            "sweep_targeted x months of the label horizon after the as-of date that fall inside an "
            "announced sweep (policy sweep dates and length).",
            "A regulatory review that covers accounts like yours runs for {value:z.0f} of the "
            "coming months.",
            zero="No announced regulatory review covers your account in the coming months.",
            missing="It is not known whether a regulatory review covers your account in the coming "
                    "months.",
            rule=ANY_SWEEP_RULE),
)
# fmt: on
