"""Score account histories: calibrated closure probability, points, band and reasons.

>>> from risk_model.predict import load
>>> predictor = load("data/models/<version>")        # or models:/closure-risk@champion
>>> scores = predictor.predict(histories, as_of=datetime.date(2026, 10, 31))
>>> one = predictor.predict_one(record, as_of=datetime.date(2026, 10, 31))

Pass the extract date as ``as_of`` for reproducible scores. Without it the latest month
end covered by the input is used (never today's date) and an ``AsOfInferredWarning`` names
it; see :mod:`risk_model.guards` for the stale-date, dormant-account and closed-account
guards. Features are built exactly as in training (point-in-time at ``as_of``) with the
merchant-risk table and policy calendar frozen in the model artefact.

Output columns (:data:`OUTPUT_COLUMNS`), one row per account in input order:
``account_id``, ``as_of``, ``probability`` (calibrated P(closed within the horizon)),
``points`` (higher = safer), ``band``, ``reasons`` (up to four dicts: ``code``,
``cause``, ``text`` (a sentence for the account holder), ``contribution`` and ``detail``
(for an analyst: code, value, contribution); see :mod:`risk_model.reasons`),
``top_cause`` and ``model_version``.

A row's values do not depend on the other rows of the batch: ``predict_one`` returns
exactly the batch row (same floats), and re-ordering or splitting a batch changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from risk_model import contract as C
from risk_model import reasons as R
from risk_model.attributes import with_categories
from risk_model.dates import as_date
from risk_model.guards import closed_problem, closures_table, reject_closed, resolve_as_of
from risk_model.limits import (
    DEFAULT_LIMITS,
    EventLimits,
    split_within_limits,
    validate_within_limits,
)
from risk_model.model_source import (
    DEFAULT_MODEL,
    ModelLoadError,
    load_model_artefact,
)
from risk_model.modeling.artefact import ModelArtefact
from risk_model.records import from_records
from risk_model.scores import (
    BAND,
    MODEL_VERSION,
    OUTPUT_COLUMNS,
    OUTPUT_SCHEMA,
    POINTS,
    PROBABILITY,
    REASONS,
    TOP_CAUSE,
    add_not_open,
    as_table,
    not_open_problem,
    to_frame,
    unreadable_record_problem,
)
from risk_model.validation import ContractError

# The output columns live in risk_model.scores; they are part of this module's interface.
__all__ = [
    "BAND",
    "MODEL_VERSION",
    "OUTPUT_COLUMNS",
    "OUTPUT_SCHEMA",
    "POINTS",
    "PROBABILITY",
    "REASONS",
    "TOP_CAUSE",
    "ModelLoadError",
    "Predictor",
    "load",
    "predict",
    "to_frame",
]

ReasonsMode = Literal["needed", "all", "none"]


class Predictor:
    """Scores account histories with one verified model artefact.

    Parameters
    ----------
    artefact : ModelArtefact
        Loaded artefact (see :func:`load`).
    num_threads : int
        LightGBM threads for batch scoring (``predict_one`` always uses one).
    limits : EventLimits
        Most statements / transactions per account; accounts above are rejected unscored.
    prepare_reasons : bool
        Build the reasons' TreeSHAP tables now, so that a server's first request does not
        wait for them (the default). ``False`` for callers that score without reasons,
        such as training's evaluation: the tables are then built on first use.

    Notes
    -----
    Thread-safe: scoring reads the artefact and keeps no state between calls.
    """

    def __init__(
        self,
        artefact: ModelArtefact,
        *,
        num_threads: int = 1,
        limits: EventLimits = DEFAULT_LIMITS,
        prepare_reasons: bool = True,
    ) -> None:
        # features import lightgbm-free code
        from risk_model.features import feature_names
        from risk_model.features.registry import causes_under

        self.artefact = artefact
        self.limits = limits
        self.num_threads = num_threads
        self.model_version = artefact.version
        self.attributes = artefact.attributes
        known = feature_names() + list(self.attributes.feature_names)
        by_name = {entry["name"]: entry for entry in artefact.spec["catalogue"]}
        missing = [n for n in artefact.feature_names if n not in by_name]
        unknown = [n for n in artefact.feature_names if n not in known]
        if missing or unknown:
            raise ModelLoadError(
                f"model {self.model_version} does not match this package's features "
                f"(uncatalogued: {missing}, unknown: {unknown})"
            )
        # Each feature's cause as the model's policy calendar has it (age is regulatory
        # only under an age rule): reasons and top_cause read these entries.
        entries = with_categories([by_name[n] for n in artefact.feature_names], self.attributes)
        self.catalogue = causes_under(entries, artefact.policy)
        self.causes = [entry["cause"] for entry in self.catalogue]
        self.lowest_band = artefact.scale.band_names[0]
        position = {name: i for i, name in enumerate(known)}
        self._feature_positions = np.array([position[n] for n in artefact.feature_names])
        if prepare_reasons:
            artefact.shap_tables  # noqa: B018  (built now, not in the first request)

    def features(self, valid: pa.Table, as_of: dt.date) -> tuple[pd.DataFrame, np.ndarray]:
        """Build model features for validated histories, rows in input order.

        Returns
        -------
        frame : pandas.DataFrame
            Feature rows of the accounts open at ``as_of``, in input order.
        open_mask : numpy.ndarray
            Which input rows have features (accounts open at ``as_of``).
        """
        rows, order, open_mask = self._feature_rows(valid, as_of)
        if rows is None:
            from risk_model.features import build_features  # its empty frame

            return build_features(valid.slice(0, 0), as_of, attributes=self.attributes), open_mask
        return rows.take(order).frame(), open_mask

    def _feature_rows(self, valid: pa.Table, as_of: dt.date):
        """Return the feature rows, the order putting them in input order, the open mask."""
        from risk_model.features.build import feature_rows

        rows = feature_rows(
            valid,
            as_of,
            merchant_risk=self.artefact.merchant_risk,
            policy=self.artefact.policy,
            horizon_months=self.artefact.horizon_months,
            attributes=self.attributes,
        )
        open_mask = np.zeros(valid.num_rows, dtype=bool)
        if rows is None:
            return None, None, open_mask
        open_mask[rows.source_rows] = True
        # One as-of date: each open account once; sorting by input row restores input order.
        return rows, np.argsort(rows.source_rows, kind="stable"), open_mask

    def score_arrow(
        self,
        valid: pa.Table,
        as_of: dt.date,
        *,
        reasons: ReasonsMode = "needed",
        num_threads: int | None = None,
    ) -> tuple[pa.Table, np.ndarray]:
        """Score validated histories into an Arrow table (:data:`OUTPUT_SCHEMA`).

        Parameters
        ----------
        valid : pyarrow.Table
            Canonical, validated histories (e.g. the first output of ``split_valid``).
        as_of : datetime.date
            Scoring date.
        reasons : {"needed", "all", "none"}
            Rows that get reasons: above the lowest band, all, or none.
        num_threads : int, optional
            LightGBM threads; default the predictor's.

        Returns
        -------
        scores : pyarrow.Table
            One row per account open at ``as_of``, in input order.
        open_mask : numpy.ndarray
            Which input rows were scored (the others were not open at ``as_of``).
        """
        rows, order, open_mask = self._feature_rows(valid, as_of)
        if rows is None:
            no_rows = np.empty((0, len(self.catalogue)))
            ids = valid[C.ACCOUNT_ID].slice(0, 0)
            days = np.empty(0, "datetime64[D]")
            return self._score_rows(ids, days, no_rows, reasons, num_threads), open_mask
        # Model columns in model order; float32 -> float64 as the frame path does (exact).
        matrix = rows.values[self._feature_positions][:, order].T.astype(np.float64)
        ids = valid[C.ACCOUNT_ID].filter(pa.array(open_mask))
        days = rows.as_of_days[order].astype("datetime64[D]")
        return self._score_rows(ids, days, matrix, reasons, num_threads), open_mask

    def score_features(
        self,
        frame: pd.DataFrame,
        *,
        reasons: ReasonsMode = "needed",
        num_threads: int | None = None,
    ) -> pa.Table:
        """Score feature rows (``build_features`` output) into :data:`OUTPUT_SCHEMA`.

        Parameters
        ----------
        frame : pandas.DataFrame
            ``account_id``, ``as_of`` and the model's feature columns; rows may belong to
            several as-of dates (e.g. to evaluate reasons out of time).
        reasons : {"needed", "all", "none"}
            Rows that get reasons: above the lowest band, all, or none.
        num_threads : int, optional
            LightGBM threads; default the predictor's.

        Returns
        -------
        pyarrow.Table
            One row per feature row, same order.
        """
        matrix = self.artefact.matrix(frame)
        as_of = np.asarray(frame[C.AS_OF].to_numpy(), dtype="datetime64[D]")
        ids = pa.array(frame[C.ACCOUNT_ID].to_numpy(dtype=object), pa.string())
        return self._score_rows(ids, as_of, matrix, reasons, num_threads)

    def _score_rows(
        self,
        ids: pa.Array | pa.ChunkedArray,
        as_of: np.ndarray,
        matrix: np.ndarray,
        reasons: ReasonsMode,
        num_threads: int | None,
    ) -> pa.Table:
        """Score model-ordered feature rows: the one scoring step behind every entry point."""
        if reasons not in ("needed", "all", "none"):
            raise ValueError(f"reasons must be 'needed', 'all' or 'none', got {reasons!r}")
        threads = self.num_threads if num_threads is None else num_threads
        art = self.artefact
        # One C-ordered copy up front: LightGBM would copy a column-major matrix per call.
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        prob = art.calibrate(art.predict_raw(matrix, num_threads=threads))
        points = art.points(prob)
        bands = art.bands(prob)
        n = len(matrix)
        need = {
            "all": np.ones(n, dtype=bool),
            "none": np.zeros(n, dtype=bool),
            "needed": bands != self.lowest_band,
        }[reasons]
        top = np.full(n, None, dtype=object)
        if not need.any():
            explained = R.empty_reasons(0)
        else:
            contrib = art.contributions(matrix[need], num_threads=threads)
            contrib = R.account_attribution(
                contrib, art.feature_names, values=matrix[need], catalogue=self.catalogue
            )
            # sweep rules speak to "regulatory" only where a sweep falls in the horizon
            idle = R.idle_rule_rows(as_of[need], art.policy, art.horizon_months)
            explained = R.top_reasons(contrib, matrix[need], self.catalogue, idle=idle)
            counted = R.cause_contributions(contrib, self.catalogue, idle)
            top[need] = R.top_causes(counted, self.causes)
        counts = np.zeros(n, dtype=np.int32)
        counts[need] = np.diff(explained.offsets.to_numpy())
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        reason_lists = pa.ListArray.from_arrays(offsets, explained.values, type=R.REASONS_TYPE)
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        return pa.Table.from_arrays(
            [
                ids.cast(pa.string()),
                pa.array(as_of, pa.date32()),
                pa.array(prob, pa.float64()),
                pa.array(points, pa.float64()),
                pa.array(bands, pa.string()),
                reason_lists,
                pa.array(top, pa.string()),
                pa.array(np.full(n, self.model_version, dtype=object), pa.string()),
            ],
            schema=OUTPUT_SCHEMA,
        )

    def score(
        self,
        histories: Any,
        as_of: dt.date | None = None,
        *,
        reasons: ReasonsMode = "needed",
        closures: Any = None,
    ) -> tuple[pd.DataFrame, pa.Table]:
        """Score the valid accounts and return the rejected ones with reasons.

        Parameters
        ----------
        histories : pyarrow.Table, pandas.DataFrame, path or record dict(s)
            Account histories in the contract's nested form.
        as_of : datetime.date or ISO string, optional
            Scoring date; default the latest month end covered by the input, with an
            ``AsOfInferredWarning`` (pass the extract date for reproducible scores).
        reasons : {"needed", "all", "none"}
            Which rows get reasons.
        closures : pyarrow.Table, pandas.DataFrame or path, optional
            ``CLOSURES_SCHEMA`` table: accounts closed on or before ``as_of`` are rejected
            (reason code ``closed``). Without it, many accounts silent for months before
            ``as_of`` raise a ``DormantHistoryWarning``.

        Returns
        -------
        scored : pandas.DataFrame
            :data:`OUTPUT_COLUMNS`, valid accounts in input order.
        rejects : pyarrow.Table
            ``account_id``, ``row`` (input position) and ``reason``.

        Raises
        ------
        ContractError
            For table-level problems (required columns missing or mistyped).
        """
        table = as_table(histories)
        as_of = resolve_as_of(table, as_of, closures_given=closures is not None)
        closed = None if closures is None else closures_table(closures)
        scores, rejects = self.score_table(table, as_of, reasons=reasons, closures=closed)
        return to_frame(scores), rejects

    def score_table(
        self,
        table: pa.Table,
        as_of: dt.date,
        *,
        reasons: ReasonsMode = "needed",
        closures: pa.Table | None = None,
    ) -> tuple[pa.Table, pa.Table]:
        """Arrow form of :meth:`score`: scores (:data:`OUTPUT_SCHEMA`) and rejects.

        Every input row ends up in exactly one of the two tables. ``closures`` (validated,
        ``CLOSURES_SCHEMA``) rejects the accounts closed on or before ``as_of``; the as-of
        date is used as given (no inference, no recency warnings: see :meth:`score`).
        """
        valid, rejects = split_within_limits(table, as_of, self.limits)
        if closures is not None:
            valid, rejects = reject_closed(valid, rejects, table, closures, as_of)
        scores, open_mask = self.score_arrow(valid, as_of, reasons=reasons)
        if not open_mask.all():
            rejects = add_not_open(valid, open_mask, rejects, table, as_of)
        return scores, rejects

    def predict(
        self,
        histories: Any,
        as_of: dt.date | None = None,
        *,
        reasons: ReasonsMode = "needed",
        closures: Any = None,
    ) -> pd.DataFrame:
        """Score a batch of account histories; every account must be valid.

        Parameters
        ----------
        histories : pyarrow.Table, pandas.DataFrame, path or record dict(s)
            Account histories in the contract's nested form.
        as_of : datetime.date or ISO string, optional
            Scoring date; default the latest month end covered by the input, with an
            ``AsOfInferredWarning`` (pass the extract date for reproducible scores).
        reasons : {"needed", "all", "none"}
            ``needed`` (default): reasons for accounts above the lowest band only;
            ``all``: every account; ``none``: no reasons (fastest). Accounts without
            reasons get an empty list and ``top_cause`` None.
        closures : pyarrow.Table, pandas.DataFrame or path, optional
            As in :meth:`score`; a closed account is a problem (``closed``).

        Returns
        -------
        pandas.DataFrame
            :data:`OUTPUT_COLUMNS`, one row per account, in input order.

        Raises
        ------
        ContractError
            Listing every invalid account and problem (use :meth:`score` to go on).
        """
        table = as_table(histories)
        as_of = resolve_as_of(table, as_of, closures_given=closures is not None)
        closed = None if closures is None else closures_table(closures)
        return self._predict(table, as_of, reasons, self.num_threads, closed)

    def _predict(
        self,
        table: pa.Table,
        as_of: dt.date,
        reasons: ReasonsMode,
        threads: int,
        closures: pa.Table | None = None,
    ) -> pd.DataFrame:
        valid = validate_within_limits(table, as_of, self.limits)
        problem = None if closures is None else closed_problem(valid, closures, as_of)
        if problem is not None:
            raise ContractError([problem])
        scores, open_mask = self.score_arrow(valid, as_of, reasons=reasons, num_threads=threads)
        if not open_mask.all():
            ids = valid[C.ACCOUNT_ID].filter(pa.array(~open_mask)).to_pylist()
            raise ContractError([not_open_problem(np.flatnonzero(~open_mask), ids, as_of)])
        return to_frame(scores)

    def predict_one(self, record: Mapping[str, Any], as_of: dt.date | None = None) -> dict:
        """Score one account record (a dict / parsed JSON), always with reasons.

        Returns exactly the values of the same account's batch row scored with
        ``reasons="all"``. Uses one LightGBM thread; safe to call from many threads.
        Without ``as_of`` the record's own latest month end is used (with an
        ``AsOfInferredWarning``).

        Raises
        ------
        ContractError
            When the record does not meet the contract.
        """
        valid, as_of = self._one_record(record, as_of, "predict_one")
        scores, open_mask = self.score_arrow(valid, as_of, reasons="all", num_threads=1)
        if not open_mask.all():
            ids = valid[C.ACCOUNT_ID].to_pylist()
            raise ContractError([not_open_problem(np.array([0]), ids, as_of)])
        # Plain Python values; equal (==) to the batch row's values.
        return scores.to_pylist()[0]

    def _one_record(
        self, record: Mapping[str, Any], as_of: dt.date | None, caller: str
    ) -> tuple[pa.Table, dt.date]:
        """Validate one record; without ``as_of`` its own latest month end (warned)."""
        if not isinstance(record, Mapping):
            raise TypeError(f"{caller} takes one account record (a dict)")
        try:
            table = from_records(record)
        except ContractError:
            raise
        except ValueError as exc:  # a record Arrow cannot read: the caller's data, not a bug
            raise ContractError([unreadable_record_problem(record, exc)]) from exc
        # One record: its own latest month end; recency is a property of a batch.
        as_of = resolve_as_of(table, None, recency=False) if as_of is None else as_date(as_of)
        return validate_within_limits(table, as_of, self.limits), as_of

    def recourse(self, record: Mapping[str, Any], as_of: dt.date | None = None) -> dict:
        """Return the fewest actions in the holder's control that lower the account's band.

        See :mod:`risk_model.recourse`: the history is edited as each action would edit it
        (dated ``as_of``) and re-scored with this model. Uses one LightGBM thread.

        Returns
        -------
        dict
            ``account_id``, ``as_of``, ``probability`` and ``band`` now, then ``status``
            (``offered``, ``lowest_band`` or ``none_found``), ``actions`` (``code``,
            ``text``: one sentence for the account holder, ``amount``, ``level``) and
            ``new_probability`` / ``new_band`` after them (None unless offered).

        Raises
        ------
        ContractError
            When the record does not meet the contract or is not open at ``as_of``.
        """
        from risk_model.recourse import recourse_rows

        valid, as_of = self._one_record(record, as_of, "recourse")
        return recourse_rows(self, valid, as_of, num_threads=1)[0]


def load(
    model: str | os.PathLike[str] | None = None,
    *,
    tracking_uri: str | None = None,
    num_threads: int = 1,
    limits: EventLimits = DEFAULT_LIMITS,
) -> Predictor:
    """Load a verified model and return its :class:`Predictor`.

    Parameters
    ----------
    model : str or path, optional
        Artefact directory, ``models:/...`` / ``runs:/...`` URI or MLflow run id;
        default the registry's champion (:data:`DEFAULT_MODEL`).
    tracking_uri : str, optional
        MLflow store; default ``MLFLOW_TRACKING_URI``, else ``./mlflow.db``.
    num_threads : int
        LightGBM threads for batch scoring.
    limits : EventLimits
        Most statements / transactions per account (see :mod:`risk_model.limits`).

    Returns
    -------
    Predictor

    Raises
    ------
    ModelLoadError
        When the model is unknown, incomplete or altered (checksums are verified first).
    """
    artefact = load_model_artefact(model, tracking_uri=tracking_uri)
    return Predictor(artefact, num_threads=num_threads, limits=limits)


_CACHE: dict[str, Predictor] = {}
_CACHE_LOCK = threading.Lock()


def predict(
    histories_or_record: Any,
    model: str | os.PathLike[str] | None = None,
    as_of: dt.date | None = None,
) -> pd.DataFrame | dict:
    """Score histories (batch) or one record with a cached predictor.

    Parameters
    ----------
    histories_or_record : dict, table, DataFrame or path
        One account record (returns a dict, with reasons) or a batch (returns a DataFrame
        with reasons for accounts above the lowest band).
    model : str or path, optional
        As in :func:`load`; the loaded predictor is cached per value.
    as_of : datetime.date, optional
        Scoring date; default the latest month end covered by the input (warned).

    Returns
    -------
    dict or pandas.DataFrame
    """
    key = os.fspath(model) if model is not None else DEFAULT_MODEL
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load(model)
        predictor = _CACHE[key]
    if isinstance(histories_or_record, Mapping):
        return predictor.predict_one(histories_or_record, as_of)
    return predictor.predict(histories_or_record, as_of)
