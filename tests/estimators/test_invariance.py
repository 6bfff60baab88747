"""Invariance and equivariance of the estimators (issue 8).

What must not change the numbers (beyond floating-point noise, rtol 1e-9):

- the order of the rows;
- the labels of primes, CPAs, strata, payment groups and treatment arms (renamed strings,
  categorical instead of object dtype); when a renaming reverses the order of the two compared
  arms, a difference changes sign and nothing else;
- the units: time in days or weeks for the survival estimators (coefficients, log-rank
  statistics and survival probabilities invariant; medians, RMST and its SE scale by 1/7),
  and for the design-based estimators the units of the outcome (estimates and SEs scale,
  statistics and p-values do not) and of the covariates (no effect at all).

These are exact identities of the estimators, so the expected values are the estimator's own
output on the untransformed data: what is tested is the absence of any dependence on order,
labels or units.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from wpeval.data import outcomes as wo
from wpeval.data.design import add_period
from wpeval.estimators.contrasts import compare_primes
from wpeval.estimators.heterogeneity import creaming_and_parking, group_differences
from wpeval.estimators.randomised import diff_in_means, horvitz_thompson, iv_effect, lin_adjusted
from wpeval.estimators.ranking import contract_effects, funnel_data, league_table
from wpeval.estimators.survival import (
    competing_risks,
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    rmst,
)
from wpeval.exceptions import StatisticalWarning
from wpeval.inference.randomisation import randomisation_test

RTOL = 1e-9
NUM = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "df", "n"]


def close(a, b, rtol=RTOL, what=""):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    finite = np.abs(a[np.isfinite(a)])
    scale = max(1.0, float(finite.max(initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13 * scale, equal_nan=True, err_msg=what)


def same_table(r1, r2, key="term", cols=NUM, rtol=RTOL):
    t1 = r1.tidy().sort_values(key, kind="mergesort").reset_index(drop=True)
    t2 = r2.tidy().sort_values(key, kind="mergesort").reset_index(drop=True)
    assert t1[key].tolist() == t2[key].tolist()
    for c in cols:
        if c in t1.columns:
            close(t1[c], t2[c], rtol, what=c)


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return fn(*a, **k)


# ------------------------------------------------------------------------------ data
def experiment(n=400, seed=11, blocks=8):
    """A block-randomised two-arm experiment: ``y`` continuous, ``yb`` 0/1, covariates ``x1``
    (float) and ``x2`` (3 levels), received ``d``, ``prob`` = 0.5, clusters ``cl`` of 2 nested
    in blocks with a constant arm."""
    rng = np.random.default_rng(seed)
    blk = np.repeat([f"s{k:02d}" for k in range(blocks)], n // blocks)
    pair = np.arange(n) // 2
    t = np.where(rng.permutation(pair.max() + 1)[pair] % 2 == 0, "A", "B")
    x1 = rng.normal(size=n)
    y = 1.0 + 0.5 * (t == "B") + 0.8 * x1 + rng.normal(size=n)
    return pd.DataFrame(
        {
            "person_id": np.arange(n) + 1,
            "y": y,
            "yb": (y > 1.2).astype(float),
            "t": t,
            "blk": blk,
            "cl": pair,
            "x1": x1,
            "x2": rng.choice(["p", "q", "r"], n),
            "d": (rng.random(n) < np.where(t == "B", 0.75, 0.15)).astype(float),
            "prob": 0.5,
        }
    )


@pytest.fixture(scope="module")
def exp():
    return experiment()


@pytest.fixture(scope="module")
def programme(synthetic_referrals):
    """Six CPAs of the session's synthetic programme with outcomes and periods derived."""
    df = synthetic_referrals
    df = df[df["cpa"].isin(["CPA01", "CPA02", "CPA05", "CPA07", "CPA11", "CPA16"])]
    df = add_period(wo.outcome_flags(wo.job_entry_times(df.reset_index(drop=True))))
    for c in ("cpa", "prime", "district", "payment_group", "period", "assessed_stream"):
        df[c] = df[c].astype(str)
    return df.reset_index(drop=True)


@pytest.fixture(scope="module")
def surv(programme):
    """Three CPAs for the survival checks (integer days: many ties)."""
    return programme[programme["cpa"].isin(["CPA01", "CPA05", "CPA11"])].reset_index(drop=True)


def shuffled(df, seed=5):
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


