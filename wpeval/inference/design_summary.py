"""Plain-words summary of a design's power and of its simulation diagnosis, for reports."""

from __future__ import annotations

import numpy as np

__all__ = ["plain_summary"]


def _pp(x: float) -> str:
    return f"{100 * x:.1f} percentage points"


def plain_summary(power_table, diagnosis=None, *, threshold: float = 0.02) -> str:
    """A few sentences (Markdown) saying which contrasts the design can tell apart.

    Parameters
    ----------
    power_table : PowerTable
        Output of :func:`wpeval.power`.
    diagnosis : Diagnosis, optional
        Output of :func:`wpeval.diagnose`: adds what the simulation says about coverage and
        the estimators' bias.
    threshold : float, default 0.02
        A difference in outcome rates the reader cares about (2 percentage points).

    Returns
    -------
    str
    """
    t = power_table.tidy()
    m = power_table.method
    level, alpha = float(m["target_power"]), float(m["alpha"])
    ok = t["mde"] <= threshold
    best, worst = t.loc[t["mde"].idxmin()], t.loc[t["mde"].idxmax()]
    lines = [
        (
            f"- With these strata and allocation shares, a difference between two primes of the "
            f"same CPA is detected with {100 * level:g}% power (two-sided test at {alpha:g}) only "
            f"if it is at least the **minimum detectable effect (MDE)**, which ranges from "
            f"{_pp(best['mde'])} ({best['cpa']}: {best['term']}) to {_pp(worst['mde'])} "
            f"({worst['cpa']}: {worst['term']})."
        ),
        (
            f"- {int(ok.sum())} of {len(t)} contrasts can detect a difference of {_pp(threshold)}; "
            f"for the other {int((~ok).sum())} a real difference of that size would usually go "
            "unnoticed, and a non-significant result there is *not* evidence that the primes "
            "perform alike."
        ),
    ]
    if "power" in t:
        hi = t["power"] >= level
        lines.append(
            f"- At the effects assumed, {int(hi.sum())} of {len(t)} contrasts have at "
            f"least {100 * level:g}% power."
        )
    if diagnosis is not None:
        d = diagnosis.tidy()
        for est, sub in d.groupby("estimator", sort=False):
            if not (sub["n_sims"] > 0).any():
                lines.append(
                    f"- Simulation, **{est}**: failed in every replication (too few "
                    "referrals per stratum for this method); see `n_failed`."
                )
                continue
            cov = sub["coverage"].to_numpy(dtype=float)
            z = np.abs(sub["bias"] / sub["bias_mc_se"]).to_numpy(dtype=float)
            lines.append(
                f"- Simulation ({int(sub['n_sims'].max())} replications), **{est}**: intervals "
                f"cover the true difference in {100 * np.nanmin(cov):.0f}-"
                f"{100 * np.nanmax(cov):.0f}% of replications (nominal "
                f"{100 * (1 - alpha):g}%); the bias exceeds two Monte Carlo SEs for "
                f"{int(np.nansum(z > 2))} of {len(sub)} contrasts"
                + (
                    f"; it failed in {int(sub['n_failed'].sum())} fits"
                    if sub["n_failed"].any()
                    else ""
                )
                + "."
            )
    return "\n".join(lines)
