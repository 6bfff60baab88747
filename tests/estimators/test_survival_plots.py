"""Smoke tests for the survival plots: they draw what the result holds, with no pyplot state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import cox, cumulative_incidence, kaplan_meier
from wpeval.exceptions import ParameterError
from wpeval.plots.survival import (
    plot_cumulative_incidence,
    plot_curve_panels,
    plot_hazard_ratios,
    plot_survival,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 400
    t = np.ceil(rng.exponential(30, n))
    c = np.ceil(rng.uniform(5, 90, n))
    return pd.DataFrame(
        {
            "time": np.minimum(t, c),
            "event": (t <= c).astype(int),
            "cause": np.where(t <= c, rng.integers(1, 3, n), 0),
            "g": rng.choice(["a", "b"], n),
            "x": rng.normal(size=n),
        }
    )


def test_plot_survival_draws_each_curve_and_at_risk_numbers(data):
    km = kaplan_meier(data, "time", "event", group="g")
    ax = plot_survival(km, at_risk_times=[0, 30, 60])
    assert len(ax.get_lines()) == 2
    texts = [t.get_text() for t in ax.texts]
    assert "Number at risk" in texts and "a" in texts  # short row labels (g= dropped)
    risk = km.at_risk([0, 30, 60])
    assert f"{risk['n_risk'].iloc[0]:,}" in texts
    # the step line ends at the last KM value of the first curve
    y = ax.get_lines()[0].get_ydata()
    assert y[-1] == pytest.approx(km.tidy().query("curve == 'g=a'")["surv"].iloc[-1])


def test_plot_survival_rejects_unknown_curves(data):
    km = kaplan_meier(data, "time", "event", group="g")
    with pytest.raises(ParameterError):
        plot_survival(km, curves=["g=z"])


def test_plot_cif_and_forest(data):
    cif = cumulative_incidence(data, "time", "cause")
    ax = plot_cumulative_incidence(cif, cause_labels={1: "job entry", 2: "other exit"})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["job entry", "other exit"]
    res = cox(data, "time", "event", ["x", "g"])
    ax = plot_hazard_ratios(res)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "g[T.b]"]


def test_plot_curve_panels_one_axes_per_result_with_shared_y(data):
    km = kaplan_meier(data, "time", "event", group="g")
    km_all = kaplan_meier(data, "time", "event")
    axes = plot_curve_panels([km, km_all], ["by group", "all"])
    assert len(axes) == 2
    assert [ax.get_title() for ax in axes] == ["by group", "all"]
    assert len(axes[0].get_lines()) == 2 and len(axes[1].get_lines()) == 1
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    with pytest.raises(ParameterError, match="one title per result"):
        plot_curve_panels([km, km_all], ["only one"])
