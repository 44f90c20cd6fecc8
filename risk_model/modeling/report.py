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
came from (e.g. ``oot.model.gini``), so tests and readers can trace it.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

FIGURE_CAPTIONS = {
    "roc": "ROC curve of the served OOT probabilities (and of the true probabilities).",
    "ks": "Cumulative shares of closed and open rows, riskiest first; KS marked.",
    "reliability": "Reliability on OOT: mean predicted probability vs observed closure rate "
    "(and mean true probability) per equal-frequency bin.",
    "gini_by_month": "Gini per OOT as-of month, model and truth.",
    "gini_by_cause": "Gini of each closure cause against all open rows, model and truth.",
    "score_distribution": "Points by label on OOT (higher points = safer).",
    "feature_importance_gain": "Top features by total split gain.",
    "contribution_by_family": "Mean absolute TreeSHAP contribution (log-odds) per feature "
    "family on an OOT sample.",
}

# Metric rows of the metrics table: (key in ``metrics.evaluate`` output, label, digits).
METRIC_ROWS = (
    ("gini", "Gini", 4),
    ("auc", "AUC", 4),
    ("ks", "KS", 4),
    ("log_loss", "log loss", 4),
    ("brier", "Brier score", 5),
    ("ece", "ECE", 5),
    ("ece_to_base_rate", "ECE / base rate", 3),
    ("base_rate", "base rate (observed)", 4),
    ("mean_p", "mean probability", 4),
    ("capture_top10", "capture in riskiest 10%", 4),
    ("rows", "rows", 0),
)

PSI_GREEN, PSI_RED = 0.10, 0.25  # the usual traffic lights: < 0.10 green, > 0.25 red
WEAK_CAUSE_RATIO = 0.8  # a cause ranked below this share of the truth's Gini is flagged
FEW_POSITIVES = 50  # a per-cause Gini from fewer closures than this is noisy


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


# --------------------------------------------------------------------------- formatting


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: object, digits: int = 4) -> str:
    """Format a figure: fixed ``digits`` decimals, thousands separators for counts, n/a."""
    if _is_missing(value):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (digits == 0 and isinstance(value, float)):
        return f"{round(float(value)):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: object, digits: int = 1) -> str:
    return "n/a" if _is_missing(value) else f"{float(value):.{digits}%}"  # type: ignore[arg-type]


def _key(key: str | None) -> str:
    return f' data-key="{_esc(key)}"' if key else ""


def _cell(value: object, digits: int = 4, key: str | None = None) -> str:
    attr = _key(key)
    css = ' class="num"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return f"<td{css}{attr}>{_esc(fmt(value, digits))}</td>"


def _table(head: Sequence[str], rows: Sequence[str], caption: str = "") -> str:
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    header = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f"<table>{cap}<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _figure(name: str, figures: Mapping[str, bytes]) -> str:
    caption = FIGURE_CAPTIONS.get(name, name)
    data = figures.get(name)
    if not data:
        return (
            f'<figure class="missing" data-figure="{_esc(name)}"><div>figure not available'
            f"</div><figcaption>{_esc(caption)}</figcaption></figure>"
        )
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure data-figure="{_esc(name)}"><img alt="{_esc(caption)}" '
        f'src="data:image/png;base64,{encoded}"><figcaption>{_esc(caption)}</figcaption></figure>'
    )


def _figures(names: Sequence[str], figures: Mapping[str, bytes]) -> str:
    return '<div class="figures">' + "".join(_figure(n, figures) for n in names) + "</div>"


def psi_light(value: float) -> str:
    """Traffic light of a PSI: ``green`` (< 0.10), ``amber`` (0.10-0.25), ``red`` (> 0.25)."""
    if _is_missing(value):
        return "n/a"
    if value < PSI_GREEN:
        return "green"
    return "amber" if value <= PSI_RED else "red"


def _light(value: float) -> str:
    light = psi_light(value)
    return f'<span class="light {light}">{light}</span>'


# --------------------------------------------------------------------------- sections


