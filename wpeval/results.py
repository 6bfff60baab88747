"""Result objects shared by every estimator.

Every estimator returns an :class:`EffectTable`: an immutable record of one or more estimated
terms together with the method that produced them (estimator, standard-error type, confidence
interval method, the design assumed). Tables can therefore never be read without the method.

The layout follows linearmodels' results classes and pyfixest's ``tidy()``:

- ``.tidy()`` returns a DataFrame with the columns :data:`TIDY_COLUMNS`
  (``term, estimate, std_error, statistic, p_value, conf_low, conf_high, df, n``) plus any
  extra columns the estimator adds (e.g. ``p_adjusted``);
- ``.summary()`` returns a printable text block;
- ``_repr_html_`` renders the table and the method in a notebook;
- ``.to_dict()`` returns JSON-ready data for ``results.json``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd

TIDY_COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "df",
    "n",
]

#: keys every ``method`` mapping must carry
METHOD_KEYS = ("estimator", "se_type", "ci_method", "design")


def check_method(method: Mapping[str, Any], owner: str = "result") -> None:
    """Raise ValueError unless ``method`` names the estimator, SE type, CI method and design."""
    missing = [k for k in METHOD_KEYS if k not in method]
    if missing:
        raise ValueError(
            f"{owner}.method is missing {missing}; every result must name "
            "its estimator, SE type, CI method and design"
        )


def _jsonable(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers to plain JSON types (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if not math.isfinite(value) else value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


@dataclass(frozen=True)
class EffectTable:
    """Immutable table of estimates with the method that produced them.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per term. Must contain at least ``term`` and ``estimate``; missing standard
        columns of :data:`TIDY_COLUMNS` are added as NaN. A copy is stored.
    method : mapping
        Must hold ``estimator``, ``se_type``, ``ci_method`` and ``design`` (strings), and may
        hold more (``alpha``, ``blocks``, ``clusters``, ``weights``, ``notes``...).
    title : str, optional
        Short caption used by ``summary`` and ``_repr_html_``.
    extra : mapping, optional
        Anything else worth keeping (e.g. the randomisation distribution summary, variance
        components); must be JSON-serialisable after :func:`_jsonable`.
    """

    table: pd.DataFrame
    method: Mapping[str, Any]
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_method(self.method, "EffectTable")
        if "term" not in self.table.columns or "estimate" not in self.table.columns:
            raise ValueError("EffectTable.table needs 'term' and 'estimate' columns")
        tab = self.table.copy()
        for col in TIDY_COLUMNS:
            if col not in tab.columns:
                tab[col] = np.nan
        rest = [c for c in tab.columns if c not in TIDY_COLUMNS]
        tab = tab[TIDY_COLUMNS + rest].reset_index(drop=True)
        object.__setattr__(self, "table", tab)
        object.__setattr__(self, "method", MappingProxyType(dict(self.method)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    # -- access -----------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """Return a copy of the estimates as a DataFrame (standard columns first)."""
        return self.table.copy()

    def __getitem__(self, term: str) -> pd.Series:
        """Row of one term, e.g. ``res["Prime A - Prime B"]``."""
        rows = self.table[self.table["term"] == term]
        if rows.empty:
            raise KeyError(f"no term {term!r}; terms are {list(self.table['term'])}")
        return rows.iloc[0]

    @property
    def estimate(self) -> float:
        """The estimate when the table has exactly one term."""
        if len(self.table) != 1:
            raise ValueError("result has several terms; use .tidy() or res[term]")
        return float(self.table["estimate"].iloc[0])

    @property
    def std_error(self) -> float:
        """The standard error when the table has exactly one term."""
        if len(self.table) != 1:
            raise ValueError("result has several terms; use .tidy() or res[term]")
        return float(self.table["std_error"].iloc[0])

    # -- statsmodels / linearmodels-style accessors ----------------------------------------
    def _by_term(self, column: str) -> pd.Series:
        s = pd.Series(
            self.table[column].to_numpy(dtype=float),
            index=self.table["term"].to_numpy(),
            name=column,
        )
        s.index.name = "term"
        return s

    @property
    def params(self) -> pd.Series:
        """Estimates indexed by term (statsmodels' ``params``)."""
        return self._by_term("estimate")

    @property
    def bse(self) -> pd.Series:
        """Standard errors indexed by term (statsmodels' ``bse``)."""
        return self._by_term("std_error")

    @property
    def tvalues(self) -> pd.Series:
        """Test statistics indexed by term (``statistic`` in ``tidy()``)."""
        return self._by_term("statistic")

    @property
    def pvalues(self) -> pd.Series:
        """p-values indexed by term."""
        return self._by_term("p_value")

    @property
    def nobs(self):
        """Number of observations: an int when every term uses the same rows (or the estimator
        records ``extra["n_obs"]``), else a Series of ``n`` by term."""
        if "n_obs" in self.extra and self.extra["n_obs"] is not None:
            return int(self.extra["n_obs"])
        n = self._by_term("n")
        vals = n.dropna().unique()
        if len(vals) == 1:
            return int(vals[0])
        return n

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Confidence limits indexed by term, columns ``lower`` and ``upper``.

        With ``alpha`` ``None`` (or the result's own ``method["alpha"]``) the stored limits are
        returned, whatever their method. Another ``alpha`` is recomputed as
        ``estimate -/+ crit * std_error`` (t with the row's ``df`` when finite, else normal),
        which is right only for Wald-type intervals: other interval methods raise ValueError.
        """
        own = self.method.get("alpha")
        if alpha is None or (own is not None and abs(float(alpha) - float(own)) < 1e-15):
            out = pd.DataFrame(
                {
                    "lower": self.table["conf_low"].to_numpy(dtype=float),
                    "upper": self.table["conf_high"].to_numpy(dtype=float),
                },
                index=pd.Index(self.table["term"].to_numpy(), name="term"),
            )
            return out
        if not 0 < float(alpha) < 1:
            raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
        ci = str(self.method.get("ci_method", "")).lower()
        if not (ci.startswith("t") or "normal" in ci or "wald" in ci):
            raise ValueError(
                f"intervals of method {self.method.get('ci_method')!r} cannot be "
                "recomputed at another alpha; rerun the estimator with alpha="
            )
        from scipy import stats

        df = self.table["df"].to_numpy(dtype=float)
        z = stats.norm.ppf(1 - alpha / 2)
        with np.errstate(invalid="ignore"):
            crit = np.where(np.isfinite(df) & (df > 0), stats.t.ppf(1 - alpha / 2, df), z)
        est, se = self.params.to_numpy(), self.bse.to_numpy()
        return pd.DataFrame(
            {"lower": est - crit * se, "upper": est + crit * se},
            index=pd.Index(self.table["term"].to_numpy(), name="term"),
        )

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the estimates, indexed by term (statsmodels' ``cov_params``).

        Available where the estimator computes one (``extra["vcov"]``: regress, logit, Cox,
        Lin, IV); terms not estimated (collinear) are left out. Raises ValueError otherwise.
        """
        if "vcov" not in self.extra or self.extra["vcov"] is None:
            raise ValueError(
                f"{self.method['estimator']!r} does not compute a covariance "
                "matrix of its estimates"
            )
        terms = list(self.extra.get("vcov_terms") or self.table["term"])
        V = np.asarray(self.extra["vcov"], dtype=float).reshape(len(terms), len(terms))
        idx = pd.Index(terms, name="term")
        return pd.DataFrame(V, index=idx, columns=pd.Index(terms))

    def _export_frame(self) -> pd.DataFrame:
        return self.table.set_index("term")[[c for c in TIDY_COLUMNS if c != "term"]]

    def to_latex(self, digits: int = 4, **kwargs) -> str:
        """LaTeX tabular of the standard columns, captioned with the title and method
        (``pandas.DataFrame.to_latex``; extra keyword arguments are passed on)."""
        kwargs.setdefault("caption", f"{self.title}. {self.method_line()}".strip(". "))
        kwargs.setdefault("float_format", lambda v: f"{v:.{digits}g}")
        kwargs.setdefault("na_rep", "--")
        return self._export_frame().to_latex(**kwargs)

    def to_markdown(self, digits: int = 4, **kwargs) -> str:
        """Markdown table of the standard columns followed by the method line
        (``pandas.DataFrame.to_markdown``, i.e. tabulate)."""
        kwargs.setdefault("floatfmt", f".{digits}g")
        body = self._export_frame().to_markdown(**kwargs)
        head = f"**{self.title}**\n\n" if self.title else ""
        return f"{head}{body}\n\n*{self.method_line()}*\n"

    def method_line(self) -> str:
        """One line naming the method, e.g. for a table caption."""
        m = self.method
        return f"{m['estimator']}; SE: {m['se_type']}; CI: {m['ci_method']}; design: {m['design']}"

    # -- rendering --------------------------------------------------------------------------
    def summary(self, digits: int = 4) -> str:
        """Printable summary: title, method, then the table."""
        lines = [self.title] if self.title else []
        lines.append(self.method_line())
        for key in ("notes",):
            if key in self.method and self.method[key]:
                lines.append(f"notes: {self.method[key]}")
        with pd.option_context(
            "display.float_format",
            lambda v: f"{v:.{digits}g}",
            "display.width",
            200,
            "display.max_columns",
            30,
        ):
            lines.append(self.table.to_string(index=False))
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - thin
        return self.summary()

    def __repr__(self) -> str:
        return f"<EffectTable {self.title or self.method['estimator']}: {len(self.table)} term(s)>"

    def _repr_html_(self) -> str:
        cap = html.escape(self.title) if self.title else ""
        body = self.table.to_html(
            index=False, float_format=lambda v: f"{v:.4g}", na_rep="\u2013", escape=True
        )
        return (
            f"<div class='wpeval-result'><p><strong>{cap}</strong></p>{body}"
            f"<p><em>{html.escape(self.method_line())}</em></p></div>"
        )

    def to_dict(self) -> dict:
        """JSON-ready representation (NaN and inf become ``None``)."""
        return _jsonable(
            {
                "title": self.title,
                "method": dict(self.method),
                "table": self.table.to_dict(orient="records"),
                "extra": dict(self.extra),
            }
        )


def ci_normal(estimate, std_error, alpha: float = 0.05):
    """Normal-approximation confidence limits ``estimate -/+ z_{1-alpha/2} * std_error``."""
    from scipy import stats

    z = stats.norm.ppf(1 - alpha / 2)
    estimate = np.asarray(estimate, dtype=float)
    std_error = np.asarray(std_error, dtype=float)
    return estimate - z * std_error, estimate + z * std_error
