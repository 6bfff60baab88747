"""Disclosure control: settings, rounding, primary and secondary suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wpeval.exceptions import ParameterError
from wpeval.publish import disclosure as sdc
from wpeval.publish.tables import crosstab


def with_margins(x: np.ndarray) -> np.ndarray:
    r, c = x.shape
    full = np.zeros((r + 1, c + 1))
    full[:r, :c] = x
    full[:r, c] = x.sum(axis=1)
    full[r, :c] = x.sum(axis=0)
    full[r, c] = x.sum()
    return full


def determined_cells(mask: np.ndarray) -> list[tuple[int, int]]:
    """Suppressed cells that the row and column equations pin down exactly: e_k lies in the
    row space of the equations restricted to the suppressed cells (independent linear
    algebra check, no graph theory)."""
    cells = np.argwhere(mask)
    if len(cells) == 0:
        return []
    R, C = mask.shape
    A = np.array(
        [[float(r == i) for r, _ in cells] for i in range(R)]
        + [[float(c == j) for _, c in cells] for j in range(C)]
    )
    rank = np.linalg.matrix_rank(A)
    out = []
    for k, cell in enumerate(cells):
        e = np.zeros(len(cells))
        e[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([A, e])) == rank:
            out.append(tuple(cell))
    return out


def test_resolve_disclosure():
    assert sdc.resolve_disclosure(True, synthetic=False) == sdc.Disclosure()
    assert sdc.resolve_disclosure(None, synthetic=True) == sdc.Disclosure()
    assert sdc.resolve_disclosure(False, synthetic=True) is None
    with pytest.raises(ParameterError, match="synthetic"):
        sdc.resolve_disclosure(False, synthetic=False)
    assert sdc.resolve_disclosure({"threshold": 5}, synthetic=False).threshold == 5
    with pytest.raises(ParameterError):
        sdc.Disclosure(base=0)


def test_round_half_up_and_primary():
    assert sdc.round_to_base([0, 4, 5, 14, 15, 25, 1234], 10).tolist() == [
        0,
        0,
        10,
        10,
        20,
        30,
        1230,
    ]
    assert sdc.round_to_base([2.5, 3.49], 1).tolist() == [3, 3]
    d = sdc.Disclosure()
    assert sdc.primary_suppression([0, 1, 9, 10, np.nan], d).tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert sdc.primary_suppression([0], sdc.Disclosure(suppress_zeros=True)).tolist() == [True]


def test_hand_worked_complementary_cells():
    # interior [[5, 20, 30], [40, 50, 60], [70, 80, 90]]; 5 < 10 is primary.
    # row 0 needs a second cell: smallest other interior is 20 at (0, 1);
    # column 0 needs a second: 40 at (1, 0); column 1 now has one: 50 at (1, 1).
    # Result: the 2 x 2 block (0..1, 0..1); no margin suppressed.
    full = with_margins(np.array([[5, 20, 30], [40, 50, 60], [70, 80, 90]]))
    m = sdc.suppress_table(full, sdc.primary_suppression(full, sdc.Disclosure()))
    assert sorted(map(tuple, np.argwhere(m))) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_bridge_is_broken():
    # Two protected 2 x 2 blocks joined by one cell (1, 2): every line has >= 2 suppressed
    # cells but (1, 2) is still determined (summing rows 0-1 minus columns 0-1 isolates it).
    full = with_margins(np.arange(1, 26).reshape(5, 5) * 10.0)
    mask = np.zeros_like(full, dtype=bool)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        mask[r, c] = True
    assert (1, 2) in determined_cells(mask)
    out = sdc.suppress_table(full, mask)
    assert out.sum() > mask.sum()
    assert determined_cells(out) == []


def test_protect_lines_one_dimensional():
    vals = np.array([3.0, 50, 60, 0, 113])  # last = total
    marg = np.array([False] * 4 + [True])
    m = sdc.protect_lines(
        vals, sdc.primary_suppression(vals, sdc.Disclosure()), [np.arange(5)], marg
    )
    # the complement is the smallest NON-ZERO interior cell (50), not the zero
    assert m.tolist() == [True, True, False, False, False]


@seed(20110601)
@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.integers(1, 7).flatmap(
        lambda r: st.integers(1, 6).flatmap(
            lambda c: arrays(np.int64, (r, c), elements=st.integers(0, 60))
        )
    )
)
def test_suppressed_cells_cannot_be_recovered(x):
    full = with_margins(x)
    primary = sdc.primary_suppression(full, sdc.Disclosure())
    m = sdc.suppress_table(full, primary)
    assert (m | ~primary).all()  # primary cells stay suppressed
    for line in list(m) + list(m.T):  # every row and column, margins included
        assert line.sum() == 0 or line.sum() >= 2
    assert determined_cells(m) == []


@seed(7)
@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(arrays(np.int64, (4, 3), elements=st.integers(0, 25)))
def test_crosstab_publishes_no_recoverable_cell(x):
    # a referral-level frame whose crosstab of cpa x payment_group is x
    rows = [
        (f"CPA0{i + 1}", f"g{j}") for i in range(4) for j in range(3) for _ in range(int(x[i, j]))
    ]
    if not rows:
        return
    df = pd.DataFrame(rows, columns=["cpa", "payment_group"])
    df["attached"] = True
    df["job_outcome_date"] = pd.NaT
    df["sustainment_payments"] = 0
    t = crosstab(df, "cpa", "payment_group", "referrals")
    m = t.suppressed.to_numpy()
    for line in list(m) + list(m.T):
        assert line.sum() == 0 or line.sum() >= 2
    assert determined_cells(m) == []
    assert t.published.isna().to_numpy()[m].all()