def _summary(facts: ReportFacts) -> str:
    ev = facts.evaluation
    oot = ev["oot"]["metrics"]
    cards = [
        ("OOT Gini (served path)", fmt(oot["gini"]), "oot.model.gini"),
        (
            "Gini model / truth",
            fmt(ev.get("gini_ratio"), 3),
            "gini_ratio" if "gini_ratio" in ev else None,
        ),
        ("OOT ECE / base rate", fmt(oot["ece_to_base_rate"], 3), "oot.model.ece_to_base_rate"),
        ("Score PSI train → OOT", fmt(ev["oot"]["psi"]), "oot.psi"),
    ]
    reasons = facts.reason_accuracy
    cards.append(
        (
            "Reasons: top cause = recorded cause",
            _pct(reasons["match"].get("all")) if reasons else "not measured",
            "reasons.match.all" if reasons else None,
        )
    )
    items = "".join(
        f'<div class="card"><div class="label">{_esc(label)}</div>'
        f'<div class="value"{_key(key)}>{_esc(value)}</div></div>'
        for label, value, key in cards
    )
    windows = " | ".join(
        f"{w['part']} {str(w['first'])[:7]}..{str(w['last'])[:7]}" for w in facts.windows
    )
    return (
        f'<div class="cards">{items}</div>'
        f"<p>Model <code>{_esc(facts.version)}</code>, {_esc(facts.split['kind'])} split "
        f"({_esc(windows)}), horizon {_esc(facts.data.get('horizon_months'))} months. "
        "OOT figures are those of the <em>served path</em>: OOT rows built by the scoring "
        "path with the merchant-risk table of "
        f"{_esc(ev.get('table_as_of', 'n/a'))} (end of the train window) and scored by the "
        "predictor, as a user would get them. Nothing chosen in training looked at them.</p>"
    )


def _data(facts: ReportFacts) -> str:
    d = facts.data
    excluded = d.get("features_excluded") or []
    rows = [
        ("source", f"<code>{_esc(d.get('source', 'n/a'))}</code>"),
        ("accounts / closures", f"{fmt(d.get('accounts'))} / {fmt(d.get('closures'))}"),
        ("true probabilities (synthetic world)", _esc(fmt(bool(d.get("truth"))))),
        ("as-of dates", _esc(d.get("snapshots", "n/a"))),
        ("snapshot rows (account-months)", _esc(fmt(d.get("snapshot_rows")))),
        ("label horizon", f"{_esc(d.get('horizon_months'))} months"),
        (
            "features used",
            _esc(fmt(d.get("features_used")))
            + (f" (excluded: {_esc(', '.join(excluded))})" if excluded else ""),
        ),
        ("split", f"{_esc(facts.split['kind'])}: {_esc(facts.split.get('reason', ''))}"),
        ("gap between windows", f"{_esc(facts.split.get('gap_months', 'n/a'))} months"),
        ("seed", _esc(d.get("seed", "n/a"))),
    ]
    windows = [
        f"<td>{_esc(w['part'])}</td><td>{_esc(w['first'])}</td><td>{_esc(w['last'])}</td>"
        + _cell(int(w["months"]), key=f"windows.{w['part']}.months")
        + _cell(int(w["rows"]), key=f"windows.{w['part']}.rows")
        + _cell(int(w["positives"]), key=f"windows.{w['part']}.positives")
        + _cell(w["positives"] / w["rows"] if w["rows"] else float("nan"))
        for w in facts.windows
    ]
    return _kv_table(rows) + _table(
        ["window", "first as-of", "last as-of", "months", "rows", "closures", "base rate"],
        windows,
        "Windows (as-of month ends). Train fits the trees; selection chooses capacity, "
        "trees and calibration; OOT is only scored for this report.",
    )


