"""Benchmark: survival estimators side by side with R survival and lifelines.

Headline, on the same 2M rows in one run: (a) stratified Efron Cox, wpeval ``cox(strata=...)``
against R ``survival::coxph``, with the time of the fit and the peak resident memory of each
process, and their ratio (target: wpeval at least 5x faster than R); (b) weighted Kaplan-Meier
of the 42 contract curves, wpeval ``kaplan_meier(group="contract", weights="w")`` against
lifelines ``KaplanMeierFitter`` unweighted, one fit per contract (target: no slower); (c) peak
resident memory of every wpeval process under 4 GB.

Data (synthetic, generated here with numpy so that size and shape are controlled): n rows in
~1,000 randomisation strata (district x quarter), integer days to job entry censored at 728
days (104 weeks) or an extract date (heavy ties), 38 covariates (19 binary, 19 continuous,
rounded to 3 decimals so CSV round trips exactly) plus a 3-level "prime" arm (2 dummies) = 40
Cox covariates. The arm is allocated at random within each stratum with that stratum's shares,
drawn once per stratum from a Dirichlet(6, 6, 6), so allocation probabilities vary by stratum;
``w = 1 / P(arm received | stratum)`` (at 2M rows the probabilities of the arms received run
from 0.07 to 0.71, the weights from 1.4 to 13.8). ``contract`` = "CPA" (14 groups of
consecutive strata) x arm: 42 levels, ~48k rows each at 2M.

Compared, each in its own child process of this script (one process group, run one after
the other on the same data, written once as Parquet for Python and CSV for R; the CSV holds
the columns R reads, i.e. all but ``contract`` and ``w``, and the Cox and log-rank workers
load the same columns from the Parquet file, while the two contract-curve workers load it
whole):

- stratified Cox, Efron ties, model-based SE:
  wpeval ``cox(strata="stratum")`` vs R ``survival::coxph(Surv(time, event) ~ . +
  strata(stratum), ties = "efron")`` (timed inside R with ``system.time`` around ``coxph``
  only, which includes R's model frame; reading the CSV is excluded, as reading the Parquet
  file is for wpeval) vs lifelines ``CoxPHFitter(strata=["stratum"])`` (Efron; at sizes up to
  ``--lifelines-max`` rows only, by default 200k, because it takes many minutes at 2M).
  Agreement: max relative difference of coefficients and SEs against R.
- wpeval cluster-robust SE (cluster = pseudo person id of 3 rows) for information.
- Kaplan-Meier by arm within strata plus the stratified 3-group log-rank (target < 5 s at 2M);
  R ``survdiff(Surv ~ arm + strata(stratum))`` for the statistic.
- weighted Kaplan-Meier of the 42 contract curves: wpeval ``kaplan_meier(df, "time", "event",
  group="contract", weights="w")`` (all curves in one call, with the infinitesimal-jackknife
  robust SE that weights select by default) vs lifelines 0.30 ``KaplanMeierFitter().fit(T,
  E)`` unweighted, once per contract in a loop over ``df.groupby("contract")`` as a user
  would write it (the groupby is inside the timing, as wpeval's grouping is; lifelines is
  imported before timing) -- the ratio lifelines-unweighted / wpeval-weighted should be
  >= 1 -- and, for information, lifelines weighted (``weights=w``) per contract in the same
  child (lifelines gives weighted point estimates with a Greenwood-type SE on weighted
  counts, not the IJ variance). Agreement: max |S_wpeval - S_lifelines| of the weighted
  curves at every time of every wpeval curve.

Memory: "peak RSS" is the child's maximum resident set size from ``os.wait4`` (the kernel's
``ru_maxrss`` for that process, the same number ``/usr/bin/time -v`` prints), for R and for the
Python workers alike; it includes the loaded data. A child inherits the memory high-water mark
of the process that starts it (Linux carries it across exec into ``ru_maxrss``), so the data
are generated in a child of their own and this parent stays at ~0.1 GB (printed at the end as
the floor under every child's figure). For the wpeval Cox worker, which runs a second, untimed
fit under ``tracemalloc`` afterwards, "peak RSS" is the process's high-water mark (``VmHWM`` in
``/proc/self/status``) right after the timed fit, and the ``os.wait4`` figure is printed beside
it. "before fit" is ``VmHWM`` just before the fit, so peak minus before-fit bounds what the fit
itself added. The wpeval worker also reports the fit's own allocations from ``tracemalloc`` and
R its ``gc()`` "max used".

Target (c) is checked on the largest peak of the wpeval processes (the Cox worker's peak after
its timed fit, and the ``os.wait4`` peaks of the cluster-robust Cox, log-rank and weighted
Kaplan-Meier workers): ``peak_rss_wpeval_max_gb`` in the summary.

Timing: wall time of the fit only (data already in memory), one run per size and tool (the R
fit at 2M takes about a minute); the load average is printed before and after each size,
because on a shared machine the ratio moves with the load (run twice if the load changed).
BLAS: the Python workers run with ``OPENBLAS_NUM_THREADS=1`` unless set in the environment
(see ``BLAS_THREADS``); R's ``coxph`` is single-threaded C.

Reproduce with public tools only (Linux; numbers in the engine docstring come from this):

    python3.11 -m venv .venv && .venv/bin/pip install -e .   # numpy, scipy, pandas, pyarrow, ...
    .venv/bin/pip install lifelines==0.30.3   # the version compared here (>= 0.29 is a dependency)
    # R >= 4.2 with CRAN packages survival (3.5), data.table and jsonlite:
    Rscript -e 'install.packages(c("survival", "data.table", "jsonlite"))'
    .venv/bin/python benchmarks/survival.py                      # 200k and 2M rows
    .venv/bin/python benchmarks/survival.py --sizes 2000000 --lifelines-max 0   # headline only
    # add --json out.json to keep the summary rows; --no-r to skip R
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_STRATA = 1000
N_BIN = 19
N_CONT = 19
N_CPA = 14  # "CPA" groups of consecutive strata; contract = CPA x arm (42 curves)
ALLOC_CONCENTRATION = 6.0  # Dirichlet concentration of the per-stratum arm shares
TARGET_KM_LR = 5.0
TARGET_PEAK_GB = 4.0
# Single-threaded BLAS in the Python workers (R's coxph is single-threaded too): on a shared,
# CPU-contended machine multi-threaded OpenBLAS spins and ran 10-60x slower in our runs.
# Override with OPENBLAS_NUM_THREADS=2 in the environment on a quiet machine.
BLAS_THREADS = 1
HERE = Path(__file__).resolve()


def make_data(n: int, seed: int = 20110601) -> pd.DataFrame:
    """Synthetic job-entry data: ~1,000 strata, 40 Cox covariates, 42 contracts and weights.

    The arm is drawn within each stratum from that stratum's allocation shares (drawn once per
    stratum from a Dirichlet), so allocation probabilities vary by stratum and
    ``w = 1 / P(arm received | stratum)`` is the inverse allocation-probability weight. The
    contract is the "CPA" (14 groups of consecutive strata) x arm: 42 curves.
    """
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, N_STRATA, n)
    frailty = rng.normal(0, 0.3, N_STRATA)[stratum]
    shares = rng.dirichlet(np.full(3, ALLOC_CONCENTRATION), N_STRATA)  # per-stratum arm shares
    cum = np.cumsum(shares, axis=1)[stratum]
    u = rng.random(n)
    arm = (u >= cum[:, 0]).astype(np.int64) + (u >= cum[:, 1])
    prob = shares[stratum, arm]
    del cum, u
    cols = {}
    for j in range(N_BIN):
        cols[f"b{j:02d}"] = (rng.random(n) < rng.uniform(0.1, 0.5)).astype(np.float64)
    for j in range(N_CONT):
        cols[f"c{j:02d}"] = np.round(rng.normal(size=n), 3)
    X = np.column_stack(list(cols.values()))
    beta = rng.normal(0, 0.15, X.shape[1])
    lin = X @ beta + frailty + np.array([0.0, 0.1, -0.15])[arm]
    t = np.ceil(rng.exponential(400.0 / np.exp(lin)))
    extract = np.ceil(rng.uniform(100, 1000, n))
    cens = np.minimum(728, extract)
    cpa = stratum * N_CPA // N_STRATA
    labels = np.array([f"C{c:02d}-p{a}" for c in range(N_CPA) for a in range(3)])
    df = pd.DataFrame(cols)
    df.insert(0, "stratum", stratum)
    df.insert(1, "arm", np.array(["p0", "p1", "p2"])[arm])
    df.insert(2, "time", np.minimum(t, cens))
    df.insert(3, "event", (t <= cens).astype(np.int64))
    df.insert(4, "person", np.arange(n) // 3)
    df["contract"] = labels[cpa * 3 + arm]
    df["w"] = 1.0 / prob
    return df


def r_columns() -> list[str]:
    """Columns written to the CSV for R: those it reads (``contract`` and ``w`` stay in Parquet)."""
    return ["stratum", "arm", "time", "event", "person"] + covariates()[:-1]


def covariates() -> list[str]:
    return [f"b{j:02d}" for j in range(N_BIN)] + [f"c{j:02d}" for j in range(N_CONT)] + ["arm"]


def rss_gb() -> float:
    """Current resident set size (Linux /proc), GB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


def maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB


def hwm_gb() -> float:
    """High-water mark of this process's resident set so far (Linux ``VmHWM``), GB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6  # kB -> GB
    except (OSError, ValueError):
        pass
    return float("nan")


def load_avg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def run_measured(cmd: list[str], env: dict | None, timeout: float, log: Path) -> tuple[int, float]:
    """Run ``cmd`` as a child; return its exit code and peak RSS in GB (``os.wait4``'s
    ``ru_maxrss`` of that child alone). stdout / stderr go to ``log``; ``-1`` on timeout."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        t0 = time.perf_counter()
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return proc.returncode, ru.ru_maxrss / 1e6  # KiB -> GB
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -1
                return -1, float("nan")
            time.sleep(0.05)


def write_data(n: int, pq: Path, csv: Path | None, tmp: Path) -> None:
    """Generate the data in a child process and write it as Parquet (and CSV for R).

    In a child so that this parent stays small: a child started by ``subprocess`` inherits the
    high-water mark of the parent's memory at exec (Linux keeps it in the child's
    ``ru_maxrss``), so every ``os.wait4`` peak is at least the parent's peak, which would
    otherwise be the ~2.5 GB of building the 2M-row frame.
    """
    t0 = time.perf_counter()
    out = tmp / "data.json"
    cmd = [sys.executable, str(HERE), "--worker", "make_data", "--n", str(n), "--data", str(pq)]
    cmd += ["--out", str(out)] + (["--csv", str(csv)] if csv else [])
    code, _ = run_measured(cmd, None, 3600, tmp / "data.log")
    if code != 0:
        raise SystemExit(f"data generation failed:\n{(tmp / 'data.log').read_text()[-2000:]}")
    d = json.loads(out.read_text())
    print(
        f"  data: {d['events']:.1%} events, {d['days']} distinct days, {d['contracts']} "
        f"contracts (per-stratum allocation probabilities {d['p_min']:.3f} to {d['p_max']:.3f}, "
        f"weights w = 1 / probability {d['w_min']:.2f} to {d['w_max']:.2f}), written in "
        f"{time.perf_counter() - t0:.0f}s",
        flush=True,
    )


