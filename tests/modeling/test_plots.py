import logging

import numpy as np
import pytest

from risk_model.modeling import plots
from risk_model.modeling.metrics import decile_table


@pytest.fixture
def kept_figures(monkeypatch):
    figures = []
    real = plots._subplots

    def keep(*args, **kwargs):
        fig, ax = real(*args, **kwargs)
        figures.append((fig, ax))
        return fig, ax

    monkeypatch.setattr(plots, "_subplots", keep)
    return figures


def test_reliability_points_are_the_decile_tables_bins(tmp_path, kept_figures):
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.3, 5000)  # unsorted on purpose
    y = (rng.random(5000) < p).astype(float)
    plots.plot_reliability(tmp_path / "r.png", y, p)
    line = kept_figures[0][1].get_lines()[-1]
    table = decile_table(y, p)
    assert np.allclose(line.get_xdata(), table["mean_p"]) and np.allclose(
        line.get_ydata(), table["observed_rate"]
    )
    # The bins run riskiest first, like the decile table (the old plot binned unsorted rows).
    assert np.all(np.diff(line.get_xdata()) < 0)  # riskiest decile first
    assert (tmp_path / "r.png").stat().st_size > 0


def test_reliability_with_truth_draws_the_true_rate_of_the_same_bins(tmp_path, kept_figures):
    rng = np.random.default_rng(4)
    truth = rng.uniform(0, 0.3, 4000)
    p = np.clip(truth + rng.normal(0, 0.02, 4000), 0.001, 0.5)
    y = (rng.random(4000) < truth).astype(float)
    plots.plot_reliability(tmp_path / "r.png", y, p, truth=truth)
    *_, true_line, model_line = kept_figures[0][1].get_lines()
    table, true_table = decile_table(y, p), decile_table(truth, p)
    assert np.allclose(model_line.get_ydata(), table["observed_rate"])
    assert np.allclose(true_line.get_xdata(), table["mean_p"])
    assert np.allclose(true_line.get_ydata(), true_table["observed_rate"])


def test_month_and_cause_plots_log_nothing(tmp_path, caplog, kept_figures):
    caplog.set_level(logging.DEBUG, logger="matplotlib")
    months = {"model": {"2025-07-31": 0.7, "2025-08-31": 0.72}, "truth": {"2025-07-31": 0.75}}
    plots.plot_gini_by_month(tmp_path / "m.png", months)
    causes = {"model": {"cashout": 0.3, "overdue": 0.8}, "truth": {"cashout": 0.5}}
    plots.plot_gini_by_cause(tmp_path / "c.png", causes)
    noisy = [r for r in caplog.records if r.name.startswith("matplotlib") and r.levelno >= 20]
    assert noisy == []  # string x values used to log "categorical units" INFO lines
    month_ax, cause_ax = kept_figures[0][1], kept_figures[1][1]
    assert [t.get_text() for t in month_ax.get_xticklabels()] == ["2025-07-31", "2025-08-31"]
    assert list(month_ax.get_lines()[1].get_xdata()) == [0]  # truth: its one month
    assert [t.get_text() for t in cause_ax.get_xticklabels()] == ["cashout", "overdue"]
    heights = [[bar.get_height() for bar in bars] for bars in cause_ax.containers]
    assert heights[0] == [0.3, 0.8] and heights[1][0] == 0.5 and np.isnan(heights[1][1])


def test_reliability_of_rare_events_uses_log_axes(tmp_path, kept_figures):
    rng = np.random.default_rng(5)
    p = rng.beta(0.5, 60, 20000)
    y = (rng.random(20000) < p).astype(float)
    plots.plot_reliability(tmp_path / "r.png", y, p)
    ax = kept_figures[0][1]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plots.plot_reliability(tmp_path / "r2.png", y, np.clip(p, 0.2, 0.3))  # a narrow range
    assert kept_figures[1][1].get_xscale() == "linear"


def test_plots_leave_the_callers_matplotlib_alone(tmp_path):
    """Training draws no pyplot figure and keeps the backend (a notebook still draws inline)."""
    import subprocess
    import sys

    png = str(tmp_path / "ks.png")
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import matplotlib.pyplot as plt, numpy as np\n"
        "from risk_model.modeling import plots\n"
        f"plots.plot_ks({png!r}, np.array([0.0, 1, 0]), np.array([0.1, 0.9, 0.2]))\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert plt.get_fignums() == [], plt.get_fignums()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ks.png").stat().st_size > 0