def _metrics(facts: ReportFacts, figures: Mapping[str, bytes]) -> str:
    ev = facts.evaluation
    columns: list[tuple[str, str, Mapping[str, float] | None]] = [
        ("selection: model", "selection.model", facts.selection),
        ("selection: truth", "selection.truth", facts.selection_truth),
        ("OOT: model (served)", "oot.model", ev["oot"]["metrics"]),
        ("OOT: model, training-mode features", "oot.training_mode", ev.get("oot_training_mode")),
        ("OOT: truth", "oot.truth", ev["truth"]["metrics"] if "truth" in ev else None),
    ]
    columns = [c for c in columns if c[2] is not None]
    rows = []
    for key, label, digits in METRIC_ROWS:
        cells = "".join(
            _cell(values.get(key, float("nan")), digits, f"{prefix}.{key}")
            for _, prefix, values in columns
            if values is not None
        )
        rows.append(f"<th>{_esc(label)}</th>{cells}")
    table = _table(["metric", *(c[0] for c in columns)], rows)
    notes = (
        '<p>"Truth" scores the same rows with the true closure probability of the synthetic '
        "world: the ceiling any model could reach on these labels. Selection figures are "
        "in-sample for early stopping, capacity and the calibration map (all chosen on those "
        "rows): read them as optimistic. The training-mode column scores the OOT rows from "
        "features built with the training code path; its gap to the served column is the "
        "cost of freezing the merchant-risk table at the end of the train window.</p>"
    )
    if "truth" in ev:
        notes += (
            f'<p>Gini model / truth on the OOT rows: <b data-key="gini_ratio">'
            f"{fmt(ev['gini_ratio'], 4)}</b>.</p>"
        )
    distinct = ev.get("distinct", {})
    notes += (
        "<p>Distinct OOT probabilities per 10,000 rows: "
        f'<span data-key="distinct.probabilities_per_10k">'
        f"{fmt(distinct.get('probabilities_per_10k'), 1)}</span> (raw scores: "
        f"{fmt(distinct.get('raw_scores_per_10k'), 1)}).</p>"
    )
    return table + notes + _figures(["roc", "ks"], figures)


def _calibration(facts: ReportFacts, figures: Mapping[str, bytes]) -> str:
    ev, model = facts.evaluation, facts.model
    oot = ev["oot"]["metrics"]
    cv = model.get("calibration_cv_log_loss") or {}
    cv_text = ", ".join(f"{_esc(k)} {fmt(v, 5)}" for k, v in cv.items()) or "not compared"
    intro = (
        f"<p>Calibration map: <b>{_esc(model.get('calibration', 'n/a'))}</b>, fitted on the "
        f"selection window (out-of-fold selection log loss per candidate: {cv_text}). OOT "
        f'ECE <span data-key="oot.model.ece">{fmt(oot["ece"], 5)}</span> against a base rate of '
        f"{fmt(oot['base_rate'])} (ECE / base rate {fmt(oot['ece_to_base_rate'], 3)}); mean "
        f"probability {fmt(oot['mean_p'])} vs observed rate {fmt(oot['base_rate'])}.</p>"
    )
    deciles = ev.get("oot_deciles") or []
    rows = [
        _cell(int(r["decile"]) if not _is_missing(r["decile"]) else float("nan"), 0)
        + _cell(int(r["rows"]), 0)
        + _cell(float(r["mean_p"]), 4)
        + _cell(float(r["observed_rate"]), 4)
        + _cell(int(r["positives"]), 0)
        + _cell(float(r["cumulative_capture"]), 3)
        for r in deciles
    ]
    table = (
        _table(
            ["decile (1 = riskiest)", "rows", "mean p", "observed rate", "closures", "capture"],
            rows,
            "OOT decile table (served probabilities, equal-frequency bins).",
        )
        if rows
        else "<p>No decile table.</p>"
    )
    return intro + '<div class="side">' + _figure("reliability", figures) + table + "</div>"


