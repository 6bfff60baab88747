"""Input checks and stratum coding of the blocked survival contrasts
(:mod:`wpeval.estimators.survival.blocked`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval._prepare import group_codes
from wpeval.estimators.survival._common import as_list, prepare
from wpeval.exceptions import DataContractError, ParameterError


def _check_horizons(horizons) -> np.ndarray:
    try:
        h = np.atleast_1d(np.asarray(horizons, dtype=float))
    except (TypeError, ValueError):
        raise ParameterError(f"horizons must be positive numbers, got {horizons!r}") from None
    if h.ndim != 1 or len(h) == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ParameterError(f"horizons must be positive finite numbers, got {horizons!r}")
    return np.unique(h)


def _check_int(value, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _seed_sequence(seed) -> np.random.SeedSequence:
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ParameterError(
        f"seed must be None, a non-negative integer or a numpy SeedSequence, got {seed!r}"
    )


def _labels_sorted(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and sorted string labels of the values present."""
    codes, uniq = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64), [str(u) for u in uniq]


class _Data:
    """Validated arrays: durations, events, prime / stratum codes, CPA of each stratum."""

    def __init__(
        self,
        data,
        duration,
        event,
        cpa,
        blocks,
        prime_col,
        cpa_col,
        freq,
        id_col,
        timefix,
        what,
        prob_col=None,
    ):
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        blocks = as_list(blocks)
        if not blocks:
            raise ParameterError("blocks must name at least one stratum column")
        for c in [prime_col, cpa_col, *blocks]:
            if not isinstance(c, str):
                raise ParameterError(f"column names must be strings, got {c!r}")
        if "period" in blocks and "period" not in data.columns:
            from wpeval.data.design import add_period

            if "referral_date" not in data.columns:
                raise DataContractError(
                    "blocks include 'period', which is derived from referral_date; "
                    "the data have neither",
                    column="referral_date",
                    rule="missing_columns",
                )
            data = add_period(data, freq)
        if cpa is not None:
            if cpa_col not in data.columns:
                raise DataContractError(
                    f"column {cpa_col!r} is not in the data", column=cpa_col, rule="column_present"
                )
            wanted = as_list(cpa)
            have = set(data[cpa_col].dropna().astype(str).unique())
            missing = [c for c in wanted if str(c) not in have]
            if missing:
                raise ParameterError(f"CPA(s) {missing} not in the data")
            data = data[data[cpa_col].astype(str).isin([str(c) for c in wanted]).to_numpy()]
        used = list(dict.fromkeys([prime_col, cpa_col, *blocks]))
        prep = prepare(data, duration, event, used=used, id_col=id_col, what=what, timefix=timefix)
        frame = prep.frame
        self.duration = prep.duration
        self.event = prep.event.astype(np.float64)
        self.pcode, self.primes = _labels_sorted(frame[prime_col])
        self.stratum, self.n_strata = group_codes(frame, [cpa_col, *blocks])
        ccode, self.cpas = _labels_sorted(frame[cpa_col])
        s_cpa = np.full(self.n_strata, -1, dtype=np.int64)
        s_cpa[self.stratum] = ccode
        self.s_cpa = s_cpa
        self.blocks = blocks
        self.n_input, self.n_dropped, self.n_timefix = prep.n_input, prep.n_dropped, prep.n_timefix
        self.prob_varies = False
        if prob_col is not None and prob_col in frame.columns:
            pr = pd.to_numeric(frame[prob_col], errors="coerce").to_numpy(dtype=float)
            P = len(self.primes)
            cell = self.stratum * P + self.pcode
            ok = np.isfinite(pr)
            cnt = np.bincount(cell[ok], minlength=self.n_strata * P)
            mean = np.bincount(cell[ok], weights=pr[ok], minlength=self.n_strata * P)
            mean = mean / np.maximum(cnt, 1)
            self.prob_varies = bool(ok.any() and np.max(np.abs(pr[ok] - mean[cell[ok]])) > 1e-9)
