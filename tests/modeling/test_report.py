"""The model report page: sections, self-containment, numbers traced to the evaluation."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from html_check import assert_self_contained
from report_page import parse

from risk_model.modeling import plots
from risk_model.modeling.evaluation import oot_evaluation
from risk_model.modeling.metrics import evaluate
from risk_model.modeling.report import (
    SECTIONS,
    ReportFacts,
    limitations,
    psi_light,
    render_report,
)

CAUSES = np.array(["overdue", "cashout", "dormancy"])
MONTHS = np.array(["2025-07-31", "2025-08-31", "2025-09-30"], dtype=object)


def _world(seed: int = 0, n: int = 6000):
    rng = np.random.default_rng(seed)
    truth = rng.beta(1, 25, n)
    y = (rng.random(n) < truth).astype(float)
    prob = np.clip(truth * np.exp(rng.normal(0, 0.5, n)), 1e-4, 0.99)
    cause = rng.choice(CAUSES, n)
    period = MONTHS[rng.integers(0, 3, n)]
    return y, prob, truth, cause, period


@pytest.fixture(scope="module")
def facts() -> ReportFacts:
    y, prob, truth, cause, period = _world()
    evaluation = oot_evaluation(
        y,
        prob,
        period=period,
        cause=cause,
        prob_train=np.random.default_rng(1).beta(1, 25, 4000),
        raw=np.log(prob / (1 - prob)),
        prob_training_mode=prob * 1.01,
        truth=truth,
    ) | {"table_as_of": "2024-11-30"}
    ys, ps, ts, _, _ = _world(seed=2, n=3000)
    return ReportFacts(
        version="20260101T000000000000Z-abcdef01-beef",
        created_at="2026-01-01 00:00 UTC",
        data={
            "source": "/data/world",
            "accounts": 20000,
            "closures": 6460,
            "truth": True,
            "snapshots": "month ends 2023-01-31 .. 2025-12-31",
            "snapshot_rows": 469839,
            "horizon_months": 3,
            "features_used": 71,
            "features_excluded": [],
            "seed": 7,
        },
        split={"kind": "time", "reason": "33 labelled months", "gap_months": 2},
        windows=[
            {
                "part": "train",
                "first": "2023-01-31",
                "last": "2024-11-30",
                "months": 23,
                "rows": 334113,
                "positives": 13000,
            },
            {
                "part": "selection",
                "first": "2025-02-28",
                "last": "2025-04-30",
                "months": 3,
                "rows": 40862,
                "positives": 1500,
            },
            {
                "part": "OOT",
                "first": "2025-07-31",
                "last": "2025-09-30",
                "months": 3,
                "rows": len(y),
                "positives": int(y.sum()),
            },
        ],
        model={
            "capacity": "depth 4, 11 leaves",
            "best_iteration": 176,
            "calibration": "identity",
            "calibration_cv_log_loss": {"identity": 0.1557, "sigmoid": 0.1558},
        },
        selection=evaluate(ys, ps),
        selection_truth=evaluate(ys, ts),
        evaluation=evaluation,
        monthly=[
            {
                "month": m,
                "rows": int((period == m).sum()),
                "base_rate": float(y[period == m].mean()),
                "mean_p": float(prob[period == m].mean()),
                "mean_truth": float(truth[period == m].mean()),
            }
            for m in MONTHS
        ],
        positives_by_cause={c: int(((cause == c) & (y > 0)).sum()) for c in CAUSES},
        top_features=[
            {
                "name": "dpd_now",
                "family": "overdue",
                "cause": "overdue",
                "definition": "Days past due <now>",
                "gain_share": 0.41,
            },
            {
                "name": "count_trend_3v3",
                "family": "activity",
                "cause": "dormancy",
                "definition": "Trend of purchases",
                "gain_share": 0.17,
            },
        ],
        families={"overdue": 0.31, "activity": 0.22, "cashout": 0.05, "profile": 0.04},
        reason_accuracy={
            "rows": 120,
            "match": {"overdue": 0.9, "cashout": 0.5, "all": 0.8},
            "confusion": {
                "overdue": {"overdue": 90, "cashout": 0, "(none)": 10},
                "cashout": {"overdue": 10, "cashout": 10, "(none)": 0},
            },
            "how": "Closed OOT account-months, served features.",
        },
        production_table_as_of="2025-12-31",
        run_id="0123456789abcdef",
    )


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("figures")
    y, prob, truth, _, _ = _world()
    path = plots.plot_reliability(out / "reliability.png", y, prob, truth=truth)
    return {"reliability": path.read_bytes(), "roc": path.read_bytes()}


def _expected(facts: ReportFacts, key: str) -> float:
    """The number a ``data-key`` names, looked up in the facts and the evaluation object."""
    ev, parts = facts.evaluation, key.split(".")
    sources = {
        ("selection", "model"): facts.selection,
        ("selection", "truth"): facts.selection_truth,
        ("oot", "model"): ev["oot"]["metrics"],
        ("oot", "training_mode"): ev.get("oot_training_mode"),
        ("oot", "truth"): ev.get("truth", {}).get("metrics"),
    }
    if key in ("oot.psi", "oot.gini_slope"):
        return ev["oot"][parts[1]]
    if key == "gini_ratio":
        return ev["gini_ratio"]
    if parts[0] == "distinct":
        return ev["distinct"][parts[1]]
    if parts[0] == "windows":
        window = next(w for w in facts.windows if w["part"] == parts[1])
        return window[parts[2]]
    if parts[0] == "features":
        return next(f for f in facts.top_features if f["name"] == parts[1])[parts[2]]
    if parts[0] == "families":
        return facts.families[parts[1]]
    if parts[0] == "reasons":
        return facts.reason_accuracy["match"][parts[2]] * 100  # shown as a percentage
    if len(parts) == 4:  # oot.<model|truth>.gini_by_<cause|month>.<name>
        part = "oot" if parts[1] == "model" else "truth"
        return ev[part][parts[2]][parts[3]]
    return sources[(parts[0], parts[1])][parts[2]]


def _shown(text: str) -> tuple[float, float]:
    """Parse a shown figure: value and the rounding its decimals allow."""
    if text == "n/a":
        return math.nan, 0.0
    number = text.rstrip("%").replace(",", "")
    decimals = len(number.split(".")[1]) if "." in number else 0
    return float(number), 0.5 * 10.0**-decimals + 1e-12


def test_every_section_is_there_in_order(facts, figures):
    page = render_report(facts, figures)
    parsed = parse(page)
    assert list(parsed.sections) == [key for key, _ in SECTIONS]
    for key, title in SECTIONS:
        assert f'<section id="{key}"><h2>{title}</h2>' in page.replace("&amp;", "&")
        assert f'href="#{key}"' in page


def test_no_external_reference(facts, figures):
    page = render_report(facts, figures)
    assert_self_contained(page)  # also: it parses and closes every element
    parsed = parse(page)
    for tag, attributes in parsed.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base")
        for name, value in attributes.items():
            if name == "src":
                assert value.startswith("data:image/png;base64,"), value[:40]
            if name == "href":
                assert value.startswith("#"), value
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page).replace("img-src data:", "")
    assert not re.search(r"https?:|//|url\(|@import|data:", text)
    csp = next(a for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp["content"] and "img-src data:" in csp["content"]
    images = [a["src"] for t, a in parsed.tags if t == "img"]
    assert len(images) == 2  # the two figures given; the others are placeholders
    assert page.count("figure not available") == len(plots_named(page)) - 2


def plots_named(page: str) -> list[str]:
    return re.findall(r'data-figure="([a-z_]+)"', page)


def test_every_keyed_number_matches_the_evaluation(facts, figures):
    keyed = parse(render_report(facts, figures)).keyed
    must = {
        "oot.model.gini",
        "oot.model.ece",
        "oot.model.ece_to_base_rate",
        "oot.truth.gini",
        "oot.training_mode.gini",
        "selection.model.gini",
        "selection.truth.gini",
        "selection.model.log_loss",
        "oot.psi",
        "oot.gini_slope",
        "gini_ratio",
        "oot.model.gini_by_cause.cashout",
        "oot.truth.gini_by_cause.cashout",
        "oot.model.gini_by_month.2025-08-31",
        "windows.OOT.rows",
        "windows.train.positives",
        "features.dpd_now.gain_share",
        "families.overdue",
        "reasons.match.all",
        "reasons.match.cashout",
        "distinct.probabilities_per_10k",
    }
    assert must <= set(keyed), must - set(keyed)
    for key, text in keyed.items():
        shown, tolerance = _shown(text)
        expected = float(_expected(facts, key))
        if math.isnan(expected):
            assert math.isnan(shown), key
        else:
            assert abs(shown - expected) <= tolerance, (key, text, expected)


def test_psi_light_and_limitations(facts):
    assert [psi_light(v) for v in (0.05, 0.1, 0.25, 0.26, math.nan)] == [
        "green",
        "amber",
        "amber",
        "red",
        "n/a",
    ]
    text = " ".join(limitations(facts))
    assert "refitted at the end of the history (2025-12-31)" in text
    assert "table of 2024-11-30" in text
    assert "One seed (7)" in text and f"{facts.evaluation['oot']['metrics']['ece']:.5f}" in text
    assert "in-sample" in text
    assert "synthetic world" in text


def test_missing_reason_accuracy_says_not_measured(facts, figures):
    bare = dataclasses.replace(facts, reason_accuracy=None, reason_note="no closure with a cause")
    parsed = parse(render_report(bare, figures))
    section = parsed.sections["reasons"]
    assert "Not measured: no closure with a cause" in section
    assert "pipelines.evaluate_reasons" in section
    assert "reasons.match.all" not in parsed.keyed
    assert (
        "Reason accuracy is not measured (no closure with a cause)"
        in parsed.sections["limitations"]
    )
    assert "not measured" in parsed.sections["summary"]


def test_the_footer_says_where_every_number_is(facts):
    assert "<code>report.json</code> of the same MLflow run" in render_report(facts)
    untracked = render_report(dataclasses.replace(facts, run_id=None))
    assert "MLflow run" not in untracked and "<code>spec.json</code> of the artefact" in untracked


def test_without_truth_the_truth_columns_go_and_the_limits_say_so(facts, figures):
    evaluation = {k: v for k, v in facts.evaluation.items() if k not in ("truth", "gini_ratio")}
    bare = dataclasses.replace(
        facts,
        evaluation=evaluation,
        selection_truth=None,
        split={"kind": "account", "reason": "single as-of month", "gap_months": 0},
        production_table_as_of=None,
    )
    page = render_report(bare, {})
    parsed = parse(page)
    assert not any(key.startswith(("oot.truth", "selection.truth")) for key in parsed.keyed)
    assert "gini_ratio" not in parsed.keyed
    limits = parsed.sections["limitations"]
    assert "No true probabilities" in limits
    assert "split is by account, not by time" in limits
    assert "refitted at the end of the history" not in limits
    assert page.count("figure not available") == len(plots_named(page))


def test_text_is_escaped(facts):
    hostile = dataclasses.replace(
        facts, data=dict(facts.data, source='<script>alert("x")</script>'), version="v<1>"
    )
    page = render_report(hostile)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Days past due &lt;now&gt;" in page


def test_nan_figures_show_as_not_available(facts):
    evaluation = dict(facts.evaluation)
    evaluation["oot"] = dict(evaluation["oot"], psi=float("nan"))
    parsed = parse(render_report(dataclasses.replace(facts, evaluation=evaluation)))
    assert parsed.keyed["oot.psi"] == "n/a"
    assert "amber" not in parsed.sections["limitations"]


def test_no_model_to_truth_ratio_for_a_cause_the_truth_cannot_rank(facts):
    evaluation = dict(facts.evaluation)
    evaluation["truth"] = dict(evaluation["truth"])
    evaluation["truth"]["gini_by_cause"] = dict(
        evaluation["truth"]["gini_by_cause"], cashout=0.05, overdue=0.5
    )
    page = render_report(dataclasses.replace(facts, evaluation=evaluation))
    rows = {
        row.split("</td>")[0]: row
        for row in re.findall(r"<tr><td>([a-z]+</td>.*?)</tr>", page)
        if "oot.model.gini_by_cause" in row
    }
    model = evaluation["oot"]["gini_by_cause"]
    assert rows["cashout"].endswith('<td class="num">n/a</td>')
    assert rows["overdue"].endswith(f'<td class="num">{model["overdue"] / 0.5:.3f}</td>')
    limits = " ".join(limitations(dataclasses.replace(facts, evaluation=evaluation)))
    assert "Cashout closures are ranked weakly" in limits and "hardly predictable" in limits


def test_the_calibration_section_lists_the_bands_with_their_oot_rates(facts, figures):
    from risk_model.modeling.bands import band_table, training_scale
    from risk_model.modeling.config import ScaleConfig

    y, prob, _, _, _ = _world()
    scale = training_scale(ScaleConfig(), prob, y)
    table = band_table(scale, prob, y)
    bands = {"note": scale.band_note(), "table": table}
    page = render_report(dataclasses.replace(facts, bands=bands), figures)
    assert "Risk bands: band edges " in page and "derived from 6,000 served" in page
    assert "Risk bands on the OOT rows" in page
    lowest, highest = table[0], table[-1]
    assert highest["band"] == "very_high" and highest["observed_rate"] > lowest["observed_rate"]
    assert sum(r["rows"] for r in table) == len(y)


def test_a_report_without_bands_has_no_band_table(facts, figures):
    # Negative twin: facts without bands (older callers) render no band table.
    assert "Risk bands on the OOT rows" not in render_report(facts, figures)