def _ranking(facts: ReportFacts, figures: Mapping[str, bytes]) -> str:
    ev = facts.evaluation
    model = ev["oot"]["gini_by_cause"]
    truth = ev["truth"]["gini_by_cause"] if "truth" in ev else {}
    rows = []
    for cause in sorted(set(model) | set(truth)):
        m, t = model.get(cause, float("nan")), truth.get(cause, float("nan"))
        ratio = m / t if not (_is_missing(m) or _is_missing(t)) and t > 0 else float("nan")
        rows.append(
            f"<td>{_esc(cause)}</td>"
            + _cell(int(facts.positives_by_cause.get(cause, 0)), 0)
            + _cell(m, 3, f"oot.model.gini_by_cause.{cause}")
            + _cell(t, 3, f"oot.truth.gini_by_cause.{cause}" if truth else None)
            + _cell(ratio, 3)
        )
    by_cause = _table(
        ["cause", "OOT closures", "Gini model", "Gini truth", "model / truth"],
        rows,
        "Gini of each cause's closures against all open rows (other causes dropped).",
    )
    months = ev["oot"]["gini_by_month"]
    truth_months = ev["truth"]["gini_by_month"] if "truth" in ev else {}
    month_rows = [
        f"<td>{_esc(month)}</td>"
        + _cell(value, 4, f"oot.model.gini_by_month.{month}")
        + _cell(truth_months.get(month, float("nan")), 4)
        for month, value in months.items()
    ]
    by_month = _table(["as-of month", "Gini model", "Gini truth"], month_rows)
    slope = (
        f'<p>Gini slope over the OOT months: <span data-key="oot.gini_slope">'
        f"{fmt(ev['oot']['gini_slope'])}</span> per month.</p>"
    )
    return (
        _figures(["gini_by_month", "gini_by_cause"], figures)
        + '<div class="side">'
        + by_month
        + by_cause
        + "</div>"
        + slope
    )


def _stability(facts: ReportFacts, figures: Mapping[str, bytes]) -> str:
    ev = facts.evaluation
    value = ev["oot"]["psi"]
    intro = (
        f'<p>Score PSI, train → OOT: <b data-key="oot.psi">{fmt(value)}</b> {_light(value)} '
        f"(10 quantile bins of the train probabilities; &lt; {PSI_GREEN:.2f} green, "
        f"{PSI_GREEN:.2f}-{PSI_RED:.2f} amber, &gt; {PSI_RED:.2f} red). Gini slope "
        f"{fmt(ev['oot']['gini_slope'])} per month.</p>"
    )
    rows = [
        f"<td>{_esc(m['month'])}</td>"
        + _cell(int(m["rows"]), 0)
        + _cell(float(m["base_rate"]), 4)
        + _cell(float(m["mean_p"]), 4)
        + _cell(float(m.get("mean_truth", float("nan"))), 4)
        + _cell(ev["oot"]["gini_by_month"].get(str(m["month"]), float("nan")), 4)
        for m in facts.monthly
    ]
    table = (
        _table(
            ["as-of month", "rows", "observed rate", "mean probability", "mean truth", "Gini"],
            rows,
            "OOT month by month (served probabilities).",
        )
        if rows
        else ""
    )
    return intro + '<div class="side">' + table + _figure("score_distribution", figures) + "</div>"


def _features(facts: ReportFacts, figures: Mapping[str, bytes]) -> str:
    rows = [
        f"<td>{i}</td><td><code>{_esc(f['name'])}</code></td><td>{_esc(f.get('family', ''))}"
        f"</td><td>{_esc(f.get('cause', ''))}</td>"
        + _cell(float(f["gain_share"]), 3, f"features.{f['name']}.gain_share")
        + f'<td class="text">{_esc(f.get("definition", ""))}</td>'
        for i, f in enumerate(facts.top_features, start=1)
    ]
    table = _table(
        ["#", "feature", "family", "cause", "gain share", "meaning"],
        rows,
        "Top features by share of the model's total split gain.",
    )
    fam_rows = [
        f"<td>{_esc(name)}</td>" + _cell(float(value), 4, f"families.{name}")
        for name, value in sorted(facts.families.items(), key=lambda kv: -kv[1])
    ]
    families = _table(
        ["family", "mean |contribution| (log-odds)"],
        fam_rows,
        "Contribution by feature family (TreeSHAP, OOT sample).",
    )
    return (
        table
        + '<div class="side">'
        + families
        + _figure("contribution_by_family", figures)
        + "</div>"
        + _figures(["feature_importance_gain"], figures)
    )


