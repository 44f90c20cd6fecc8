"""How a feature is declared, and what every family's ``compute`` reads.

A family module (``overdue``, ``cashout``, ``activity``, ``profile``, ``statement_lags``)
declares each of its
features once, with :func:`declarer`, beside the ``compute(ctx)`` that fills it;
:mod:`risk_model.features.registry` collects the families in column order.

Windows are calendar months counted back from the as-of date: "last 6 months" is the
as-of date's own month (up to and including the as-of date) and the 5 months before it.
Statement-based windows therefore hold the statements *known* by then (a statement of month
M is known from the last day of M; its payment from its due date). "Months since" features
look back at most 36 months and are missing (NaN) when the event was not seen in that span.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from risk_model import contract as C
from risk_model.modeling.templates import render

if TYPE_CHECKING:
    import pyarrow as pa

    from risk_model.features.merchant_population import PopulationTotals
    from risk_model.features.monthly import Grid, Statements, Transactions
    from risk_model.features.purchases import PurchaseFlags
    from risk_model.policy import PolicyCalendar

FAMILIES = ("overdue", "cashout", "activity", "profile", "statements")
SCOPES = ("account", "date")
OTHER = C.CAUSE_OTHER  # the cause of an attribute that points to no closure cause
ANY_SWEEP_RULE = "sweep"  # the rule of features about a sweep rule as a whole (any clause)
FEATURE_CAUSES = (*C.CAUSES, OTHER)

# When an input becomes known (the point-in-time rule a feature's inputs follow).
KNOWN_AT_STATEMENT = "statement month end"
KNOWN_AT_PAYMENT = "statement due date"
KNOWN_AT_TRANSACTION = "transaction time"
# merchant statistics: every payer's purchases up to the as-of date in training, up to the
# fitted table's date in scoring
KNOWN_AT_MERCHANTS = "transaction time; merchant statistics"
KNOWN_AT_PROFILE = "profile at as-of"
KNOWN_AT_CALENDAR = "policy calendar"


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
        (:func:`risk_model.features.registry.causes_under`).
    known_at : str
        When the inputs become known (the point-in-time rule): a statement at its month end,
        its payment at its due date, a transaction at its time, profile fields as given at
        the as-of date, policy dates from the calendar.
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
    known_at: str = ""

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


def declarer(family: str, known_at: str) -> Callable[..., FeatureSpec]:
    """Return the declaration function of a family's module.

    Parameters
    ----------
    family : str
        The family every declared feature belongs to.
    known_at : str
        The family's point-in-time rule; a declaration may give its own.

    Returns
    -------
    callable
        ``feature(name, cause, window, direction, unit, definition, reason="",
        scope="account", *, zero="", negative="", missing="", rule="", known_at=...)``
        returning a :class:`FeatureSpec`.
    """

    def feature(name, cause, window, direction, unit, definition, reason="", scope="account",
                *, zero="", negative="", missing="", rule="", known_at=known_at):  # fmt: skip
        return FeatureSpec(
            name, family, cause, definition, window, direction, unit, reason, scope,
            reason_zero=zero, reason_negative=negative, reason_missing=missing, rule=rule,
            known_at=known_at,
        )  # fmt: skip

    return feature


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


@dataclass(frozen=True)
class Context:
    """Everything a family's ``compute(ctx)`` reads, for one ``build_features`` call.

    Accounts are in account-id order (the ``rank`` the events are labelled with); every
    family returns ``{name: array}``, arrays that broadcast to (n_asof, n_acc) with the
    accounts in that order, for all of its declared features, or ``{}`` when the input it
    needs (a ``statements`` or ``transactions`` column) is absent.

    Parameters
    ----------
    histories : pyarrow.Table
        The account histories, in input order.
    order : numpy.ndarray
        Input row of each account in account-id order.
    grid : Grid
        The period grid of the as-of dates.
    statements, transactions : Statements or Transactions, optional
        The flattened events (``None``: the column is absent).
    flags : PurchaseFlags, optional
        Per-transaction purchase flags (``None`` without transactions).
    policy : PolicyCalendar, optional
        Policy dates (``None``: none known).
    horizon_months : int
        Label horizon of the model the features feed.
    merchant_risk : pyarrow.Table, optional
        The fitted merchant table (scoring); ``None`` in training.
    population : PopulationTotals, optional
        Training-mode merchant totals of a population larger than the batch.
    """

    histories: pa.Table
    order: np.ndarray
    grid: Grid
    statements: Statements | None
    transactions: Transactions | None
    flags: PurchaseFlags | None
    policy: PolicyCalendar | None
    horizon_months: int
    merchant_risk: pa.Table | None
    population: PopulationTotals | None
    _profile_columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_acc(self) -> int:
        """Number of accounts."""
        return self.histories.num_rows

    @property
    def n_asof(self) -> int:
        """Number of as-of dates."""
        return len(self.grid.asof_day)

    def profile_column(self, name: str) -> np.ndarray:
        """Return a profile column as float64 in account-id order (dates as day numbers).

        Nulls, and an absent column, read as missing (NaN). Read-only: read once per call of
        :func:`build_features`, shared by the families.
        """
        from risk_model.features.monthly import to_numbers

        column = self._profile_columns.get(name)  # read once: several families use some
        if column is None:
            if name not in self.histories.schema.names:
                column = np.full(self.n_acc, np.nan)
            else:
                column = to_numbers(self.histories.column(name), np.float64)[self.order]
            column.setflags(write=False)
            self._profile_columns[name] = column
        return column
