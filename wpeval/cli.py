"""The ``wpeval`` command (also ``python -m wpeval``).

Subcommands::

    wpeval generate --n 200000 --seed 20110601 [--config synth.yaml] --out data_synthetic/x.parquet
    wpeval validate data.parquet [--lenient]
    wpeval run [--params notebooks/params/smoke.yaml] [--notebook NAME ...] [--data PATH]
               [--jobs N] [--out outputs] [--sweep cpa=all|CPA01,CPA02] [--timeout S]
               [--backend processes|dask] [--scheduler tcp://host:8786]
    wpeval index [--out outputs]
    wpeval bench [NAME ...]
    wpeval statxplore fetch --query q.json --out resp.json [--url URL]   (key: $STATXPLORE_API_KEY)

Exit codes: 0 success; 1 a notebook failed, the data break the contract, or a benchmark
failed; 2 bad parameters or arguments (nothing was run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from wpeval.exceptions import DataContractError, ParameterError


def _cmd_generate(args: argparse.Namespace) -> int:
    from wpeval.data.synthetic import write_sample

    if args.n <= 0:
        raise ParameterError(f"--n must be a positive number of referrals, got {args.n}")
    t0 = time.perf_counter()
    path = write_sample(args.out, args.n, args.seed, args.config)
    print(
        f"wrote {args.n:,} synthetic referrals (seed {args.seed}) to {path} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from wpeval.data.io import read_referrals
    from wpeval.data.programme import for_data
    from wpeval.data.schema import validate

    try:
        df = read_referrals(args.path)
        if for_data(df).fictional:
            print("synthetic data (made by wpeval generate): invented prime names")
        report = validate(df, programme=for_data(df), strict=not args.lenient)
    except DataContractError as exc:
        print(f"DATA CONTRACT ERROR: {exc}", file=sys.stderr)
        report = getattr(exc, "report", None)
        if report is not None:
            _print_checks(report, pd, args.all)
        return 1
    _print_checks(report, pd, args.all)
    return 0


def _print_checks(report, pd, show_all: bool = False) -> None:
    frame = report.to_frame()
    print(
        f"rows in: {report.rows_in:,}; kept: {report.rows_kept:,}; "
        f"dropped: {report.rows_in - report.rows_kept:,}; rules checked: {len(frame)}"
    )
    shown = frame if show_all else frame[frame["n_failing"] > 0]
    if shown.empty:
        print("every check passed")
        return
    shown = shown.drop(columns=[c for c in ("description",) if c in shown.columns and not show_all])
    if "examples" in shown.columns:
        shown = shown.assign(
            examples=shown["examples"].map(
                lambda v: ", ".join(map(str, list(v)[:3])) if v is not None else ""
            )
        )
    shown = shown.assign(column=shown["column"].astype(str).str.slice(0, 40))
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        20,
        "display.max_colwidth",
        60,
        "display.max_rows",
        500,
    ):
        print(shown.to_string(index=False))


def _cmd_run(args: argparse.Namespace) -> int:
    from wpeval.publish import run as _run

    jobs = _run.plan(
        args.notebook or None,
        params_file=args.params,
        data=args.data,
        sweeps=args.sweep or (),
        out=args.out,
    )
    print(f"{len(jobs)} notebook run(s), {args.jobs} at a time -> {args.out}/", file=sys.stderr)
    t0 = time.perf_counter()
    backend = "dask" if (args.backend == "dask" or args.scheduler) else "processes"
    results = _run.execute(
        jobs,
        n_jobs=args.jobs,
        progress=not args.no_progress,
        timeout=args.timeout,
        backend=backend,
        scheduler=args.scheduler,
    )
    index = _run.write_index(args.out)
    for res in results:
        where = res.html or res.run_dir
        line = f"{res.status:6s} {res.notebook:28s} {res.duration_s:7.1f} s  {where}"
        if res.error:
            line += f"\n       {res.error['ename']}: {str(res.error['evalue'])[:300]}"
        print(line)
    failed = sum(r.status != "ok" for r in results)
    print(
        f"{len(results) - failed} ok, {failed} failed in {time.perf_counter() - t0:.1f} s; "
        f"index: {index}"
    )
    return 1 if failed else 0


def _cmd_index(args: argparse.Namespace) -> int:
    from wpeval.publish import run as _run

    print(_run.write_index(args.out))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    scripts = sorted(
        p for p in folder.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py"
    )
    if args.names:
        wanted = {n.removesuffix(".py") for n in args.names}
        unknown = wanted - {p.stem for p in scripts}
        if unknown:
            raise ParameterError(
                f"unknown benchmark(s) {sorted(unknown)}; known: {[p.stem for p in scripts]}"
            )
        scripts = [p for p in scripts if p.stem in wanted]
    if not scripts:
        raise ParameterError(f"no benchmark scripts in {folder}/")
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)])
        print(f"== {script.name}: exit {code} in {time.perf_counter() - t0:.1f} s", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_statxplore_fetch(args: argparse.Namespace) -> int:
    from wpeval.statxplore.fetch import fetch

    try:
        doc = fetch(args.query, url=args.url, out=args.out, timeout=args.timeout)
    except DataContractError as exc:
        print(f"wpeval statxplore fetch: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.out}: database {doc.get('database', {}).get('id', '?')}, "
        f"{len(doc.get('cubes', {}))} measure(s)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wpeval`` command."""
    from wpeval import __version__

    parser = argparse.ArgumentParser(
        prog="wpeval",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wpeval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_generate(sub)
    _add_validate(sub)
    _add_run(sub)
    _add_index(sub)
    _add_bench(sub)
    _add_statxplore(sub)
    return parser


def _add_generate(sub) -> None:
    """``wpeval generate``: write a synthetic referral-level Parquet file."""
    p = sub.add_parser("generate", help="write a synthetic referral-level Parquet file")
    p.add_argument("--n", type=int, required=True, help="number of referrals")
    p.add_argument("--seed", type=int, default=20110601, help="generator seed")
    p.add_argument("--config", default=None, help="YAML file of generator overrides")
    p.add_argument("--out", required=True, help="output .parquet path")
    p.set_defaults(func=_cmd_generate)


def _add_validate(sub) -> None:
    """``wpeval validate``: check a data file against the data contract."""
    p = sub.add_parser("validate", help="check a data file against the data contract")
    p.add_argument("path", help="referral-level data (Parquet or CSV)")
    p.add_argument(
        "--lenient",
        action="store_true",
        help="drop and count failing rows instead of failing (exit 0)",
    )
    p.add_argument("--all", action="store_true", help="list every rule, not only failing ones")
    p.set_defaults(func=_cmd_validate)


def _add_run(sub) -> None:
    """``wpeval run``: run notebooks and publish HTML reports and the index."""
    p = sub.add_parser("run", help="run notebooks and publish HTML reports + index")
    p.add_argument(
        "--params", default=None, help="YAML parameter file (default notebooks/params/default.yaml)"
    )
    p.add_argument(
        "--notebook",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="notebook names or paths (default: every notebooks/*.ipynb)",
    )
    p.add_argument("--data", default=None, help="data file for every notebook's data_path")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel")
    p.add_argument("--out", default="outputs", help="output folder (default outputs)")
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="one report per value: key=v1,v2 or cpa=all / payment_group=all",
    )
    p.add_argument(
        "--timeout", type=float, default=None, help="seconds allowed per cell (default: no limit)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--backend",
        choices=["processes", "dask"],
        default="processes",
        help="local process pool (default) or one Dask task per notebook",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://host:8786 (implies --backend dask; "
        "default $WPEVAL_DASK_SCHEDULER with --backend dask, else a "
        "LocalCluster of --jobs workers)",
    )
    p.set_defaults(func=_cmd_run)


