"""Tests for wpeval.inference.multiplicity: statsmodels' multipletests and hand-worked
examples (working in the comments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from wpeval.exceptions import ParameterError
from wpeval.inference.multiplicity import adjust_pvalues, romano_wolf

P = np.array([0.01, 0.04, 0.03, 0.005])


def test_hand_worked_holm_bonferroni_bh():
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04;
    # running max -> 0.02, 0.03, 0.06, 0.06; back in input order:
    np.testing.assert_allclose(adjust_pvalues(P, "holm"), [0.03, 0.06, 0.06, 0.02])
    # Bonferroni: 4 p capped at 1
    np.testing.assert_allclose(adjust_pvalues(P, "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    # BH: m p / rank = 0.02, 0.02, 0.04, 0.04 (ranks 1..4); running min from the top keeps them
    np.testing.assert_allclose(adjust_pvalues(P, "bh"), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(adjust_pvalues(P, "none"), P)


@pytest.mark.parametrize(
    "ours,theirs", [("holm", "holm"), ("bonferroni", "bonferroni"), ("bh", "fdr_bh")]
)
def test_matches_statsmodels(ours, theirs):
    rng = np.random.default_rng(7)
    for _ in range(15):  # statsmodels' holm takes ~0.1 s per call
        p = rng.random(rng.integers(1, 40)) ** 2
        p[: len(p) // 3] = p[0]  # ties
        np.testing.assert_allclose(
            adjust_pvalues(p, ours), multipletests(p, method=theirs)[1], rtol=0, atol=1e-15
        )


def test_groups_adjust_within_each_family():
    g = ["a", "a", "b", "b"]
    out = adjust_pvalues(P, "holm", groups=g)
    np.testing.assert_allclose(out[:2], multipletests(P[:2], method="holm")[1])
    np.testing.assert_allclose(out[2:], multipletests(P[2:], method="holm")[1])


def test_series_keeps_index_and_nan_refused():
    s = pd.Series(P, index=list("wxyz"))
    out = adjust_pvalues(s, "fdr_bh")
    assert list(out.index) == list("wxyz")
    with pytest.raises(ParameterError, match="missing"):
        adjust_pvalues([0.1, np.nan], "holm")
    with pytest.raises(ParameterError, match="method"):
        adjust_pvalues(P, "hochberg")


# Romano-Wolf, worked by hand (two-sided, |.| of everything):
# observed t = (3.0, 2.0, 0.5); null draws (D = 4):
#   d1 (1.0, 2.5, 0.2)  d2 (0.5, 0.4, 3.5)  d3 (2.0, 1.0, 0.1)  d4 (0.3, 0.2, 0.6)
# step 1 (H1, t = 3.0): max over H1..H3 per draw = 2.5, 3.5, 2.0, 0.6 -> 1 draw >= 3.0
#   -> p = (1 + 1)/5 = 0.4   (without +1: 1/4)
# step 2 (H2, t = 2.0): max over H2, H3 = 2.5, 3.5, 1.0, 0.6 -> 2 draws -> 3/5 = 0.6 (2/4)
# step 3 (H3, t = 0.5): H3 = 0.2, 3.5, 0.1, 0.6 -> 2 draws -> 0.6 (2/4); monotone: 0.6
OBS = np.array([3.0, -2.0, 0.5])
NULL = np.array([[1.0, 2.5, 0.2], [0.5, -0.4, 3.5], [-2.0, 1.0, 0.1], [0.3, 0.2, -0.6]])


def test_romano_wolf_hand_worked():
    np.testing.assert_allclose(romano_wolf(OBS, NULL), [0.4, 0.6, 0.6])
    np.testing.assert_allclose(romano_wolf(OBS, NULL, plus_one=False), [0.25, 0.5, 0.5])
    # hypotheses given in another order get the same adjusted values
    perm = [2, 0, 1]
    np.testing.assert_allclose(romano_wolf(OBS[perm], NULL[:, perm]), [0.6, 0.4, 0.6])
    out = adjust_pvalues([0.2, 0.3, 0.5], "romano-wolf", null_stats=NULL, observed_stats=OBS)
    np.testing.assert_allclose(out, [0.4, 0.6, 0.6])


def test_romano_wolf_one_sided_and_bounds():
    # greater: t = (3, -2, 0.5); step 1 max over all = 2.5, 3.5, 1.0, 0.3 -> 1 draw -> 0.4
    # step 2 (H3, t = 0.5): max(H2, H3) = 2.5, 3.5, 1.0, 0.2 -> 3 draws -> 0.8
    # step 3 (H2, t = -2): max = 2.5, 3.5, 1.0, 0.2 all >= -2 -> 1.0
    np.testing.assert_allclose(romano_wolf(OBS, NULL, alternative="greater"), [0.4, 1.0, 0.8])
    rng = np.random.default_rng(1)
    null = rng.normal(size=(2000, 6)) @ np.linalg.cholesky(0.5 * np.eye(6) + 0.5).T
    obs = np.array([3.2, 2.5, 1.0, 0.3, -2.8, 0.0])
    rw = romano_wolf(obs, null)
    raw = (1 + (np.abs(null) >= np.abs(obs)).sum(axis=0)) / 2001
    bonf = np.minimum(raw * 6, 1)
    assert (rw >= raw - 1e-12).all()
    assert (rw <= bonf + 1e-12).all()  # uses the dependence: never above Bonferroni
    with pytest.raises(ParameterError, match="shape"):
        romano_wolf(obs, null[:, :3])
