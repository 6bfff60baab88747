"""Analytic power of the within-CPA prime comparisons: which differences can the design detect?

For a contrast between primes A and B of one CPA, the blocked difference in means weights the
within-stratum differences by the stratum's share of the pair's referrals,
``w_s = (n_As + n_Bs) / N``, so (Neyman) its standard error under an outcome variance
``sigma_s^2`` in stratum s is

``SE = sqrt( sum_s w_s^2 sigma_s^2 (1/n_As + 1/n_Bs) )``,

which uses exactly the stratum sizes and the allocation shares (``n_As / (n_As + n_Bs)``) of
the design: unequal shares and strata of unequal size both widen it. The minimum detectable
effect (Bloom 1995, "Minimum detectable effects: a simple way to report the statistical power
of experimental designs", Evaluation Review 19(5); Bloom 2005 for blocked designs) is

``MDE = (t_{1-alpha/2, df} + t_{power, df}) x SE``   (two-sided; ``t_{1-alpha, df}`` one-sided)

with ``df = N - 2 x strata`` (the degrees of freedom of the blocked estimator's t interval), and
the power for a true effect ``delta`` is, in the same normal-shift approximation,

``power(delta) = F_df(|delta|/SE - t_{1-alpha/2, df}) + F_df(-|delta|/SE - t_{1-alpha/2, df})``.

For a binary outcome with rate ``pi`` the variance is ``pi (1 - pi)`` (conservative: blocking on
strata with different rates lowers the within-stratum variance); with an ``outcome`` column the
within-stratum sample variance of the data is used instead.

Stratum sizes and shares come from a referral-level frame (the realised counts), or, for a
programme still to be simulated, from the generator's configuration: one programme of ``n``
referrals is generated and each referral contributes its *allocation probabilities* to the
expected counts of A and B in its stratum (``E n_As = sum_i P_i(A)``), so the MDE reflects the
designed shares rather than one random allocation.

Hand-written because statsmodels' power classes (``NormalIndPower``, ``TTestIndPower``) take one
sample-size ratio for a two-group comparison and know no strata.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from wpeval._prepare import as_list, check_alpha, group_codes, need_columns, numeric
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.inference._tables import DesignTable

__all__ = ["PowerTable", "mde_multiplier", "power", "power_at"]


def mde_multiplier(
    df: float, alpha: float = 0.05, target: float = 0.8, two_sided: bool = True
) -> float:
    """Bloom's multiplier ``M = t_{1-alpha/2, df} + t_{target, df}`` (``t_{1-alpha}`` one-sided;
    ``df = inf`` gives the normal quantiles)."""
    q = 1 - alpha / 2 if two_sided else 1 - alpha
    return float(stats.t.ppf(q, df) + stats.t.ppf(target, df))


def power_at(effect, std_error, df, alpha: float = 0.05, two_sided: bool = True):
    """Power to detect ``effect`` (array-like) with an estimator of standard error
    ``std_error`` and a t(df) test at level ``alpha`` (normal-shift approximation:
    ``F(|d|/se - q) + F(-|d|/se - q)`` two-sided, ``F(d/se - q)`` one-sided)."""
    shift = np.asarray(effect, dtype=float) / np.asarray(std_error, dtype=float)
    q = stats.t.ppf(1 - alpha / (2 if two_sided else 1), df)
    if two_sided:
        return stats.t.cdf(np.abs(shift) - q, df) + stats.t.cdf(-np.abs(shift) - q, df)
    return stats.t.cdf(shift - q, df)


class PowerTable(DesignTable):
    """Result of :func:`power`: one row per contrast.

    Columns: ``cpa, term, prime, reference, n_prime, n_reference, n_strata, n_strata_dropped,
    sigma, std_error, df, mde`` and, when an effect is given, ``effect, power``.
    """

    def curve(
        self, effects: Sequence[float] | np.ndarray | None = None, n_points: int = 41
    ) -> pd.DataFrame:
        """Power as a function of the true effect, for every contrast (long format).

        Parameters
        ----------
        effects : array-like, optional
            Effects at which to evaluate; default ``n_points`` values from 0 to 2 x the largest
            MDE.
        n_points : int, default 41

        Returns
        -------
        DataFrame
            ``cpa, term, effect, power``.
        """
        t = self.table
        if effects is None:
            effects = np.linspace(0, 2 * float(t["mde"].max()), n_points)
        effects = np.asarray(effects, dtype=float)
        alpha = float(self.method["alpha"])
        two = self.method["alternative"] == "two-sided"
        rows = []
        for r in t.itertuples(index=False):
            pw = power_at(effects, r.std_error, r.df, alpha, two)
            rows.append(
                pd.DataFrame({"cpa": r.cpa, "term": r.term, "effect": effects, "power": pw})
            )
        return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------ inputs
def _from_config(design, n: int | None, seed: int):
    """A generated programme and per-row expected allocation weights of each prime."""
    from wpeval.data.synthetic import SyntheticProgramme, make_programme

    if isinstance(design, SyntheticProgramme):
        prog = design
    else:
        if n is None:
            raise ParameterError("power() from a configuration needs n (referrals to simulate)")
        prog = make_programme(int(n), seed, design)
    return prog


def _expected_weights(prog, frame: pd.DataFrame, primes: Sequence[str]) -> dict:
    """Per row, the allocation probability of each prime in ``primes`` (0 if not offered)."""
    from wpeval.data.design import add_period

    keys = ["district", "period", "payment_group"]
    d = prog.design
    f = frame if "period" in frame.columns else add_period(frame)
    out = {}
    left = pd.DataFrame({k: f[k].astype(str).to_numpy() for k in keys})
    for p in primes:
        sub = d[d["prime"] == p][keys + ["allocation_prob"]]
        m = left.merge(sub.astype({k: str for k in keys}), on=keys, how="left")
        out[p] = m["allocation_prob"].fillna(0.0).to_numpy()
    return out


def _contrast_list(
    frame: pd.DataFrame, cpa_col: str, prime_col: str, cpas, contrasts: pd.DataFrame | None
) -> list[tuple[str, str, str]]:
    if contrasts is not None:
        need_columns(contrasts, ["cpa", "prime", "reference"])
        out = [
            (str(r.cpa), str(r.prime), str(r.reference)) for r in contrasts.itertuples(index=False)
        ]
    else:
        pairs = (
            frame[[cpa_col, prime_col]]
            .astype(str)
            .drop_duplicates()
            .sort_values([cpa_col, prime_col])
        )
        out = []
        for c, sub in pairs.groupby(cpa_col, sort=True):
            out += [(c, a, b) for a, b in itertools.combinations(sub[prime_col].tolist(), 2)]
    if cpas is not None:
        keep = set(as_list(cpas))
        out = [x for x in out if x[0] in keep]
    if not out:
        raise DesignError("no within-CPA contrast to assess (a CPA needs two primes)")
    return out


def _sigma2(outcome_rate, outcome, sub, stratum, S, cpa):
    """Per-stratum outcome variance: pi (1 - pi) from a rate, or the data's variance."""
    if outcome is not None:
        y = numeric(sub, outcome)
        ok = ~np.isnan(y)
        cnt = np.bincount(stratum[ok], minlength=S).astype(float)
        m = np.bincount(stratum[ok], weights=y[ok], minlength=S) / np.maximum(cnt, 1)
        ss = np.bincount(stratum[ok], weights=(y[ok] - m[stratum[ok]]) ** 2, minlength=S)
        pooled = ss.sum() / max(cnt.sum() - np.count_nonzero(cnt), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 1, ss / (cnt - 1), pooled)
    rate = outcome_rate.get(cpa) if isinstance(outcome_rate, Mapping) else outcome_rate
    if rate is None:
        raise ParameterError(f"outcome_rate has no value for CPA {cpa!r}")
    rate = float(rate)
    if not 0 < rate < 1:
        raise ParameterError(f"outcome_rate must be strictly between 0 and 1, got {rate}")
    return np.full(S, rate * (1 - rate))


