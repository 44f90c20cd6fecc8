"""Explain known closures point in time, to check reason codes against recorded causes.

For each as-of date ``d`` the accounts open at ``d`` that close within the model's horizon
with a recorded cause are scored with reasons for every row. Their features are built
with a merchant-risk table fitted at ``d`` (:func:`risk_model.features.fit_merchant_risk`
reads only what is known at ``d``) and scored with the model's booster, calibration and
catalogue. The artefact's own table is fitted at the end of the history: it holds
payments made inside these accounts' label windows, so explaining past dates with it
looks ahead (merchants the closing accounts used look busier than they were at ``d``).

``tables="artefact"`` keeps the artefact's table instead, to measure that look-ahead.

On a synthetic world the exact truth also gives each explained row its *most likely*
cause (:func:`most_likely_causes`): the cause with the largest true probability of closing
the account within the horizon, from everything the generator knows at the as-of date,
latent states included. Given a closure, that is the best possible guess of its cause, so
its match with the recorded causes is the ceiling of any model's reason accuracy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.predict import Predictor
from risk_model.scores import PROBABILITY, TOP_CAUSE

__all__ = [
    "PROBABILITY",
    "TABLE_AS_OF",
    "TOP_CAUSE",
    "TRUTH_CAUSE",
    "ExplainedClosures",
    "TableMode",
    "explain_closures",
    "most_likely_causes",
]

TableMode = Literal["point_in_time", "artefact"]
TABLE_AS_OF = "merchant_table_as_of"
TRUTH_CAUSE = "truth_cause"


@dataclasses.dataclass(frozen=True)
class ExplainedClosures:
    """Closed account-months with their scores and the merchant tables used.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per (account, as-of) closed within the horizon with a recorded cause,
        sorted by (as_of, account_id): ``account_id``, ``as_of``, the features, ``label``,
        ``cause`` (true), ``probability``, ``top_cause`` (``None`` when nothing raises the
        risk) and ``merchant_table_as_of`` (``NaT`` without a table).
    table_dates : dict
        As-of date -> date of the merchant-risk table its features were built with
        (``None`` when the model uses no table).
    """

    rows: pd.DataFrame
    table_dates: dict[dt.date, dt.date | None]


def explain_closures(
    predictor: Predictor,
    histories: pa.Table,
    closures: pa.Table,
    dates: Sequence[dt.date],
    *,
    tables: TableMode = "point_in_time",
) -> ExplainedClosures:
    """Score, with reasons, the accounts that close with a recorded cause after each date.

    Parameters
    ----------
    predictor : Predictor
        The model; its booster, calibration, catalogue and policy calendar are used.
    histories, closures : pyarrow.Table
        Contract tables of a labelled world.
    dates : sequence of datetime.date
        As-of dates to explain (duplicates dropped); one merchant table is fitted per date.
    tables : {"point_in_time", "artefact"}
        ``"point_in_time"``: a table fitted at each as-of date; ``"artefact"``: the
        artefact's own table for every date (looks ahead for dates before its date).

    Returns
    -------
    ExplainedClosures
        The explained rows and the table date used for each as-of date.

    Raises
    ------
    ValueError
        When ``dates`` is empty or ``tables`` is unknown.
    """
    if tables not in ("point_in_time", "artefact"):
        raise ValueError(f"tables must be 'point_in_time' or 'artefact', got {tables!r}")
    wanted = sorted(set(dates))
    if not wanted:
        raise ValueError("no as-of dates to explain")
    parts, used = [], {}
    for as_of in wanted:
        scorer, used[as_of] = _scorer_at(predictor, histories, as_of, tables)
        parts.append(_explain_date(scorer, histories, closures, as_of, used[as_of]))
    rows = pd.concat(parts, ignore_index=True)
    return ExplainedClosures(rows=rows, table_dates=used)


def _scorer_at(
    predictor: Predictor, histories: pa.Table, as_of: dt.date, tables: TableMode
) -> tuple[Predictor, dt.date | None]:
    """Return the predictor to explain ``as_of`` with and the date of its merchant table."""
    from risk_model.features import fit_merchant_risk

    art = predictor.artefact
    if art.merchant_risk is None:  # training-mode merchant features: per as-of already
        return predictor, None
    if tables == "artefact":
        return predictor, dt.date.fromisoformat(art.spec["merchant_risk_as_of"])
    table = fit_merchant_risk(histories, as_of)
    # Same booster, calibration and catalogue; only the table the features read changes.
    artefact = dataclasses.replace(art, merchant_risk=table)
    scorer = Predictor(artefact, num_threads=predictor.num_threads, limits=predictor.limits)
    return scorer, as_of


def _explain_date(
    scorer: Predictor,
    histories: pa.Table,
    closures: pa.Table,
    as_of: dt.date,
    table_as_of: dt.date | None,
) -> pd.DataFrame:
    """Closed-with-cause rows at one date, scored with reasons for every row."""
    from risk_model.features import build_features
    from risk_model.modeling.dataset import attach_labels

    art = scorer.artefact
    frame = build_features(
        histories,
        [as_of],
        merchant_risk=art.merchant_risk,
        policy=art.policy,
        horizon_months=art.horizon_months,
        attributes=art.attributes,
    )
    labelled = attach_labels(frame, closures, art.horizon_months)
    closed = labelled[(labelled["label"] == 1) & labelled[C.CAUSE].isin(C.CAUSES)]
    closed = closed.reset_index(drop=True)
    if len(closed):
        scores = scorer.score_features(closed, reasons="all").to_pandas()
        closed[PROBABILITY] = scores[PROBABILITY].to_numpy()
        closed[TOP_CAUSE] = scores[TOP_CAUSE].to_numpy(dtype=object)
    else:  # scoring an empty frame is not needed to know there is nothing to explain
        closed[PROBABILITY] = pd.Series(dtype="float64")
        closed[TOP_CAUSE] = pd.Series(dtype=object)
    closed[TABLE_AS_OF] = pd.Timestamp(table_as_of) if table_as_of else pd.NaT
    return closed


def most_likely_causes(rows: pd.DataFrame, truth: pa.Table, horizon_months: int) -> pd.Series:
    """Return the exact truth's most likely closure cause of each explained row (an oracle).

    Given that an account closes within the horizon, the recorded cause is ``c`` with
    probability ``p_c / p_close``; picking the largest ``p_c`` is the best any guess can
    do on average, and the truth's ``p_c`` use the generator's latent states, which no
    model sees. Its match with the recorded causes therefore bounds reason accuracy.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows with ``account_id`` and ``as_of`` (e.g. :attr:`ExplainedClosures.rows`).
    truth : pyarrow.Table
        The world's truth table: ``account_id``, ``as_of``, ``horizon_months`` and one
        ``p_<cause>`` column per cause (``contract.CAUSE_PROBABILITY_COLUMNS``).
    horizon_months : int
        The model's horizon; only truth rows of this horizon are used.

    Returns
    -------
    pandas.Series
        Cause per row, aligned with ``rows``; ``None`` where the truth has no row for the
        (account, as-of, horizon).

    Raises
    ------
    ValueError
        When the truth table lacks a column it needs.
    """
    needed = [C.ACCOUNT_ID, C.AS_OF, "horizon_months", *C.CAUSE_PROBABILITY_COLUMNS]
    missing = [name for name in needed if name not in truth.column_names]
    if missing:
        raise ValueError(f"the truth table has no column {', '.join(missing)}")
    this_horizon = pc.field("horizon_months") == horizon_months
    table = truth.select(needed).filter(this_horizon).to_pandas()
    probabilities = table[list(C.CAUSE_PROBABILITY_COLUMNS)].to_numpy()
    causes = np.asarray(C.CAUSES, dtype=object)[probabilities.argmax(axis=1)]
    found = pd.Series(causes, index=_account_dates(table), dtype=object)
    found = found.reindex(_account_dates(rows)).to_numpy(dtype=object, copy=True)
    found[pd.isna(found)] = None  # no truth row for the (account, as-of, horizon)
    return pd.Series(found, index=rows.index, dtype=object)


def _account_dates(frame: pd.DataFrame) -> pd.MultiIndex:
    """(account id, as-of timestamp) of each row, the key rows and truth are matched on."""
    return pd.MultiIndex.from_arrays(
        [frame[C.ACCOUNT_ID].astype(str), pd.to_datetime(frame[C.AS_OF])]
    )
