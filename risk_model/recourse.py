"""Recourse: the fewest actions within the holder's control that lower an account's band.

For an account above the lowest risk band, :func:`find_recourse` searches a small set of
actions the account holder can take today (the as-of date):

========================  ==========================================================
action                    how the history is edited (dated at the as-of date)
========================  ==========================================================
``pay_overdue``           a repayment of the amount overdue; the statement cut at the
                          as-of date shows no days past due and a balance lower by it
``reduce_utilisation``    a repayment that brings that statement's balance down to a
                          level of the limit (grid :data:`UTILISATION_LEVELS`; 0 = in
                          full); when it covers the amount overdue, the statement is no
                          longer past due
``use_line``              a purchase of the holder's usual size (the median of the last
                          12 months, at most 5% of the limit, not a whole amount, so
                          neither round nor patterned), added to the statement's balance
``renew_kyc``             ``kyc_date`` set to the as-of date
``migrate``               ``migrated_date`` set to the as-of date (legacy accounts only)
========================  ==========================================================

Nothing else is ever suggested: age, tenure, student status, other credit lines and past
delinquency are not the holder's to change (past statements are never edited; only the
statement cut at the as-of date, which a payment made that day would change). The two
payment actions need that statement (an as-of date at a month end with the month's
statement in the record, as for every default scoring date); ``use_line`` needs the
``transactions`` column.

Every candidate is scored exactly: the edited histories go through the same features,
merchant-risk table, booster and calibration as any scored account (one batch per search
stage), never by editing features. The search is small and staged: single actions first,
then pairs, then triples, of the single actions that each lower the probability on their
own (so every suggested action lowers it). The first stage with a plan that moves the
account down at least one band wins; within it, each action takes its mildest setting
(the highest utilisation level) that works, and the plan with the lowest new probability
is kept.

Output: :data:`RECOURSE_TYPE`, one struct per account: ``status`` (:data:`OFFERED`,
:data:`LOWEST_BAND` or :data:`NONE_FOUND`), ``actions`` (list of ``code``, ``text`` (one
sentence for the account holder), ``amount`` (CNY paid or spent, null when none) and
``level`` (utilisation level, null unless ``reduce_utilisation``)), ``probability`` and
``band`` after the actions (null unless offered).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.recourse_edits import (
    ACTIONS,
    MIGRATE,
    PAY_OVERDUE,
    REDUCE_UTILISATION,
    RENEW_KYC,
    USE_LINE,
    UTILISATION_LEVELS,
    AccountState,
    Action,
    applicable,
    apply_plans,
    effects,
    read_state,
    with_plans,
)

if TYPE_CHECKING:
    from risk_model.predict import Predictor

__all__ = [
    "ACTIONS",
    "ACTION_TYPE",
    "LOWEST_BAND",
    "MAX_ACTIONS",
    "MIGRATE",
    "NONE_FOUND",
    "OFFERED",
    "PAY_OVERDUE",
    "RECOURSE",
    "RECOURSE_TYPE",
    "REDUCE_UTILISATION",
    "RENEW_KYC",
    "USE_LINE",
    "UTILISATION_LEVELS",
    "AccountState",
    "Action",
    "WithRecourse",
    "applicable",
    "apply_plans",
    "describe",
    "find_recourse",
    "read_state",
    "recourse_rows",
]

MAX_ACTIONS = 3
OFFERED, LOWEST_BAND, NONE_FOUND = "offered", "lowest_band", "none_found"

ACTION_TYPE = pa.struct(
    [
        pa.field("code", pa.string()),
        pa.field("text", pa.string()),
        pa.field("amount", pa.float64()),
        pa.field("level", pa.float64()),
    ]
)
RECOURSE_TYPE = pa.struct(
    [
        pa.field("status", pa.string()),
        pa.field("actions", pa.list_(ACTION_TYPE)),
        pa.field("probability", pa.float64()),
        pa.field("band", pa.string()),
    ]
)
RECOURSE = "recourse"  # the scores column added by ``pipelines.score --recourse``


def find_recourse(
    predictor: Predictor,
    valid: pa.Table,
    as_of: dt.date,
    *,
    probability: np.ndarray | None = None,
    max_actions: int = MAX_ACTIONS,
    levels: Sequence[float] = UTILISATION_LEVELS,
    num_threads: int | None = None,
) -> pa.StructArray:
    """Find each account's recourse (see the module docstring).

    Parameters
    ----------
    predictor : Predictor
        The model the account is scored with.
    valid : pyarrow.Table
        Validated histories of accounts open at ``as_of``.
    as_of : datetime.date
        Scoring date; the actions are dated on it.
    probability : numpy.ndarray, optional
        The accounts' probabilities at ``as_of`` when already scored (else scored here).
    max_actions : int
        Most actions in a plan.
    levels : sequence of float
        Utilisation levels tried by ``reduce_utilisation``, mildest (highest) first.
    num_threads : int, optional
        LightGBM threads; default the predictor's.

    Returns
    -------
    pyarrow.StructArray
        :data:`RECOURSE_TYPE`, one per account of ``valid``, in order.
    """
    threads = predictor.num_threads if num_threads is None else num_threads
    _, state, rank, chosen = _search(
        predictor, valid, as_of, probability, max_actions, levels, threads
    )
    return _results(predictor, state, rank, chosen)


def _search(
    predictor: Predictor,
    valid: pa.Table,
    as_of: dt.date,
    probability: np.ndarray | None,
    max_actions: int,
    levels: Sequence[float],
    threads: int,
) -> tuple[np.ndarray, AccountState, np.ndarray, dict[int, tuple[tuple[Action, ...], float]]]:
    """Run the staged search: probabilities now, the state, band ranks, the chosen plans."""
    state = read_state(valid, as_of)
    first = None
    if probability is None:  # one batch: every account as it is, and each single action
        n = valid.num_rows
        singles = [(i, (a,)) for i in range(n) for a in applicable(state, i, levels)]
        now = [(i, ()) for i in range(n)]
        scored = _score_plans(predictor, valid, as_of, state, now + singles, threads)
        probability, first = scored[2][:n], tuple(part[n:] for part in scored)
    probability = np.asarray(probability, dtype=np.float64)
    rank = _band_ranks(predictor, probability)
    todo = [int(i) for i in np.flatnonzero(rank > 0)]
    options = {i: applicable(state, i, levels) for i in todo}
    chosen: dict[int, tuple[tuple[Action, ...], float]] = {}
    for size in range(1, max_actions + 1):
        if size == 1 and first is not None:
            keep = np.flatnonzero(rank[first[0]] > 0)
            rows, plans, new_p = first[0][keep], [first[1][j] for j in keep], first[2][keep]
        else:
            candidates = [(i, plan) for i in todo for plan in _plans(options[i], size)]
            if not candidates:
                break
            rows, plans, new_p = _score_plans(predictor, valid, as_of, state, candidates, threads)
        new_rank = _band_ranks(predictor, new_p)
        lowers = new_p < probability[rows]
        if size == 1:  # later stages combine only the actions that help on their own
            options = {i: [] for i in todo}
            for j in np.flatnonzero(lowers):
                options[int(rows[j])].append(plans[j][0])
        works: dict[int, list[tuple[tuple[Action, ...], float]]] = {}
        for j in np.flatnonzero(lowers & (new_rank < rank[rows])):
            works.setdefault(int(rows[j]), []).append((plans[j], float(new_p[j])))
        for i, found in works.items():
            chosen[i] = _pick(found)
        todo = [i for i in todo if i not in chosen]
    return probability, state, rank, chosen


def _score_plans(
    predictor: Predictor,
    valid: pa.Table,
    as_of: dt.date,
    state: AccountState,
    candidates: list[tuple[int, tuple[Action, ...]]],
    threads: int = 1,
) -> tuple[np.ndarray, list[tuple[Action, ...]], np.ndarray]:
    """Score (account, plan) candidates in one batch: rows, plans, probabilities."""
    rows = np.array([i for i, _ in candidates], dtype=np.int64)
    plans = [plan for _, plan in candidates]
    if not candidates:
        return rows, plans, np.zeros(0)
    edited = with_plans(valid, as_of, state, rows, plans)
    return rows, plans, _probabilities(predictor, edited, as_of, threads)


def _probabilities(
    predictor: Predictor, table: pa.Table, as_of: dt.date, threads: int
) -> np.ndarray:
    scores, open_mask = predictor.score_arrow(table, as_of, reasons="none", num_threads=threads)
    if not open_mask.all():
        raise ValueError("recourse needs accounts open at the as-of date")
    return scores.column("probability").to_numpy()


def _band_ranks(predictor: Predictor, probability: np.ndarray) -> np.ndarray:
    names = predictor.artefact.scale.band_names
    position = {name: i for i, name in enumerate(names)}
    return np.array([position[b] for b in predictor.artefact.bands(probability)], dtype=np.int64)


def _plans(options: list[Action], size: int) -> list[tuple[Action, ...]]:
    """Plans of ``size`` actions of distinct kinds, in :data:`ACTIONS` order."""
    if size == 1:
        return [(a,) for a in options]
    plans = itertools.combinations(options, size)
    return [p for p in plans if len({a.code for a in p}) == size]


def _pick(found: list[tuple[tuple[Action, ...], float]]) -> tuple[tuple[Action, ...], float]:
    """Each kind of plan at its mildest working setting; then the lowest probability."""
    mildest: dict[tuple[str, ...], tuple[tuple[Action, ...], float]] = {}
    for plan, p in found:
        kinds = tuple(a.code for a in plan)
        held = mildest.get(kinds)
        if held is None or (_level(plan), -p) > (_level(held[0]), -held[1]):
            mildest[kinds] = (plan, p)
    return min(mildest.values(), key=lambda item: item[1])


def _level(plan: tuple[Action, ...]) -> float:
    """Return the plan's utilisation level (higher is milder; 0 without the action)."""
    return max((a.level for a in plan if a.code == REDUCE_UTILISATION), default=0.0)


