"""Input preparation shared by the design-based estimators (randomised, contrasts,
heterogeneity, ranking, randomisation inference).

Every public estimator validates its input here, at the entry, so that malformed data give a
clear :class:`~wpeval.exceptions.DataContractError` (column, rule, up to five ``person_id``
values), :class:`~wpeval.exceptions.DesignError` or
:class:`~wpeval.exceptions.ParameterError` instead of an exception from deep inside pandas or
numpy. The column and argument checks live in :mod:`wpeval._checks` and are re-exported
here:

- :func:`need_columns` -- a DataFrame, string column names, every column present, and no
  duplicated column label among those used (``data[col]`` would be a frame);
- :func:`numeric` -- a numeric (or bool) column as float64: no strings, no complex values,
  no infinities, and no value beyond :data:`MAX_ABS` in absolute size (squares and
  cross-products of such values overflow float64; rescale instead); missing values are kept
  as NaN for the caller to drop *and count*;
- :func:`group_codes` -- integer codes of block / cluster combinations, tolerant of mixed
  value types (sorted by their string form when the values cannot be compared);
- :func:`prepare` -- the two-condition comparison used by ``diff_in_means``,
  ``horvitz_thompson``, ``lin_adjusted``, ``iv_effect`` and ``randomisation_test``: keeps the
  two conditions, drops rows with a missing outcome / treatment / block / cluster and counts
  them in ``Prepared.dropped`` (reported in the result's ``extra["dropped"]``);
- :func:`covariate_matrix` -- covariates as R's ``model.matrix`` would code them, with the
  same finiteness and size checks;
- :func:`check_weights` -- inverse-probability weights that would overflow are refused;
- :func:`check_alpha`, :func:`check_seed` -- argument checks (ParameterError);
- :func:`flag_nonfinite` -- the last line of defence: a result whose estimate or standard
  error is not finite is returned only with a :class:`~wpeval.exceptions.StatisticalWarning`
  and a note in ``method["notes"]``.

The code is in three modules of this package: :mod:`~wpeval._prepare.comparison` (the
comparison), :mod:`~wpeval._prepare.covariates` and :mod:`~wpeval._prepare.tables` (result
rows); every name is importable from ``wpeval._prepare``.
"""

from __future__ import annotations

from wpeval._checks import (
    MAX_ABS,
    as_list,
    check_alpha,
    check_magnitude,
    check_seed,
    check_weights,
    compact_codes,
    examples,
    group_codes,
    need_columns,
    numeric,
)
from wpeval._prepare.comparison import (
    Prepared,
    block_examples,
    cell_stats,
    parse_conditions,
    prepare,
    subset,
)
from wpeval._prepare.covariates import covariate_matrix, drop_missing_cov
from wpeval._prepare.tables import (
    flag_nonfinite,
    method_dict,
    result_row,
    t_inference,
    term_name,
    wald_table,
)

__all__ = [
    "MAX_ABS",
    "as_list",
    "examples",
    "check_alpha",
    "check_seed",
    "check_weights",
    "need_columns",
    "numeric",
    "check_magnitude",
    "group_codes",
    "parse_conditions",
    "Prepared",
    "prepare",
    "term_name",
    "t_inference",
    "method_dict",
    "result_row",
    "block_examples",
    "subset",
    "cell_stats",
    "covariate_matrix",
    "drop_missing_cov",
    "flag_nonfinite",
    "compact_codes",
    "wald_table",
]
