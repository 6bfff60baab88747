"""wpeval.plots.value: tornado plot and cost-effectiveness plane draw what they say."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from wpeval.exceptions import ParameterError
from wpeval.plots.value import plot_ce_plane, plot_tornado


def _sens():
    return pd.DataFrame(
        {
            "parameter": ["baseline: all groups", "tariff esa_new: job_outcome", "tiny"],
            "result_low": [4000.0, 4700.0, 4870.0],
            "result_high": [math.nan, 5050.0, 4880.0],
            "base_result": 4877.0,
            "swing": [math.inf, 350.0, 10.0],
        }
    )


def test_tornado_bars_and_missing_end():
    ax = plot_tornado(_sens())
    # two bars per assumption (low and high end), largest swing at the top
    assert len(ax.patches) == 6
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "baseline: all groups" and labels[0] == "tiny"
    assert any("no additional outcomes" in t.get_text() for t in ax.texts)
    assert ax.get_xlabel().startswith("cost per additional job outcome")
    # the low bar of the top row runs from the central result to 4,000
    low = next(p for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - 2) < 1e-9)
    assert low.get_x() == pytest.approx(4877) and low.get_width() == pytest.approx(-877)


def test_tornado_needs_sensitivity_table():
    with pytest.raises(ParameterError, match="lacks"):
        plot_tornado(pd.DataFrame({"parameter": ["x"]}))


def test_ce_plane_points_and_quadrant_axes():
    tab = pd.DataFrame(
        {
            "term": ["A - B", "A - C"],
            "cpa": ["X", "Y"],
            "d_cost": [100.0, -50.0],
            "se_cost": [10.0, 20.0],
            "d_effect": [0.05, 0.02],
            "se_effect": [0.01, 0.02],
        }
    )
    ax = plot_ce_plane(tab)
    xs = sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() == "o")
    assert xs == pytest.approx([0.02, 0.05])
    assert {t.get_text() for t in ax.texts} == {"A - B", "A - C"}
    assert plot_ce_plane(tab, cpa="X").get_legend().get_texts()[0].get_text() == "X"
    with pytest.raises(ParameterError, match="no prime pairs"):
        plot_ce_plane(tab, cpa="Z")


def test_tornado_cuts_exploding_ratios_and_labels_them():
    sens = pd.DataFrame(
        {
            "parameter": ["baseline", "fee"],
            "result_low": [5000.0, 9000.0],
            "result_high": [1.7e6, 11000.0],
            "base_result": 10000.0,
            "swing": [1.695e6, 2000.0],
        }
    )
    ax = plot_tornado(sens, clip=4)
    widths = [p.get_x() + p.get_width() for p in ax.patches]
    assert max(widths) == pytest.approx(40000)  # cut at 4 x the central 10,000
    assert any("1,700,000" in t.get_text() for t in ax.texts)