def _results(
    predictor: Predictor,
    state: AccountState,
    rank: np.ndarray,
    chosen: dict[int, tuple[tuple[Action, ...], float]],
) -> pa.StructArray:
    items = []
    for i in range(len(rank)):
        if rank[i] == 0:
            items.append({"status": LOWEST_BAND, "actions": []})
        elif i not in chosen:
            items.append({"status": NONE_FOUND, "actions": []})
        else:
            plan, p = chosen[i]
            band = predictor.artefact.bands(np.array([p]))[0]
            actions = describe(state, i, plan)
            items.append({"status": OFFERED, "actions": actions, "probability": p, "band": band})
    return pa.array(items, RECOURSE_TYPE)


def describe(state: AccountState, i: int, plan: tuple[Action, ...]) -> list[dict]:
    """Return account ``i``'s plan as ``ACTION_TYPE`` dicts, each with a customer sentence."""
    eff = effects(state, np.array([i]), [plan])
    codes = {a.code for a in plan}
    overdue = float(state.overdue[i])
    out = []
    for action in plan:
        amount, level = None, None
        if action.code == PAY_OVERDUE:
            amount = overdue
            text = f"Pay the overdue amount of CNY {overdue:,.2f} now."
        elif action.code == REDUCE_UTILISATION:
            level = action.level
            amount = float(eff.pay[0]) - (overdue if PAY_OVERDUE in codes else 0.0)
            further = "a further " if PAY_OVERDUE in codes else ""
            if level == 0.0:
                text = f"Pay {further}CNY {amount:,.2f} to clear your balance in full."
            else:
                text = (
                    f"Pay {further}CNY {amount:,.2f} off your balance to bring it down to "
                    f"{level:.0%} of your CNY {state.limit[i]:,.0f} credit limit."
                )
            if eff.cured[0] and PAY_OVERDUE not in codes:
                text += f" This also clears the CNY {overdue:,.2f} that is overdue."
        elif action.code == USE_LINE:
            amount = float(state.buy[i])
            text = (
                "Use your credit line again this month, for example for an everyday "
                f"purchase of about CNY {amount:,.0f}."
            )
        elif action.code == RENEW_KYC:
            months = state.kyc_months[i]
            if np.isnan(months):
                text = "Complete an identity check: we have none on record."
            else:
                whole = max(round(months), 1)  # as the reason shows it
                text = (
                    "Renew your identity check: it was last done "
                    f"{whole} month{'s' if whole != 1 else ''} ago."
                )
        else:
            text = (
                "Move your account to the current version of the product: the version "
                "you have is being retired."
            )
        out.append({"code": action.code, "text": text, "amount": amount, "level": level})
    return out


