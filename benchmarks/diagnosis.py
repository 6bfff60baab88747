"""Benchmark: overhead per call and scaling of the design diagnosis (issue 15).

Sections (all timed in this one process run, side by side):

``dim``      blocked difference in means at 2M rows (1,000 strata): ``wpeval.diff_in_means``
             from a DataFrame and the array entry point ``wpeval.estimators._blocked.
             blocked_dim``, against a bare numpy pass over the same arrays (three
             ``np.bincount`` calls for counts, sums and sums of squares per stratum x arm, then
             the Neyman arithmetic). Target: within 2x. Medians of interleaved repeats.
``ri``       1,000 randomisation draws for a continuous outcome at 2M rows
             (``randomisation_test``, no interval): target < 5 s.
``scaling``  the blocked-DiM diagnosis (``diagnose(["blocked_dim"])``, 200k referrals per
             replication) on a Dask LocalCluster of 1 and of 2 single-threaded worker processes;
             speed-up = time(1) / time(2) (aim >= 1.7 on 2 cores).
``big``      1,000 replications of the blocked-DiM diagnosis at 200k referrals on 2 workers:
             wall time, coverage of the blocked DiM per contrast (target 93-97%) and simulated
             power against the analytic power (``wpeval.power``) at each true contrast.
``mde``      the analytic MDE against simulation: CPA09's true contrast is set (through the
             generator's ``primes.overrides``) to the analytic 80%-power MDE, and the share of
             significant blocked-DiM estimates over R replications should be 0.80 within Monte
             Carlo error.

Reproduce: ``/usr/bin/time -v .venv/bin/python benchmarks/diagnosis.py --sections dim ri``
(``--sections scaling big mde`` for the long ones; ``--out file.json`` keeps the figures).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

STRUCTURE_SEED = 20110601


def _median_times(fns: dict, repeat: int) -> dict:
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():  # interleaved, so load on the machine hits all alike
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def bench_dim(n: int = 2_000_000, blocks: int = 1000, repeat: int = 15) -> dict:
    import wpeval
    from wpeval.estimators._blocked import blocked_dim

    rng = np.random.default_rng(1)
    blk = rng.integers(0, blocks, n)
    z = rng.integers(0, 2, n).astype(np.int8)
    y = rng.normal(size=n)
    df = pd.DataFrame({"y": y, "z": z, "stratum": blk, "person_id": np.arange(n)})

    def bare():
        cell = blk * 2 + z
        cnt = np.bincount(cell, minlength=2 * blocks).reshape(-1, 2)
        s = np.bincount(cell, weights=y, minlength=2 * blocks).reshape(-1, 2)
        q = np.bincount(cell, weights=y * y, minlength=2 * blocks).reshape(-1, 2)
        m = s / cnt
        v = (q - cnt * m * m) / (cnt - 1)
        w = cnt.sum(axis=1) / n
        return (w * (m[:, 1] - m[:, 0])).sum(), np.sqrt((w**2 * (v / cnt).sum(axis=1)).sum())

    res = wpeval.diff_in_means(df, "y", "z", blocks="stratum")
    ref = bare()
    assert abs(res.estimate - ref[0]) < 1e-9 and abs(res.std_error - ref[1]) < 1e-9
    t = _median_times(
        {
            "bare_numpy": bare,
            "blocked_dim_arrays": lambda: blocked_dim(y, z, blk, blocks),
            "diff_in_means_frame": lambda: wpeval.diff_in_means(df, "y", "z", blocks="stratum"),
        },
        repeat,
    )
    return {
        "rows": n,
        "strata": blocks,
        "seconds": t,
        "ratio_frame_vs_bare": t["diff_in_means_frame"] / t["bare_numpy"],
        "ratio_arrays_vs_bare": t["blocked_dim_arrays"] / t["bare_numpy"],
    }


def bench_ri(n: int = 2_000_000, blocks: int = 1000, draws: int = 1000) -> dict:
    import wpeval

    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "z": rng.integers(0, 2, n).astype(np.int8),
            "stratum": rng.integers(0, blocks, n),
        }
    )
    from wpeval.inference.backend import dask_client

    t0 = time.perf_counter()
    res = wpeval.randomisation_test(df, "y", "z", blocks="stratum", draws=draws, seed=1, ci=False)
    t = time.perf_counter() - t0
    # the same draws split into 2 seeded batches, on a LocalCluster of 2 worker processes
    # (cluster start-up excluded; the design arrays are shipped to the workers in the time)
    with dask_client(n_workers=2) as client:
        t0 = time.perf_counter()
        res2 = wpeval.randomisation_test(
            df, "y", "z", blocks="stratum", draws=draws, seed=1, ci=False, batches=2, backend=client
        )
        t2 = time.perf_counter() - t0
    return {
        "rows": n,
        "draws": draws,
        "seconds": t,
        "sampler": res.extra["sampler"],
        "p_value": float(res.tidy()["p_value"][0]),
        "seconds_dask_2_batches_2_workers": t2,
        "p_value_batched": float(res2.tidy()["p_value"][0]),
    }


def bench_scaling(replications: int = 40, n: int = 200_000) -> dict:
    from wpeval.inference.backend import dask_client
    from wpeval.inference.diagnosis import diagnose

    out = {}
    draws = {}
    for workers in (1, 2):
        with dask_client(n_workers=workers) as client:
            diagnose(
                ["blocked_dim"], replications=2, n=n, seed=99, backend=client, progress=False
            )  # warm the workers (imports)
            t0 = time.perf_counter()
            d = diagnose(
                ["blocked_dim"],
                replications=replications,
                n=n,
                seed=5,
                backend=client,
                progress=False,
            )
            out[f"seconds_{workers}_workers"] = time.perf_counter() - t0
            draws[workers] = d.extra["draws"]
    out["speedup"] = out["seconds_1_workers"] / out["seconds_2_workers"]
    out["identical_results"] = bool(np.array_equal(draws[1], draws[2], equal_nan=True))
    out["replications"] = replications
    return out


def bench_big(replications: int = 1000, n: int = 200_000, workers: int = 2) -> dict:
    from wpeval.inference.diagnosis import complete_follow_up, diagnose
    from wpeval.inference.power import power

    t0 = time.perf_counter()
    d = diagnose(
        ["blocked_dim"],
        replications=replications,
        n=n,
        seed=15,
        backend="dask",
        n_workers=workers,
        progress=True,
    )
    wall = time.perf_counter() - t0
    tab = d.tidy()
    # analytic power at the true contrasts: the same design, the CPA's true mean rate
    cfg = complete_follow_up(None)
    from wpeval.data.synthetic import make_programme

    prog = make_programme(n, STRUCTURE_SEED, cfg)
    rates = prog.truth.contracts.groupby("cpa")["p_jo_2y"].mean().to_dict()
    effects = {(r.cpa, r.term): r.mean_estimand for r in tab.itertuples()}
    pw = power(prog, rates, effect=effects).tidy()
    tab = tab.merge(
        pw[["cpa", "term", "power", "mde"]].rename(columns={"power": "analytic_power"}),
        on=["cpa", "term"],
    )
    z = (tab["power"] - tab["analytic_power"]) / np.sqrt(
        tab["analytic_power"] * (1 - tab["analytic_power"]) / tab["n_sims"]
    )
    cov = tab["coverage"]
    return {
        "replications": replications,
        "n": n,
        "workers": workers,
        "seconds": wall,
        "coverage_mean": float(cov.mean()),
        "coverage_min": float(cov.min()),
        "coverage_max": float(cov.max()),
        "contrasts_with_coverage_in_93_97": int(((cov >= 0.93) & (cov <= 0.97)).sum()),
        "contrasts": len(tab),
        "power_sim_minus_analytic_z_abs_max": float(np.abs(z).max()),
        "power_sim_minus_analytic_z_rms": float(np.sqrt(np.mean(z**2))),
        "table": tab[
            [
                "cpa",
                "term",
                "mean_estimand",
                "bias",
                "bias_mc_se",
                "coverage",
                "coverage_mc_se",
                "power",
                "power_mc_se",
                "analytic_power",
                "mde",
                "mean_se",
                "sd_estimate",
            ]
        ].to_dict(orient="records"),
    }


def _effect_for(target: float, cfg: dict, n: int) -> tuple[float, dict]:
    """Log-hazard half-gap h (Prime A = -h, Prime B = +h in CPA09) giving the true difference
    ``-target`` in 2-year job-outcome probability (bisection on the exact truth)."""
    import copy

    from wpeval.data.synthetic import make_programme

    def diff(h):
        c = copy.deepcopy(cfg)
        c.setdefault("primes", {})["overrides"] = {"CPA09|Prime A": -h, "CPA09|Prime B": h}
        t = make_programme(n, STRUCTURE_SEED, c).truth.contrasts
        return float(t.loc[t.cpa == "CPA09", "diff_p_jo_2y"].iloc[0]), c

    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        d, _ = diff(mid)
        lo, hi = (mid, hi) if -d < target else (lo, mid)
    d, c = diff(0.5 * (lo + hi))
    return d, c


def bench_mde(replications: int = 400, n: int = 200_000, workers: int = 2) -> dict:
    from wpeval.data.synthetic import make_programme
    from wpeval.inference.diagnosis import complete_follow_up, diagnose
    from wpeval.inference.power import power

    cfg = complete_follow_up(None)
    prog = make_programme(n, STRUCTURE_SEED, cfg)
    rate = float(prog.truth.contracts.query("cpa == 'CPA09'")["p_jo_2y"].mean())
    mde = float(power(prog, rate, cpa="CPA09").tidy()["mde"].iloc[0])
    truth, cfg_mde = _effect_for(mde, cfg, n)
    # the rate moves a little with the effect: recompute the analytic MDE at the new design
    prog2 = make_programme(n, STRUCTURE_SEED, cfg_mde)
    rate2 = float(prog2.truth.contracts.query("cpa == 'CPA09'")["p_jo_2y"].mean())
    mde2 = float(power(prog2, rate2, cpa="CPA09").tidy()["mde"].iloc[0])
    d = diagnose(
        ["blocked_dim"],
        cfg_mde,
        replications=replications,
        n=n,
        seed=80,
        cpas=["CPA09"],
        backend="dask",
        n_workers=workers,
        progress=True,
    )
    row = d.tidy().iloc[0]
    return {
        "replications": replications,
        "analytic_mde": mde,
        "analytic_mde_at_effect": mde2,
        "true_effect": truth,
        "simulated_power": float(row["power"]),
        "power_mc_se": float(row["power_mc_se"]),
        "z_vs_0.8": float((row["power"] - 0.8) / row["power_mc_se"]),
        "coverage": float(row["coverage"]),
        "bias": float(row["bias"]),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sections",
        nargs="+",
        default=["dim", "ri"],
        choices=["dim", "ri", "scaling", "big", "mde"],
    )
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = {}
    for sec in args.sections:
        t0 = time.perf_counter()
        if sec == "dim":
            out[sec] = bench_dim()
        elif sec == "ri":
            out[sec] = bench_ri()
        elif sec == "scaling":
            out[sec] = bench_scaling()
        elif sec == "big":
            out[sec] = bench_big(args.replications)
        else:
            out[sec] = bench_mde()
        shown = {k: v for k, v in out[sec].items() if k != "table"}
        print(
            f"[{sec}] ({time.perf_counter() - t0:.0f} s) {json.dumps(shown, default=float)}",
            flush=True,
        )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2, default=float)
    return out


if __name__ == "__main__":
    main()
