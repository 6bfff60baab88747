"""Exceptions and warnings raised by wpeval.

Every error names the column, the rule broken and (where rows are involved) a few offending
``person_id`` values, so an evaluator can find the problem in the source extract.
"""

from __future__ import annotations


class WpevalError(Exception):
    """Base class for all wpeval errors."""


class DataContractError(WpevalError, ValueError):
    """The input data breaks the referral-level data contract (see ``wpeval.data.schema``).

    Parameters
    ----------
    message : str
        Human-readable explanation.
    column : str, optional
        The column at fault.
    rule : str, optional
        Short name of the rule broken (e.g. ``"dates_in_order"``).
    examples : list, optional
        Up to five offending ``person_id`` values (or row labels).
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        rule: str | None = None,
        examples: list | None = None,
    ):
        self.column = column
        self.rule = rule
        self.examples = list(examples or [])[:5]
        parts = [message]
        if column is not None:
            parts.append(f"column: {column!r}")
        if rule is not None:
            parts.append(f"rule: {rule}")
        if self.examples:
            parts.append(f"e.g. {self.examples}")
        super().__init__("; ".join(parts))


class DesignError(WpevalError, ValueError):
    """The design cannot support the requested estimate (e.g. a stratum with one arm only,
    no variation in treatment, too few clusters)."""


class ParameterError(WpevalError, ValueError):
    """A notebook or function parameter has the wrong type or value."""


class StatisticalWarning(UserWarning):
    """A result was produced but should be read with care (few events, strata dropped,
    a variance that could not be estimated for some blocks, ...)."""