# ------------------------------------------------------------------------------ row order
RANDOMISED = {
    "dim": lambda d: diff_in_means(d, "y", "t"),
    "dim_blocked": lambda d: diff_in_means(d, "y", "t", blocks="blk"),
    "dim_clustered": lambda d: diff_in_means(d, "y", "t", clusters="cl"),
    "dim_block_clustered": lambda d: diff_in_means(d, "y", "t", blocks="blk", clusters="cl"),
    "ht": lambda d: horvitz_thompson(d, "y", "t", condition_prob="prob"),
    "ht_blocked": lambda d: horvitz_thompson(d, "y", "t", blocks="blk"),
    "lin": lambda d: lin_adjusted(d, "y", "t", ["x1", "x2"]),
    "lin_blocked": lambda d: lin_adjusted(d, "y", "t", ["x1", "x2"], blocks="blk"),
    "iv": lambda d: iv_effect(d, "y", "t", "d", covariates=["x1", "x2"]),
    "iv_blocked": lambda d: iv_effect(d, "y", "t", "d", covariates="x1", blocks="blk"),
}


@pytest.mark.parametrize("name", sorted(RANDOMISED))
def test_randomised_row_order(exp, name):
    fn = RANDOMISED[name]
    ref = quiet(fn, exp)
    same_table(ref, quiet(fn, shuffled(exp)))
    same_table(ref, quiet(fn, exp.iloc[::-1]))


def test_randomisation_test_row_order_exact_and_monte_carlo():
    small = experiment(n=24, blocks=3, seed=3)  # C(8,4)^3 = 343,000 assignments
    kw = dict(blocks="blk", draws=400_000, seed=1)
    ref = randomisation_test(small, "y", "t", **kw)
    assert ref.extra["exact"]
    same_table(ref, randomisation_test(shuffled(small), "y", "t", **kw))
    # Monte Carlo: the observed statistic does not depend on the order (the draws do)
    big = experiment()
    a = randomisation_test(big, "y", "t", blocks="blk", draws=200, seed=1, ci=False)
    b = randomisation_test(shuffled(big), "y", "t", blocks="blk", draws=200, seed=1, ci=False)
    close(a.estimate, b.estimate)
    close(a.table["statistic"], b.table["statistic"])


PROGRAMME = {
    "compare_primes": lambda d: compare_primes(d, "job_outcome_24m"),
    "contract_effects": lambda d: contract_effects(d, "job_outcome_24m"),
    "league_table": lambda d: league_table(d, "job_outcome_24m", seed=4, draws=500),
    "funnel_data": lambda d: funnel_data(d, "job_outcome_24m"),
    "creaming_and_parking": lambda d: creaming_and_parking(d),
}


@pytest.mark.parametrize("name", sorted(PROGRAMME))
def test_programme_estimators_row_order(programme, name):
    fn = PROGRAMME[name]
    ref = quiet(fn, programme)
    other = quiet(fn, shuffled(programme))
    same_table(ref, other)
    if name == "league_table":
        for c in (
            "shrunk_effect",
            "posterior_sd",
            "rank",
            "rank_low",
            "rank_high",
            "rank_national_low",
            "rank_national_high",
        ):
            close(ref.table[c], other.table[c], what=c)


def test_group_differences_row_order(programme):
    a = quiet(group_differences, programme, "job_outcome_24m")
    b = quiet(group_differences, shuffled(programme), "job_outcome_24m")
    same_table(a.interaction, b.interaction)
    same_table(a.prime_effects, b.prime_effects)
    same_table(a.rates, b.rates)


SURVIVAL = {
    "kaplan_meier": lambda d: kaplan_meier(
        d, "entry_days", "entry_event", group="prime", strata="cpa"
    ),
    "logrank": lambda d: logrank(d, "entry_days", "entry_event", "prime", strata="cpa"),
    "cox": lambda d: cox(
        d, "entry_days", "entry_event", ["age", "payment_group"], strata=["cpa", "prime"]
    ),
    "cox_breslow_robust": lambda d: cox(
        d, "entry_days", "entry_event", ["age", "disability"], ties="breslow", robust=True
    ),
    "rmst": lambda d: rmst(d, "entry_days", "entry_event", "cpa", 365.0),
    "cumulative_incidence": lambda d: cumulative_incidence(
        d, "entry_days", "entry_cause", group="cpa"
    ),
    "fine_gray": lambda d: competing_risks(d, "entry_days", "entry_cause", ["age"]),
}


def _curve_key(res):
    keys = [c for c in ("curve", "cause", "time") if c in res.table.columns]
    return res.table.sort_values(keys, kind="mergesort").reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(SURVIVAL))