def _reasons(facts: ReportFacts) -> str:
    acc = facts.reason_accuracy
    if acc is None:
        return (
            f'<p class="not-measured" data-key="reasons.not_measured">Not measured: '
            f"{_esc(facts.reason_note)}. Run <code>python -m pipelines.evaluate_reasons "
            "--data DIR</code> to compare reason codes with recorded closure causes.</p>"
        )
    match = acc["match"]
    confusion = acc.get("confusion") or {}
    tops = list(dict.fromkeys(top for row in confusion.values() for top in row))
    rows = []
    for cause, row in confusion.items():
        total = sum(row.values())
        rows.append(
            f"<th>{_esc(cause)}</th>"
            + _cell(int(total), 0)
            + "".join(_cell(int(row.get(t, 0)), 0) for t in tops)
            + f'<td class="num" data-key="reasons.match.{_esc(cause)}">'
            f"{_pct(match.get(cause))}</td>"
        )
    table = _table(
        ["recorded cause", "closed rows", *(f"top: {t}" for t in tops), "match"],
        rows,
        "Rows: recorded closure cause; columns: the top cause of the reasons ((none): no "
        "feature raised the risk).",
    )
    return (
        f"<p>{_esc(acc.get('how', ''))} Overall, the top cause of the reasons equals the "
        f'recorded cause for <b data-key="reasons.match.all">{_pct(match.get("all"))}</b> of '
        f"{fmt(int(acc['rows']))} closed account-months.</p>" + table
    )


def limitations(facts: ReportFacts) -> list[str]:
    """Plain sentences on what the figures do not show, derived from the facts."""
    ev = facts.evaluation
    oot = ev["oot"]["metrics"]
    out: list[str] = []
    table_as_of = ev.get("table_as_of")
    if facts.production_table_as_of:
        gap = oot["gini"] - ev.get("oot_training_mode", {}).get("gini", float("nan"))
        out.append(
            "The production artefact's merchant-risk table is refitted at the end of the "
            f"history ({facts.production_table_as_of}); the OOT figures here were scored with "
            f"the table of {table_as_of} (end of the train window). Scores of past as-of dates "
            "from the production artefact look ahead (merchants look as busy as they became "
            "later), and the shipped table itself was never evaluated out of time. Served minus "
            f"training-mode OOT Gini: {fmt(gap)}."
        )
    positives = round(oot["rows"] * oot["base_rate"])
    out.append(
        f"One seed ({facts.data.get('seed', 'n/a')}), one OOT window: ECE {fmt(oot['ece'], 5)} "
        f"(ECE / base rate {fmt(oot['ece_to_base_rate'], 3)}) and Gini {fmt(oot['gini'])} come "
        f"from {fmt(oot['rows'], 0)} rows with {positives:,} closures, without an interval; "
        "another seed or window moves them."
    )
    out.append(
        "Selection figures are in-sample for capacity, early stopping and the calibration map; "
        "only the OOT columns are honest estimates."
    )
    if facts.split.get("kind") != "time":
        out.append(
            f"The split is by {facts.split.get('kind')}, not by time: the 'OOT' rows share months "
            "with training, so drift and decay are not measured."
        )
    if "truth" not in ev:
        out.append(
            "No true probabilities: figures are measured against observed labels only, so the "
            "ceiling (what a perfect model would reach) is unknown."
        )
    else:
        out.append(
            "The data are a synthetic world with known truth; a real portfolio has other cause "
            "mixes, missing fields and label noise, so these figures do not transfer as they are."
        )
        truth = ev["truth"]["gini_by_cause"]
        for cause, value in ev["oot"]["gini_by_cause"].items():
            t = truth.get(cause, float("nan"))
            if _is_missing(value) or _is_missing(t):
                continue
            if t <= 0.1 or value < WEAK_CAUSE_RATIO * t:
                out.append(
                    f"{cause.capitalize()} closures are ranked weakly: Gini {fmt(value, 3)} vs "
                    f"{fmt(t, 3)} for the truth"
                    + (
                        " (the truth itself barely ranks them: they are hardly predictable)."
                        if t <= 0.1
                        else "."
                    )
                )
    few = sorted(c for c, n in facts.positives_by_cause.items() if n < FEW_POSITIVES)
    if few:
        out.append(
            f"Fewer than {FEW_POSITIVES} OOT closures for {', '.join(few)}: their Gini by cause "
            "is noisy."
        )
    light = psi_light(ev["oot"]["psi"])
    if light in ("amber", "red"):
        out.append(
            f"Score PSI train → OOT is {fmt(ev['oot']['psi'])} ({light}): the score distribution "
            "moved between the windows (population, policy or feature drift); the monthly table "
            "shows whether the observed rate moved with it."
        )
    slope = ev["oot"]["gini_slope"]
    if not _is_missing(slope) and slope < -0.01:
        out.append(f"Gini falls by {fmt(-slope)} per OOT month: the model decays.")
    if facts.reason_accuracy is None:
        out.append(f"Reason accuracy is not measured ({facts.reason_note}).")
    return out


