"""Shared fixtures: a small synthetic programme generated once per test session.

``synthetic_programme`` and ``synthetic_referrals`` are session-scoped and must not be
mutated; ask for ``referrals`` to get a fresh copy you may change.
"""

from __future__ import annotations

import pytest

from wpeval.data.synthetic import DEFAULT_SEED, make_programme

N_SMALL = 20_000


@pytest.fixture(scope="session")
def synthetic_programme():
    """``SyntheticProgramme`` with 20,000 referrals, default seed and config (read-only)."""
    return make_programme(N_SMALL, seed=DEFAULT_SEED)


@pytest.fixture(scope="session")
def synthetic_referrals(synthetic_programme):
    """The referral frame of ``synthetic_programme`` (read-only: copy before changing)."""
    return synthetic_programme.referrals


@pytest.fixture
def referrals(synthetic_referrals):
    """A fresh, modifiable copy of the 20,000 synthetic referrals."""
    return synthetic_referrals.copy()


N_LARGE = 300_000


@pytest.fixture(scope="session")
def large_programme():
    """``SyntheticProgramme`` with 300,000 referrals (default seed/config) for calibration and
    design checks (about 1 s to generate; read-only)."""
    return make_programme(N_LARGE, seed=DEFAULT_SEED)
