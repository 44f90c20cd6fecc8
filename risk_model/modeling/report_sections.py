"""The sections of the model report: one function per section, facts in, HTML out.

Each ``section_<name>(facts, figures)`` returns the body of the ``<section id=name>`` of
:func:`risk_model.modeling.report.render_report`. Every figure taken from the evaluation
carries a ``data-key`` attribute naming where it came from (e.g. ``oot.model.gini``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from risk_model.modeling.report_html import (
    PSI_GREEN,
    PSI_RED,
    cell,
    esc,
    figure,
    figures_row,
    fmt,
    html_table,
    is_missing,
    key_attr,
    kv_table,
    light,
    pct,
)
from risk_model.modeling.report_limits import TRUTH_RANKS, limitations

if TYPE_CHECKING:
    from risk_model.modeling.report import ReportFacts

Figures = Mapping[str, bytes]

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


def section_summary(facts: ReportFacts, figures: Figures) -> str:
    """Headline cards and what the OOT figures are."""
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
            pct(reasons["match"].get("all")) if reasons else "not measured",
            "reasons.match.all" if reasons else None,
        )
    )
    items = "".join(
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value"{key_attr(key)}>{esc(value)}</div></div>'
        for label, value, key in cards
    )
    windows = " | ".join(
        f"{w['part']} {str(w['first'])[:7]}..{str(w['last'])[:7]}" for w in facts.windows
    )
    return (
        f'<div class="cards">{items}</div>'
        f"<p>Model <code>{esc(facts.version)}</code>, {esc(facts.split['kind'])} split "
        f"({esc(windows)}), horizon {esc(facts.data.get('horizon_months'))} months. "
        "OOT figures are those of the <em>served path</em>: OOT rows built by the scoring "
        "path with the merchant-risk table of "
        f"{esc(ev.get('table_as_of', 'n/a'))} (end of the train window) and scored by the "
        "predictor, as a user would get them. Nothing chosen in training looked at them.</p>"
    )


def section_data(facts: ReportFacts, figures: Figures) -> str:
    """Describe the data source, snapshots, split and the three windows."""
    d = facts.data
    excluded = d.get("features_excluded") or []
    rows = [
        ("source", f"<code>{esc(d.get('source', 'n/a'))}</code>"),
        ("accounts / closures", f"{fmt(d.get('accounts'))} / {fmt(d.get('closures'))}"),
        ("true probabilities (synthetic world)", esc(fmt(bool(d.get("truth"))))),
        ("as-of dates", esc(d.get("snapshots", "n/a"))),
        ("snapshot rows (account-months)", esc(fmt(d.get("snapshot_rows")))),
        ("label horizon", f"{esc(d.get('horizon_months'))} months"),
        (
            "features used",
            esc(fmt(d.get("features_used")))
            + (f" (excluded: {esc(', '.join(excluded))})" if excluded else ""),
        ),
        ("split", f"{esc(facts.split['kind'])}: {esc(facts.split.get('reason', ''))}"),
        ("gap between windows", f"{esc(facts.split.get('gap_months', 'n/a'))} months"),
        ("seed", esc(d.get("seed", "n/a"))),
    ]
    windows = [
        f"<td>{esc(w['part'])}</td><td>{esc(w['first'])}</td><td>{esc(w['last'])}</td>"
        + cell(int(w["months"]), key=f"windows.{w['part']}.months")
        + cell(int(w["rows"]), key=f"windows.{w['part']}.rows")
        + cell(int(w["positives"]), key=f"windows.{w['part']}.positives")
        + cell(w["positives"] / w["rows"] if w["rows"] else float("nan"))
        for w in facts.windows
    ]
    return kv_table(rows) + html_table(
        ["window", "first as-of", "last as-of", "months", "rows", "closures", "base rate"],
        windows,
        "Windows (as-of month ends). Train fits the trees; selection chooses capacity, "
        "trees and calibration; OOT is only scored for this report.",
    )


def section_metrics(facts: ReportFacts, figures: Figures) -> str:
    """Point metrics per column: selection and OOT, model (served, training-mode) and truth."""
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
            cell(values.get(key, float("nan")), digits, f"{prefix}.{key}")
            for _, prefix, values in columns
            if values is not None
        )
        rows.append(f"<th>{esc(label)}</th>{cells}")
    table = html_table(["metric", *(c[0] for c in columns)], rows)
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
    return table + notes + figures_row(["roc", "ks"], figures)


def section_calibration(facts: ReportFacts, figures: Figures) -> str:
    """Calibration map, OOT ECE, reliability plot and decile table."""
    ev, model = facts.evaluation, facts.model
    oot = ev["oot"]["metrics"]
    cv = model.get("calibration_cv_log_loss") or {}
    cv_text = ", ".join(f"{esc(k)} {fmt(v, 5)}" for k, v in cv.items()) or "not compared"
    intro = (
        f"<p>Calibration map: <b>{esc(model.get('calibration', 'n/a'))}</b>, fitted on the "
        f"selection window (out-of-fold selection log loss per candidate: {cv_text}). OOT "
        f'ECE <span data-key="oot.model.ece">{fmt(oot["ece"], 5)}</span> against a base rate of '
        f"{fmt(oot['base_rate'])} (ECE / base rate {fmt(oot['ece_to_base_rate'], 3)}); mean "
        f"probability {fmt(oot['mean_p'])} vs observed rate {fmt(oot['base_rate'])}.</p>"
    )
    deciles = ev.get("oot_deciles") or []
    rows = [
        cell(int(r["decile"]) if not is_missing(r["decile"]) else float("nan"), 0)
        + cell(int(r["rows"]), 0)
        + cell(float(r["mean_p"]), 4)
        + cell(float(r["observed_rate"]), 4)
        + cell(int(r["positives"]), 0)
        + cell(float(r["cumulative_capture"]), 3)
        for r in deciles
    ]
    table = (
        html_table(
            ["decile (1 = riskiest)", "rows", "mean p", "observed rate", "closures", "capture"],
            rows,
            "OOT decile table (served probabilities, equal-frequency bins).",
        )
        if rows
        else "<p>No decile table.</p>"
    )
    side = '<div class="side">' + figure("reliability", figures) + table + "</div>"
    return intro + side + _band_table(facts.bands)


def _band_table(bands: Mapping | None) -> str:
    """Return the risk bands: edges, where they come from, and the OOT rows in each."""
    if not bands:
        return ""
    rows = [
        f"<td>{esc(r['band'])}</td>"
        + cell(float(r["low"]), 4)
        + cell(float(r["high"]), 4)
        + cell(int(r["rows"]), 0)
        + f'<td class="num">{pct(r["share"])}</td>'
        + cell(float(r["mean_p"]), 4)
        + cell(float(r["observed_rate"]), 4)
        for r in bands["table"]
    ]
    head = ["band", "p from", "p below", "OOT rows", "share", "mean p", "observed rate"]
    caption = "Risk bands on the OOT rows (served probabilities)."
    return f"<p>Risk bands: {esc(bands['note'])}.</p>" + html_table(head, rows, caption)


def section_ranking(facts: ReportFacts, figures: Figures) -> str:
    """Gini by month and by cause, model and truth."""
    ev = facts.evaluation
    model = ev["oot"]["gini_by_cause"]
    truth = ev["truth"]["gini_by_cause"] if "truth" in ev else {}
    rows = []
    for cause in sorted(set(model) | set(truth)):
        m, t = model.get(cause, float("nan")), truth.get(cause, float("nan"))
        comparable = not (is_missing(m) or is_missing(t)) and t >= TRUTH_RANKS
        ratio = m / t if comparable else float("nan")
        rows.append(
            f"<td>{esc(cause)}</td>"
            + cell(int(facts.positives_by_cause.get(cause, 0)), 0)
            + cell(m, 3, f"oot.model.gini_by_cause.{cause}")
            + cell(t, 3, f"oot.truth.gini_by_cause.{cause}" if truth else None)
            + cell(ratio, 3)
        )
    by_cause = html_table(
        ["cause", "OOT closures", "Gini model", "Gini truth", "model / truth"],
        rows,
        "Gini of each cause's closures against all open rows (other causes dropped); no "
        f"ratio where the truth's own Gini is below {TRUTH_RANKS} (hardly predictable).",
    )
    months = ev["oot"]["gini_by_month"]
    truth_months = ev["truth"]["gini_by_month"] if "truth" in ev else {}
    month_rows = [
        f"<td>{esc(month)}</td>"
        + cell(value, 4, f"oot.model.gini_by_month.{month}")
        + cell(truth_months.get(month, float("nan")), 4)
        for month, value in months.items()
    ]
    by_month = html_table(["as-of month", "Gini model", "Gini truth"], month_rows)
    slope = (
        f'<p>Gini slope over the OOT months: <span data-key="oot.gini_slope">'
        f"{fmt(ev['oot']['gini_slope'])}</span> per month.</p>"
    )
    return (
        figures_row(["gini_by_month", "gini_by_cause"], figures)
        + '<div class="side">'
        + by_month
        + by_cause
        + "</div>"
        + slope
    )


def section_stability(facts: ReportFacts, figures: Figures) -> str:
    """Score PSI with its light, month-by-month rates and the score distribution."""
    ev = facts.evaluation
    value = ev["oot"]["psi"]
    intro = (
        f'<p>Score PSI, train → OOT: <b data-key="oot.psi">{fmt(value)}</b> {light(value)} '
        f"(decile bins of the train probabilities; &lt; {PSI_GREEN:.2f} green, "
        f"{PSI_GREEN:.2f}-{PSI_RED:.2f} amber, &gt; {PSI_RED:.2f} red). Gini slope "
        f"{fmt(ev['oot']['gini_slope'])} per month.</p>"
    )
    rows = [
        f"<td>{esc(m['month'])}</td>"
        + cell(int(m["rows"]), 0)
        + cell(float(m["base_rate"]), 4)
        + cell(float(m["mean_p"]), 4)
        + cell(float(m.get("mean_truth", float("nan"))), 4)
        + cell(ev["oot"]["gini_by_month"].get(str(m["month"]), float("nan")), 4)
        for m in facts.monthly
    ]
    table = (
        html_table(
            ["as-of month", "rows", "observed rate", "mean probability", "mean truth", "Gini"],
            rows,
            "OOT month by month (served probabilities).",
        )
        if rows
        else ""
    )
    return intro + '<div class="side">' + table + figure("score_distribution", figures) + "</div>"


def section_features(facts: ReportFacts, figures: Figures) -> str:
    """Top features by gain share and contributions by family."""
    rows = [
        f"<td>{i}</td><td><code>{esc(f['name'])}</code></td><td>{esc(f.get('family', ''))}"
        f"</td><td>{esc(f.get('cause', ''))}</td>"
        + cell(float(f["gain_share"]), 3, f"features.{f['name']}.gain_share")
        + f'<td class="text">{esc(f.get("definition", ""))}</td>'
        for i, f in enumerate(facts.top_features, start=1)
    ]
    table = html_table(
        ["#", "feature", "family", "cause", "gain share", "meaning"],
        rows,
        "Top features by share of the model's total split gain.",
    )
    fam_rows = [
        f"<td>{esc(name)}</td>" + cell(float(value), 4, f"families.{name}")
        for name, value in sorted(facts.families.items(), key=lambda kv: -kv[1])
    ]
    families = html_table(
        ["family", "mean |contribution| (log-odds)"],
        fam_rows,
        "Contribution by feature family (TreeSHAP, OOT sample).",
    )
    return (
        table
        + figures_row(["feature_importance_gain", "contribution_by_family"], figures)
        + families
    )


def section_reasons(facts: ReportFacts, figures: Figures) -> str:
    """Reason accuracy, or why it was not measured."""
    acc = facts.reason_accuracy
    if acc is None:
        return (
            f'<p class="not-measured" data-key="reasons.not_measured">Not measured: '
            f"{esc(facts.reason_note)}. Run <code>python -m pipelines.evaluate_reasons "
            "--data DIR</code> to compare reason codes with recorded closure causes.</p>"
        )
    match = acc["match"]
    confusion = acc.get("confusion") or {}
    tops = list(dict.fromkeys(top for row in confusion.values() for top in row))
    rows = []
    for cause, row in confusion.items():
        total = sum(row.values())
        rows.append(
            f"<th>{esc(cause)}</th>"
            + cell(int(total), 0)
            + "".join(cell(int(row.get(t, 0)), 0) for t in tops)
            + f'<td class="num" data-key="reasons.match.{esc(cause)}">'
            f"{pct(match.get(cause))}</td>"
        )
    table = html_table(
        ["recorded cause", "closed rows", *(f"top: {t}" for t in tops), "match"],
        rows,
        "Rows: recorded closure cause; columns: the top cause of the reasons ((none): no "
        "feature raised the risk).",
    )
    return (
        f"<p>{esc(acc.get('how', ''))} Overall, the top cause of the reasons equals the "
        f'recorded cause for <b data-key="reasons.match.all">{pct(match.get("all"))}</b> of '
        f"{fmt(int(acc['rows']))} closed account-months.</p>" + table
    )


def section_limitations(facts: ReportFacts, figures: Figures) -> str:
    """List the known limitations."""
    items = "".join(f"<li>{esc(text)}</li>" for text in limitations(facts))
    return f"<ul>{items}</ul>"


BUILDERS = {
    "summary": section_summary,
    "data": section_data,
    "metrics": section_metrics,
    "calibration": section_calibration,
    "ranking": section_ranking,
    "stability": section_stability,
    "features": section_features,
    "reasons": section_reasons,
    "limitations": section_limitations,
}