def test_survival_row_order(surv, name):
    fn = SURVIVAL[name]
    a, b = quiet(fn, surv), quiet(fn, shuffled(surv))
    if name in ("kaplan_meier", "cumulative_incidence"):
        ta, tb = _curve_key(a), _curve_key(b)
        for c in ("time", "n_risk", "surv", "std_err", "cif", "conf_low", "conf_high"):
            if c in ta.columns:
                close(ta[c], tb[c], what=c)
    else:
        same_table(a, b)


# ------------------------------------------------------------------------------ labels
def rename(df, col, mapping):
    return df.assign(**{col: df[col].map(mapping)})


def test_block_and_cluster_labels_do_not_matter(exp):
    # new names in the reverse sort order, then integers, then a categorical
    labels = sorted(exp["blk"].unique())
    rev = {b: f"zone-{len(labels) - i:03d}" for i, b in enumerate(labels)}
    variants = [
        rename(exp, "blk", rev),
        exp.assign(blk=pd.factorize(exp["blk"])[0] * 7 + 3),
        exp.assign(blk=exp["blk"].astype("category")),
        exp.assign(cl=exp["cl"].astype(str) + "x"),
    ]
    for name in ("dim_blocked", "ht_blocked", "lin_blocked", "iv_blocked", "dim_block_clustered"):
        ref = quiet(RANDOMISED[name], exp)
        for v in variants:
            same_table(ref, quiet(RANDOMISED[name], v))


@pytest.mark.parametrize("name", sorted(RANDOMISED))
def test_treatment_relabelling(exp, name):
    fn = RANDOMISED[name]
    ref = quiet(fn, exp).tidy().iloc[0]
    kept = quiet(fn, rename(exp, "t", {"A": "arm 1", "B": "arm 2"})).tidy().iloc[0]
    flipped = quiet(fn, rename(exp, "t", {"A": "zeta", "B": "alpha"})).tidy().iloc[0]
    cat = quiet(fn, exp.assign(t=pd.Categorical(exp["t"], categories=["A", "B"]))).tidy()
    for c in ("estimate", "std_error", "p_value", "df", "n"):
        close(ref[c], kept[c], what=c)
        close(ref[c], cat[c].iloc[0], what=c)
    if name.startswith("iv"):  # the instrument flips sign; the effect of receipt does not
        close(ref["estimate"], flipped["estimate"])
    else:
        close(ref["estimate"], -flipped["estimate"])
    close(ref["std_error"], flipped["std_error"])
    close(ref["p_value"], flipped["p_value"])


def _relabel_programme(df):
    """Primes renamed so that their order within CPAs reverses; CPAs, districts, periods and
    payment groups renamed; returns (frame, prime map)."""
    primes = sorted(df["prime"].unique())
    pmap = {p: f"{chr(ord('z') - i)}-prime" for i, p in enumerate(primes)}
    out = df.assign(
        prime=df["prime"].map(pmap),
        cpa=df["cpa"].map(lambda c: "area " + c[::-1]),
        district=df["district"].map(lambda c: c.lower() + "!"),
        period=df["period"].map(lambda p: "P" + p),
        payment_group=df["payment_group"].map(lambda g: g.upper()),
    )
    return out, pmap


def test_compare_primes_prime_relabelling(programme):
    ref = quiet(compare_primes, programme, "job_outcome_24m").tidy()
    new, pmap = _relabel_programme(programme)
    new = quiet(compare_primes, new, "job_outcome_24m").tidy()
    # keyed by CPA too: synthetic primes are called Prime A, Prime B... in every CPA
    cpa_back = {"area " + str(c)[::-1]: str(c) for c in programme["cpa"].unique()}
    got = {(cpa_back[r.cpa], r.prime_a, r.prime_b): r for r in new.itertuples()}
    assert len(got) == len(ref)
    for r in ref.itertuples():
        if r.contrast == "vs_cpa_average":
            g = got[(r.cpa, pmap[r.prime_a], "CPA average")]
            sign = 1.0
        elif (r.cpa, pmap[r.prime_a], pmap[r.prime_b]) in got:
            g, sign = got[(r.cpa, pmap[r.prime_a], pmap[r.prime_b])], 1.0
        else:  # the renaming reversed the sorted order: B - A instead of A - B
            g, sign = got[(r.cpa, pmap[r.prime_b], pmap[r.prime_a])], -1.0
        close(r.estimate, sign * g.estimate, what=r.term)
        for c in ("std_error", "p_value", "n", "n_strata_used", "p_adjusted_cpa"):
            close(getattr(r, c), getattr(g, c), what=f"{r.term} {c}")


