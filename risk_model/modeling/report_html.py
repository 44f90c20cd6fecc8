"""HTML building blocks of the model report: escaping, figures, tables, style sheet.

Pure string functions used by :mod:`risk_model.modeling.report`; numbers are formatted in
one place (:func:`fmt`) so the page and its tests agree on decimals and "n/a".
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence

PSI_GREEN, PSI_RED = 0.10, 0.25  # the usual traffic lights: < 0.10 green, > 0.25 red

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


def esc(value: object) -> str:
    """Escape text for HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def is_missing(value: object) -> bool:
    """``None`` or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: object, digits: int = 4) -> str:
    """Format a figure: fixed ``digits`` decimals, thousands separators for counts, n/a."""
    if is_missing(value):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (digits == 0 and isinstance(value, float)):
        return f"{round(float(value)):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: object, digits: int = 1) -> str:
    """Format a share as a percentage (n/a when missing)."""
    return "n/a" if is_missing(value) else f"{float(value):.{digits}%}"  # type: ignore[arg-type]


def key_attr(key: str | None) -> str:
    """Return the ``data-key`` attribute naming where a figure comes from (or nothing)."""
    return f' data-key="{esc(key)}"' if key else ""


def cell(value: object, digits: int = 4, key: str | None = None) -> str:
    """Return one ``<td>``: the formatted figure, right-aligned when numeric, its ``data-key``."""
    attr = key_attr(key)
    css = ' class="num"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return f"<td{css}{attr}>{esc(fmt(value, digits))}</td>"


def html_table(head: Sequence[str], rows: Sequence[str], caption: str = "") -> str:
    """Return a table: header cells ``head``, body rows ``rows`` (inner HTML), a caption."""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f"<table>{cap}<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """Return a two-column table of label (text) and value (inner HTML)."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def figure(name: str, figures: Mapping[str, bytes]) -> str:
    """Return a ``<figure>`` with the PNG inline, or a placeholder when it is missing."""
    caption = FIGURE_CAPTIONS.get(name, name)
    data = figures.get(name)
    if not data:
        return (
            f'<figure class="missing" data-figure="{esc(name)}"><div>figure not available'
            f"</div><figcaption>{esc(caption)}</figcaption></figure>"
        )
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure data-figure="{esc(name)}"><img alt="{esc(caption)}" '
        f'src="data:image/png;base64,{encoded}"><figcaption>{esc(caption)}</figcaption></figure>'
    )


def figures_row(names: Sequence[str], figures: Mapping[str, bytes]) -> str:
    """Return figures side by side."""
    return '<div class="figures">' + "".join(figure(n, figures) for n in names) + "</div>"


def psi_light(value: float) -> str:
    """Traffic light of a PSI: ``green`` (< 0.10), ``amber`` (0.10-0.25), ``red`` (> 0.25)."""
    if is_missing(value):
        return "n/a"
    if value < PSI_GREEN:
        return "green"
    return "amber" if value <= PSI_RED else "red"


def light(value: float) -> str:
    """Return a traffic-light badge for a PSI."""
    colour = psi_light(value)
    return f'<span class="light {colour}">{colour}</span>'


CSS = """
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

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