def _add_index(sub) -> None:
    """``wpeval index``: rewrite the index from the runs present."""
    p = sub.add_parser("index", help="rewrite outputs/index.html from the runs present")
    p.add_argument("--out", default="outputs", help="output folder (default outputs)")
    p.set_defaults(func=_cmd_index)


def _add_bench(sub) -> None:
    """``wpeval bench``: run the benchmark scripts."""
    p = sub.add_parser("bench", help="run the benchmark scripts in benchmarks/")
    p.add_argument("names", nargs="*", help="benchmark names (default: all)")
    p.add_argument("--dir", default="benchmarks", help="folder of benchmark scripts")
    p.set_defaults(func=_cmd_bench)


def _add_statxplore(sub) -> None:
    """``wpeval statxplore fetch``: post a saved Stat-Xplore query."""
    p = sub.add_parser("statxplore", help="DWP Stat-Xplore: fetch published tables")
    sx = p.add_subparsers(dest="statxplore_command", required=True, metavar="ACTION")
    f = sx.add_parser(
        "fetch",
        help="post a saved table query (API key from "
        "$STATXPLORE_API_KEY) and save the JSON response",
    )
    f.add_argument("--query", required=True, help="saved query JSON file")
    f.add_argument("--out", required=True, help="where to write the response JSON")
    f.add_argument(
        "--url",
        default="https://stat-xplore.dwp.gov.uk/webapi/rest/v1/table",
        help="the /table endpoint",
    )
    f.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    f.set_defaults(func=_cmd_statxplore_fetch)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wpeval`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "jobs", 1) is not None and getattr(args, "jobs", 1) < 1:
        parser.error("--jobs must be at least 1")
    try:
        return int(args.func(args))
    except ParameterError as exc:
        print(f"wpeval {args.command}: parameter error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
