"""The feature catalogue: every feature's name, family, closure cause, definition and reason.

Windows are calendar months counted back from the as-of date: "last 6 months" is the
as-of date's own month (up to and including the as-of date) and the 5 months before it.
Statement-based windows therefore hold the statements *known* by then (a statement of month
M is known from the last day of M; its payment from its due date). "Months since" features
look back at most 36 months and are missing (NaN) when the event was not seen in that span.

Merchant-risk features are computed over the merchants' last 36 months. In training
(``merchant_risk=None``) the statistics come from the population being featurised, point
in time per as-of date, with each account's own payments removed (leave-one-account-out).
In scoring they come from a table fitted once by ``fit_merchant_risk`` at a recorded
as-of date and frozen in the model artefact; that table *includes* every training account's
payments and does not move with the scoring date, so the two modes are close but not equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from risk_model import contract as C
from risk_model.modeling.templates import render

FAMILIES = ("overdue", "cashout", "activity", "profile")
SCOPES = ("account", "date")


@dataclass(frozen=True)
class FeatureSpec:
    """Description of one feature.

    Parameters
    ----------
    name : str
        Column name in the feature frame.
    family : str
        One of ``overdue``, ``cashout``, ``activity``, ``profile``.
    cause : str
        Closure cause the feature speaks to (one of ``contract.CAUSES``).
    definition : str
        What is computed, precisely.
    window : str
        Time span the value covers, e.g. ``"last 6 months"`` or ``"at as-of"``.
    direction : int
        +1 risk rises with the value, -1 it falls, 0 no constraint (monotone constraint).
    unit : str
        Unit of the value.
    reason : str
        Customer-facing reason template, formatted with ``value=``; empty when
        ``direction == 0``. Templates are plain ``str.format`` strings (the model
        artefact stores them) and must read well at 0, 1 and typical values.
    scope : str
        ``"account"`` (depends on the account's data) or ``"date"`` (depends only on the
        as-of date and the policy calendar: the same for every account on a date).
    """

    name: str
    family: str
    cause: str
    definition: str
    window: str
    direction: int
    unit: str
    reason: str = ""
    scope: str = "account"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: unknown family {self.family!r}")
        if self.cause not in C.CAUSES:
            raise ValueError(f"{self.name}: unknown cause {self.cause!r}")
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"{self.name}: direction must be -1, 0 or +1")
        if self.direction != 0 and not self.reason:
            raise ValueError(f"{self.name}: a reason template is required when direction != 0")
        if self.scope not in SCOPES:
            raise ValueError(f"{self.name}: scope must be one of {SCOPES}")

    def explain(self, value: float) -> str:
        """Return the customer-facing reason for ``value`` (empty if none)."""
        return render(self.reason, {"value": value}) if self.reason else ""


def _f(name, family, cause, window, direction, unit, definition, reason="", scope="account"):
    return FeatureSpec(name, family, cause, definition, window, direction, unit, reason, scope)


# fmt: off
_OVERDUE = [
    _f("dpd_now", "overdue", "overdue", "at as-of", 1, "days",
       "Days past due on the latest statement known in the last 12 months.",
       "days past due on the latest statement: {value:z.0f}"),
    _f("dpd_max_3m", "overdue", "overdue", "last 3 months", 1, "days",
       "Maximum days past due over statements of the last 3 months.",
       "most days past due on a statement of the last 3 months: {value:z.0f}"),
    _f("dpd_max_6m", "overdue", "overdue", "last 6 months", 1, "days",
       "Maximum days past due over statements of the last 6 months.",
       "most days past due on a statement of the last 6 months: {value:z.0f}"),
    _f("dpd_max_12m", "overdue", "overdue", "last 12 months", 1, "days",
       "Maximum days past due over statements of the last 12 months.",
       "most days past due on a statement of the last 12 months: {value:z.0f}"),
    _f("months_dpd1_3m", "overdue", "overdue", "last 3 months", 1, "months",
       "Statement months with days past due >= 1 in the last 3 months.",
       "statements 1+ days past due in the last 3 months: {value:z.0f}"),
    _f("months_dpd1_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statement months with days past due >= 1 in the last 6 months.",
       "statements 1+ days past due in the last 6 months: {value:z.0f}"),
    _f("months_dpd1_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statement months with days past due >= 1 in the last 12 months.",
       "statements 1+ days past due in the last 12 months: {value:z.0f}"),
    _f("months_dpd30_3m", "overdue", "overdue", "last 3 months", 1, "months",
       "Statement months with days past due >= 30 in the last 3 months.",
       "statements 30+ days past due in the last 3 months: {value:z.0f}"),
    _f("months_dpd30_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statement months with days past due >= 30 in the last 6 months.",
       "statements 30+ days past due in the last 6 months: {value:z.0f}"),
    _f("months_dpd30_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statement months with days past due >= 30 in the last 12 months.",
       "statements 30+ days past due in the last 12 months: {value:z.0f}"),
    _f("months_dpd90_3m", "overdue", "overdue", "last 3 months", 1, "months",
       "Statement months with days past due >= 90 in the last 3 months.",
       "statements 90+ days past due in the last 3 months: {value:z.0f}"),
    _f("months_dpd90_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statement months with days past due >= 90 in the last 6 months.",
       "statements 90+ days past due in the last 6 months: {value:z.0f}"),
    _f("months_dpd90_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statement months with days past due >= 90 in the last 12 months.",
       "statements 90+ days past due in the last 12 months: {value:z.0f}"),
    _f("months_since_dpd", "overdue", "overdue", "last 36 months", -1, "months",
       "Months from the last statement with days past due > 0 to the as-of month; NaN if none "
       "in 36 months.",
       "months since the last past-due statement: {value:z.0f} (0 = this month)"),
    _f("paid_ratio_last", "overdue", "overdue", "at as-of", -1, "ratio",
       "amount_paid / billed_amount (clipped to 0..1) of the latest statement past its due "
       "date (billed > 0).",
       "paid {value:z.0%} of the latest bill"),
    _f("paid_ratio_mean_3m", "overdue", "overdue", "last 3 months", -1, "ratio",
       "Mean paid/billed ratio (0..1) of statements whose due date fell in the last 3 months.",
       "paid on average {value:z.0%} of the bills of the last 3 months"),
    _f("paid_ratio_mean_6m", "overdue", "overdue", "last 6 months", -1, "ratio",
       "Mean paid/billed ratio (0..1) of statements whose due date fell in the last 6 months.",
       "paid on average {value:z.0%} of the bills of the last 6 months"),
    _f("min_only_months_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statements (due in the window) paid at the minimum only (min_due <= paid < min_due + "
       "1% of billed, min_due < billed).",
       "paid only the minimum in {value:z.0f} of the last 6 months"),
    _f("below_min_months_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statements due in the last 6 months paid below the minimum due.",
       "paid less than the minimum in {value:z.0f} of the last 6 months"),
    _f("below_min_months_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statements due in the last 12 months paid below the minimum due.",
       "paid less than the minimum in {value:z.0f} of the last 12 months"),
    _f("util_last", "overdue", "overdue", "at as-of", 1, "ratio",
       "billed / credit limit of the latest statement in the last 12 months.",
       "the latest bill used {value:z.0%} of the credit limit"),
    _f("util_mean_6m", "overdue", "overdue", "last 6 months", 1, "ratio",
       "Mean billed / limit over statements of the last 6 months.",
       "bills used on average {value:z.0%} of the limit over 6 months"),
    _f("util_max_6m", "overdue", "overdue", "last 6 months", 1, "ratio",
       "Maximum billed / limit over statements of the last 6 months.",
       "the highest bill of the last 6 months used {value:z.0%} of the limit"),
    _f("util_slope_6m", "overdue", "overdue", "last 6 months", 0, "ratio/month",
       "Least-squares slope of billed / limit against month over the last 6 months (>= 2 "
       "statements).",
       "use of your credit limit changed by {value:+.0%} a month over the last 6 months"),
    _f("months_util90_6m", "overdue", "cashout", "last 6 months", 1, "months",
       "Statements of the last 6 months with billed / limit > 0.9.",
       "the line was over 90% used in {value:z.0f} of the last 6 months"),
    _f("balance_growth_6m", "overdue", "overdue", "last 6 months", 0, "log ratio",
       "log((mean billed, last 3 months + 1) / (mean billed, 3 months before + 1)).",
       "your bills of the last 3 months differ sharply from the 3 months before"),
    _f("limit_change_6m", "overdue", "overdue", "last 6 months", 0, "ratio",
       "Latest limit / earliest limit in the last 6 months - 1.",
       "your credit limit changed by {value:+.0%} over the last 6 months"),
    _f("n_statements_36m", "overdue", "overdue", "last 36 months", 0, "count",
       "Statements known in the last 36 months (history length).",
       "monthly statements on record in the last 3 years: {value:z.0f}"),
]

_CASHOUT = [
    _f("round_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Share of purchases whose amount is a multiple of 100.",
       "{value:z.0%} of purchases were round amounts"),
    _f("patterned_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Share of purchases with an integer amount >= 100 ending in 88, 98 or 99 (998 / 1999 / "
       "588 style).",
       "{value:z.0%} of purchases were patterned amounts such as 998 or 1999"),
    _f("near_limit_count_6m", "cashout", "cashout", "last 6 months", 1, "count",
       "Purchases >= 0.8 x available line (limit - billed of the last known statement, floored"
       " at 10% of the limit).",
       "purchases that nearly emptied the available credit line in the last 6 months: "
       "{value:z.0f}"),
    _f("near_limit_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "near_limit_count / purchases made with a known limit.",
       "{value:z.0%} of purchases nearly emptied the available credit line"),
    _f("round_near_limit_count_6m", "cashout", "cashout", "last 6 months", 1, "count",
       "Purchases both round (multiple of 100) and near the available line.",
       "round-amount purchases close to the available limit in the last 6 months: {value:z.0f}"),
    _f("repay_respend_count_6m", "cashout", "cashout", "last 6 months", 1, "count",
       "Purchases >= 0.5 x limit made within 24 h after a repayment.",
       "large purchases within a day of a repayment in the last 6 months: {value:z.0f}"),
    _f("repay_respend_median_hours_6m", "cashout", "cashout", "last 6 months", -1, "hours",
       "Median hours from the latest repayment to each purchase >= 0.5 x limit.",
       "median hours from a repayment to the next large purchase: {value:z.0f}"),
    _f("top1_merchant_share_6m", "cashout", "cashout", "last 6 months", 0, "share",
       "Largest single merchant's share of purchase spend.",
       "{value:.0%} of your spending in the last 6 months went to one shop"),
    _f("merchant_hhi_6m", "cashout", "cashout", "last 6 months", 0, "index",
       "Herfindahl index of purchase spend over merchants (sum of squared shares).",
       "your spending in the last 6 months went to very few shops"),
    _f("night_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Share of purchases made between 00:00 and 05:00.",
       "{value:z.0%} of purchases were made between midnight and 5 am"),
    _f("category_amount_ratio_6m", "cashout", "cashout", "last 6 months", 1, "ratio",
       "Geometric mean of amount / geometric-mean amount of the merchant category (category "
       "statistics over 36 months, like merchant risk).",
       "purchase amounts were {value:z.1f}x the usual amount for their shop type"),
    _f("burst_after_quiet", "cashout", "cashout", "last 4 months", 0, "flag",
       "1 if the as-of month has purchases after 3 months without any, else 0.",
       "purchases this month after 3 months without any (1 = yes, 0 = no): {value:z.0f}"),
    _f("merchant_round_nl_share_wmean_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Spend-weighted mean over the account's merchants of the merchant's share of volume "
       "that is round and near the payer's limit (merchant stats over 36 months).",
       "shops used had {value:z.0%} of their sales as round, limit-emptying payments"),
    _f("merchant_round_nl_share_max_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Maximum of the same merchant share over the account's merchants.",
       "a shop used had {value:z.0%} of its sales as round, limit-emptying payments"),
    _f("merchant_payers_wmean_6m", "cashout", "cashout", "last 6 months", 0, "payers",
       "Spend-weighted mean number of distinct payers of the account's merchants.",
       "average number of paying customers of the shops you used: {value:z,.0f}"),
    _f("merchant_age_months_wmean_6m", "cashout", "cashout", "last 6 months", 0, "months",
       "Spend-weighted mean months since the merchant's first payment seen (<= 35).",
       "average months the shops you used had been taking payments: {value:z,.0f}"),
    _f("merchant_night_payers_wmean_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Spend-weighted mean share of a merchant's payers who paid it between 00:00-05:00.",
       "on average {value:z.0%} of the customers of the shops used paid them at night"),
    _f("merchant_night_payers_max_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Maximum over the account's merchants of the night-payer share.",
       "a shop used was paid at night by {value:z.0%} of its customers"),
]

_ACTIVITY = [
    _f("months_since_purchase", "activity", "dormancy", "last 36 months", 1, "months",
       "Months from the last purchase to the as-of month; NaN if none in 36 months.",
       "months since the last purchase: {value:z.0f} (0 = this month)"),
    _f("active_months_3m", "activity", "dormancy", "last 3 months", -1, "months",
       "Months with at least one purchase in the last 3 months.",
       "used the line in {value:z.0f} of the last 3 months"),
    _f("active_months_6m", "activity", "dormancy", "last 6 months", -1, "months",
       "Months with at least one purchase in the last 6 months.",
       "used the line in {value:z.0f} of the last 6 months"),
    _f("active_months_12m", "activity", "dormancy", "last 12 months", -1, "months",
       "Months with at least one purchase in the last 12 months.",
       "used the line in {value:z.0f} of the last 12 months"),
    _f("spend_3m", "activity", "dormancy", "last 3 months", 0, "CNY",
       "Sum of purchase amounts in the last 3 months.",
       "your purchases in the last 3 months, in CNY: {value:z,.0f}"),
    _f("spend_6m", "activity", "dormancy", "last 6 months", 0, "CNY",
       "Sum of purchase amounts in the last 6 months.",
       "your purchases in the last 6 months, in CNY: {value:z,.0f}"),
    _f("spend_12m", "activity", "dormancy", "last 12 months", 0, "CNY",
       "Sum of purchase amounts in the last 12 months.",
       "your purchases in the last 12 months, in CNY: {value:z,.0f}"),
    _f("purchases_3m", "activity", "dormancy", "last 3 months", 0, "count",
       "Number of purchases in the last 3 months.",
       "purchases in the last 3 months: {value:z.0f}"),
    _f("purchases_12m", "activity", "dormancy", "last 12 months", 0, "count",
       "Number of purchases in the last 12 months.",
       "purchases in the last 12 months: {value:z.0f}"),
    _f("spend_trend_3v3", "activity", "dormancy", "last 6 months", -1, "ratio",
       "(spend last 3 months - spend 3 months before) / their sum; NaN if both 0.",
       "change in spending, last 3 months vs the 3 before: {value:+z.0%}"),
    _f("count_trend_3v3", "activity", "dormancy", "last 6 months", -1, "ratio",
       "Same trend as spend_trend_3v3 for the number of purchases.",
       "change in the number of purchases, last 3 months vs the 3 before: {value:+z.0%}"),
    _f("days_since_txn", "activity", "dormancy", "last 36 months", 1, "days",
       "Days from the last transaction of any kind to the as-of date.",
       "days since the last transaction: {value:z.0f}"),
]

_PROFILE = [
    _f("tenure_months", "profile", "dormancy", "at as-of", 0, "months",
       "Months since the account was opened.",
       "months since your account was opened: {value:z.0f}"),
    _f("age_years", "profile", "regulatory", "at as-of", 0, "years",
       "as-of year - birth year.",
       "your age in years: {value:z.0f}"),
    _f("is_student", "profile", "regulatory", "at as-of", 1, "flag",
       "1 if the holder is registered as a student.",
       "registered as a student (1 = yes, 0 = no): {value:z.0f}"),
    _f("months_since_kyc", "profile", "regulatory", "at as-of", 1, "months",
       "Months since the latest identity check; NaN if unknown or after the as-of date.",
       "months since identity data were last checked: {value:z.0f}"),
    _f("other_credit_lines", "profile", "regulatory", "at as-of", 1, "count",
       "Credit lines held elsewhere (snapshot field, used as given).",
       "credit lines held elsewhere: {value:z.0f}"),
    _f("city_tier", "profile", "regulatory", "at as-of", 0, "tier",
       "Tier of the holder's city (1 = largest).",
       "your city's tier: {value:z.0f} (1 = the largest cities)"),
    _f("legacy_unmigrated", "profile", "migration", "at as-of", 1, "flag",
       "1 if on the legacy product and not migrated by the as-of date.",
       "still on the retired product version (1 = yes, 0 = no): {value:z.0f}"),
    _f("months_since_migrated", "profile", "migration", "at as-of", 0, "months",
       "Months since migration to the current version; NaN if not migrated by then.",
       "months since your account moved to the current product: {value:z.0f}"),
    _f("months_since_sweep", "profile", "regulatory", "at as-of", 0, "months",
       "Months since the start of the latest regulatory sweep on or before the as-of date.",
       scope="date"),
    _f("months_to_sweep", "profile", "regulatory", "at as-of", 0, "months",
       "Months until the next announced regulatory sweep after the as-of date.",
       scope="date"),
    _f("months_to_migration_deadline", "profile", "migration", "at as-of", 0, "months",
       "Months from the as-of date to the migration deadline (negative once passed).",
       scope="date"),
    _f("legacy_months_to_deadline", "profile", "migration", "at as-of", -1, "months",
       "months_to_migration_deadline for legacy accounts not yet migrated, else NaN.",
       "months left to move off the retired product: {value:z.0f} (negative once past "
       "the deadline)"),
    _f("months_since_migration_offer", "profile", "migration", "at as-of", 0, "months",
       "Months since migration was first offered (negative before the offer).",
       scope="date"),
]
# fmt: on

FEATURES: tuple[FeatureSpec, ...] = (*_OVERDUE, *_CASHOUT, *_ACTIVITY, *_PROFILE)
_NAMES = tuple(f.name for f in FEATURES)
if len(set(_NAMES)) != len(_NAMES):  # pragma: no cover - guards edits of the catalogue
    raise RuntimeError("duplicate feature names in the catalogue")


def date_features() -> tuple[str, ...]:
    """Return the names of features that depend only on the as-of date (``scope == "date"``).

    Returns
    -------
    tuple of str
        Names in catalogue order (distances to policy dates: identical for every account
        scored on the same date).
    """
    return tuple(f.name for f in FEATURES if f.scope == "date")


def feature_names() -> list[str]:
    """Return the feature names in catalogue order.

    Returns
    -------
    list of str
        Names, in the column order of :func:`build_features` output.
    """
    return list(_NAMES)


def catalogue_frame() -> pd.DataFrame:
    """Return the catalogue as a DataFrame (one row per feature), e.g. for logging.

    Returns
    -------
    pandas.DataFrame
        Columns: the fields of :class:`FeatureSpec`.
    """
    return pd.DataFrame([asdict(f) for f in FEATURES])
