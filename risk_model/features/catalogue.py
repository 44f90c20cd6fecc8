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

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from risk_model import contract as C
from risk_model.features.statement_lags import spec_rows
from risk_model.modeling.templates import render
from risk_model.policy import SWEEP_RULES, PolicyCalendar

FAMILIES = ("overdue", "cashout", "activity", "profile", "statements")
SCOPES = ("account", "date")
OTHER = C.CAUSE_OTHER  # the cause of an attribute that points to no closure cause
ANY_SWEEP_RULE = "sweep"  # the rule of features about a sweep rule as a whole (any clause)
FEATURE_CAUSES = (*C.CAUSES, OTHER)


@dataclass(frozen=True)
class FeatureSpec:
    """Description of one feature.

    Parameters
    ----------
    name : str
        Column name in the feature frame.
    family : str
        One of ``overdue``, ``cashout``, ``activity``, ``profile``, ``statements``.
    cause : str
        Closure cause the feature speaks to (one of ``contract.CAUSES``), or
        :data:`OTHER` for an attribute that points to no closure cause.
    definition : str
        What is computed, precisely.
    window : str
        Time span the value covers, e.g. ``"last 6 months"`` or ``"at as-of"``.
    direction : int
        +1 risk rises with the value, -1 it falls, 0 no constraint (monotone constraint).
    unit : str
        Unit of the value.
    reason : str
        The customer register: one plain sentence for the account holder, a template
        filled with the value by :func:`risk_model.modeling.templates.render` (``{value}``
        with a simple number format, ``{s}`` for the unit's plural ending). It must read
        well at 0, 1 and typical values, and hold no formula, internal name or sentinel.
    scope : str
        ``"account"`` (depends on the account's data) or ``"date"`` (depends only on the
        as-of date and the policy calendar: the same for every account on a date).
    reason_zero, reason_negative, reason_missing : str
        Sentences used instead of ``reason`` for a value that reads as 0, a negative value
        (filled with its size) and a missing one; empty when ``reason`` serves (a missing
        value then gets a generic "not known" text: see :func:`reason_template`).
    detail : str
        The analyst register's value template (``{value:.1f} months``); the reason's
        detail reads ``<name> = <value>; contribution <c> log-odds``. Default: from the
        unit (:func:`default_detail`).
    rule : str
        The policy rule through which the feature speaks to its cause (a value of
        :data:`risk_model.policy.SWEEP_RULES`, ``"migration"``, or :data:`ANY_SWEEP_RULE` for
        features about the sweep rule as a whole); empty when it always
        does. Under a calendar without the rule its cause is :data:`OTHER`
        (:func:`causes_under`).
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
    reason_zero: str = ""
    reason_negative: str = ""
    reason_missing: str = ""
    detail: str = ""
    rule: str = ""

    def __post_init__(self) -> None:
        if not self.detail:
            object.__setattr__(self, "detail", default_detail(self.unit))
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: unknown family {self.family!r}")
        if self.cause not in FEATURE_CAUSES:
            raise ValueError(f"{self.name}: unknown cause {self.cause!r}")
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"{self.name}: direction must be -1, 0 or +1")
        if self.direction != 0 and not self.reason:
            raise ValueError(f"{self.name}: a reason template is required when direction != 0")
        if self.scope not in SCOPES:
            raise ValueError(f"{self.name}: scope must be one of {SCOPES}")

    def explain(self, value: float) -> str:
        """Return the customer sentence for ``value`` (empty if none)."""
        template, number = reason_template(vars(self), value)
        return render(template, {"value": number}) if template else ""


_DETAIL_FORMATS = {"CNY": ",.2f", "months": ".1f", "hours": ".1f"}
_WHOLE_UNITS = ("days", "count", "flag", "years", "tier", "payers")


def default_detail(unit: str) -> str:
    """Return the analyst value template of a unit (``"{value:.3f} ratio"``)."""
    spec = _DETAIL_FORMATS.get(unit, ",.0f" if unit in _WHOLE_UNITS else ".3f")
    return f"{{value:{spec}}} {unit}".strip()


def reason_template(entry: Mapping[str, Any], value: float) -> tuple[str, float]:
    """Return the customer template for ``value`` and the number to fill it with.

    Parameters
    ----------
    entry : mapping
        A catalogue entry (``reason`` and the optional ``reason_zero``,
        ``reason_negative``, ``reason_missing``).
    value : float
        The account's value.

    Returns
    -------
    template : str
        ``reason_missing`` for a missing or non-finite value, ``reason_zero`` for a value
        that reads as 0 (``|value| < 0.5``), ``reason_negative`` (filled with ``-value``)
        for a negative one, else ``reason``; empty when the entry has none of them.
    number : float
        The number to fill the template with.
    """
    if value is None or not math.isfinite(value):
        return str(entry.get("reason_missing") or ""), math.nan
    if abs(value) < 0.5 and entry.get("reason_zero"):
        return str(entry["reason_zero"]), value
    if value < 0 and entry.get("reason_negative"):
        return str(entry["reason_negative"]), -value
    return str(entry.get("reason") or ""), value


def _f(name, family, cause, window, direction, unit, definition, reason="", scope="account",
       *, zero="", negative="", missing="", rule=""):  # fmt: skip
    return FeatureSpec(
        name, family, cause, definition, window, direction, unit, reason, scope,
        reason_zero=zero, reason_negative=negative, reason_missing=missing, rule=rule,
    )  # fmt: skip


# fmt: off
_OVERDUE = [
    _f("dpd_now", "overdue", "overdue", "at as-of", 1, "days",
       "Days past due on the latest statement known in the last 12 months.",
       "Your latest statement was {value:z.0f} day{s} past due.",
       zero="Your latest statement is not past due."),
    _f("dpd_max_3m", "overdue", "overdue", "last 3 months", 1, "days",
       "Maximum days past due over statements of the last 3 months.",
       "A statement of yours in the last 3 months was {value:z.0f} day{s} past due.",
       zero="None of your statements of the last 3 months was past due."),
    _f("dpd_max_6m", "overdue", "overdue", "last 6 months", 1, "days",
       "Maximum days past due over statements of the last 6 months.",
       "A statement of yours in the last 6 months was {value:z.0f} day{s} past due.",
       zero="None of your statements of the last 6 months was past due."),
    _f("dpd_max_12m", "overdue", "overdue", "last 12 months", 1, "days",
       "Maximum days past due over statements of the last 12 months.",
       "A statement of yours in the last 12 months was {value:z.0f} day{s} past due.",
       zero="None of your statements of the last 12 months was past due."),
    _f("months_dpd1_3m", "overdue", "overdue", "last 3 months", 1, "months",
       "Statement months with days past due >= 1 in the last 3 months.",
       "In the last 3 months, {value:z.0f} of your monthly statements went past due."),
    _f("months_dpd1_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statement months with days past due >= 1 in the last 6 months.",
       "In the last 6 months, {value:z.0f} of your monthly statements went past due."),
    _f("months_dpd1_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statement months with days past due >= 1 in the last 12 months.",
       "In the last 12 months, {value:z.0f} of your monthly statements went past due."),
    _f("months_dpd30_3m", "overdue", "overdue", "last 3 months", 1, "months",
       "Statement months with days past due >= 30 in the last 3 months.",
       "In the last 3 months, {value:z.0f} of your monthly statements went 30 or more "
       "days past due."),
    _f("months_dpd30_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statement months with days past due >= 30 in the last 6 months.",
       "In the last 6 months, {value:z.0f} of your monthly statements went 30 or more "
       "days past due."),
    _f("months_dpd30_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statement months with days past due >= 30 in the last 12 months.",
       "In the last 12 months, {value:z.0f} of your monthly statements went 30 or more "
       "days past due."),
    _f("months_dpd90_3m", "overdue", "overdue", "last 3 months", 1, "months",
       "Statement months with days past due >= 90 in the last 3 months.",
       "In the last 3 months, {value:z.0f} of your monthly statements went 90 or more "
       "days past due."),
    _f("months_dpd90_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statement months with days past due >= 90 in the last 6 months.",
       "In the last 6 months, {value:z.0f} of your monthly statements went 90 or more "
       "days past due."),
    _f("months_dpd90_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statement months with days past due >= 90 in the last 12 months.",
       "In the last 12 months, {value:z.0f} of your monthly statements went 90 or more "
       "days past due."),
    _f("months_since_dpd", "overdue", "overdue", "last 36 months", -1, "months",
       "Months from the last statement with days past due > 0 to the as-of month; NaN if none "
       "in 36 months.",
       "Your last late payment was {value:z.0f} month{s} ago.",
       zero="Your statement this month is past due.",
       missing="You have had no late payment in the last 3 years."),
    _f("paid_ratio_last", "overdue", "overdue", "at as-of", -1, "ratio",
       "amount_paid / billed_amount (clipped to 0..1) of the latest statement past its due "
       "date (billed > 0).",
       "You paid {value:z.0%} of your latest bill."),
    _f("paid_ratio_mean_3m", "overdue", "overdue", "last 3 months", -1, "ratio",
       "Mean paid/billed ratio (0..1) of statements whose due date fell in the last 3 months.",
       "Over the last 3 months you paid on average {value:z.0%} of your bills."),
    _f("paid_ratio_mean_6m", "overdue", "overdue", "last 6 months", -1, "ratio",
       "Mean paid/billed ratio (0..1) of statements whose due date fell in the last 6 months.",
       "Over the last 6 months you paid on average {value:z.0%} of your bills."),
    _f("min_only_months_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statements (due in the window) paid at the minimum only (min_due <= paid < min_due + "
       "1% of billed, min_due < billed).",
       "You paid only the minimum in {value:z.0f} of the last 6 months."),
    _f("below_min_months_6m", "overdue", "overdue", "last 6 months", 1, "months",
       "Statements due in the last 6 months paid below the minimum due.",
       "You paid less than the minimum in {value:z.0f} of the last 6 months."),
    _f("below_min_months_12m", "overdue", "overdue", "last 12 months", 1, "months",
       "Statements due in the last 12 months paid below the minimum due.",
       "You paid less than the minimum in {value:z.0f} of the last 12 months."),
    _f("util_last", "overdue", "overdue", "at as-of", 1, "ratio",
       "billed / credit limit of the latest statement in the last 12 months.",
       "Your latest bill used {value:z.0%} of your credit limit."),
    _f("util_mean_6m", "overdue", "overdue", "last 6 months", 1, "ratio",
       "Mean billed / limit over statements of the last 6 months.",
       "Over the last 6 months your bills used on average {value:z.0%} of your credit "
       "limit."),
    _f("util_max_6m", "overdue", "overdue", "last 6 months", 1, "ratio",
       "Maximum billed / limit over statements of the last 6 months.",
       "Your highest bill of the last 6 months used {value:z.0%} of your credit limit."),
    _f("util_slope_6m", "overdue", "overdue", "last 6 months", 0, "ratio/month",
       "Least-squares slope of billed / limit against month over the last 6 months (>= 2 "
       "statements).",
       "The share of your credit limit you use changed by {value:+z.0%} a month over the "
       "last 6 months."),
    _f("months_util90_6m", "overdue", "cashout", "last 6 months", 1, "months",
       "Statements of the last 6 months with billed / limit > 0.9.",
       "Your credit line was more than 90% used in {value:z.0f} of the last 6 months."),
    _f("balance_growth_6m", "overdue", "overdue", "last 6 months", 0, "log ratio",
       "log((mean billed, last 3 months + 1) / (mean billed, 3 months before + 1)).",
       "Your bills of the last 3 months were very different from those of the 3 months "
       "before."),
    _f("limit_change_6m", "overdue", "overdue", "last 6 months", 0, "ratio",
       "Latest limit / earliest limit in the last 6 months - 1.",
       "Your credit limit changed by {value:+z.0%} over the last 6 months."),
    _f("n_statements_36m", "overdue", "overdue", "last 36 months", 0, "count",
       "Statements known in the last 36 months (history length).",
       "You have {value:z.0f} monthly statement{s} on record from the last 3 years."),
]

_CASHOUT = [
    _f("round_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Share of purchases whose amount is a multiple of 100.",
       "In the last 6 months, {value:z.0%} of your purchases were round amounts such as "
       "500 or 1000."),
    _f("patterned_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Share of purchases with an integer amount >= 100 ending in 88, 98 or 99 (998 / 1999 / "
       "588 style).",
       "In the last 6 months, {value:z.0%} of your purchases were amounts such as 998 or "
       "1988."),
    _f("near_limit_count_6m", "cashout", "cashout", "last 6 months", 1, "count",
       "Purchases >= 0.8 x available line (limit - billed of the last known statement, floored"
       " at 10% of the limit).",
       "In the last 6 months you made {value:z.0f} purchase{s} that used up nearly all "
       "of your available credit."),
    _f("near_limit_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "near_limit_count / purchases made with a known limit.",
       "In the last 6 months, {value:z.0%} of your purchases used up nearly all of your "
       "available credit."),
    _f("round_near_limit_count_6m", "cashout", "cashout", "last 6 months", 1, "count",
       "Purchases both round (multiple of 100) and near the available line.",
       "In the last 6 months you made {value:z.0f} round-amount purchase{s} that used up "
       "nearly all of your available credit."),
    _f("repay_respend_count_6m", "cashout", "cashout", "last 6 months", 1, "count",
       "Purchases >= 0.5 x limit made within 24 h after a repayment.",
       "In the last 6 months you made {value:z.0f} large purchase{s} within a day of a "
       "repayment."),
    _f("repay_respend_median_hours_6m", "cashout", "cashout", "last 6 months", -1, "hours",
       "Median hours from the latest repayment to each purchase >= 0.5 x limit.",
       "Your large purchases came typically {value:z.0f} hour{s} after a repayment."),
    _f("months_since_cashout_like", "cashout", "cashout", "last 36 months", -1, "months",
       "Months from the last cash-out-like month to the as-of month: a month with a round "
       "(multiple of 100) or patterned (integer >= 100 ending in 88, 98 or 99) purchase "
       ">= 0.8 x available line, or whose round and patterned purchases add up to >= 0.8 x "
       "the credit limit; NaN if none in 36 months.",
       "The last month in which you used up nearly all of your credit with round-amount "
       "purchases was {value:z.0f} month{s} ago.",
       zero="This month you used up nearly all of your credit with round-amount purchases.",
       missing="In the last 3 years you have not used up nearly all of your credit with "
               "round-amount purchases."),
    _f("cashout_like_months_36m", "cashout", "cashout", "last 36 months", 1, "months",
       "Cash-out-like months (as in months_since_cashout_like) among the last 36.",
       "In {value:z.0f} of the last 36 months you used up nearly all of your credit with "
       "round-amount purchases.",
       zero="In the last 3 years you have not used up nearly all of your credit with "
            "round-amount purchases."),
    _f("top1_merchant_share_6m", "cashout", "cashout", "last 6 months", 0, "share",
       "Largest single merchant's share of purchase spend.",
       "In the last 6 months, {value:z.0%} of your spending went to a single shop."),
    _f("merchant_hhi_6m", "cashout", "cashout", "last 6 months", 0, "index",
       "Herfindahl index of purchase spend over merchants (sum of squared shares).",
       "In the last 6 months your spending went to very few shops."),
    _f("night_share_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Share of purchases made between 00:00 and 05:00.",
       "In the last 6 months, {value:z.0%} of your purchases were made between midnight "
       "and 5 am."),
    _f("category_amount_ratio_6m", "cashout", "cashout", "last 6 months", 1, "ratio",
       "Geometric mean of amount / geometric-mean amount of the merchant category (category "
       "statistics over 36 months, like merchant risk).",
       "Your purchases were {value:z.1f} times the usual amount for their type of shop."),
    _f("burst_after_quiet", "cashout", "cashout", "last 4 months", 0, "flag",
       "1 if the as-of month has purchases after 3 months without any, else 0.",
       "You made purchases this month after 3 months without any.",
       zero="You made no sudden purchases this month after a quiet spell."),
    _f("merchant_round_nl_share_wmean_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Spend-weighted mean over the account's merchants of the merchant's share of volume "
       "that is round and near the payer's limit (merchant stats over 36 months).",
       "The shops you used had {value:z.0%} of their sales as round amounts that emptied "
       "the buyer's credit line."),
    _f("merchant_round_nl_share_max_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Maximum of the same merchant share over the account's merchants.",
       "A shop you used had {value:z.0%} of its sales as round amounts that emptied the "
       "buyer's credit line."),
    _f("merchant_payers_wmean_6m", "cashout", "cashout", "last 6 months", 0, "payers",
       "Spend-weighted mean number of distinct payers of the account's merchants.",
       "The shops you used had on average {value:z,.0f} paying customer{s}."),
    _f("merchant_age_months_wmean_6m", "cashout", "cashout", "last 6 months", 0, "months",
       "Spend-weighted mean months since the merchant's first payment seen (<= 35).",
       "The shops you used had been taking payments for {value:z,.0f} month{s} on "
       "average."),
    _f("merchant_night_payers_wmean_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Spend-weighted mean share of a merchant's payers who paid it between 00:00-05:00.",
       "On average, {value:z.0%} of the customers of the shops you used paid them at "
       "night."),
    _f("merchant_night_payers_max_6m", "cashout", "cashout", "last 6 months", 1, "share",
       "Maximum over the account's merchants of the night-payer share.",
       "A shop you used was paid at night by {value:z.0%} of its customers."),
]

_ACTIVITY = [
    _f("months_since_purchase", "activity", "dormancy", "last 36 months", 1, "months",
       "Months from the last purchase to the as-of month; NaN if none in 36 months.",
       "You have not made a purchase in {value:z.0f} month{s}.",
       zero="You made a purchase this month.",
       missing="You have not made a purchase in the last 3 years."),
    _f("active_months_3m", "activity", "dormancy", "last 3 months", -1, "months",
       "Months with at least one purchase in the last 3 months.",
       "You used your credit line in {value:z.0f} of the last 3 months."),
    _f("active_months_6m", "activity", "dormancy", "last 6 months", -1, "months",
       "Months with at least one purchase in the last 6 months.",
       "You used your credit line in {value:z.0f} of the last 6 months."),
    _f("active_months_12m", "activity", "dormancy", "last 12 months", -1, "months",
       "Months with at least one purchase in the last 12 months.",
       "You used your credit line in {value:z.0f} of the last 12 months."),
    _f("spend_3m", "activity", "dormancy", "last 3 months", 0, "CNY",
       "Sum of purchase amounts in the last 3 months.",
       "You spent CNY {value:z,.0f} with your credit line in the last 3 months."),
    _f("spend_6m", "activity", "dormancy", "last 6 months", 0, "CNY",
       "Sum of purchase amounts in the last 6 months.",
       "You spent CNY {value:z,.0f} with your credit line in the last 6 months."),
    _f("spend_12m", "activity", "dormancy", "last 12 months", 0, "CNY",
       "Sum of purchase amounts in the last 12 months.",
       "You spent CNY {value:z,.0f} with your credit line in the last 12 months."),
    _f("purchases_3m", "activity", "dormancy", "last 3 months", 0, "count",
       "Number of purchases in the last 3 months.",
       "You made {value:z.0f} purchase{s} in the last 3 months."),
    _f("purchases_12m", "activity", "dormancy", "last 12 months", 0, "count",
       "Number of purchases in the last 12 months.",
       "You made {value:z.0f} purchase{s} in the last 12 months."),
    _f("spend_trend_3v3", "activity", "dormancy", "last 6 months", -1, "ratio",
       "(spend last 3 months - spend 3 months before) / their sum; NaN if both 0.",
       "Your spending of the last 3 months changed by {value:+z.0%} from the 3 months "
       "before.",
       missing="You have made no purchases in the last 6 months."),
    _f("count_trend_3v3", "activity", "dormancy", "last 6 months", -1, "ratio",
       "Same trend as spend_trend_3v3 for the number of purchases.",
       "The number of your purchases of the last 3 months changed by {value:+z.0%} from "
       "the 3 months before.",
       missing="You have made no purchases in the last 6 months."),
    _f("days_since_txn", "activity", "dormancy", "last 36 months", 1, "days",
       "Days from the last transaction of any kind to the as-of date.",
       "Your last payment or purchase was {value:z.0f} day{s} ago.",
       zero="You made a payment or purchase today."),
]

_PROFILE = [
    _f("tenure_months", "profile", "other", "at as-of", 0, "months",
       "Months since the account was opened.",
       "Your account was opened {value:z.0f} month{s} ago.",
       zero="Your account was opened this month."),
    _f("age_years", "profile", "regulatory", "at as-of", 0, "years",
       "as-of year - birth year.",
       "You are {value:z.0f} year{s} old.",
       rule="age"),
    _f("is_student", "profile", "regulatory", "at as-of", 1, "flag",
       "1 if the holder is registered as a student.",
       "You are registered as a student.",
       zero="You are not registered as a student.",
       rule="student"),
    _f("months_since_kyc", "profile", "regulatory", "at as-of", 1, "months",
       "Months since the latest identity check; NaN if unknown or after the as-of date.",
       "Your identity was last checked {value:z.0f} month{s} ago.",
       zero="Your identity was checked this month.",
       missing="We have no record of an identity check for you.",
       rule="kyc"),
    _f("other_credit_lines", "profile", "regulatory", "at as-of", 1, "count",
       "Credit lines held elsewhere (snapshot field, used as given).",
       "You hold {value:z.0f} credit line{s} with other lenders.",
       rule="credit_lines"),
    _f("city_tier", "profile", "other", "at as-of", 0, "tier",
       "Tier of the holder's city (1 = largest).",
       "Your city is in tier {value:z.0f} (tier 1 is the largest cities)."),
    _f("legacy_unmigrated", "profile", "migration", "at as-of", 1, "flag",
       "1 if on the legacy product and not migrated by the as-of date.",
       "Your account is still on the old version of the product, which is being retired.",
       zero="Your account is on the current version of the product.",
       rule="migration"),
    _f("months_since_migrated", "profile", "migration", "at as-of", 0, "months",
       "Months since migration to the current version; NaN if not migrated by then.",
       "Your account moved to the current version of the product {value:z.0f} month{s} "
       "ago.",
       zero="Your account moved to the current version of the product this month.",
       missing="Your account has not moved to the current version of the product.",
       rule="migration"),
    _f("months_since_sweep", "profile", "regulatory", "at as-of", 0, "months",
       "Months since the start of the latest regulatory sweep on or before the as-of date.",
       reason="The latest regulatory review began {value:z.0f} month{s} ago.",
       zero="A regulatory review began this month.",
       missing="No regulatory review has taken place yet.",
       scope="date"),
    _f("months_to_sweep", "profile", "regulatory", "at as-of", 0, "months",
       "Months until the next announced regulatory sweep after the as-of date.",
       reason="The next regulatory review begins in {value:z.0f} month{s}.",
       zero="A regulatory review begins this month.",
       missing="No regulatory review is announced.",
       scope="date"),
    _f("months_to_migration_deadline", "profile", "migration", "at as-of", 0, "months",
       "Months from the as-of date to the migration deadline (negative once passed).",
       reason="The old version of the product will be retired in {value:z.0f} month{s}.",
       zero="The old version of the product is retired this month.",
       negative="The old version of the product was retired {value:z.0f} month{s} ago.",
       missing="No retirement date is set for the old version of the product.",
       scope="date"),
    _f("legacy_months_to_deadline", "profile", "migration", "at as-of", -1, "months",
       "months_to_migration_deadline for legacy accounts not yet migrated, else NaN.",
       "The old version of the product that your account is on will be retired in "
       "{value:z.0f} month{s}.",
       zero="The old version of the product that your account is on is retired this month.",
       negative="The old version of the product that your account is on was retired {value:z.0f} "
                "month{s} ago.",
       rule="migration"),
    _f("months_since_migration_offer", "profile", "migration", "at as-of", 0, "months",
       "Months since migration was first offered (negative before the offer).",
       reason="Moving to the current version of the product has been offered for {value:z.0f} "
       "month{s}.",
       zero="Moving to the current version of the product is offered from this month.",
       negative="Moving to the current version of the product will be offered in {value:z.0f} "
                "month{s}.",
       missing="No move to the current version of the product has been offered.",
       scope="date"),
    _f("sweep_targeted", "profile", "regulatory", "at as-of", 1, "flag",
       "1 if any clause of the policy calendar's published sweep rule holds at the as-of "
       "date, 0 if none does; NaN when no rule is known or an input is missing.",
       "Your account is of a kind that announced regulatory reviews cover.",
       zero="Your account is not of a kind that announced regulatory reviews cover.",
       missing="It is not known whether announced regulatory reviews cover your account.",
       rule=ANY_SWEEP_RULE),
    _f("sweep_exposure", "profile", "regulatory", "label horizon", 1, "months",
       "sweep_targeted x months of the label horizon after the as-of date that fall inside an "
       "announced sweep (policy sweep dates and length).",
       "A regulatory review that covers accounts like yours runs for {value:z.0f} of the "
       "coming months.",
       zero="No announced regulatory review covers your account in the coming months.",
       missing="It is not known whether a regulatory review covers your account in the coming "
               "months.",
       rule=ANY_SWEEP_RULE),
]
# fmt: on

# the latest statements field by field, as a plain model on the raw columns sees them
_STATEMENTS = [_f(**row) for row in spec_rows()]

FEATURES: tuple[FeatureSpec, ...] = (*_OVERDUE, *_CASHOUT, *_ACTIVITY, *_PROFILE, *_STATEMENTS)
_NAMES = tuple(f.name for f in FEATURES)
_RULES = {f.name: f.rule for f in FEATURES}
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


def causes_under(
    entries: Sequence[Mapping[str, Any]], policy: PolicyCalendar | None
) -> list[dict[str, Any]]:
    """Return copies of catalogue entries with each cause as the policy calendar has it.

    A feature with a ``rule`` speaks to its cause only where the calendar has that rule
    (:meth:`PolicyCalendar.rules`): age is a regulatory factor under an age rule, a
    profile factor (:data:`OTHER`) otherwise. Entries of models trained before the field
    existed take the rule of this package's feature of the same name.

    Parameters
    ----------
    entries : sequence of mapping
        Catalogue entries (a model's ``spec.json`` catalogue).
    policy : PolicyCalendar or None
        The model's calendar (None: no policy known).

    Returns
    -------
    list of dict
        The entries with ``cause`` as the calendar has it and ``rule`` filled in.
    """
    rules = (policy or PolicyCalendar()).rules()
    out = []
    for entry in entries:
        rule = entry.get("rule", _RULES.get(entry["name"], "")) or ""
        in_force = rule in rules or (rule == ANY_SWEEP_RULE and bool(rules & set(SWEEP_RULES)))
        cause = entry["cause"] if not rule or in_force else OTHER
        out.append({**entry, "cause": cause, "rule": rule})
    return out


def catalogue_frame() -> pd.DataFrame:
    """Return the catalogue as a DataFrame (one row per feature), e.g. for logging.

    Returns
    -------
    pandas.DataFrame
        Columns: the fields of :class:`FeatureSpec`.
    """
    return pd.DataFrame([asdict(f) for f in FEATURES])