def _one_contrast(sub, wa, wb, sigma2_fn, blocks):
    """SE of the blocked difference for one pair from per-row weights of A and B."""
    stratum, S = group_codes(sub, blocks)
    if (stratum < 0).any():
        raise DesignError(f"missing values in the block columns {blocks}")
    na = np.bincount(stratum, weights=wa, minlength=S)
    nb = np.bincount(stratum, weights=wb, minlength=S)
    s2 = sigma2_fn(stratum, S)
    ok = (na > 0) & (nb > 0)
    N = float((na + nb)[ok].sum())
    if N == 0:
        raise DesignError("no stratum holds both primes")
    w = (na + nb) / N
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(ok, w**2 * s2 * (1 / na + 1 / nb), 0.0)
    sigma = float(np.sqrt(np.sum(np.where(ok, (na + nb) * s2, 0.0)) / N))
    return (
        float(np.sqrt(var.sum())),
        N - 2 * int(ok.sum()),
        float(na[ok].sum()),
        float(nb[ok].sum()),
        int(ok.sum()),
        int((~ok & ((na + nb) > 0)).sum()),
        sigma,
    )


def _effect_of(effect, truth, cpa: str, term: str):
    """The assumed true effect of one contrast (None: no effect given)."""
    if truth is not None:
        return float(truth.get((cpa, term), np.nan))
    if isinstance(effect, Mapping):
        return effect.get((cpa, term), np.nan)
    return None if effect is None else float(effect)