def test_league_table_and_group_differences_relabelling(programme):
    ref = quiet(league_table, programme, "job_outcome_24m", seed=4, draws=500, critical="holm")
    new, pmap = _relabel_programme(programme)
    got = quiet(league_table, new, "job_outcome_24m", seed=4, draws=500, critical="holm")
    rt = ref.tidy().assign(prime=lambda t: t["prime"].map(pmap))
    gt = got.tidy()
    key = {(r.prime, r.n): r for r in gt.itertuples()}
    for r in rt.itertuples():
        g = key[(r.prime, r.n)]
        for c in (
            "estimate",
            "std_error",
            "shrunk_effect",
            "posterior_sd",
            "rank",
            "rank_low",
            "rank_high",
            "rank_national_low",
            "rank_national_high",
        ):
            close(getattr(r, c), getattr(g, c), what=f"{r.term} {c}")
    # group_differences measures prime effects against the first prime in sorted order, and a
    # CPA is tested only if every group's effects are identified against that reference:
    # so here the primes are renamed keeping their order (an order-reversing renaming can
    # change which CPAs are testable -- a documented property of the reference choice)
    kept = {p: f"{i:02d}-{p[::-1]}" for i, p in enumerate(sorted(programme["prime"].unique()))}
    new = new.assign(prime=programme["prime"].map(kept).to_numpy())
    a = quiet(group_differences, programme, "job_outcome_24m").interaction.tidy()
    b = quiet(group_differences, new, "job_outcome_24m").interaction.tidy()
    a = a.assign(term=a["term"].map(lambda c: "area " + c[::-1])).sort_values("term")
    b = b.sort_values("term")
    assert a["term"].tolist() == b["term"].tolist()
    for c in ("statistic", "df", "p_value", "p_adjusted", "n"):
        close(a[c], b[c], what=c)


def test_survival_group_and_strata_relabelling(surv):
    new = surv.assign(
        prime=surv["prime"].map(lambda p: "~" + p[::-1]), cpa=surv["cpa"].map(lambda c: c.lower())
    )
    for name in ("logrank", "cox"):
        a = quiet(SURVIVAL[name], surv).tidy()
        b = quiet(SURVIVAL[name], new).tidy()
        if name == "logrank":
            close(a["estimate"], b["estimate"])
            close(a["df"], b["df"])
        else:  # the age coefficient does not depend on the prime / CPA labels
            close(a.loc[a["term"] == "age", "estimate"], b.loc[b["term"] == "age", "estimate"])
            close(a.loc[a["term"] == "age", "std_error"], b.loc[b["term"] == "age", "std_error"])


# ------------------------------------------------------------------------------ units
def test_survival_days_versus_weeks(surv):
    weeks = surv.assign(entry_days=surv["entry_days"] / 7.0)
    # coefficients and their SEs: invariant (the partial likelihood only uses the order)
    for name in ("cox", "cox_breslow_robust", "fine_gray"):
        same_table(quiet(SURVIVAL[name], surv), quiet(SURVIVAL[name], weeks))
    close(quiet(SURVIVAL["logrank"], surv).estimate, quiet(SURVIVAL["logrank"], weeks).estimate)
    # Kaplan-Meier: the same curve on a time axis divided by 7; medians scale by 1/7
    a, b = quiet(SURVIVAL["kaplan_meier"], surv), quiet(SURVIVAL["kaplan_meier"], weeks)
    ta, tb = _curve_key(a), _curve_key(b)
    close(ta["time"] / 7.0, tb["time"])
    for c in ("surv", "std_err", "conf_low", "conf_high", "n_risk"):
        close(ta[c], tb[c], what=c)
    ma, mb = a.median().sort_values("curve"), b.median().sort_values("curve")
    assert ma["reached"].any()
    for c in ("median", "conf_low", "conf_high"):
        close(ma[c] / 7.0, mb[c], what=c)
    # RMST to 52 weeks = 364 days: the RMST, its SE and the differences scale by 1/7
    ra = rmst(surv, "entry_days", "entry_event", "cpa", 364.0).tidy()
    rb = rmst(weeks, "entry_days", "entry_event", "cpa", 52.0).tidy()
    for c in ("estimate", "std_error", "conf_low", "conf_high"):
        close(ra[c] / 7.0, rb[c], what=c)
    close(ra["p_value"], rb["p_value"])
    # cumulative incidence: the same values at the scaled times
    ca, cb = (_curve_key(quiet(SURVIVAL["cumulative_incidence"], d)) for d in (surv, weeks))
    close(ca["time"] / 7.0, cb["time"])
    close(ca["cif"], cb["cif"])
    close(ca["std_err"], cb["std_err"])


