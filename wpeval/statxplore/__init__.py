"""The Work Programme's official statistics from DWP's Stat-Xplore.

- :func:`read` reads a Stat-Xplore ``/table`` JSON response (any database) or a tidy CSV into
  a tidy long frame; :func:`work_programme` maps a Work Programme database to
  ``(table, month, cpa, prime, payment_group, ..., value)`` through an editable label lookup
  (``wpeval/config/statxplore_contracts.yaml``);
- :func:`monthly_tables` computes the same monthly flow tables from referral-level data;
- :func:`reconcile` compares the two cell by cell within a tolerance for Stat-Xplore's noise and
  rounding (:class:`NoiseModel`);
- :func:`flow_rates` gives descriptive performance measures from the flows alone;
- :func:`fetch` posts a saved query to the Stat-Xplore API (``wpeval statxplore fetch``).

Submodules are imported lazily, as in the top-level package.
"""

from __future__ import annotations

import importlib

_API = {
    "read": "reader", "read_json": "reader", "read_csv": "reader", "parse_response": "reader",
    "work_programme": "workprogramme", "load_lookup": "workprogramme",
    "write_lookup": "workprogramme", "parse_months": "workprogramme",
    "ContractLookup": "workprogramme",
    "monthly_tables": "tables",
    "NoiseModel": "noise",
    "reconcile": "reconcile", "flag_cells": "reconcile", "Reconciliation": "reconcile",
    "to_response": "fixtures", "demo_responses": "fixtures", "scale_cells": "fixtures",
    "flow_rates": "flows",
    "fetch": "fetch",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
