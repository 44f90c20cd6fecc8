"""The model report: one self-contained HTML page a model validator can read offline.

Pure: :func:`render_report` turns the facts of one training (:class:`ReportFacts`) and its
figures (PNG bytes) into an HTML string; nothing here reads or writes files, fits or
scores. The training pipeline gathers the facts, writes ``report.html`` and logs it.

The page has no external reference: the style sheet is inline, figures are ``data:`` URIs
and a Content-Security-Policy forbids anything else (no scripts, no fetches), so it opens
the same from a mail attachment, an MLflow artifact view or a file share.

Sections (each a ``<section id=...>``): ``summary``, ``data`` (data and windows),
``metrics`` (selection and OOT, model vs the truth), ``calibration``, ``ranking`` (Gini by
month and by cause), ``stability`` (PSI, monthly figures), ``features`` (top features and
families), ``reasons`` (reason accuracy, or why it was not measured) and ``limitations``.
Every figure taken from the evaluation carries a ``data-key`` attribute naming where it
came from (e.g. ``oot.model.gini``), so tests and readers can trace it. The sections are
built in :mod:`.report_sections`, the limitations derived in :mod:`.report_limits`, the
HTML pieces and the style sheet live in :mod:`.report_html`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from risk_model.modeling.report_html import CSP, CSS, FIGURE_CAPTIONS, esc, psi_light
from risk_model.modeling.report_limits import limitations
from risk_model.modeling.report_sections import BUILDERS

__all__ = [
    "FIGURE_CAPTIONS",
    "SECTIONS",
    "ReportFacts",
    "limitations",
    "psi_light",
    "render_report",
]

SECTIONS = (
    ("summary", "Summary"),
    ("data", "Data and windows"),
    ("metrics", "Metrics: selection and out of time, model vs truth"),
    ("calibration", "Calibration"),
    ("ranking", "Ranking by month and by cause"),
    ("stability", "Stability"),
    ("features", "Top features and families"),
    ("reasons", "Reason accuracy"),
    ("limitations", "Known limitations"),
)


@dataclass(frozen=True)
class ReportFacts:
    """Everything the report states about one training.

    Parameters
    ----------
    version : str
        Model version label.
    created_at : str
        When the report was made (ISO, UTC).
    data : dict
        ``source``, ``accounts``, ``closures``, ``truth`` (bool), ``snapshots`` (how the
        as-of dates were chosen), ``snapshot_rows``, ``horizon_months``,
        ``features_used``, ``features_excluded`` (list), ``seed``.
    split : dict
        ``kind``, ``reason``, ``gap_months``.
    windows : list of dict
        One per part (``train``, ``selection``, ``OOT``): ``part``, ``first``, ``last``
        (ISO month ends), ``months``, ``rows``, ``positives``.
    model : dict
        ``capacity`` (chosen setting or "fixed"), ``best_iteration``, ``calibration``
        (method), ``calibration_cv_log_loss`` (dict, may be empty).
    selection : dict
        ``metrics.evaluate`` of the model on the selection rows (served features).
    evaluation : dict
        The served-path OOT evaluation
        (:func:`risk_model.modeling.evaluation.evaluate_served` output with
        ``table_as_of``).
    selection_truth : dict, optional
        ``metrics.evaluate`` of the true probabilities on the selection rows.
    monthly : list of dict
        Per OOT as-of month: ``month``, ``rows``, ``base_rate``, ``mean_p``, ``mean_truth``
        (NaN without truth).
    positives_by_cause : dict
        OOT closures per recorded cause.
    top_features : list of dict
        Riskiest-first features: ``name``, ``family``, ``cause``, ``definition``,
        ``gain_share`` (share of the model's total gain).
    families : dict
        Mean absolute contribution (log-odds) per feature family.
    reason_accuracy : dict, optional
        ``rows`` (closed account-months explained), ``match`` (cause -> share whose top
        cause is the recorded cause, plus ``all``), ``confusion`` (true cause -> top cause
        -> count), ``how`` (sentence: which rows, which merchant table). ``None``: not
        measured.
    reason_note : str
        Why reason accuracy was not measured (shown when ``reason_accuracy`` is None).
    production_table_as_of : str, optional
        Date of the merchant-risk table shipped in the production artefact.
    run_id : str, optional
        MLflow run holding the report.
    bands : dict, optional
        ``note`` (the edges and where they come from,
        :meth:`~risk_model.modeling.scale.ScoreScale.band_note`) and ``table``
        (:func:`~risk_model.modeling.bands.band_table` of the OOT rows).
    """

    version: str
    created_at: str
    data: Mapping[str, Any]
    split: Mapping[str, Any]
    windows: Sequence[Mapping[str, Any]]
    model: Mapping[str, Any]
    selection: Mapping[str, float]
    evaluation: Mapping[str, Any]
    selection_truth: Mapping[str, float] | None = None
    monthly: Sequence[Mapping[str, Any]] = ()
    positives_by_cause: Mapping[str, int] = field(default_factory=dict)
    top_features: Sequence[Mapping[str, Any]] = ()
    families: Mapping[str, float] = field(default_factory=dict)
    reason_accuracy: Mapping[str, Any] | None = None
    reason_note: str = "not measured in this training"
    production_table_as_of: str | None = None
    run_id: str | None = None
    bands: Mapping[str, Any] | None = None


def render_report(facts: ReportFacts, figures: Mapping[str, bytes] | None = None) -> str:
    """Render the model report as one self-contained HTML page.

    Parameters
    ----------
    facts : ReportFacts
        What to state.
    figures : mapping of str to bytes, optional
        PNG bytes per figure name (see :data:`FIGURE_CAPTIONS`); a missing figure is
        shown as "figure not available".

    Returns
    -------
    str
        The HTML document.
    """
    figures = figures or {}
    bodies = {key: BUILDERS[key](facts, figures) for key, _ in SECTIONS}
    nav = "".join(f'<a href="#{key}">{esc(title)}</a>' for key, title in SECTIONS)
    sections = "".join(
        f'<section id="{key}"><h2>{esc(title)}</h2>{bodies[key]}</section>'
        for key, title in SECTIONS
    )
    run = f" · MLflow run <code>{esc(facts.run_id)}</code>" if facts.run_id else ""
    where = (
        "every number is in <code>report.json</code> of the same MLflow run"
        if facts.run_id
        else "the evaluation is in <code>spec.json</code> of the artefact (<code>metrics</code>)"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>closure-risk model report {esc(facts.version)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>closure-risk model report</h1><p>model {esc(facts.version)} · "
        f"made {esc(facts.created_at)}{run}</p></header>"
        f"<nav>{nav}</nav><main>{sections}</main>"
        "<footer>Generated by <code>python -m pipelines.train</code>. Figures: served-path OOT "
        f"evaluation; {where}.</footer>"
        "</body></html>\n"
    )
