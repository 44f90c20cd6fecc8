import numpy as np
import pytest

from risk_model.modeling import plots
from risk_model.modeling.metrics import decile_table


@pytest.fixture
def kept_figures(monkeypatch):
    figures = []
    real = plots.plt.subplots

    def keep(*args, **kwargs):
        fig, ax = real(*args, **kwargs)
        figures.append((fig, ax))
        return fig, ax

    monkeypatch.setattr(plots.plt, "subplots", keep)
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
