"""wpeval.plots.aft: the AFT projection is drawn dashed over the solid Kaplan-Meier steps, and
the AIC comparison as bars."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.plots.aft import plot_aft_compare, plot_retention_projection


@pytest.fixture(scope="module")
def projection(synthetic_referrals):
    from wpeval.data.outcomes import job_retention_times
    from wpeval.estimators.survival.projection import project_retention

    jobs = job_retention_times(synthetic_referrals)
    d = jobs["retention_days"].to_numpy()
    cut = jobs.assign(
        retention_days=np.minimum(d, 300),
        retention_event=np.where(d > 300, 0, jobs["retention_event"]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return project_retention(cut, by="payment_group", horizon_days=730)


def test_projection_dashed_over_solid_km(projection):
    curves = ["payment_group=jsa_18_24", "payment_group=jsa_25_plus"]
    ax = plot_retention_projection(projection, curves=curves)
    styles = [ln.get_linestyle() for ln in ax.lines]
    assert styles.count("--") == 2 and styles.count("-") == 2  # AFT dashed, KM solid
    assert styles.count(":") == 1  # the shared end of follow-up (300 days), before the horizon
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert max(dashed[0].get_xdata()) == pytest.approx(730)
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    assert max(solid[0].get_xdata()) <= 300
    assert dashed[0].get_color() == solid[0].get_color()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["jsa_18_24", "jsa_25_plus"]
    assert texts[-1].endswith("AFT (projected)")
    assert ax.get_xlim() == (0, 730)


def test_projection_plot_on_given_axes_and_refusals(projection):
    ax = Figure().add_subplot(1, 1, 1)
    assert plot_retention_projection(projection, ax, ci=False, km_ci=True) is ax
    with pytest.raises(ParameterError, match="too many"):
        plot_retention_projection(projection, max_curves=2)
    with pytest.raises(ParameterError, match="project_retention"):
        plot_retention_projection(projection.curves)


def test_aft_compare_bars(projection):
    tab = projection.comparison
    ax = plot_aft_compare(tab)
    assert len(ax.patches) == len(tab)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(tab["distribution"])
    with pytest.raises(ParameterError):
        plot_aft_compare(tab.drop(columns="delta_aic"))


def test_projection_legend_uses_given_names(projection):
    curves = ["payment_group=jsa_18_24", "payment_group=jsa_25_plus"]
    ax = plot_retention_projection(projection, curves=curves, names={"jsa_18_24": "JSA 18-24"})
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["JSA 18-24", "jsa_25_plus"]
