"""Property / fuzz tests of every public estimator (issue 8, estimator side).

Random malformed inputs -- missing columns, wrong dtypes, NaN and inf in outcomes and
covariates, empty frames, a treatment with one arm, one-arm strata, a single stratum, all
censored / zero events, huge (1e300) and tiny (1e-300) values, constant outcomes, duplicated
column labels, labels of mixed types -- must give

- a DataContractError (naming a rule), DesignError or ParameterError with a message, or
- a result whose headline numbers (estimate, standard error; survival probabilities) are all
  finite, or, if not, that carries a StatisticalWarning AND a note in ``method["notes"]``;

never an exception from deep inside pandas / numpy (KeyError, ZeroDivisionError,
LinAlgError, IndexError, TypeError, ...) and never another warning (RuntimeWarning from numpy,
pandas' FutureWarning...).

Hypothesis runs derandomized (the same examples on every run, see tests/hypothesis_profiles.py);
``WPEVAL_HYPOTHESIS=long`` runs 15 times as many. With ``WPEVAL_FUZZ_TALLY_EST=path.json`` the
count of inputs of each kind and what each got is written to that file when the module ends.

Survival estimators (``wpeval.estimators.survival``) are exercised as well; the four problems
found there (duplicated column labels, a singular log-rank variance, a monotone Cox likelihood,
covariates of size 1e300) are fixed and pinned by the tests below.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import fuzz_settings

from wpeval import payments as wp
from wpeval.data import outcomes as wo
from wpeval.estimators.contrasts import compare_primes
from wpeval.estimators.heterogeneity import creaming_and_parking, group_differences, group_rates
from wpeval.estimators.randomised import diff_in_means, horvitz_thompson, iv_effect, lin_adjusted
from wpeval.estimators.ranking import (
    contract_effects,
    eb_shrink,
    funnel_data,
    league_table,
    rank_confidence_sets,
)
from wpeval.estimators.survival import (
    competing_risks,
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    rmst,
)
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.inference.multiplicity import adjust_pvalues, romano_wolf
from wpeval.inference.randomisation import randomisation_test
from wpeval.publish import tables as wt
from wpeval.results import EffectTable

CLEAR = (DataContractError, DesignError, ParameterError)
TALLY: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _write_tally():
    yield
    out = os.environ.get("WPEVAL_FUZZ_TALLY_EST")
    if out:
        rows = sorted(f"{k[0]} | {k[1]} | {k[2]}: {v}" for k, v in TALLY.items())
        with open(out, "w") as fh:
            json.dump(rows, fh, indent=1)


# ------------------------------------------------------------------------------ the data
def base_frame(n: int, seed: int, n_blocks: int, arms: int) -> pd.DataFrame:
    """A well-formed frame with every column the estimators below use: outcome ``y``
    (continuous), ``yb`` (0/1), treatment ``t`` (``arms`` values, alternating), blocks
    ``blk`` / ``district``, clusters ``cl`` (three units of one arm), covariates ``x1`` (float) and
    ``x2`` (string), ``prob``,
    received ``d``, ``cpa`` / ``prime`` (three primes), durations ``dur`` with event ``ev``
    and cause ``cause``."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    t = np.array(["A", "B", "C"])[i % arms]
    blk = (
        np.array([f"b{k}" for k in range(n_blocks)])[(i // 2) % n_blocks]
        if n
        else np.array([], dtype=object)
    )
    return pd.DataFrame(
        {
            "person_id": 1000 + i,
            "y": rng.normal(size=n) + (t == "B"),
            "yb": (rng.random(n) < 0.4).astype(float),
            "t": t,
            "blk": blk,
            "district": blk,
            "x1": rng.normal(size=n),
            "x2": rng.choice(["u", "v", "w"], n),
            "prob": np.full(n, 0.5),
            "d": rng.random(n) < np.where(t == "B", 0.8, 0.2),
            "cpa": np.where(i % 4 < 2, "C1", "C2"),
            "prime": np.array(["P1", "P2", "P3"])[(i // 2) % 3]
            if n
            else np.array([], dtype=object),
            "payment_group": np.array(["g1", "g2"])[i % 2],
            "cl": (i % 2) + 2 * (i // 6),  # clusters of three units, one arm each
            "dur": np.round(rng.exponential(100, n)) + 1,
            "ev": (rng.random(n) < 0.7).astype(int),
            "cause": rng.choice([0, 1, 2], n),
        }
    )


def _col_mutation(kind: str, s: pd.Series, rng: np.random.Generator) -> pd.Series | None:
    """The column ``s`` changed as ``kind`` says (None: drop the column)."""
    n = len(s)
    pick = rng.random(n) < 0.3
    if kind == "drop":
        return None
    if kind == "nan_some":
        return (
            s.astype(float).where(~pick)
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
            else s.astype(object).where(~pick, np.nan)
        )
    if kind == "nan_all":
        return pd.Series(np.nan, index=s.index)
    if kind == "inf":
        out = s.astype(float) if pd.api.types.is_numeric_dtype(s) else s.astype(object)
        return out.where(~pick, np.inf)
    if kind == "huge":
        return (
            s.astype(float) * 1e300
            if pd.api.types.is_numeric_dtype(s)
            else s.astype(object).where(~pick, 1e300)
        )
    if kind == "tiny":
        return s.astype(float) * 1e-300 if pd.api.types.is_numeric_dtype(s) else s
    if kind == "constant":
        return pd.Series([s.iloc[0]] * n, index=s.index, dtype=s.dtype) if n else s
    if kind == "negative":
        return -s.astype(float) if pd.api.types.is_numeric_dtype(s) else s
    if kind == "as_text":
        return s.astype(str)
    if kind == "mixed_types":  # numbers and strings in one object column
        return (
            s.astype(object).where(~pick, "x")
            if pd.api.types.is_numeric_dtype(s)
            else s.astype(object).where(~pick, 1)
        )
    if kind == "categorical":
        return s.astype("category")
    if kind == "nullable":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean").where(~pick, pd.NA)
        if pd.api.types.is_numeric_dtype(s):
            return s.astype("Float64").where(~pick, pd.NA)
        return s.astype("string").where(~pick, pd.NA)
    if kind == "one_value":  # one arm / one stratum / one prime
        return pd.Series([s.iloc[0]] * n, index=s.index, dtype=object) if n else s
    if kind == "relabel_int":  # labels become integers (sortable, different dtype)
        return pd.Series(pd.factorize(s.astype(str))[0], index=s.index)
    raise AssertionError(kind)


COL_KINDS = [
    "drop",
    "nan_some",
    "nan_all",
    "inf",
    "huge",
    "tiny",
    "constant",
    "negative",
    "as_text",
    "mixed_types",
    "categorical",
    "nullable",
    "one_value",
    "relabel_int",
]
FRAME_KINDS = [
    "empty",
    "one_row",
    "few_rows",
    "one_arm_stratum",
    "all_censored",
    "all_events",
    "duplicate_column",
    "shuffled",
    "integer_column_labels",
    "three_arms",
]


def mutate(
    df: pd.DataFrame, kind: str, col: str | None, rng: np.random.Generator, seed: int = 0
) -> pd.DataFrame:
    """``df`` with one mutation: a column kind (:data:`COL_KINDS`) applied to ``col``, or a
    frame kind (:data:`FRAME_KINDS`; ``col`` names the column to duplicate)."""
    if kind in COL_KINDS:
        if col not in df.columns:
            return df
        new = _col_mutation(kind, df[col], rng)
        if new is None:
            return df.drop(columns=[col])
        return df.assign(**{col: new if kind == "nullable" else new.to_numpy()})
    if kind == "empty":
        return df.iloc[:0]
    if kind == "one_row":
        return df.iloc[:1]
    if kind == "few_rows":
        return df.iloc[: int(rng.integers(2, 6))]
    if kind == "one_arm_stratum" and len(df) and "t" in df and "blk" in df:
        first = df["blk"].astype(object).iloc[0]
        mask = df["blk"].astype(object).eq(first).to_numpy(dtype=bool)
        return df.assign(t=np.where(mask, df["t"].astype(object).iloc[0], df["t"].astype(object)))
    if kind == "all_censored":
        return df.assign(ev=0, cause=0)
    if kind == "all_events":
        return df.assign(ev=1, cause=1)
    if kind == "duplicate_column" and col in df.columns:
        return pd.concat([df, df[[col]]], axis=1)
    if kind == "shuffled":
        return df.sample(frac=1.0, random_state=seed)
    if kind == "integer_column_labels":
        return df.set_axis(range(df.shape[1]), axis=1)
    if kind == "three_arms" and len(df) and "t" in df.columns:
        return df.assign(t=np.array(["A", "B", "C"])[np.arange(len(df)) % 3])
    return df


@st.composite
def malformed(draw, roles: dict[str, str]):
    """(kinds, frame): a base frame with up to two mutations of the role columns and of the
    frame itself (none: a valid frame); ``kinds`` lists the mutations (for the tally and
    failure messages)."""
    n = draw(st.sampled_from([24, 24, 36, 48, 13, 7]))
    seed = draw(st.integers(0, 10_000))
    df = base_frame(n, seed, draw(st.sampled_from([4, 2, 3, 1])), 2)
    rng = np.random.default_rng(seed)
    kinds = []
    for _ in range(draw(st.integers(0, 2))):
        if not df.columns.is_unique:  # a duplicated label is the last mutation
            break
        role = draw(st.sampled_from(sorted(roles)))
        if draw(st.integers(0, 2)) > 0:  # two in three mutations change a column
            kind = draw(st.sampled_from(COL_KINDS))
            kinds.append(f"{role}:{kind}")
        else:
            kind = draw(st.sampled_from(FRAME_KINDS))
            kinds.append(kind)
        df = mutate(df, kind, roles[role], rng, seed)
    return kinds, df


def single_mutations(roles: dict[str, str]):
    """Every column kind on every role, and every frame kind, each once on a valid frame:
    the systematic part of the fuzzing (the hypothesis tests add random combinations)."""
    cases = [
        (f"{role}:{kind}", kind, col) for role, col in sorted(roles.items()) for kind in COL_KINDS
    ]
    cases += [(kind, kind, roles[sorted(roles)[0]]) for kind in FRAME_KINDS]
    for label, kind, col in cases:
        df = base_frame(36, 17, 3, 2)
        yield [label], mutate(df, kind, col, np.random.default_rng(17), 17)


# ------------------------------------------------------------------------------ the checks
def _headline(name: str, res) -> list[tuple[str, np.ndarray]]:
    """The numbers a reader takes from the result (name, values)."""
    if name == "group_differences":
        return [
            ("prime_effects", res.prime_effects.table[["estimate", "std_error"]].to_numpy()),
            ("interaction", res.interaction.table[["estimate", "p_value"]].to_numpy()),
        ]
    tab = res.table
    if name == "kaplan_meier":
        return [("surv", tab["surv"].to_numpy(float))]
    if name == "cumulative_incidence":
        return [("cif", tab["cif"].to_numpy(float))]
    if name == "logrank":
        return [("statistic", tab[["estimate", "p_value"]].to_numpy(float))]
    if name == "funnel_data":
        return [("rate", tab[["estimate", "target"]].to_numpy(float))]
    return [("estimate/std_error", tab[["estimate", "std_error"]].to_numpy(float))]


def _methods(res) -> list:
    if hasattr(res, "interaction"):
        return [res.rates.method, res.prime_effects.method, res.interaction.method]
    return [res.method]


def check(name: str, fn, df: pd.DataFrame, kinds) -> str:
    """Run ``fn(df)``; assert the contract in the module docstring. Returns the outcome."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            res = fn(df)
        except CLEAR as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            if isinstance(exc, DataContractError):
                assert exc.rule, f"DataContractError without a rule: {exc}"
            outcome = type(exc).__name__
            TALLY[(name, "+".join(sorted(set(kinds))) or "valid", outcome)] += 1
            return outcome
    foreign = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in rec
        if not issubclass(w.category, StatisticalWarning)
    ]
    assert not foreign, f"{name} on {kinds} leaked warnings: {foreign}"
    stat_warned = any(issubclass(w.category, StatisticalWarning) for w in rec)
    for what, values in _headline(name, res):
        values = np.asarray(values, dtype=float)
        if not np.isfinite(values).all():
            notes = " ".join(str(m.get("notes") or "") for m in _methods(res))
            assert stat_warned and notes.strip(), (
                f"{name} on {kinds}: non-finite {what} {values.ravel()[:6]} without a "
                "StatisticalWarning and a note in method['notes']"
            )
        if what in ("surv", "cif"):
            v = values[np.isfinite(values)]
            assert ((v >= -1e-12) & (v <= 1 + 1e-12)).all(), f"{what} outside [0, 1]"
    outcome = "result+StatisticalWarning" if stat_warned else "result"
    TALLY[(name, "+".join(sorted(set(kinds))) or "valid", outcome)] += 1
    return outcome


# ------------------------------------------------------------------------------ estimators
EST = {"outcome": "y", "treatment": "t", "block": "blk"}
ESTIMATORS = {
    "diff_in_means": (lambda d: diff_in_means(d, "y", "t"), EST),
    "diff_in_means_blocked": (lambda d: diff_in_means(d, "y", "t", blocks="blk"), EST),
    "diff_in_means_drop_incomplete": (
        lambda d: diff_in_means(d, "y", "t", blocks="blk", drop_incomplete_blocks=True),
        EST,
    ),
    "diff_in_means_clustered": (
        lambda d: diff_in_means(d, "y", "t", clusters="cl"),
        {**EST, "cluster": "cl"},
    ),
    "diff_in_means_prob": (
        lambda d: diff_in_means(d, "y", "t", blocks="blk", condition_prob="prob"),
        {**EST, "prob": "prob"},
    ),
    "horvitz_thompson": (
        lambda d: horvitz_thompson(d, "y", "t", condition_prob="prob"),
        {**EST, "prob": "prob"},
    ),
    "horvitz_thompson_blocked": (lambda d: horvitz_thompson(d, "y", "t", blocks="blk"), EST),
    "lin_adjusted": (
        lambda d: lin_adjusted(d, "y", "t", ["x1", "x2"]),
        {**EST, "covariate": "x1", "factor": "x2"},
    ),
    "lin_adjusted_blocked": (
        lambda d: lin_adjusted(d, "y", "t", "x1", blocks="blk"),
        {**EST, "covariate": "x1"},
    ),
    "iv_effect": (
        lambda d: iv_effect(d, "y", "t", "d", covariates="x1"),
        {**EST, "received": "d", "covariate": "x1"},
    ),
    "randomisation_test": (
        lambda d: randomisation_test(d, "y", "t", blocks="blk", draws=100, seed=1),
        EST,
    ),
    "randomisation_test_t": (
        lambda d: randomisation_test(
            d, ["y", "yb"], "t", statistic="t", draws=100, seed=2, ci=False
        ),
        {**EST, "outcome2": "yb"},
    ),
    "compare_primes": (
        lambda d: compare_primes(d, "y", blocks=["district"]),
        {"outcome": "y", "prime": "prime", "cpa": "cpa", "block": "district"},
    ),
    "compare_primes_lin": (
        lambda d: compare_primes(d, "y", blocks=["district"], method="lin", covariates=["x1"]),
        {"outcome": "y", "prime": "prime", "block": "district", "covariate": "x1"},
    ),
    "group_differences": (
        lambda d: group_differences(d, "yb", blocks=["district"]),
        {
            "outcome": "yb",
            "prime": "prime",
            "cpa": "cpa",
            "group": "payment_group",
            "block": "district",
        },
    ),
    "group_rates": (
        lambda d: group_rates(d, "y", "payment_group"),
        {"outcome": "y", "group": "payment_group"},
    ),
    "contract_effects": (
        lambda d: contract_effects(d, "y", blocks=["district"]),
        {"outcome": "y", "prime": "prime", "cpa": "cpa", "block": "district"},
    ),
    "league_table": (
        lambda d: league_table(d, "y", blocks=["district"], draws=200, seed=3),
        {"outcome": "y", "prime": "prime", "cpa": "cpa", "block": "district"},
    ),
    "funnel_data": (
        lambda d: funnel_data(d, "yb"),
        {"outcome": "yb", "prime": "prime", "cpa": "cpa"},
    ),
}
SURVIVAL = {
    "kaplan_meier": (
        lambda d: kaplan_meier(d, "dur", "ev", group="t"),
        {"duration": "dur", "event": "ev", "group": "t"},
    ),
    "logrank": (
        lambda d: logrank(d, "dur", "ev", "t", strata="blk"),
        {"duration": "dur", "event": "ev", "group": "t", "strata": "blk"},
    ),
    "cox": (
        lambda d: cox(d, "dur", "ev", ["x1", "x2"], strata="blk"),
        {"duration": "dur", "event": "ev", "covariate": "x1", "factor": "x2", "strata": "blk"},
    ),
    "rmst": (
        lambda d: rmst(d, "dur", "ev", "t", 60.0),
        {"duration": "dur", "event": "ev", "group": "t"},
    ),
    "cumulative_incidence": (
        lambda d: cumulative_incidence(d, "dur", "cause", group="t"),
        {"duration": "dur", "cause": "cause", "group": "t"},
    ),
    "competing_risks": (
        lambda d: competing_risks(d, "dur", "cause", ["x1"]),
        {"duration": "dur", "cause": "cause", "covariate": "x1"},
    ),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimators_on_malformed_frames(name):
    fn, roles = ESTIMATORS[name]

    @fuzz_settings(15)
    @given(malformed(roles))
    def run(case):
        kinds, df = case
        check(name, fn, df, kinds)

    run()


@pytest.mark.parametrize("name", sorted(ESTIMATORS) + sorted(SURVIVAL))
def test_every_single_mutation(name):
    fn, roles = ESTIMATORS[name] if name in ESTIMATORS else SURVIVAL[name]
    for kinds, df in single_mutations(roles):
        check(name, fn, df, kinds)


@pytest.mark.parametrize("name", sorted(SURVIVAL))
def test_survival_estimators_on_malformed_frames(name):
    fn, roles = SURVIVAL[name]

    @fuzz_settings(12)
    @given(malformed(roles))
    def run(case):
        kinds, df = case
        check(name, fn, df, kinds)

    run()


def test_survival_duplicated_column_label_gives_clear_error():
    df = base_frame(24, 0, 2, 2)
    df = pd.concat([df, df[["dur"]]], axis=1)
    with pytest.raises(DataContractError):
        kaplan_meier(df, "dur", "ev")


def test_logrank_singular_variance_gives_clear_error_or_result():
    df = pd.DataFrame(
        {
            "dur": [536.0, 24.0, 48.0],
            "ev": [1, 0, 1],
            "t": ["A", "B", "C"],
            "blk": ["b0", "b0", "b1"],
        }
    )
    check("logrank", lambda d: logrank(d, "dur", "ev", "t", strata="blk"), df, ["found"])


def test_cox_monotone_likelihood_is_warned():
    # x2 = "w" is held by rows without events (13 rows, seed 84): the likelihood rises without
    # bound in that coefficient. This used to run Newton on until the information rounded to
    # a value of either sign (a DesignError on some processors, a warning on others); now the
    # loop stops on the relative change in the log-likelihood (R coxph.control, eps = 1e-9),
    # long before the information reaches rounding level, and names the covariate.
    df = base_frame(13, 84, 1, 2)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = cox(df, "dur", "ev", ["x1", "x2"], strata="blk")
    assert not [w for w in rec if not issubclass(w.category, StatisticalWarning)]
    assert any("may be infinite" in str(w.message) for w in rec)
    assert res.extra["converged"] and res.extra["may_be_infinite"]
    assert np.isfinite(res.tidy()["estimate"]).all()
    # far from rounding level: the smallest pivot of the scaled information at the returned
    # point is many orders of magnitude above machine epsilon
    V = np.asarray(res.extra["vcov_model"])
    assert np.all(np.linalg.eigvalsh(V) > 0)


# Degenerate designs at the edge: the outcome must not depend on rounding. Rows are shuffled
# (risk-set sums, BLAS products and reductions then add in another order, so every rounding
# error changes) and x1 is multiplied by 2^20 (exact, but every intermediate changes scale).
# * EDGE designs (monotone likelihood in one / two covariates, collinear and stratum-constant
#   covariates, one event, all events in one level, five rows): the same error, or -- for a
#   converged fit -- the same warnings (same covariates named aliased / possibly infinite) and
#   the same numbers; a fit stopped at the iteration cap says so in every variant.
# * every single mutation of the hardening frame: the same error class and rule; for a
#   result, the same aliased covariates (a property of the design), the same regularity
#   (an irregular fit -- iteration cap reached, or a coefficient that may be infinite -- is
#   irregular in every order and always says so in a warning) and, for a regular fit, the
#   same warnings. Which coefficients of a hopeless model (a factor with a level per person)
#   are still moving at the iteration cap depends on the path, as in R; that the fit is
#   flagged does not.
# A DesignError from the survival models must be structural (no events).
STRUCTURAL = r"no events|no events of cause|at least two groups|fewer than two groups"


def _edge_frames():
    base = base_frame(36, 17, 3, 2)
    mono = base_frame(13, 84, 1, 2)
    yield "monotone_level_also_as_x1_aliased", mono.assign(x1=(mono["x2"] == "w").astype(float))
    yield "monotone_two_covariates", mono
    yield "collinear", base.assign(x1=base["x2"].map({"u": 0.1, "v": 0.7, "w": 0.3}))
    yield (
        "constant_within_strata",
        base.assign(x1=base["blk"].map({"b0": 1.0, "b1": 2.5, "b2": -0.3})),
    )
    yield "all_events_one_level", base.assign(ev=np.where(base["x2"] == "u", 1, base["ev"]))
    yield "few_rows", base.iloc[:5]
    yield (
        "one_event",
        base.assign(ev=(np.arange(36) == 7).astype(int), cause=(np.arange(36) == 7).astype(int)),
    )


def _outcome(fn, df) -> dict:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            res = fn(df)
        except CLEAR as exc:  # example rows follow the row order: compare the rest
            return {"kind": type(exc).__name__, "message": str(exc).split("; e.g.")[0]}
    msgs = sorted({str(w.message) for w in rec})
    irregular = not res.extra["converged"] or bool(res.extra["may_be_infinite"])
    return {
        "kind": "result",
        "warnings": msgs,
        "aliased": res.extra["aliased"],
        "converged": res.extra["converged"],
        "irregular": irregular,
        "values": res.tidy()[["estimate", "std_error"]].to_numpy(),
        "warned_irregular": any("did not converge" in m or "may be infinite" in m for m in msgs),
    }


def _variants(df):
    yield "shuffled", df.sample(frac=1.0, random_state=5), 1.0
    if "x1" in df.columns and pd.api.types.is_float_dtype(df["x1"]):
        yield "x1 * 2^20", df.assign(x1=df["x1"] * 2.0**20), 2.0**20


def _same_numbers(ref, got, factor, label):
    expected = ref["values"].astype(float).copy()
    expected[0] /= factor  # x1's coefficient and SE scale by 1 / factor exactly
    values = got["values"].astype(float)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected), err_msg=label)
    m = ~np.isnan(expected[:, 0])
    se = np.nan_to_num(expected[m, 1], nan=0.0)
    # estimates to 1e-6 of their size plus their SE (a coefficient next to a diverging one is
    # only determined to the loop's tolerance), SEs to 1e-5
    assert np.all(np.abs(values[m, 0] - expected[m, 0]) <= 1e-6 * (np.abs(expected[m, 0]) + se)), (
        label
    )
    np.testing.assert_allclose(values[m, 1], expected[m, 1], rtol=1e-5, err_msg=label)


ROUNDING_MODELS = {
    "cox": lambda d: cox(d, "dur", "ev", ["x1", "x2"], strata="blk"),
    "cox_unstratified": lambda d: cox(d, "dur", "ev", ["x1", "x2"]),
    "fine_gray": lambda d: competing_risks(d, "dur", "cause", ["x1", "x2"]),
}


@pytest.mark.parametrize("model", sorted(ROUNDING_MODELS))
def test_edge_designs_give_the_same_answer_whatever_the_rounding(model):
    fn = ROUNDING_MODELS[model]
    for label, df in _edge_frames():
        ref = _outcome(fn, df)
        if ref["kind"] == "DesignError":
            assert re.search(STRUCTURAL, ref["message"]), (label, ref["message"])
        for how, frame, factor in _variants(df):
            got = _outcome(fn, frame)
            if ref["kind"] == "result" and not (ref["converged"] and got["converged"]):
                # stopped at the iteration cap (e.g. five rows, perfectly separated: the
                # log-likelihood tends to 0, so its relative change never falls below eps, as
                # in R): said so, aliased the same, numbers not comparable
                assert got["irregular"] and ref["irregular"], (label, how)
                assert got["warned_irregular"] and ref["warned_irregular"], (label, how)
                assert got["aliased"] == ref["aliased"], (label, how)
                continue
            assert {k: v for k, v in got.items() if k != "values"} == {
                k: v for k, v in ref.items() if k != "values"
            }, (label, how)
            if ref["kind"] == "result":
                _same_numbers(ref, got, factor, f"{label} ({how})")


@pytest.mark.parametrize("model", ["cox", "fine_gray"])
def test_no_design_error_from_rounding_in_any_single_mutation(model):
    fn = ROUNDING_MODELS[model]
    roles = SURVIVAL["cox"][1] if model != "fine_gray" else SURVIVAL["competing_risks"][1]
    for kinds, df in single_mutations(roles):
        label = "+".join(kinds)
        ref = _outcome(fn, df)
        if ref["kind"] == "DesignError":
            assert re.search(STRUCTURAL, ref["message"]), (label, ref["message"])
        for how, frame, _ in list(_variants(df))[:1]:  # shuffled rows (scaling: edge test)
            got = _outcome(fn, frame)
            if ref["kind"] != "result":
                assert got == ref, (label, how)
                continue
            assert got["kind"] == "result" and got["aliased"] == ref["aliased"], (label, how)
            assert got["irregular"] == ref["irregular"], (label, how)
            for one in (ref, got):  # an irregular fit is always said to be one
                assert one["warned_irregular"] == one["irregular"], (label, how)
            if not (ref["irregular"] or got["irregular"]):
                assert got["warnings"] == ref["warnings"], (label, how)


# ------------------------------------------------------------------------------ targeted cases
# Each of these failed before this file existed (the exception or the silent NaN it gave
# is in the comment); they pin the fixes.
def _frame(n=24, blocks=2, seed=0):
    return base_frame(n, seed, blocks, 2)


@pytest.mark.parametrize(
    "fn, mutate, error, match",
    [
        # 1e300 outcome: se overflowed to inf (RuntimeWarning, 'inf' standard error returned)
        (
            lambda d: diff_in_means(d, "y", "t"),
            lambda d: d.assign(y=d.y * 1e300),
            DataContractError,
            "rescale",
        ),
        # duplicated outcome label: AttributeError 'DataFrame' object has no attribute 'dtype'
        (
            lambda d: diff_in_means(d, "y", "t"),
            lambda d: pd.concat([d, d[["y"]]], axis=1),
            DataContractError,
            "more than once",
        ),
        # a single block of two units: matched-pairs SE divided by J (J - 1) = 0 -> NaN
        (
            lambda d: diff_in_means(d, "y", "t", blocks="blk"),
            lambda d: d.iloc[:2],
            DesignError,
            "at least two pairs",
        ),
        # an infinite covariate: NaN estimate and standard error
        (
            lambda d: lin_adjusted(d, "y", "t", "x1"),
            lambda d: d.assign(x1=d.x1.where(d.index != 3, np.inf)),
            DataContractError,
            "infinite",
        ),
        # a covariate with a level per person: leverage one, HC2 se = inf
        (
            lambda d: lin_adjusted(d, "y", "t", "x1"),
            lambda d: d.assign(x1=d.x1.astype(str)),
            DesignError,
            "degrees of freedom|leverage one",
        ),
        # two rows: N - k = 0, se = inf
        (
            lambda d: iv_effect(d, "y", "t", "d"),
            lambda d: d.iloc[:2],
            DesignError,
            "degrees of freedom|leverage",
        ),
        # received does not vary: CACE not identified (was a garbage number)
        (
            lambda d: iv_effect(d, "y", "t", "d"),
            lambda d: d.assign(d=True),
            DesignError,
            "does not vary",
        ),
        # outcome all missing: IndexError deep inside group_differences
        (
            lambda d: group_differences(d, "yb", blocks=["district"]),
            lambda d: d.assign(yb=np.nan),
            DataContractError,
            "no rows",
        ),
        # 1e300 outcome: LinAlgError 'SVD did not converge'
        (
            lambda d: group_differences(d, "yb", blocks=["district"]),
            lambda d: d.assign(yb=d.yb * 1e300 + 1e300),
            DataContractError,
            "rescale",
        ),
        # mixed-type treatment labels (1 and "1"): TypeError from sorted()
        (
            lambda d: diff_in_means(d, "y", "t", condition1="A", condition2="B"),
            lambda d: d.assign(t=d.t.astype(object).where(d.index % 5 > 0, 1)),
            None,
            None,
        ),
        # seed of the wrong type: TypeError from numpy
        (
            lambda d: randomisation_test(d, "y", "t", seed="abc"),
            lambda d: d,
            ParameterError,
            "seed",
        ),
        (
            lambda d: league_table(d, "y", blocks=["district"], seed=-1),
            lambda d: d,
            ParameterError,
            "seed",
        ),
    ],
)
def test_fixed_failures(fn, mutate, error, match):
    df = mutate(_frame(48, 4))
    if error is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = fn(df)
        assert np.isfinite(res.estimate) and np.isfinite(res.std_error)
        assert res.extra["dropped"]["other_conditions"] == int((df.index % 5 == 0).sum())
    else:
        with pytest.raises(error, match=match):
            fn(df)


def test_nonfinite_result_is_flagged_with_a_note():
    # draws=1: the SD of one null draw is undefined -> NaN std_error: warned and noted
    df = _frame(40, 2)
    with pytest.warns(StatisticalWarning, match="non-finite"):
        res = randomisation_test(df, "y", "t", blocks="blk", draws=1, seed=1, ci=False, exact=False)
    assert np.isnan(res.std_error)
    assert "non-finite" in res.method["notes"]


def test_dropped_rows_are_counted():
    df = _frame(48, 4)
    miss = df.index % 7 == 0
    df.loc[miss, "y"] = np.nan
    df.loc[df.index == 5, "t"] = None
    res = diff_in_means(df, "y", "t", blocks="blk")
    assert res.extra["dropped"] == {"missing_outcome": int(miss.sum()), "missing_treatment": 1}
    assert res["t: B - A"]["n"] == 48 - int(miss.sum()) - 1
    res = lin_adjusted(df.assign(x1=df.x1.where(df.index % 11 > 0)), "y", "t", "x1")
    assert res.extra["dropped"]["missing_covariate"] == int(
        ((df.index % 11 == 0) & ~miss & (df.index != 5)).sum()
    )


# ------------------------------------------------------------------------------ arrays
@fuzz_settings(60)
@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0)),
        min_size=0,
        max_size=8,
    ),
    st.sampled_from(["holm", "bh", "bonferroni", "none", "nope"]),
)
def test_adjust_pvalues_on_any_floats(ps, method):
    p = np.array(ps, dtype=float)
    try:
        out = adjust_pvalues(p, method)
    except ParameterError:
        assert method == "nope" or np.isnan(p).any() or ((p < 0) | (p > 1)).any()
        return
    assert np.all((out >= p - 1e-15) & (out <= 1))


@fuzz_settings(40)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=6),
    st.lists(st.one_of(st.floats(0, 1e3), st.just(float("nan"))), min_size=0, max_size=6),
    st.sampled_from(["reml", "dl"]),
)
def test_eb_shrink_and_rank_sets_on_any_arrays(est, se, how):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            sh = eb_shrink(est, se, tau2_method=how)
        except CLEAR:
            pass
        else:
            assert np.isfinite(sh.posterior_mean).all() and np.isfinite(sh.posterior_sd).all()
        try:
            rs = rank_confidence_sets(est, np.square(se), critical="holm")
        except CLEAR:
            pass
        else:
            assert (rs["rank_low"] <= rs["rank"]).all() and (rs["rank"] <= rs["rank_high"]).all()
    assert all(issubclass(w.category, StatisticalWarning) for w in rec), [
        str(w.message) for w in rec
    ]


@fuzz_settings(40)
@given(
    st.integers(1, 5),
    st.integers(1, 40),
    st.sampled_from(["two-sided", "greater", "bad"]),
    st.booleans(),
)
def test_romano_wolf_on_random_draws(k, d, alternative, poison):
    rng = np.random.default_rng(k * 100 + d)
    null = rng.normal(size=(d, k))
    obs = rng.normal(size=k)
    if poison:
        null[0, 0] = np.nan
    try:
        p = romano_wolf(obs, null, alternative=alternative)
    except ParameterError:
        assert poison or alternative == "bad"
        return
    assert p.shape == (k,) and np.all((p > 0) & (p <= 1))


# ------------------------------------------------------------------------------ referral level
REF = (
    pd.read_parquet(
        os.path.join(os.path.dirname(__file__), "..", "..", "data_synthetic", "sample_10k.parquet")
    )
    .iloc[:120]
    .reset_index(drop=True)
)
DATES = [
    "referral_date",
    "attachment_date",
    "job_start_date",
    "job_outcome_date",
    "job_end_date",
    "exit_date",
    "data_end_date",
]
REFERRAL_FUNCS = {
    "job_entry_times": lambda d: wo.job_entry_times(d),
    "job_retention_times": lambda d: wo.job_retention_times(d),
    "outcome_flags": lambda d: wo.outcome_flags(d),
    "payments": lambda d: wp.payments(d),
    "summary_table": lambda d: wt.summary_table(d, "cohort"),
    "crosstab": lambda d: wt.crosstab(d, "cpa", "prime"),
    "outcome_rates": lambda d: wt.outcome_rates(d, "payment_group"),
    "cumulative_rates": lambda d: wt.cumulative_rates(d, "cohort"),
    "mpl_table": lambda d: wt.mpl_table(d),
    "payments_table": lambda d: wt.payments_table(d),
    "creaming_and_parking": lambda d: creaming_and_parking(wo.outcome_flags(d)),
}
REF_KINDS = [
    "drop",
    "nat_all",
    "nat_some",
    "as_text",
    "as_int",
    "tz_aware",
    "garbage_text",
    "year_1678",
]
OTHER_KINDS = [
    "attached_text",
    "attached_nan",
    "attached_01",
    "sustainment_negative",
    "sustainment_float",
    "sustainment_inf",
    "sustainment_nan",
    "group_unknown",
    "group_nan",
    "empty",
    "one_row",
    "duplicate_column",
]


def _mutate_referrals(df: pd.DataFrame, kind: str, col: str, rng) -> pd.DataFrame:
    n = len(df)
    pick = rng.random(n) < 0.3
    s = df[col] if col in df.columns else None
    if kind == "drop":
        return df.drop(columns=[col])
    if kind == "nat_all":
        return df.assign(**{col: pd.NaT})
    if kind == "nat_some":
        return df.assign(**{col: s.where(~pick)})
    if kind == "as_text":
        return df.assign(**{col: s.astype(str)})
    if kind == "as_int":
        return df.assign(**{col: np.arange(n)})
    if kind == "tz_aware":
        return df.assign(**{col: s.dt.tz_localize("UTC")})
    if kind == "garbage_text":
        return df.assign(**{col: s.astype(str).where(~pick, "not a date")})
    if kind == "year_1678":
        return df.assign(**{col: s.where(~pick, pd.Timestamp("1678-01-02"))})
    if kind == "attached_text":
        return df.assign(attached=df["attached"].astype(str))
    if kind == "attached_nan":
        return df.assign(attached=df["attached"].astype(object).where(~pick))
    if kind == "attached_01":
        return df.assign(attached=df["attached"].astype(int))
    if kind == "sustainment_negative":
        return df.assign(sustainment_payments=-1)
    if kind == "sustainment_float":
        return df.assign(sustainment_payments=df["sustainment_payments"] + 0.5)
    if kind == "sustainment_inf":
        return df.assign(sustainment_payments=np.inf)
    if kind == "sustainment_nan":
        return df.assign(sustainment_payments=df["sustainment_payments"].where(~pick))
    if kind == "group_unknown":
        return df.assign(payment_group=df["payment_group"].astype(str).where(~pick, "zzz"))
    if kind == "group_nan":
        return df.assign(payment_group=df["payment_group"].astype(object).where(~pick))
    if kind == "empty":
        return df.iloc[:0]
    if kind == "one_row":
        return df.iloc[:1]
    if kind == "duplicate_column":
        return pd.concat([df, df[[col]]], axis=1)
    raise AssertionError(kind)


@st.composite
def malformed_referrals(draw):
    df = REF.copy()
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    kinds = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()):
            kind, col = draw(st.sampled_from(REF_KINDS)), draw(st.sampled_from(DATES))
        else:
            kind, col = (
                draw(st.sampled_from(OTHER_KINDS)),
                draw(st.sampled_from(["prime", "referral_date", "attached", "cpa"])),
            )
        if col not in df.columns or (len(df) == 0 and kind == "tz_aware"):
            continue
        if kind == "tz_aware" and isinstance(df[col].dtype, pd.DatetimeTZDtype):
            continue
        if kind in (
            "tz_aware",
            "year_1678",
            "garbage_text",
            "as_text",
        ) and not pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        kinds.append(f"{col}:{kind}" if kind in REF_KINDS or kind == "duplicate_column" else kind)
        df = _mutate_referrals(df, kind, col, rng)
    return kinds, df


def check_referral(name: str, fn, df: pd.DataFrame, kinds) -> None:
    """As :func:`check` for the referral-level functions (tables, payments, outcomes)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            res = fn(df)
        except CLEAR as exc:
            assert str(exc).strip()
            if isinstance(exc, DataContractError):
                assert exc.rule, f"DataContractError without a rule: {exc}"
            TALLY[(name, "+".join(sorted(set(kinds))) or "valid", type(exc).__name__)] += 1
            return
    foreign = [
        f"{w.category.__name__}: {w.message}"
        for w in rec
        if not issubclass(w.category, StatisticalWarning)
    ]
    assert not foreign, f"{name} on {kinds} leaked warnings: {foreign}"
    if isinstance(res, EffectTable):
        est = res.table["estimate"].to_numpy(float)
        if not np.isfinite(est).all():
            assert res.method.get("notes"), f"{name} on {kinds}: NaN rate without a note"
    stat = any(issubclass(w.category, StatisticalWarning) for w in rec)
    TALLY[
        (
            name,
            "+".join(sorted(set(kinds))) or "valid",
            "result+StatisticalWarning" if stat else "result",
        )
    ] += 1


@pytest.mark.parametrize("name", sorted(REFERRAL_FUNCS))
def test_referral_level_functions_on_malformed_frames(name):
    fn = REFERRAL_FUNCS[name]

    @fuzz_settings(10)
    @given(malformed_referrals())
    def run(case):
        kinds, df = case
        check_referral(name, fn, df, kinds)

    run()


@pytest.mark.parametrize("name", sorted(REFERRAL_FUNCS))
def test_referral_level_every_single_mutation(name):
    fn = REFERRAL_FUNCS[name]
    rng = np.random.default_rng(3)
    cols = ("referral_date", "job_outcome_date", "data_end_date") + (
        ("job_start_date",) if name.startswith("job_") else ()
    )
    cases = [(f"{col}:{kind}", kind, col) for col in cols for kind in REF_KINDS]
    cases += [(kind, kind, "prime") for kind in OTHER_KINDS]
    for label, kind, col in cases:
        check_referral(name, fn, _mutate_referrals(REF.copy(), kind, col, rng), [label])


def test_referral_fixed_failures():
    # attached as text: "False" was read as True by astype(bool), paying attachment fees
    with pytest.raises(DataContractError, match="True/False"):
        wp.payments(REF.assign(attached=REF["attached"].astype(str)))
    # attached with a missing value: ValueError 'cannot convert float NaN to integer'
    with pytest.raises(DataContractError, match="missing"):
        wt.summary_table(
            REF.assign(attached=REF["attached"].astype(object).where(REF.index > 0)), "cohort"
        )
    # referral_date NaT: RuntimeWarning 'invalid value encountered in cast', NaT contract year
    with pytest.raises(DataContractError, match="referral_date"):
        wp.payments(REF.assign(referral_date=REF["referral_date"].where(REF.index > 0)))
    # integers as dates: read as nanoseconds since 1970 by pd.to_datetime, silently
    with pytest.raises(DataContractError, match="must hold dates"):
        wo.job_entry_times(REF.assign(job_start_date=np.arange(len(REF))))
    # timezone-aware extract date: TypeError 'Cannot subtract tz-naive and tz-aware'
    naive = wo.job_entry_times(REF)
    aware = wo.job_entry_times(REF.assign(data_end_date=REF["data_end_date"].dt.tz_localize("UTC")))
    assert np.array_equal(naive["entry_days"], aware["entry_days"])
    # 1678 referral: OverflowError 'Overflow in int64 addition'
    with pytest.raises(DataContractError, match="range"):
        wo.job_entry_times(
            REF.assign(
                referral_date=REF["referral_date"].where(REF.index > 0, pd.Timestamp("1678-01-02"))
            )
        )
    # empty data: ValueError from pandas' groupby-agg
    with pytest.raises(DataContractError, match="empty"):
        creaming_and_parking(wo.outcome_flags(REF.iloc[:0]))
    # duplicated column: ValueError '2' from pandas
    with pytest.raises(DataContractError, match="more than once"):
        wp.payments(pd.concat([REF, REF[["prime"]]], axis=1))
