"""The monitoring report: one self-contained HTML page from a :class:`MonitorResult`.

Everything is inside the page: the style sheet is inline and the plots are PNG images in
``data:`` URIs (matplotlib's object API, no pyplot state, no display), so the file can be
mailed or archived and opens without a network. No script, no link, no external URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from risk_model.monitoring import Drift, FeatureDrift, MonitorResult
from risk_model.monitoring_lights import (
    AMBER,
    GREEN,
    GREY,
    MISSING_AMBER,
    MISSING_RED,
    PSI_AMBER,
    PSI_RED,
    RED,
)

COLOURS = {GREEN: "#1a7f37", AMBER: "#b7791f", RED: "#c53030", GREY: "#6b7280"}
REFERENCE_COLOUR, BATCH_COLOUR = "#94a3b8", "#2563eb"
TOP_FEATURES = 25  # bars in the CSI plot
DETAIL_FEATURES = 6  # features whose bins are drawn
FEATURE_COLUMNS = (
    "feature",
    "CSI",
    "light",
    "missing (reference)",
    "missing (batch)",
    "change (pp)",
    "light",
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #1f2933; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d8dee4; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d8dee4; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f4f6; }
td.name, th.name { text-align: left; font-family: ui-monospace, monospace; }
.light { display: inline-block; min-width: 3.6rem; padding: 0.05rem 0.5rem;
         border-radius: 0.8rem; color: #fff; font-weight: 600; text-align: center; }
.verdict { font-size: 1.2rem; padding: 0.2rem 1rem; }
.meta { color: #52606d; }
.note { background: #f8fafc; border-left: 4px solid #94a3b8; padding: 0.4rem 0.8rem; }
img { max-width: 100%; height: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; }
"""


def _badge(light: str, extra: str = "") -> str:
    colour = COLOURS.get(light, COLOURS[GREY])
    return f'<span class="light {extra}" style="background:{colour}">{html.escape(light)}</span>'


