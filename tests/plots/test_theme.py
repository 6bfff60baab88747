"""One seaborn theme, colours by role only, seaborn-drawn interval plots, and wpeval.plots as an
attribute of the package."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns

from wpeval.plots import models, theme

PLOTS = Path(__file__).resolve().parents[2] / "wpeval" / "plots"


def test_theme_sets_the_colourblind_palette():
    theme.theme()
    cycle = [mcolors.to_hex(c) for c in plt.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert cycle == [mcolors.to_hex(c) for c in sns.color_palette("colorblind")]
    assert theme.colour("estimate") == sns.color_palette("colorblind")[0]
    with pytest.raises(KeyError, match="roles are"):
        theme.colour("crimson")


def test_no_colour_is_named_outside_the_theme():
    literal = re.compile(
        r"""\b(colou?rs?|facecolors?|edgecolors?|ecolor|c)\s*=\s*["'](?!none["'])"""
        r"""|["']#[0-9a-fA-F]{3,8}["']|["']tab:"""
    )
    offenders = []
    for path in PLOTS.glob("*.py"):
        if path.name == "theme.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if literal.search(line):
                offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert offenders == []


def test_plot_estimates_draws_the_stored_intervals():
    tab = pd.DataFrame(
        {
            "term": ["a", "b"],
            "estimate": [0.1, -0.2],
            "std_error": [0.05, 0.1],
            "conf_low": [0.0, -0.5],
            "conf_high": [0.3, 0.05],
        }
    )
    ax = models.plot_estimates(tab, reference=None)
    points, *bars = ax.lines  # seaborn: the points, then one line per interval (with caps)
    np.testing.assert_allclose(points.get_xdata(), [0.1, -0.2])
    limits = [(np.nanmin(b.get_xdata()), np.nanmax(b.get_xdata())) for b in bars]
    np.testing.assert_allclose(limits, [(0.0, 0.3), (-0.5, 0.05)])
    plt.close("all")


def test_plots_is_an_attribute_after_import_wpeval():
    code = "import wpeval; print(wpeval.plots.__name__, callable(wpeval.plots.theme))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(PLOTS.parents[1]), "PATH": ""},
    )
    assert out.stdout.split() == ["wpeval.plots", "True"]
