"""Speed and memory of :func:`wpeval.regress` against pyfixest ``feols`` and linearmodels
``AbsorbingLS``, side by side in one run.

Problem: 2,000,000 rows, 1,080 absorbed strata (e.g. 90 districts x 12 quarters), a binary
treatment and 29 further numeric covariates (30 regressors), heteroskedastic errors, HC1
standard errors (the small-sample factor counting the absorbed strata: estimatr / fixest).

Each tool runs in its own fresh Python process on the same parquet file, after a warm-up fit
on 20,000 rows (so pyfixest's numba compilation is not timed); the timed fit is one call from
the loaded DataFrame to the coefficient and SE of ``treat``. Peak memory is the process's
maximum resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and its increase
over the RSS right after loading the data; ``tracemalloc``'s peak (Python and numpy
allocations only) is shown for wpeval. Reproduce with

    .venv/bin/python benchmarks/regression.py [--n 2000000] [--strata 1080] [--k 30]

(``pip install pyfixest`` first: the ``bench`` extra). ``/usr/bin/time -v`` on a single
``--tool`` run gives the same maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TOOLS = ("wpeval", "pyfixest", "linearmodels")


def make_data(n: int, strata: int, k: int, seed: int = 20110601) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, strata, n)
    treat = (rng.random(n) < 0.5).astype(np.float64)
    X = rng.normal(size=(n, k - 1))
    beta = rng.normal(scale=0.2, size=k - 1)
    y = (
        0.05 * treat
        + X @ beta
        + rng.normal(size=strata)[s]
        + rng.normal(size=n) * (1 + 0.5 * np.abs(X[:, 0]))
    )
    d = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, k)])
    d.insert(0, "treat", treat)
    d.insert(0, "y", y)
    d["stratum"] = s
    return d


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _fit(tool: str, d: pd.DataFrame, covs: list[str]):
    if tool == "wpeval":
        import wpeval

        res = wpeval.regress(d, "y ~ " + " + ".join(covs), fixed_effects="stratum", se_type="HC1")
        return res["treat"]["estimate"], res["treat"]["std_error"]
    if tool == "pyfixest":
        import pyfixest as pf

        fit = pf.feols("y ~ " + " + ".join(covs) + " | stratum", data=d, vcov="HC1")
        return float(fit.coef()["treat"]), float(fit.se()["treat"])
    from linearmodels.iv.absorbing import AbsorbingLS

    absorb = pd.DataFrame({"stratum": d["stratum"].astype("category")})
    fit = AbsorbingLS(d["y"], d[covs], absorb=absorb).fit(cov_type="robust", debiased=True)
    return float(fit.params["treat"]), float(fit.std_errors["treat"])


def run_tool(tool: str, path: str) -> dict:
    import tracemalloc

    d = pd.read_parquet(path)
    covs = [c for c in d.columns if c not in ("y", "stratum")]
    _fit(tool, d.iloc[:20_000].copy(), covs)  # warm-up (numba JIT, imports)
    base = _current_rss_mb()
    if tool == "wpeval":
        tracemalloc.start()
    t0 = time.perf_counter()
    est, se = _fit(tool, d, covs)
    secs = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if tool == "wpeval" else None
    return {
        "tool": tool,
        "seconds": secs,
        "estimate": est,
        "std_error": se,
        "peak_rss_mb": _rss_mb(),
        "rss_after_load_mb": base,
        "tracemalloc_peak_mb": traced,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--strata", type=int, default=1080)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--tool", choices=TOOLS)
    ap.add_argument("--data")
    args = ap.parse_args()
    if args.tool:
        print(json.dumps(run_tool(args.tool, args.data)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.parquet")
        make_data(args.n, args.strata, args.k).to_parquet(path)
        rows = []
        for tool in TOOLS:
            out = subprocess.run(
                [sys.executable, __file__, "--tool", tool, "--data", path],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(f"{tool} failed:\n{out.stderr[-2000:]}")
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    tab = pd.DataFrame(rows).set_index("tool")
    tab["time_ratio_vs_wpeval"] = tab["seconds"] / tab.loc["wpeval", "seconds"]
    tab["se_rel_diff_vs_wpeval"] = tab["std_error"] / tab.loc["wpeval", "std_error"] - 1
    tab["fit_rss_increase_mb"] = tab["peak_rss_mb"] - tab["rss_after_load_mb"]
    print(
        f"n = {args.n:,}, strata = {args.strata:,}, regressors = {args.k}, HC1; "
        f"cores: {os.cpu_count()}"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(tab.drop(columns=["se_rel_diff_vs_wpeval"]).round(4).to_string())
    for tool, v in tab["se_rel_diff_vs_wpeval"].items():
        print(f"SE of treat, {tool} / wpeval - 1 = {v:.1e}")


if __name__ == "__main__":
    main()