def _limitations(facts: ReportFacts) -> str:
    items = "".join(f"<li>{_esc(text)}</li>" for text in limitations(facts))
    return f"<ul>{items}</ul>"


# --------------------------------------------------------------------------- page

_CSS = """
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6475; --rule: #d8dde6;
  --band: #f4f6f9; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Noto Sans",
  "DejaVu Sans", Arial, sans-serif; color: var(--ink); background: #fff; }
header { background: #1d2433; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #c9d1de; font-size: 13px; }
header code { background: #2c3547; color: #fff; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--rule); background: var(--band);
  font-size: 13px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
main { max-width: 1320px; padding: 8px 32px 40px; }
section { border-bottom: 1px solid var(--rule); padding: 8px 0 16px; }
h2 { font-size: 19px; margin: 18px 0 8px; color: var(--accent); }
code { font-size: 13px; background: var(--band); padding: 0 3px; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 12px;
  padding-top: 4px; max-width: 560px; }
th, td { border: 1px solid var(--rule); padding: 3px 8px; text-align: left;
  vertical-align: top; }
thead th { background: var(--band); }
tbody th { font-weight: 600; background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { max-width: 420px; }
table.kv th { width: 260px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.card { border: 1px solid var(--rule); border-radius: 6px; padding: 10px 14px; min-width: 190px;
  background: var(--band); }
.card .label { font-size: 12px; color: var(--muted); }
.card .value { font-size: 22px; font-weight: 600; }
.figures, .side { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 8px 0; max-width: 560px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { font-size: 12px; color: var(--muted); }
figure.missing div { border: 1px dashed var(--rule); padding: 40px; color: var(--muted);
  text-align: center; }
.light { padding: 1px 8px; border-radius: 9px; font-size: 12px; font-weight: 600;
  color: #fff; }
.light.green { background: #2e7d32; } .light.amber { background: #b26a00; }
.light.red { background: #c62828; }
.not-measured { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; padding: 12px 32px 24px; }
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


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
    bodies = {
        "summary": _summary(facts),
        "data": _data(facts),
        "metrics": _metrics(facts, figures),
        "calibration": _calibration(facts, figures),
        "ranking": _ranking(facts, figures),
        "stability": _stability(facts, figures),
        "features": _features(facts, figures),
        "reasons": _reasons(facts),
        "limitations": _limitations(facts),
    }
    nav = "".join(f'<a href="#{key}">{_esc(title)}</a>' for key, title in SECTIONS)
    sections = "".join(
        f'<section id="{key}"><h2>{_esc(title)}</h2>{bodies[key]}</section>'
        for key, title in SECTIONS
    )
    run = f" · MLflow run <code>{_esc(facts.run_id)}</code>" if facts.run_id else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>closure-risk model report {_esc(facts.version)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>closure-risk model report</h1><p>model {_esc(facts.version)} · "
        f"made {_esc(facts.created_at)}{run}</p></header>"
        f"<nav>{nav}</nav><main>{sections}</main>"
        "<footer>Generated by <code>python -m pipelines.train</code>. Figures: served-path OOT "
        "evaluation (<code>report.json</code> in the same MLflow run holds every number).</footer>"
        "</body></html>\n"
    )
