"""Hypothesis settings for the estimator hardening tests.

Two profiles are registered (never loaded globally, so other test modules keep their own
settings):

- ``wpeval-default``: derandomized (the same examples on every run), no deadline, no example
  database; used by ``make test``;
- ``wpeval-long``: the same with 15 times as many examples; chosen when the environment
  variable ``WPEVAL_HYPOTHESIS=long`` is set (e.g. ``WPEVAL_HYPOTHESIS=long .venv/bin/python
  -m pytest tests/estimators/test_hardening_estimators.py``).

Use :func:`fuzz_settings` as a decorator: ``@fuzz_settings(40)``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_FACTOR = 15
_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.function_scoped_fixture,
]

settings.register_profile(
    "wpeval-default",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=_HEALTH,
    print_blob=False,
)
settings.register_profile(
    "wpeval-long",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=_HEALTH,
    print_blob=False,
)


def is_long() -> bool:
    """True when ``WPEVAL_HYPOTHESIS=long``."""
    return os.environ.get("WPEVAL_HYPOTHESIS", "").strip().lower() == "long"


def fuzz_settings(n: int) -> settings:
    """Settings for ``n`` examples (``n * LONG_FACTOR`` with ``WPEVAL_HYPOTHESIS=long``)."""
    name = "wpeval-long" if is_long() else "wpeval-default"
    return settings(settings.get_profile(name), max_examples=n * (LONG_FACTOR if is_long() else 1))