def recourse_rows(
    predictor: Predictor, valid: pa.Table, as_of: dt.date, *, num_threads: int | None = None
) -> list[dict]:
    """Score validated accounts and find their recourse, as plain dicts.

    Returns
    -------
    list of dict
        Per account, in order: ``account_id``, ``as_of``, ``probability``, ``band``,
        ``status``, ``actions``, ``new_probability``, ``new_band`` (see
        :meth:`risk_model.predict.Predictor.recourse`).

    Raises
    ------
    ContractError
        When an account is not open at ``as_of``.
    """
    from risk_model.scores import BAND, PROBABILITY, not_open_problem
    from risk_model.validation import ContractError

    threads = predictor.num_threads if num_threads is None else num_threads
    not_open = pc.greater(valid[C.OPEN_DATE], pa.scalar(as_of, pa.date32()))
    not_open = not_open.to_numpy(zero_copy_only=False).astype(bool)
    if not_open.any():
        ids = valid[C.ACCOUNT_ID].filter(pa.array(not_open)).to_pylist()
        raise ContractError([not_open_problem(np.flatnonzero(not_open), ids, as_of)])
    # The accounts as they are are scored in the batch of single actions (one feature pass).
    probability, state, rank, chosen = _search(
        predictor, valid, as_of, None, MAX_ACTIONS, UTILISATION_LEVELS, threads
    )
    found = _results(predictor, state, rank, chosen).to_pylist()
    bands = predictor.artefact.bands(probability)
    out = []
    for i, item in enumerate(found):
        out.append(
            {
                C.ACCOUNT_ID: valid[C.ACCOUNT_ID][i].as_py(),
                C.AS_OF: as_of,
                PROBABILITY: float(probability[i]),
                BAND: bands[i],
                "status": item["status"],
                "actions": item["actions"],
                "new_probability": item["probability"],
                "new_band": item["band"],
            }
        )
    return out


