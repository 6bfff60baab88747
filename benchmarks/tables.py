"""Benchmark: the full report-table set (wpeval.publish.tables.report_tables) for 2M referrals.

Target: under 30 s on 2 cores (the data generation is timed separately and not counted).
Also times payments() and group_differences() at the same size.

    .venv/bin/python benchmarks/tables.py [--n 2000000] [--seed 20110601]
"""

from __future__ import annotations

import argparse
import time
import warnings

TARGET_SECONDS = 30.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2_000_000, help="referrals")
    ap.add_argument("--seed", type=int, default=20110601, help="generator seed")
    args = ap.parse_args()

    import wpeval
    from wpeval.data.outcomes import outcome_flags
    from wpeval.estimators.heterogeneity import group_differences
    from wpeval.exceptions import StatisticalWarning
    from wpeval.payments import payments
    from wpeval.publish import tables

    t0 = time.perf_counter()
    df = wpeval.make_programme(args.n, seed=args.seed).referrals
    print(
        f"generate {args.n:,} referrals (wpeval.make_programme): {time.perf_counter() - t0:6.1f} s"
    )

    timings = {}  # name -> (wall seconds, CPU seconds of this process)

    def clock():
        return time.perf_counter(), time.process_time()

    def since(start):
        return time.perf_counter() - start[0], time.process_time() - start[1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        t0 = clock()
        res = payments(df)
        timings["payments"] = since(t0)
        t0 = clock()
        out = tables.report_tables(df)
        timings["report_tables (all tables, incl. payments)"] = since(t0)
        for tab in out.values():
            tab.to_html()
            tab.to_csv()
        timings["report_tables + HTML/CSV export"] = since(t0)
        flags = outcome_flags(df)
        t0 = clock()
        gd = group_differences(flags, "job_outcome_24m")
        timings["group_differences (18 CPAs)"] = since(t0)

    print(f"{'step':45s} {'wall':>7s} {'cpu':>7s}")
    for name, (wall, cpu) in timings.items():
        print(f"{name:45s} {wall:6.1f}s {cpu:6.1f}s")
    total = timings["report_tables + HTML/CSV export"][0]
    print(
        f"tables: {len(out)} tables; total paid {res.totals()['total_paid']:,.0f} pounds; "
        f"{int(gd.interaction.table.shape[0])} CPAs tested"
    )
    print(
        f"TARGET < {TARGET_SECONDS:.0f} s for the table set: "
        f"{'PASS' if total < TARGET_SECONDS else 'FAIL'} ({total:.1f} s)"
    )


if __name__ == "__main__":
    main()