def _row(c, a, b, fit, alpha, target_power, alternative, eff) -> dict:
    """One contrast's row: sizes, SE, MDE and (with an effect) power."""
    se, df, na, nb, used, dropped, sigma = fit
    if df < 1:
        warnings.warn(
            f"{c} {a} - {b}: {na + nb:.0f} referrals in {used} strata leave no degrees of "
            "freedom (N - 2 strata < 1): MDE and power are NaN",
            StatisticalWarning,
            stacklevel=3,
        )
        df = np.nan
    two = alternative == "two-sided"
    mult = mde_multiplier(df, alpha, float(target_power), two)
    row = {
        "cpa": c,
        "term": f"{a} - {b}",
        "prime": a,
        "reference": b,
        "n_prime": na,
        "n_reference": nb,
        "n_strata": used,
        "n_strata_dropped": dropped,
        "sigma": sigma,
        "std_error": se,
        "df": float(df),
        "mde": mult * se,
    }
    if eff is not None:
        row["effect"] = float(eff)
        row["power"] = (
            float(power_at(row["effect"], se, df, alpha, two))
            if np.isfinite(row["effect"])
            else np.nan
        )
    return row


def power(
    design,
    outcome_rate: float | Mapping[str, float] | None = None,
    *,
    outcome: str | None = None,
    effect: float | Mapping[str, float] | str | None = None,
    alpha: float = 0.05,
    target_power: float = 0.8,
    alternative: str = "two-sided",
    blocks: Sequence[str] = ("district", "period"),
    cpa: str | Sequence[str] | None = None,
    contrasts: pd.DataFrame | None = None,
    n: int | None = None,
    seed: int = 20110601,
    prime_col: str = "prime",
    cpa_col: str = "cpa",
) -> PowerTable:
    """Minimum detectable effect and power of every within-CPA prime contrast.

    Estimand: the blocked difference in mean outcomes between two primes of a CPA (the
    estimand of :func:`wpeval.diff_in_means` with ``blocks``). Variance: Neyman, with the
    stratum sizes and allocation shares of the design (module docstring); MDE by Bloom's
    formula; power in the normal-shift approximation with t quantiles. Assumes complete
    randomisation within strata and a common outcome variance within a stratum.

    Parameters
    ----------
    design : DataFrame, SyntheticProgramme, mapping, path or None
        Referral-level data (realised stratum counts), or a generated programme / generator
        configuration (expected counts from the allocation probabilities; ``None`` = the
        default configuration, with ``n`` referrals).
    outcome_rate : float or mapping CPA -> float, optional
        Binary-outcome rate (variance ``pi (1 - pi)``). Give this or ``outcome``.
    outcome : str, optional
        Outcome column of the data: within-stratum sample variances are used.
    effect : float, mapping (cpa, term) -> float, or "truth", optional
        True effect(s) at which to report the power; ``"truth"`` (synthetic programmes) takes
        the true contrasts ``truth.contrasts.diff_p_jo_2y``.
    alpha : float, default 0.05
        Test level.
    target_power : float, default 0.8
        Power at which the MDE is reported.
    alternative : {"two-sided", "one-sided"}, default "two-sided"
    blocks : sequence of str, default ("district", "period")
        Strata (``period`` is the quarter of referral when absent).
    cpa : str or list of str, optional
        Restrict to these CPAs.
    contrasts : DataFrame, optional
        ``cpa, prime, reference`` rows fixing the contrasts and their direction; default all
        pairs of each CPA's primes in sorted order.
    n : int, optional
        Referrals to simulate when ``design`` is a configuration.
    seed : int, default 20110601
        Generator seed when ``design`` is a configuration.
    prime_col, cpa_col : str
        Column names.

    Returns
    -------
    PowerTable
    """
    alpha = check_alpha(alpha)
    _check_targets(target_power, alternative, outcome_rate, outcome)
    blocks = as_list(blocks)
    frame, prog, expected = _design_frame(design, n, seed, outcome, blocks, cpa_col, prime_col)
    if contrasts is None and prog is not None:
        contrasts = prog.truth.contrasts[["cpa", "prime", "reference"]]
    todo = _contrast_list(frame, cpa_col, prime_col, cpa, contrasts)
    truth = None
    if isinstance(effect, str):
        if effect != "truth" or prog is None:
            raise ParameterError("effect='truth' needs a synthetic programme or configuration")
        truth = prog.truth.contrasts.set_index(["cpa", "term"])["diff_p_jo_2y"]
    cpa_s = frame[cpa_col].astype(str).to_numpy()
    prime_s = frame[prime_col].astype(str).to_numpy()
    rows = []
    for c, a, b in todo:
        sub, wa, wb = _contrast_sample(frame, prog, expected, cpa_s, prime_s, c, a, b, outcome)

        def sigma2_fn(stratum, S, sub=sub, c=c):
            return _sigma2(outcome_rate, outcome, sub, stratum, S, c)

        se, df, na, nb, used, dropped, sigma = _one_contrast(sub, wa, wb, sigma2_fn, blocks)
        row = _row(
            c,
            a,
            b,
            (se, df, na, nb, used, dropped, sigma),
            alpha,
            target_power,
            alternative,
            _effect_of(effect, truth, c, f"{a} - {b}"),
        )
        rows.append(row)
    meth = _power_method(design, expected, frame, outcome, alpha, target_power, alternative, blocks)
    return PowerTable(
        pd.DataFrame(rows),
        meth,
        title=f"Minimum detectable effects at {100 * float(target_power):g}% "
        f"power, alpha = {alpha:g}",
    )


