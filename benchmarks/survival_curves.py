"""Benchmark: weighted Kaplan-Meier of every contract curve, wpeval vs lifelines, side by side.

Data: ``wpeval.make_programme(n, seed=20110601)`` (default n = 2,000,000 referrals) with
``wpeval.job_entry_times`` (days from referral to first job start, other exits censored here,
administrative censoring at 728 days: heavy ties on whole days). Weights
``w = 1 / allocation_prob`` (inverse probability of the prime allocated).

Timed, one run each, in this one process on the same in-memory frame (data building not timed):

- wpeval ``kaplan_meier(df, "entry_days", "entry_event", group=["cpa", "prime"],
  weights="w")``: every contract (CPA x prime) curve in one vectorised call, with the
  infinitesimal-jackknife (IJ) robust SE;
- the same unweighted (Greenwood), for information;
- lifelines ``KaplanMeierFitter().fit(T, E)`` unweighted, once per contract as a user would
  (loop over ``df.groupby(["cpa", "prime"])``) -- the speed target: the weighted wpeval call
  should be no slower than this;
- lifelines ``KaplanMeierFitter().fit(T, E, weights=w)`` per contract, for information
  (lifelines gives weighted point estimates but a Greenwood-type SE on weighted counts, not
  the IJ variance).

Agreement: maximum absolute difference of the weighted survival curves (wpeval vs lifelines)
at every curve's event times. BLAS is not used. Run:

    .venv/bin/python benchmarks/survival_curves.py [--n 2000000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

SEED = 20110601


def make_data(n: int) -> pd.DataFrame:
    import wpeval

    prog = wpeval.make_programme(n, seed=SEED)
    df = wpeval.job_entry_times(prog.referrals)
    df["w"] = 1.0 / df["allocation_prob"]
    return df


def time_wpeval(df: pd.DataFrame, weights: str | None):
    import wpeval.estimators.survival as sv

    t0 = time.perf_counter()
    res = sv.kaplan_meier(df, "entry_days", "entry_event", group=["cpa", "prime"], weights=weights)
    return time.perf_counter() - t0, res


def time_lifelines(df: pd.DataFrame, weighted: bool):
    from lifelines import KaplanMeierFitter

    fits = {}
    warnings.filterwarnings("ignore", module="lifelines")  # "weights are not integers" per fit
    t0 = time.perf_counter()
    for key, sub in df.groupby(["cpa", "prime"], observed=True, sort=True):
        kmf = KaplanMeierFitter()
        if weighted:
            kmf.fit(sub["entry_days"], sub["entry_event"], weights=sub["w"])
        else:
            kmf.fit(sub["entry_days"], sub["entry_event"])
        fits[key] = kmf
    return time.perf_counter() - t0, fits


def max_abs_diff(res, fits) -> float:
    """Largest |S_wpeval - S_lifelines| over every curve's times."""
    tab = res.tidy()
    worst = 0.0
    for (cpa, prime), kmf in fits.items():
        sub = tab[(tab["cpa"] == cpa) & (tab["prime"] == prime)]
        ll = kmf.survival_function_.iloc[:, 0]
        theirs = ll.reindex(sub["time"].to_numpy()).to_numpy()
        worst = max(worst, float(np.nanmax(np.abs(sub["surv"].to_numpy() - theirs))))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = make_data(args.n)
    n_curves = df.groupby(["cpa", "prime"], observed=True).ngroups
    print(
        f"data: {len(df):,} rows, {n_curves} contract curves, {df['entry_event'].mean():.1%} "
        f"job entries, {df['entry_days'].nunique()} distinct days; built in "
        f"{time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    import lifelines  # noqa: F401  (imported before timing, as wpeval is)

    import wpeval.estimators.survival  # noqa: F401

    wp_w, res_w = time_wpeval(df, "w")
    print(f"wpeval kaplan_meier weighted (IJ SE), all curves in one call: {wp_w:.2f}s", flush=True)
    wp_u, _ = time_wpeval(df, None)
    print(f"wpeval kaplan_meier unweighted (Greenwood):                   {wp_u:.2f}s", flush=True)
    ll_u, _ = time_lifelines(df, weighted=False)
    print(f"lifelines KaplanMeierFitter unweighted, one fit per contract:  {ll_u:.2f}s", flush=True)
    ll_w, fits_w = time_lifelines(df, weighted=True)
    print(f"lifelines KaplanMeierFitter weighted, one fit per contract:    {ll_w:.2f}s", flush=True)
    print(
        f"\nratio lifelines unweighted / wpeval weighted = {ll_u / wp_w:.2f} "
        f"(target >= 1: {'met' if ll_u >= wp_w else 'NOT met'}); "
        f"lifelines weighted / wpeval weighted = {ll_w / wp_w:.2f}"
    )
    print(f"max |S_wpeval - S_lifelines| (weighted curves): {max_abs_diff(res_w, fits_w):.1e}")


if __name__ == "__main__":
    main()