@pytest.mark.parametrize("name", sorted(RANDOMISED))
@pytest.mark.parametrize("c", [1e-6, 1e4])
def test_outcome_units_scale_estimates_not_tests(exp, name, c):
    a = quiet(RANDOMISED[name], exp).tidy().iloc[0]
    b = quiet(RANDOMISED[name], exp.assign(y=exp["y"] * c)).tidy().iloc[0]
    for col in ("estimate", "std_error", "conf_low", "conf_high"):
        close(a[col] * c, b[col], what=col)
    for col in ("statistic", "p_value", "df"):
        close(a[col], b[col], what=col)


@pytest.mark.parametrize("name", ["lin", "lin_blocked", "iv", "iv_blocked"])
@pytest.mark.parametrize("c", [1e-12, 1e-3, 1e5, 1e12])
def test_covariate_units_do_not_matter(exp, name, c):
    # before the fix lin_adjusted dropped a covariate in small units (absolute threshold) and
    # iv_effect's pinv/lstsq cut-offs dropped covariates in large or small units
    a = quiet(RANDOMISED[name], exp).tidy().iloc[0]
    b = quiet(RANDOMISED[name], exp.assign(x1=exp["x1"] * c)).tidy().iloc[0]
    for col in ("estimate", "std_error", "p_value"):
        close(a[col], b[col], rtol=1e-8, what=col)


@pytest.mark.parametrize("c", [1e-6, 1e-3, 1e4])
def test_received_units_scale_the_complier_effect(exp, c):
    a = quiet(iv_effect, exp, "y", "t", "d", covariates="x1").tidy().iloc[0]
    b = quiet(iv_effect, exp.assign(d=exp["d"] * c), "y", "t", "d", covariates="x1")
    close(a["estimate"], b.estimate * c, rtol=1e-8)
    close(a["std_error"], b.std_error * c, rtol=1e-8)
    close(a["p_value"], b.tidy()["p_value"].iloc[0], rtol=1e-8)


@pytest.mark.parametrize("c", [1e-9, 1e3])
def test_randomisation_test_outcome_units(exp, c):
    # before the fix the tie tolerance had an absolute floor of 1e-9: in small units every
    # draw counted as extreme (p = 1) and the interval collapsed
    kw = dict(blocks="blk", draws=300, seed=7)
    a = randomisation_test(exp, "y", "t", **kw).tidy().iloc[0]
    b = randomisation_test(exp.assign(y=exp["y"] * c), "y", "t", **kw).tidy().iloc[0]
    close(a["p_value"], b["p_value"])
    for col in ("estimate", "std_error", "conf_low", "conf_high"):
        close(a[col] * c, b[col], rtol=1e-7, what=col)


def test_ranking_outcome_units(programme):
    # before the fix REML stopped after one step for effects in small units (absolute tol)
    c = 1e-4
    a = quiet(league_table, programme, "job_outcome_24m", seed=4, draws=500)
    b = quiet(
        league_table,
        programme.assign(job_outcome_24m=programme["job_outcome_24m"] * c),
        "job_outcome_24m",
        seed=4,
        draws=500,
    )
    close(a.extra["tau2"] * c * c, b.extra["tau2"], rtol=1e-7)
    for col in ("estimate", "std_error", "shrunk_effect", "posterior_sd"):
        close(a.table[col] * c, b.table[col], rtol=1e-7, what=col)
    for col in ("rank", "rank_low", "rank_high", "p_value"):
        close(a.table[col], b.table[col], rtol=1e-7, what=col)
    ga = quiet(group_differences, programme, "job_outcome_24m").interaction.tidy()
    gb = quiet(
        group_differences,
        programme.assign(job_outcome_24m=programme["job_outcome_24m"] * c),
        "job_outcome_24m",
    ).interaction.tidy()
    close(ga["statistic"], gb["statistic"], rtol=1e-8)
    cpa = quiet(compare_primes, programme, "job_outcome_24m").tidy()
    cpb = quiet(
        compare_primes,
        programme.assign(job_outcome_24m=programme["job_outcome_24m"] * c),
        "job_outcome_24m",
    ).tidy()
    close(cpa["estimate"] * c, cpb["estimate"])
    close(cpa["p_value"], cpb["p_value"])
