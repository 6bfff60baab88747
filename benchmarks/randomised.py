"""Benchmark: design-based estimators and stratified randomisation inference, side by side
with peers, on the same synthetic referrals at 200k and 2M rows (~1,000 district x quarter
strata, from wpeval.make_programme).

Comparison: allocation to the CPA's first prime (alphabetical) vs its other primes, within
district x quarter strata; outcomes ``job_outcome_24m`` (binary) and ``entry_days``
(integer days to job entry, censored).

Targets: blocked difference in means with SE at 2M rows < 1 s; 1,000 stratified
randomisation draws at 2M rows < 30 s and >= 10x faster than pyfixest's ``ritest``.

Peers and how they are timed:
- R estimatr ``difference_in_means(blocks=)`` (when ``Rscript`` exists): timed inside R with
  ``system.time`` around the call only (reading the CSV is excluded).
- pyfixest ``feols("y ~ z | stratum").ritest(resampvar="z", reps=R)``: pyfixest's ritest has
  no strata argument, so it permutes ``z`` over the whole sample (an easier, different design:
  wpeval permutes within strata). It refits per draw, so it is run with few reps and the
  time is scaled linearly to 1,000 (stated in the table). numba is not installed, so
  pyfixest uses its pure-Python algorithm ("slow"), which is what a user of this venv gets.
- pyfixest ``feols("y ~ z | stratum", vcov="hetero")`` for context (a fixed-effects
  regression, not the same estimator as the blocked difference in means).

    .venv/bin/python benchmarks/randomised.py [--sizes 200000 2000000] [--draws 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TARGET_DIM = 1.0
TARGET_RI = 30.0


def make_data(n: int, seed: int) -> pd.DataFrame:
    import wpeval
    from wpeval.data.design import add_period
    from wpeval.data.outcomes import job_entry_times, outcome_flags

    df = wpeval.make_programme(n, seed=seed).referrals
    df = outcome_flags(job_entry_times(add_period(df)))
    first = df.groupby("cpa", observed=True)["prime"].transform(
        lambda s: sorted(s.astype(str).unique())[0]
    )
    df["z"] = (df["prime"].astype(str) == first.astype(str)).astype(np.int8)
    df["stratum"] = df.groupby(["district", "period"], observed=True).ngroup()
    return df


def timed(fn, repeat: int = 3):
    """Median wall time of ``repeat`` runs after one warm-up, and the last result."""
    out = fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def r_dim(df: pd.DataFrame, outcome: str, tmp: Path):
    """estimatr blocked difference in means, timed inside R. Returns (seconds, est, se)."""
    if shutil.which("Rscript") is None:
        return None
    path = tmp / f"dim_{len(df)}.csv"
    df[[outcome, "z", "stratum"]].dropna().rename(columns={outcome: "y"}).to_csv(path, index=False)
    code = (
        f"suppressMessages({{library(data.table); library(estimatr)}}); "
        f"d <- fread('{path}'); "
        "t <- system.time(f <- difference_in_means(y ~ z, blocks = stratum, data = d))"
        "[['elapsed']]; cat(format(c(t, f$coefficients, f$std.error), digits = 17))"
    )
    res = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        print("R failed:", res.stderr[-500:])
        return None
    t, est, se = map(float, res.stdout.split())
    return t, est, se


def pyfixest_ritest(df: pd.DataFrame, outcome: str, reps: int):
    import pyfixest as pf

    d = df[[outcome, "z", "stratum"]].dropna().rename(columns={outcome: "y"})
    fit = pf.feols("y ~ z | stratum", data=d)
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # its tqdm progress bar
        fit.ritest(resampvar="z", reps=reps, rng=np.random.default_rng(1))
    return time.perf_counter() - t0


def pyfixest_feols(df: pd.DataFrame, outcome: str):
    import pyfixest as pf

    d = df[[outcome, "z", "stratum"]].dropna().rename(columns={outcome: "y"})
    return timed(lambda: pf.feols("y ~ z | stratum", data=d, vcov="hetero"), repeat=1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20110601)
    ap.add_argument(
        "--pyfixest-reps",
        type=int,
        nargs="+",
        default=[20, 3],
        help="ritest reps per size (time scaled to --draws)",
    )
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()

    from wpeval.estimators.contrasts import compare_primes
    from wpeval.estimators.randomised import diff_in_means, horvitz_thompson, lin_adjusted
    from wpeval.exceptions import StatisticalWarning
    from wpeval.inference.randomisation import randomisation_test

    warnings.simplefilter("ignore", StatisticalWarning)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="wpeval_bench_"))
    blocks = ["district", "period"]
    for i, n in enumerate(args.sizes):
        t0 = time.perf_counter()
        df = make_data(n, args.seed)
        print(
            f"n = {n:,}: data generated in {time.perf_counter() - t0:.1f} s, "
            f"{df['stratum'].nunique():,} strata",
            flush=True,
        )
        y = "job_outcome_24m"
        t, res = timed(lambda: diff_in_means(df, y, "z", blocks=blocks))
        peer = r_dim(df, y, tmp) if not args.no_r else None
        if peer:
            agree = (
                abs(peer[1] - res.estimate) / abs(peer[1]) + abs(peer[2] - res.std_error) / peer[2]
            )
            rows.append(
                (
                    "blocked diff in means + SE",
                    n,
                    t,
                    "R estimatr",
                    peer[0],
                    peer[0] / t,
                    f"agreement {agree:.1e}",
                )
            )
        else:
            rows.append(("blocked diff in means + SE", n, t, "-", np.nan, np.nan, ""))
        tf = pyfixest_feols(df, y)
        rows.append(
            (
                "  (context) FE regression",
                n,
                np.nan,
                "pyfixest feols|stratum HC1",
                tf,
                np.nan,
                "different estimator",
            )
        )
        t, _ = timed(
            lambda: lin_adjusted(df, y, "z", ["age", "disability"], blocks=blocks), repeat=1
        )
        rows.append(
            (
                "Lin adjusted, block dummies",
                n,
                t,
                "R lm_lin",
                np.nan,
                np.nan,
                "R: dense 2 x 1,000 dummies, not run",
            )
        )
        # probabilities of condition2 estimated per block (estimatr's default): allocation_prob
        # is the probability of the prime received, not of "first prime" in 3-prime CPAs
        t, _ = timed(lambda: horvitz_thompson(df, y, "z", blocks=blocks), repeat=1)
        rows.append(
            (
                "Horvitz-Thompson, blocked",
                n,
                t,
                "R horvitz_thompson",
                np.nan,
                np.nan,
                "R: 2N x 2N probability matrix, not run",
            )
        )
        t, _ = timed(lambda: compare_primes(df, y), repeat=1)
        rows.append(("compare_primes (all CPAs)", n, t, "-", np.nan, np.nan, ""))
        for out in (y, "entry_days"):
            t0 = time.perf_counter()
            ri = randomisation_test(df, out, "z", blocks=blocks, draws=args.draws, seed=args.seed)
            t = time.perf_counter() - t0
            reps = args.pyfixest_reps[min(i, len(args.pyfixest_reps) - 1)]
            tp = pyfixest_ritest(df, out, reps) * args.draws / reps
            rows.append(
                (
                    f"RI {args.draws} draws, {out}",
                    n,
                    t,
                    f"pyfixest ritest ({reps} reps x {args.draws // reps})",
                    tp,
                    tp / t,
                    ri.extra["sampler"].split(" (")[0],
                )
            )
        print(f"n = {n:,} done", flush=True)

    tab = pd.DataFrame(
        rows, columns=["task", "n", "wpeval_s", "peer", "peer_s", "peer/wpeval", "note"]
    )
    with pd.option_context(
        "display.width",
        200,
        "display.max_colwidth",
        60,
        "display.float_format",
        lambda v: f"{v:.3g}",
    ):
        print(tab.to_string(index=False))
    big = max(args.sizes)
    dim = tab[(tab["n"] == big) & (tab["task"] == "blocked diff in means + SE")]["wpeval_s"]
    ri = tab[(tab["n"] == big) & tab["task"].str.startswith("RI")]
    print(
        f"\ntarget: blocked DiM + SE at {big:,} rows < {TARGET_DIM} s: "
        f"{float(dim.iloc[0]):.3f} s -> {'OK' if float(dim.iloc[0]) < TARGET_DIM else 'MISSED'}"
    )
    for _, r in ri.iterrows():
        ok = r["wpeval_s"] < TARGET_RI and r["peer/wpeval"] >= 10
        print(
            f"target: {r['task']} at {big:,} rows < {TARGET_RI} s and >= 10x pyfixest: "
            f"{r['wpeval_s']:.1f} s, {r['peer/wpeval']:.0f}x -> {'OK' if ok else 'MISSED'}"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
