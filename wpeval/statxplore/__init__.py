"""The Work Programme's official statistics from DWP's Stat-Xplore.

- :func:`read` reads a Stat-Xplore ``/table`` JSON response (any database) or a tidy CSV into
  a tidy long frame; :func:`work_programme` maps a Work Programme database to
  ``(table, month, cpa, prime, payment_group, ..., value)`` through an editable label lookup
  (``wpeval/config/statxplore_contracts.yaml``);
- :func:`monthly_tables` computes the same monthly flow tables from referral-level data (also
  by age band, gender and disability, :mod:`wpeval.statxplore.demographics`);
  :func:`tables_like` computes them with a published frame's tables and breakdowns;
- :func:`reconcile` compares the two cell by cell within a tolerance for Stat-Xplore's noise and
  rounding (:class:`NoiseModel`);
- :func:`flow_rates` gives descriptive performance measures from the flows alone;
- :func:`fetch` posts a saved query to the Stat-Xplore API (``wpeval statxplore fetch``).

``import wpeval`` stays fast: this subpackage is loaded on first use of ``wpeval.statxplore``.
Its functions are imported eagerly here because two of them share their module's name
(``reconcile``, ``fetch``), which a lazy attribute lookup would shadow with the module.
"""

from __future__ import annotations

from wpeval.statxplore.fetch import fetch
from wpeval.statxplore.fixtures import break_extract, demo_responses, scale_cells, to_response
from wpeval.statxplore.flows import flow_rates
from wpeval.statxplore.lookup import programme_from_data
from wpeval.statxplore.noise import NoiseModel
from wpeval.statxplore.reader import parse_response, read, read_csv, read_json
from wpeval.statxplore.reconcile import Reconciliation, flag_cells, reconcile
from wpeval.statxplore.tables import monthly_tables, tables_like
from wpeval.statxplore.workprogramme import (
    ContractLookup,
    load_lookup,
    parse_months,
    read_work_programme,
    work_programme,
    write_lookup,
)

__all__ = [
    "ContractLookup",
    "NoiseModel",
    "Reconciliation",
    "break_extract",
    "demo_responses",
    "fetch",
    "flag_cells",
    "flow_rates",
    "load_lookup",
    "monthly_tables",
    "parse_months",
    "parse_response",
    "programme_from_data",
    "read",
    "read_csv",
    "read_json",
    "read_work_programme",
    "reconcile",
    "scale_cells",
    "tables_like",
    "to_response",
    "work_programme",
    "write_lookup",
]
