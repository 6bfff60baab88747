"""Plots of power curves and diagnosands draw what their results hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import ParameterError
from wpeval.inference.diagnosis import Diagnosis
from wpeval.inference.power import power
from wpeval.plots.diagnosis import plot_diagnosands, plot_power_curves


def _frame():
    rows = [("C1", "D0", "2012Q1", "A")] * 300 + [("C1", "D0", "2012Q1", "B")] * 100
    rows += [("C2", "D1", "2012Q1", "A")] * 50 + [("C2", "D1", "2012Q1", "B")] * 50
    rows += [("C2", "D1", "2012Q1", "C")] * 50
    return pd.DataFrame(rows, columns=["cpa", "district", "period", "prime"])


def test_power_curves_one_line_per_contrast_from_size_to_one():
    pw = power(_frame(), 0.3)
    ax = plot_power_curves(pw, effects=np.linspace(0, 1, 11))
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(lines) == 4  # C1: A - B; C2: A - B, A - C, B - C
    for ln in lines:
        y = ln.get_ydata()
        assert y[0] == pytest.approx(0.05) and y[-1] > 0.99  # size at 0, power 1 far out
    with pytest.raises(ParameterError):
        plot_power_curves(pd.DataFrame())


def test_diagnosands_plot_marks_each_estimator_and_contrast():
    tab = pd.DataFrame(
        {
            "estimator": ["a", "a", "b", "b"],
            "cpa": ["C1", "C2"] * 2,
            "term": ["A - B"] * 4,
            "coverage": [0.95, 0.9, 0.94, 0.5],
            "coverage_mc_se": [0.01] * 4,
        }
    )
    d = Diagnosis(
        tab, {"estimator": "x", "se_type": "x", "ci_method": "x", "design": "x", "alpha": 0.05}
    )
    ax = plot_diagnosands(d)
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    xs = sorted(float(x) for ln in markers for x in ln.get_xdata())
    assert xs == sorted(tab["coverage"])  # one marker per estimator x contrast
    assert len(ax.get_yticklabels()) == 2
    assert ax.get_lines()[-1].get_xdata()[0] == pytest.approx(0.95)  # reference 1 - alpha
    with pytest.raises(ParameterError):
        plot_diagnosands(d, diagnosand="nope")