def data_worker(n: int, pq: str, csv: str | None, out: str) -> None:
    df = make_data(n)
    df.to_parquet(pq, index=False)
    if csv:
        df[r_columns()].to_csv(csv, index=False)
    stats = dict(
        events=float(df["event"].mean()),
        days=int(df["time"].nunique()),
        contracts=int(df["contract"].nunique()),
        w_min=float(df["w"].min()),
        w_max=float(df["w"].max()),
        p_min=float(1 / df["w"].max()),
        p_max=float(1 / df["w"].min()),
    )
    Path(out).write_text(json.dumps(stats))


# --------------------------------------------------------------------------------------------
# workers (run in subprocesses so that peak memory is per method)
def worker(kind: str, data: str, out: str) -> None:
    import pyarrow as pa

    # the Cox and log-rank workers load the columns they loaded before ``contract`` and ``w``
    # were added (the same columns R reads); the contract-curve workers load the whole file
    km_kinds = ("wpeval_km_weighted", "lifelines_km")
    df = pd.read_parquet(data, columns=None if kind in km_kinds else r_columns())
    pa.default_memory_pool().release_unused()  # drop pyarrow's cached read buffers
    import wpeval.estimators.survival  # imported before timing, as R's library()

    res: dict = {}
    if kind == "wpeval_cox":
        import wpeval

        res["hwm_before_fit_gb"] = hwm_gb()
        t0 = time.perf_counter()
        fit = wpeval.cox(df, "time", "event", covariates(), strata="stratum")
        res["seconds"] = time.perf_counter() - t0
        res["hwm_after_fit_gb"] = hwm_gb()
        tab = fit.tidy()
        res.update(
            terms=tab["term"].tolist(),
            coef=tab["estimate"].tolist(),
            se=tab["std_error"].tolist(),
            iterations=fit.extra["iterations"],
        )
        # second, untimed fit under tracemalloc: peak memory allocated by the fit itself
        import tracemalloc

        res["rss_after_load_gb"] = rss_gb()
        tracemalloc.start()
        wpeval.cox(df, "time", "event", covariates(), strata="stratum")
        res["fit_traced_peak_gb"] = tracemalloc.get_traced_memory()[1] / 1e9
        tracemalloc.stop()
    elif kind == "wpeval_cox_cluster":
        import wpeval

        t0 = time.perf_counter()
        fit = wpeval.cox(df, "time", "event", covariates(), strata="stratum", cluster="person")
        res["seconds"] = time.perf_counter() - t0
        res.update(coef=fit.tidy()["estimate"].tolist(), se=fit.tidy()["std_error"].tolist())
    elif kind == "wpeval_km_logrank":
        import wpeval

        t0 = time.perf_counter()
        km = wpeval.kaplan_meier(df, "time", "event", group="arm", strata="stratum")
        t1 = time.perf_counter()
        lr = wpeval.logrank(df, "time", "event", "arm", strata="stratum")
        t2 = time.perf_counter()
        res.update(
            seconds=t2 - t0,
            km_seconds=t1 - t0,
            logrank_seconds=t2 - t1,
            n_curves=len(km.curve_labels),
            chisq=lr.estimate,
        )
    elif kind == "wpeval_km_weighted":
        import wpeval

        res["hwm_before_fit_gb"] = hwm_gb()
        t0 = time.perf_counter()
        km = wpeval.kaplan_meier(df, "time", "event", group="contract", weights="w")
        res["seconds"] = time.perf_counter() - t0
        res["hwm_after_fit_gb"] = hwm_gb()
        res["n_curves"] = len(km.curve_labels)
        km.tidy()[["contract", "time", "surv"]].to_parquet(Path(out).with_suffix(".parquet"))
    elif kind == "lifelines_km":
        import warnings

        from lifelines import KaplanMeierFitter

        warnings.filterwarnings("ignore", module="lifelines")  # "weights are not integers"
        res["hwm_before_fit_gb"] = hwm_gb()
        t0 = time.perf_counter()
        for _, sub in df.groupby("contract", sort=True):
            KaplanMeierFitter().fit(sub["time"], sub["event"])
        res["seconds"] = time.perf_counter() - t0
        res["hwm_after_unweighted_gb"] = hwm_gb()
        t0 = time.perf_counter()
        fits = {}
        for key, sub in df.groupby("contract", sort=True):
            fits[key] = KaplanMeierFitter().fit(sub["time"], sub["event"], weights=sub["w"])
        res["weighted_seconds"] = time.perf_counter() - t0
        res["n_curves"] = len(fits)
        curves = [
            pd.DataFrame(
                {
                    "contract": key,
                    "time": k.survival_function_.index,
                    "surv": k.survival_function_.iloc[:, 0].to_numpy(),
                }
            )
            for key, k in fits.items()
        ]
        pd.concat(curves, ignore_index=True).to_parquet(Path(out).with_suffix(".parquet"))
    elif kind == "lifelines_cox":
        from lifelines import CoxPHFitter

        X = pd.get_dummies(
            df[["time", "event", "stratum"] + covariates()],
            columns=["arm"],
            drop_first=True,
            dtype=float,
        )
        res["hwm_before_fit_gb"] = hwm_gb()
        t0 = time.perf_counter()
        cph = CoxPHFitter().fit(X, "time", "event", strata=["stratum"])
        res["seconds"] = time.perf_counter() - t0
        s = cph.summary
        order = [c for c in X.columns if c not in ("time", "event", "stratum")]
        res.update(coef=s.loc[order, "coef"].tolist(), se=s.loc[order, "se(coef)"].tolist())
    else:  # pragma: no cover
        raise SystemExit(f"unknown worker {kind}")
    res["maxrss_gb"] = maxrss_gb()
    Path(out).write_text(json.dumps(res))


