"""Payments by results: the tariff (``tariff``), the payment engine (``engine``), the columns
it reads (``columns``) and its result (``result``).

``wpeval.payments`` is both this package and the public function: calling the package calls
:func:`wpeval.payments.engine.payments`, so ``wpeval.payments(df)`` and
``wpeval.payments.load_tariff`` both work.
"""

from __future__ import annotations

import sys

from wpeval.payments.columns import attached_flags, sustainment_counts
from wpeval.payments.engine import payments
from wpeval.payments.result import PaymentsResult
from wpeval.payments.tariff import (
    ITEMS,
    STATUSES,
    SUSTAINMENT_DAYS,
    Tariff,
    default_tariff_dict,
    load_tariff,
)

__all__ = [
    "ITEMS",
    "STATUSES",
    "SUSTAINMENT_DAYS",
    "PaymentsResult",
    "Tariff",
    "attached_flags",
    "default_tariff_dict",
    "load_tariff",
    "payments",
    "sustainment_counts",
]


class _CallableModule(type(sys.modules[__name__])):
    """Calling the package ``wpeval.payments`` calls :func:`payments`."""

    def __call__(self, *args, **kwargs):
        return payments(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
