"""Coverage study of the design-based estimators on synthetic data with known truth.

Part A (wpeval.make_programme): every within-CPA pairwise prime contrast of the 24-month
job-outcome rate from :func:`wpeval.compare_primes` (district x quarter strata, Hajek
inverse-probability weights because allocation shares differ by payment group after the
market-share shift), against the generator's exact truth ``truth.contrasts.diff_p_jo_2y``
(CPA-average difference in the probability of a job outcome within 730 days). The extract
date is moved to 2030 so that every referral's 24-month window is observed.

Part B (a simple blocked two-arm generator, below): 100 blocks of 20-80 units, treatment
probability 0.3-0.7 by block (complete randomisation), binary outcomes with block-specific
effects drawn afresh each replication (super-population), and a covariate. Truth: the
block-size weighted average of the block effects (PATE). Checks coverage of
``diff_in_means``, ``lin_adjusted``, ``horvitz_thompson``; the randomisation test's p-values
under the sharp null (no effect; KS test of uniformity and the rejection rate at 5%); and
the randomisation confidence interval under a constant additive effect (continuous outcome).

Target: coverage of 95% intervals within 93-97%; RI p-values uniform (KS p > 0.01).

    .venv/bin/python benchmarks/coverage_randomised.py [--reps 500] [--n 40000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats


def part_a(reps: int, n: int, seed: int) -> pd.DataFrame:
    import wpeval
    from wpeval.data.outcomes import outcome_flags

    cfg = {"calendar": {"data_end_date": "2030-12-31"}}
    rows = []
    for r in range(reps):
        sp = wpeval.make_programme(n, seed=seed + r, config=cfg)
        df = outcome_flags(sp.referrals, months=(24,))
        res = wpeval.compare_primes(df, "job_outcome_24m", vs_average=False).tidy()
        truth = sp.truth.contrasts
        key = {
            (t.cpa, frozenset((t.prime, t.reference))): (t.prime, t.diff_p_jo_2y)
            for t in truth.itertuples()
        }
        for t in res.itertuples():
            first, diff = key[(t.cpa, frozenset((t.prime_a, t.prime_b)))]
            true = diff if first == t.prime_a else -diff
            rows.append(
                {
                    "rep": r,
                    "cpa": t.cpa,
                    "estimate": t.estimate,
                    "se": t.std_error,
                    "lo": t.conf_low,
                    "hi": t.conf_high,
                    "truth": true,
                    "weighted": t.weighted,
                }
            )
    return pd.DataFrame(rows)


def _blocked_data(
    rng,
    effect_scale: float,
    n_blocks: int = 100,
    continuous: bool = False,
    constant_effect: float = 0.0,
):
    sizes = rng.integers(20, 81, n_blocks)
    pz = np.round(rng.uniform(0.3, 0.7, n_blocks) * sizes) / sizes
    b = np.repeat(np.arange(n_blocks), sizes)
    z = np.concatenate(
        [
            rng.permutation(np.r_[np.ones(int(round(p * s))), np.zeros(s - int(round(p * s)))])
            for p, s in zip(pz, sizes)
        ]
    )
    x = rng.normal(size=len(b))
    w = sizes / sizes.sum()
    if continuous:
        y0 = 0.5 * x + rng.normal(size=len(b)) + 0.3 * (b % 7)
        y = y0 + constant_effect * z
        truth = constant_effect
    else:
        base = rng.uniform(0.15, 0.45, n_blocks)
        eff = effect_scale * rng.uniform(0.0, 0.2, n_blocks)
        lin = 0.6 * x
        p0 = 1 / (1 + np.exp(-(np.log(base / (1 - base))[b] + lin)))
        p1 = 1 / (1 + np.exp(-(np.log((base + eff) / (1 - base - eff))[b] + lin)))
        y = np.where(z == 1, rng.random(len(b)) < p1, rng.random(len(b)) < p0).astype(float)
        # PATE: block-size weighted mean of E[p1 - p0] (expectation over x ~ N(0,1))
        xs = np.random.default_rng(0).normal(size=20000)
        bb = np.log(base / (1 - base))
        bb1 = np.log((base + eff) / (1 - base - eff))
        cell = [
            np.mean(1 / (1 + np.exp(-(bb1[j] + 0.6 * xs))) - 1 / (1 + np.exp(-(bb[j] + 0.6 * xs))))
            for j in range(n_blocks)
        ]
        truth = float(np.sum(w * np.array(cell)))
    df = pd.DataFrame(
        {"b": b, "z": z.astype(int), "y": y, "x": x, "p_recv": np.where(z == 1, pz[b], 1 - pz[b])}
    )
    return df, truth


def part_b(reps: int, seed: int, draws: int) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    from wpeval import diff_in_means, horvitz_thompson, lin_adjusted, randomisation_test

    rng = np.random.default_rng(seed)
    rows, pvals, ri_ci = [], [], []
    for r in range(reps):
        df, truth = _blocked_data(rng, effect_scale=1.0)
        for name, fn in (
            ("diff_in_means (blocked)", lambda: diff_in_means(df, "y", "z", blocks="b")),
            ("lin_adjusted (blocks + x)", lambda: lin_adjusted(df, "y", "z", ["x"], blocks="b")),
            (
                "horvitz_thompson (blocked)",
                lambda: horvitz_thompson(df, "y", "z", blocks="b", condition_prob="p_recv"),
            ),
        ):
            t = fn().tidy().iloc[0]
            rows.append(
                {
                    "estimator": name,
                    "estimate": t.estimate,
                    "se": t.std_error,
                    "lo": t.conf_low,
                    "hi": t.conf_high,
                    "truth": truth,
                }
            )
        null_df, _ = _blocked_data(rng, effect_scale=0.0)
        null_df["y"] = np.where(rng.random(len(null_df)) < 0.3, 1.0, 0.0)  # sharp null
        res = randomisation_test(
            null_df, "y", "z", blocks="b", draws=draws, seed=int(rng.integers(2**31)), ci=False
        )
        pvals.append(res.tidy()["p_value"][0])
        if r < max(100, reps // 5):
            cdf, tau = _blocked_data(rng, 0.0, continuous=True, constant_effect=0.25)
            res = randomisation_test(
                cdf, "y", "z", blocks="b", draws=draws, seed=int(rng.integers(2**31))
            )
            t = res.tidy().iloc[0]
            ri_ci.append({"lo": t.conf_low, "hi": t.conf_high, "truth": tau})
    return pd.DataFrame(rows), np.array(pvals), pd.DataFrame(ri_ci)


def _summary(df: pd.DataFrame, label: str) -> dict:
    cov = ((df["lo"] <= df["truth"]) & (df["truth"] <= df["hi"])).mean()
    k = len(df)
    err = df["estimate"] - df["truth"] if "estimate" in df else pd.Series([np.nan])
    zsd = (err / df["se"]).std() if "se" in df else np.nan
    return {
        "estimator": label,
        "intervals": k,
        "coverage": cov,
        "mc_se": np.sqrt(cov * (1 - cov) / k),
        "mean_error": err.mean(),
        "sd((est-truth)/se)": zsd,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--reps-a", type=int, default=None, help="Part A replications (default --reps)")
    ap.add_argument("--n", type=int, default=40_000, help="referrals per Part A replication")
    ap.add_argument("--draws", type=int, default=200, help="randomisation draws (Part B)")
    ap.add_argument("--seed", type=int, default=20110601)
    args = ap.parse_args()
    from wpeval.exceptions import StatisticalWarning

    warnings.simplefilter("ignore", StatisticalWarning)
    t0 = time.perf_counter()
    a = part_a(args.reps_a or args.reps, args.n, args.seed)
    ta = time.perf_counter() - t0
    t0 = time.perf_counter()
    b, pvals, ri_ci = part_b(args.reps, args.seed + 1, args.draws)
    tb = time.perf_counter() - t0
    out = [_summary(a, f"compare_primes pairwise, make_programme n={args.n:,} (IPW)")]
    for name, sub in b.groupby("estimator", sort=False):
        out.append(_summary(sub, name))
    out.append(_summary(ri_ci, "randomisation CI (test inversion, constant effect)"))
    tab = pd.DataFrame(out)
    with pd.option_context("display.width", 200, "display.float_format", lambda v: f"{v:.4g}"):
        print(tab.to_string(index=False))
    ks = stats.kstest(pvals, "uniform")
    print(
        f"\nrandomisation p-values under the sharp null ({len(pvals)} replications, "
        f"{args.draws} draws): KS D = {ks.statistic:.4f}, p = {ks.pvalue:.3f}; "
        f"rejection rate at 5% = {np.mean(pvals <= 0.05):.3f}, at 10% = "
        f"{np.mean(pvals <= 0.10):.3f}"
    )
    ok = tab["coverage"].between(0.93, 0.97).all() and ks.pvalue > 0.01
    print(
        f"Part A {ta:.0f} s ({args.reps_a or args.reps} reps, {len(a)} intervals; "
        f"weighted: {a['weighted'].mean():.0%}), Part B {tb:.0f} s"
    )
    print(f"target: coverage in [0.93, 0.97] and KS p > 0.01 -> {'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