def run_worker(kind: str, data: Path, tmp: Path, timeout: float = 3600) -> dict | None:
    out = tmp / f"{kind}.json"
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", str(BLAS_THREADS))
    t0 = time.perf_counter()
    log = tmp / f"{kind}.log"
    cmd = [sys.executable, str(HERE), "--worker", kind, "--data", str(data), "--out", str(out)]
    code, peak = run_measured(cmd, env, timeout, log)
    if code == -1:
        print(f"  {kind} did not finish within {timeout:.0f}s")
        return None
    if code != 0:
        print(f"  {kind} failed:\n{log.read_text()[-2000:]}")
        return None
    res = json.loads(out.read_text())
    res["wall_with_load"] = time.perf_counter() - t0
    res["peak_rss_gb"] = peak
    return res


def run_r(csv: Path, tmp: Path, timeout: float = 7200) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    out = tmp / "r.json"
    covs = " + ".join(covariates())
    code = f"""
suppressPackageStartupMessages({{library(survival); library(data.table); library(jsonlite)}})
hwm <- function() {{
  s <- grep('^VmHWM:', readLines('/proc/self/status'), value = TRUE)
  if (length(s)) as.numeric(strsplit(trimws(sub('VmHWM:', '', s)), ' +')[[1]][1]) / 1e6 else NA
}}
d <- fread('{csv}')
d$arm <- factor(d$arm)
invisible(gc(reset = TRUE))
hwm0 <- hwm()
t <- system.time(f <- coxph(Surv(time, event) ~ {covs} + strata(stratum), data = d,
                             ties = 'efron'))[['elapsed']]
hwm1 <- hwm()
mem <- sum(gc()[, 6])
t2 <- system.time(s <- survdiff(Surv(time, event) ~ arm + strata(stratum), data = d))[['elapsed']]
write_json(list(seconds = t, coef = unname(coef(f)), se = unname(sqrt(diag(f$var))),
                names = names(coef(f)), iter = f$iter, max_used_mb = mem,
                hwm_before_fit_gb = hwm0, hwm_after_fit_gb = hwm1,
                survdiff_seconds = t2, chisq = s$chisq),
           '{out}', digits = NA, auto_unbox = TRUE)
"""
    script = tmp / "coxph.R"
    script.write_text(code)
    log = tmp / "r.log"
    rcode, peak = run_measured(["Rscript", str(script)], None, timeout, log)
    if rcode != 0:
        print(f"  R failed (exit {rcode}):\n{log.read_text()[-2000:]}")
        return None
    res = json.loads(out.read_text())
    res["peak_rss_gb"] = peak
    return res


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def km_max_abs_diff(tmp: Path) -> float:
    """Largest |S_wpeval - S_lifelines| of the weighted curves, at every time wpeval reports."""
    ours = pd.read_parquet(tmp / "wpeval_km_weighted.parquet")
    theirs = pd.read_parquet(tmp / "lifelines_km.parquet")
    both = ours.merge(theirs, on=["contract", "time"], how="left", suffixes=("", "_ll"))
    if both["surv_ll"].isna().any():  # a time wpeval reports that lifelines does not
        return float("nan")
    return float(np.max(np.abs(both["surv"] - both["surv_ll"])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--lifelines-max", type=int, default=200_000)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--json", help="also write the summary rows to this JSON file")
    ap.add_argument("--worker")
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--n", type=int)
    ap.add_argument("--csv")
    args = ap.parse_args()
    if args.worker == "make_data":
        data_worker(args.n, args.data, args.csv, args.out)
        return
    if args.worker:
        worker(args.worker, args.data, args.out)
        return
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for n in args.sizes:
            print(
                f"\n=== n = {n:,} rows, {N_STRATA} strata, {len(covariates()) + 1} Cox "
                "covariates (40 columns incl. 2 arm dummies) ===",
                flush=True,
            )
            load0 = load_avg()
            pq, csv = tmp / f"d{n}.parquet", tmp / f"d{n}.csv"
            write_data(n, pq, None if args.no_r else csv, tmp)
            print(f"  load average before: {load0}", flush=True)
            wp = run_worker("wpeval_cox", pq, tmp)
            print(
                f"  wpeval cox:  fit {wp['seconds']:6.1f}s, peak RSS "
                f"{wp['hwm_after_fit_gb']:.2f} GB "
                f"(before fit {wp['hwm_before_fit_gb']:.2f} GB; process incl. a 2nd traced fit "
                f"{wp['peak_rss_gb']:.2f} GB), {wp['iterations']} Newton steps; fit's own "
                f"allocations (tracemalloc) {wp['fit_traced_peak_gb']:.2f} GB",
                flush=True,
            )
            r = None if args.no_r else run_r(csv, tmp)
            if r:
                print(
                    f"  R coxph:     fit {r['seconds']:6.1f}s, peak RSS {r['peak_rss_gb']:.2f} GB "
                    f"(before fit {r['hwm_before_fit_gb']:.2f} GB), {r['iter']} iterations, "
                    f"R gc max used {r['max_used_mb']:.0f} MB; wpeval vs R: coef rel diff "
                    f"{rel(wp['coef'], r['coef']):.1e}, se rel diff {rel(wp['se'], r['se']):.1e}",
                    flush=True,
                )
            ll = None
            if n <= args.lifelines_max:
                ll = run_worker("lifelines_cox", pq, tmp)
                if ll:
                    ref = r["coef"] if r else wp["coef"]
                    print(
                        f"  lifelines:   fit {ll['seconds']:6.1f}s, peak RSS "
                        f"{ll['peak_rss_gb']:.2f} GB (before fit {ll['hwm_before_fit_gb']:.2f} "
                        f"GB); coef rel diff vs {'R' if r else 'wpeval'} "
                        f"{rel(ll['coef'], ref):.1e}",
                        flush=True,
                    )
            load1 = load_avg()
            print(
                "  => stratified Efron Cox, R coxph / wpeval time: "
                + (f"{r['seconds'] / wp['seconds']:.1f}x" if r else "n/a")
                + ", lifelines / wpeval: "
                + (f"{ll['seconds'] / wp['seconds']:.1f}x" if ll else "n/a")
                + f"; peak RSS wpeval {wp['hwm_after_fit_gb']:.2f} GB"
                + (f" vs R {r['peak_rss_gb']:.2f} GB" if r else "")
                + f" (load average after: {load1})",
                flush=True,
            )
            cl = run_worker("wpeval_cox_cluster", pq, tmp)
            print(
                f"  wpeval cox + cluster-robust SE ({n // 3:,} clusters): "
                f"{cl['seconds']:.1f}s, peak {cl['maxrss_gb']:.2f} GB",
                flush=True,
            )
            km = run_worker("wpeval_km_logrank", pq, tmp)
            print(
                f"  wpeval KM ({km['n_curves']} curves) + stratified log-rank: "
                f"{km['seconds']:.2f}s (KM {km['km_seconds']:.2f}s, log-rank "
                f"{km['logrank_seconds']:.2f}s), peak {km['maxrss_gb']:.2f} GB"
                + (
                    f"; chi2 rel diff vs R survdiff {rel(km['chisq'], r['chisq']):.1e} "
                    f"(R survdiff {r['survdiff_seconds']:.2f}s)"
                    if r
                    else ""
                ),
                flush=True,
            )
            kw = run_worker("wpeval_km_weighted", pq, tmp)
            kl = run_worker("lifelines_km", pq, tmp)
            km_diff = km_max_abs_diff(tmp) if kw and kl else np.nan
            if kw:
                print(
                    f"  wpeval weighted KM, {kw['n_curves']} contract curves in one call (IJ "
                    f"robust SE): {kw['seconds']:.2f}s, peak RSS {kw['peak_rss_gb']:.2f} GB "
                    f"(before fit {kw['hwm_before_fit_gb']:.2f} GB)",
                    flush=True,
                )
            if kl:
                print(
                    f"  lifelines KaplanMeierFitter, one fit per contract ({kl['n_curves']}): "
                    f"unweighted {kl['seconds']:.2f}s, weighted {kl['weighted_seconds']:.2f}s, "
                    f"peak RSS {kl['peak_rss_gb']:.2f} GB (before fits "
                    f"{kl['hwm_before_fit_gb']:.2f} GB, after the unweighted ones "
                    f"{kl['hwm_after_unweighted_gb']:.2f} GB)",
                    flush=True,
                )
            if kw and kl:
                ratio = kl["seconds"] / kw["seconds"]
                print(
                    f"  => KM, lifelines unweighted / wpeval weighted time: {ratio:.2f}x "
                    f"(target >= 1: {'met' if ratio >= 1 else 'NOT met'}); lifelines weighted / "
                    f"wpeval weighted: {kl['weighted_seconds'] / kw['seconds']:.2f}x; "
                    f"max |S_wpeval - S_lifelines| (weighted) {km_diff:.1e} "
                    f"(load average: {load_avg()})",
                    flush=True,
                )
            peak_all = max(
                [wp["hwm_after_fit_gb"], cl["peak_rss_gb"], km["peak_rss_gb"]]
                + [x["peak_rss_gb"] for x in (kw, kl) if x]
            )
            rows.append(
                {
                    "n": n,
                    "wpeval_cox_s": wp["seconds"],
                    "wpeval_peak_gb": wp["hwm_after_fit_gb"],
                    "wpeval_fit_peak_gb": wp["fit_traced_peak_gb"],
                    "R_coxph_s": r["seconds"] if r else np.nan,
                    "R_over_wpeval": r["seconds"] / wp["seconds"] if r else np.nan,
                    "R_peak_gb": r["peak_rss_gb"] if r else np.nan,
                    "coef_rel_diff_vs_R": rel(wp["coef"], r["coef"]) if r else np.nan,
                    "se_rel_diff_vs_R": rel(wp["se"], r["se"]) if r else np.nan,
                    "lifelines_s": ll["seconds"] if ll else np.nan,
                    "lifelines_over_wpeval": ll["seconds"] / wp["seconds"] if ll else np.nan,
                    "lifelines_peak_gb": ll["peak_rss_gb"] if ll else np.nan,
                    "lifelines_coef_rel_diff_vs_R": (
                        rel(ll["coef"], r["coef"]) if ll and r else np.nan
                    ),
                    "wpeval_cluster_s": cl["seconds"],
                    "km_logrank_s": km["seconds"],
                    "km_logrank_target_met": km["seconds"] < TARGET_KM_LR,
                    "km_w_wpeval_s": kw["seconds"] if kw else np.nan,
                    "km_w_wpeval_peak_gb": kw["peak_rss_gb"] if kw else np.nan,
                    "km_lifelines_unw_s": kl["seconds"] if kl else np.nan,
                    "km_lifelines_w_s": kl["weighted_seconds"] if kl else np.nan,
                    "km_lifelines_peak_gb": kl["peak_rss_gb"] if kl else np.nan,
                    "km_lifelines_unw_over_wpeval_w": (
                        kl["seconds"] / kw["seconds"] if kw and kl else np.nan
                    ),
                    "km_target_met": bool(kw and kl and kl["seconds"] >= kw["seconds"]),
                    "km_w_max_abs_diff": km_diff,
                    "peak_rss_wpeval_max_gb": peak_all,
                    "peak_under_4gb": peak_all < TARGET_PEAK_GB,
                    "load_before_after": f"{load0} / {load1}",
                }
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float))
    print("\nSummary")
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        30,
        "display.float_format",
        lambda v: f"{v:.3g}",
    ):
        print(pd.DataFrame(rows).to_string(index=False))
    print(
        f"this parent process peaked at {maxrss_gb():.2f} GB: a floor under every child's "
        "os.wait4 peak (a child inherits it at exec)"
    )
    print(
        f"machine: {os.cpu_count()} cores; Python BLAS threads "
        f"{os.environ.get('OPENBLAS_NUM_THREADS', BLAS_THREADS)}; R single-threaded coxph"
    )


if __name__ == "__main__":
    main()