class WithRecourse:
    """A predictor whose :meth:`score_table` adds the :data:`RECOURSE` column.

    Used by ``pipelines.score --recourse``: each batch's scores get one more column,
    :data:`RECOURSE_TYPE` (see :func:`find_recourse`), computed from the accounts' own
    histories with the same model. The account ids of a table must be unique.

    Parameters
    ----------
    predictor : Predictor
        The model.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.model_version = predictor.model_version

    @staticmethod
    def schema(output_schema: pa.Schema) -> pa.Schema:
        """Return the scores schema with the recourse column appended."""
        return output_schema.append(pa.field(RECOURSE, RECOURSE_TYPE))

    def score_table(self, table: pa.Table, as_of: dt.date, **options) -> tuple[pa.Table, pa.Table]:
        """:meth:`Predictor.score_table`, then the recourse of every scored account."""
        from risk_model.scores import PROBABILITY
        from risk_model.validation import conform

        scores, rejects = self.predictor.score_table(table, as_of, **options)
        rows = pc.index_in(scores[C.ACCOUNT_ID], value_set=table[C.ACCOUNT_ID].combine_chunks())
        valid = conform(table.take(rows))
        found = find_recourse(
            self.predictor, valid, as_of, probability=scores[PROBABILITY].to_numpy()
        )
        return scores.append_column(pa.field(RECOURSE, RECOURSE_TYPE), found), rejects