def _check_targets(target_power, alternative, outcome_rate, outcome) -> None:
    """Refuse a target power outside (0, 1), an unknown alternative, or other than exactly one
    of ``outcome_rate`` and ``outcome``."""
    if not 0 < float(target_power) < 1:
        raise ParameterError(f"target_power must be strictly between 0 and 1, got {target_power}")
    if alternative not in ("two-sided", "one-sided"):
        raise ParameterError("alternative must be 'two-sided' or 'one-sided'")
    if (outcome_rate is None) == (outcome is None):
        raise ParameterError("give exactly one of outcome_rate and outcome")


def _design_frame(design, n, seed, outcome, blocks, cpa_col, prime_col):
    """The referrals the power is computed from: the data given, or a programme generated
    from the configuration (with outcome flags when ``outcome`` needs them); ``period`` added
    when it is a block. Returns ``(frame, programme or None, expected counts?)``."""
    from wpeval.data.design import add_period

    expected = not isinstance(design, pd.DataFrame)
    prog = None
    if expected:
        prog = _from_config(design, n, seed)
        frame = prog.referrals
        if outcome is not None and outcome not in frame.columns:
            from wpeval.data.outcomes import outcome_flags

            frame = outcome_flags(frame)
    else:
        frame = design
    need_columns(frame, [cpa_col, prime_col] + [b for b in blocks if b != "period"])
    if "period" in blocks and "period" not in frame.columns:
        frame = add_period(frame)
    return frame, prog, expected


def _contrast_sample(frame, prog, expected, cpa_s, prime_s, c, a, b, outcome):
    """The rows of CPA ``c`` and the weights of primes ``a`` and ``b``: expected allocation
    shares of a generated programme, or 0/1 membership of the rows of the two primes with an
    observed outcome in data."""
    in_c = cpa_s == c
    if expected:
        sub = frame[in_c]
        w = _expected_weights(prog, sub, [a, b])
        wa, wb = w[a], w[b]
    else:
        keep = in_c & np.isin(prime_s, [a, b])
        if outcome is not None:
            keep &= ~np.isnan(numeric(frame, outcome))
        sub = frame[keep]
        wa = (prime_s[keep] == a).astype(float)
        wb = (prime_s[keep] == b).astype(float)
    return sub, wa, wb


def _power_method(design, expected, frame, outcome, alpha, target_power, alternative, blocks):
    """The methods record of the power table."""
    from wpeval.data.synthetic import SyntheticProgramme

    source = (
        "expected counts from the allocation probabilities of a generated programme "
        f"({len(frame):,} referrals)"
        if expected
        else "realised counts of the data"
    )
    var = (
        f"within-stratum variance of {outcome!r}"
        if outcome is not None
        else "pi (1 - pi) from outcome_rate"
    )
    meth = {
        "estimator": "Bloom (1995) minimum detectable effect of the blocked difference in means",
        "se_type": f"Neyman (blocked), {var}",
        "ci_method": "t (df = N - 2 strata), normal-shift power",
        "design": f"complete randomisation within {' x '.join(blocks)}; {source}",
        "alpha": alpha,
        "target_power": float(target_power),
        "alternative": alternative,
        "blocks": blocks,
    }
    if isinstance(design, SyntheticProgramme) or expected:
        meth["notes"] = "stratum sizes and shares from the generator's design"
    return meth