def _png(fig: Any) -> str:
    """Return an ``<img>`` holding the figure as an inline PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # object API: no global pyplot state

    return Figure(figsize=(width, height), layout="constrained")


def _bars(ax: Any, drift: Drift, title: str) -> None:
    x = np.arange(len(drift.labels))
    ax.bar(x - 0.2, drift.reference, 0.4, label="reference", color=REFERENCE_COLOUR)
    ax.bar(x + 0.2, drift.current, 0.4, label="batch", color=BATCH_COLOUR)
    ax.set_xticks(x, drift.labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{title}: PSI {drift.value:.3f} ({drift.light})", fontsize=9)
    ax.legend(loc="upper right", fontsize=7)


def _distribution_plot(drift: Drift, title: str) -> str:
    fig = _figure(7.0, 3.4)
    _bars(fig.add_subplot(), drift, title)
    return _png(fig)


def _csi_plot(features: Sequence[FeatureDrift]) -> str:
    ranked = sorted((f for f in features if f.csi_lit), key=lambda f: -(f.csi or 0.0))
    ranked = ranked[:TOP_FEATURES][::-1]
    fig = _figure(7.5, 0.25 * len(ranked) + 1.2)
    ax = fig.add_subplot()
    ax.barh(
        [f.name for f in ranked],
        [f.csi for f in ranked],
        color=[COLOURS[f.csi_light] for f in ranked],
    )
    for threshold in (PSI_AMBER, PSI_RED):
        ax.axvline(threshold, color="#52606d", linestyle=":", linewidth=1)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("CSI (dotted: 0.10 and 0.25)")
    ax.set_title(f"Largest lit CSI ({len(ranked)} of {len(features)} features)", fontsize=9)
    return _png(fig)


def _detail_plots(features: Sequence[FeatureDrift]) -> str:
    ranked = sorted((f for f in features if f.csi_lit), key=lambda f: -(f.csi or 0.0))
    shown = ranked[:DETAIL_FEATURES]
    if not shown:
        return ""
    rows = -(-len(shown) // 2)
    fig = _figure(10.0, 3.0 * rows)
    for i, feature in enumerate(shown):
        assert feature.bins is not None
        _bars(fig.add_subplot(rows, 2, i + 1), feature.bins, feature.name)
    return _png(fig)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], names: int = 1) -> str:
    """Return an HTML table; the first ``names`` columns are left-aligned (cells are HTML)."""
    cells = "".join(
        f'<th class="name">{h}</th>' if i < names else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="name">{c}</td>' if i < names else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _bin_table(drift: Drift) -> str:
    rows = [
        [html.escape(label), _pct(r), _pct(c), f"{100 * (c - r):+.1f}"]
        for label, r, c in zip(drift.labels, drift.reference, drift.current, strict=True)
    ]
    return _table(["bin", "reference", "batch", "change (pp)"], rows)


def _feature_rows(features: Sequence[FeatureDrift]) -> list[list[str]]:
    rank = {RED: 0, AMBER: 1, GREEN: 2, GREY: 3}
    ordered = sorted(features, key=lambda f: (rank[f.light], -(f.csi or 0.0), f.name))
    return [
        [
            html.escape(f.name),
            _csi_cell(f),
            _badge(f.csi_light),
            _pct(f.missing_reference),
            _pct(f.missing_current),
            f"{100 * f.missing_change:+.1f}",
            _badge(f.missing_light),
        ]
        for f in ordered
    ]


def _csi_cell(feature: FeatureDrift) -> str:
    if feature.csi is None:
        return html.escape(feature.note or "-")
    return _value_cell(feature.csi, feature.note)


def _value_cell(value: float, note: str | None) -> str:
    """Return a figure, with the note saying why its light is grey under it (if any)."""
    shown = f"{value:.3f}"
    return shown if note is None else f"{shown}<br><small>{html.escape(note)}</small>"


def _summary(result: MonitorResult) -> str:
    rows = [
        [label, _value_cell(drift.value, drift.note), _badge(drift.light)]
        for label, drift in (
            ("score PSI", result.score),
            ("band shift (band-mix PSI)", result.bands),
        )
    ]
    if result.features:
        for kind, attr in (("CSI", "csi_light"), ("missing-rate shift", "missing_light")):
            lights = [getattr(f, attr) for f in result.features]
            found = [x for x in (RED, AMBER, GREEN, GREY) if x in lights]
            counts = ", ".join(f"{lights.count(x)} {x}" for x in found)
            worst = next((x for x in (RED, AMBER, GREEN) if x in lights), GREY)
            rows.append([f"{kind} ({len(lights)} features)", counts, _badge(worst)])
    return _table(["figure", "value", "light"], rows)


def render_html(result: MonitorResult, *, source: dict[str, str] | None = None) -> str:
    """Render the monitoring report as one self-contained HTML page.

    Parameters
    ----------
    result : MonitorResult
        The figures.
    source : dict, optional
        Extra lines for the header (e.g. ``scores``, ``histories``, ``model``), shown as
        given (escaped).

    Returns
    -------
    str
        The page (UTF-8 text).
    """
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>closure-risk monitoring: {e(result.model_version)} as of {e(result.as_of)}"
        "</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>closure-risk monitoring</h1>",
        f"<p>{_badge(result.light, 'verdict')}</p>",
        _header(result, source or {}),
        "<h2>Summary</h2>",
        _summary(result),
        f'<p class="note">{e(_lights_text(result))}</p>',
        "<h2>Score distribution</h2>",
        "<p>Calibrated probabilities of the batch in the reference's quantile bins.</p>",
        _distribution_plot(result.score, "probability"),
        _bin_table(result.score),
        "<h2>Band mix</h2>",
        _distribution_plot(result.bands, "risk band"),
        _bin_table(result.bands),
        "<h2>Features</h2>",
        *_features_section(result),
    ]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f'<p class="meta">Written {stamp} by python -m pipelines.monitor.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _header(result: MonitorResult, source: dict[str, str]) -> str:
    ref = result.reference
    meta = [
        ("model", result.model_version),
        ("batch as of", result.as_of),
        ("scored accounts", f"{result.rows:,}"),
        (
            "reference",
            f"{ref['window']} window, {ref['rows']:,} rows, as of {ref['as_of'][0]} to "
            f"{ref['as_of'][1]} (stored in the model at training)",
        ),
        *source.items(),
    ]
    lines = "".join(f"<div><b>{html.escape(k)}</b>: {html.escape(str(v))}</div>" for k, v in meta)
    return f'<div class="meta">{lines}</div>'


def _lights_text(result: MonitorResult) -> str:
    return (
        f"PSI, CSI and band shift: green below {PSI_AMBER:.2f}, amber {PSI_AMBER:.2f} to "
        f"{PSI_RED:.2f}, red above {PSI_RED:.2f}. Missing-rate shift (batch minus reference "
        f"share of missing values, either direction): green below {100 * MISSING_AMBER:.0f} pp, "
        f"amber {100 * MISSING_AMBER:.0f} to {100 * MISSING_RED:.0f} pp, red above "
        f"{100 * MISSING_RED:.0f} pp. CSI is computed over the values present; grey: no value "
        "present on one side, or a calendar feature. Any red makes the command exit with "
        f"status 1. Sampling alone gives a score PSI of about {result.noise_psi:.3f} for a "
        f"batch of {result.rows:,} against {result.reference['rows']:,} reference rows."
    )


def _features_section(result: MonitorResult) -> list[str]:
    if not result.features:
        return [
            '<p class="note">Features were not compared: pass the histories the batch was '
            "scored from (<code>--histories FILE</code>) for the CSI and missing rates.</p>"
        ]
    return [
        f"<p>Features of {result.feature_rows:,} scored accounts, rebuilt at the batch's "
        "as-of date by the predictor's feature path.</p>",
        _csi_plot(result.features),
        _detail_plots(result.features),
        _table(FEATURE_COLUMNS, _feature_rows(result.features)),
    ]
