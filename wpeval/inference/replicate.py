"""One replication of a design diagnosis: simulate a programme with known truth and apply every
registered estimator to every within-CPA contrast.

A replication is a pure function of a small *spec* (generator configuration, size, structure
seed, estimators, contrasts, alpha) and one ``numpy.random.SeedSequence``: it never receives
data, so it can run on any worker of a cluster, and its result does not depend on where or
in which order it runs. It returns one small record per estimator x contrast.

The estimator registry (:data:`ESTIMATORS`) maps a name to a callable
``fn(pair: PairData, alpha: float, rng) -> (estimate, std_error, conf_low, conf_high, p_value)``
and the truth column it targets. New estimators (e.g. the blocked RMST difference) are added
with :func:`register_estimator` and are then available to :func:`wpeval.inference.diagnosis.
diagnose` by name. The blocked Kaplan-Meier contrasts of the time from attachment to job entry
(:mod:`wpeval.estimators.survival.blocked`) are registered as ``blocked_surv_52w``,
``blocked_surv_104w``, ``blocked_rmst_52w`` and ``blocked_rmst`` (RMST to 104 weeks); their
truth has no closed form and comes from :func:`survival_truth` (Monte Carlo, once per process
and configuration).

Design strata. The generator allocates within district x quarter x payment group and, after
the market-share shift, the shares differ by payment group. Within the coarser district x
quarter stratum the shares are then not constant, and the plain blocked difference in means
would be biased. Each contrast A - B is therefore blocked on district x quarter x the *pair
allocation share* ``P(A | A or B)`` of the row's payment group: the coarsest strata in which
the allocation is a complete randomisation with a constant share (one stratum per district x
quarter wherever the shares did not shift).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.inference._replicate_sim import OUTCOME_DAYS, _prob_table, simulate

__all__ = [
    "ESTIMATORS",
    "OUTCOME_DAYS",
    "EstimatorSpec",
    "PairData",
    "SURVIVAL_HORIZONS",
    "register_estimator",
    "run_replicate",
    "survival_truth",
]

_LOG = logging.getLogger(__name__)
#: record layout returned by a replication
FIELDS = ("estimate", "std_error", "conf_low", "conf_high", "p_value", "estimand")


@dataclass(frozen=True)
class EstimatorSpec:
    """A registered estimator: ``fn(pair, alpha, rng)`` and the truth column it targets.

    ``truth``, when set, is ``truth(spec) -> {(cpa, prime, reference): {estimand: value}}``,
    used instead of ``Truth.contrasts`` for estimands the generator does not give in closed
    form (the blocked survival contrasts: :func:`survival_truth`)."""

    name: str
    fn: Callable
    estimand: str = "diff_p_jo_2y"
    label: str = ""
    truth: Callable | None = None


#: name -> EstimatorSpec
ESTIMATORS: dict[str, EstimatorSpec] = {}


def register_estimator(
    name: str, estimand: str = "diff_p_jo_2y", label: str = "", truth: Callable | None = None
):
    """Decorator registering ``fn(pair, alpha, rng) -> (est, se, lo, hi, p)`` under ``name``.

    ``estimand`` names the column of ``Truth.contrasts`` the estimator targets
    (``diff_p_jo_2y``: difference in 2-year job-outcome probability; ``log_hr``: conditional
    log hazard ratio of job entry), or, with ``truth``, the key of the estimand in what
    ``truth(spec)`` returns per contrast.
    """

    def deco(fn: Callable) -> Callable:
        ESTIMATORS[name] = EstimatorSpec(name, fn, estimand, label or name, truth)
        return fn

    return deco


@dataclass
class PairData:
    """Arrays of one contrast (prime A = 1 vs reference B = 0) in one replication."""

    y: np.ndarray  # job outcome within OUTCOME_DAYS (0/1 float)
    z: np.ndarray  # 1 = prime A
    block: np.ndarray  # design strata codes 0..n_blocks-1
    n_blocks: int
    share: np.ndarray  # P(A | A or B) of each row
    rows: np.ndarray  # positions in the replication's frame
    source: pd.DataFrame  # the replication's frame (all rows)
    cache: dict = field(default_factory=dict)

    @property
    def frame(self) -> pd.DataFrame:
        """The pair's rows with ``z``, ``block`` and ``p_received`` (built on first use: the
        array estimators never need it)."""
        if "frame" not in self.cache:
            f = self.source.iloc[self.rows].reset_index(drop=True)
            f["z"] = self.z
            f["block"] = self.block
            f["p_received"] = np.where(self.z == 1, self.share, 1 - self.share)
            self.cache["frame"] = f
        return self.cache["frame"]


# ------------------------------------------------------------------------------ estimators
@register_estimator("blocked_dim", label="blocked difference in means (Neyman)")
def _blocked_dim(pair: PairData, alpha: float, rng):
    from wpeval._prepare import t_inference
    from wpeval.estimators._blocked import block_cell_stats, neyman_from_cells

    cnt, mean, ss, _ = block_cell_stats(pair.y, pair.z, pair.block, pair.n_blocks)
    ok = (cnt >= 2).all(axis=1)  # blocks with two units per arm (the others are dropped)
    if not ok.all():
        pair.cache["dropped_blocks"] = int((~ok).sum())
    est, se, df = neyman_from_cells(cnt[ok], mean[ok], ss[ok])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, p, lo, hi = t_inference(est, se, df, alpha)
    return est, se, lo, hi, p


def _complete_blocks(pair: PairData, need: int = 2) -> pd.DataFrame:
    """The pair's frame restricted to blocks with ``need`` units in each arm."""
    key = f"complete{need}"
    if key not in pair.cache:
        cnt = np.bincount(pair.block * 2 + pair.z, minlength=2 * pair.n_blocks).reshape(-1, 2)
        good = (cnt >= need).all(axis=1)[pair.block]
        pair.cache[key] = pair.frame[good]
    return pair.cache[key]


def _row(res) -> tuple:
    r = res.table.iloc[0]
    return (
        float(r["estimate"]),
        float(r["std_error"]),
        float(r["conf_low"]),
        float(r["conf_high"]),
        float(r["p_value"]),
    )


@register_estimator("lin", label="Lin (2013) adjustment, HC2")
def _lin(pair: PairData, alpha: float, rng):
    from wpeval.estimators.randomised import lin_adjusted

    f = _complete_blocks(pair)
    return _row(
        lin_adjusted(f, "y", "z", ["age", "disability", "male"], blocks="block", alpha=alpha)
    )


@register_estimator(
    "horvitz_thompson", label="Horvitz-Thompson (blocked, design probabilities, Young's bound)"
)
def _ht(pair: PairData, alpha: float, rng):
    # the generator allocates each referral by its own draw (simple randomisation within the
    # stratum, arm sizes random), so the simple-assignment variance bound applies; the
    # complete-randomisation bound under-covered here (about 90-93% over 200 replications)
    from wpeval.estimators.randomised import horvitz_thompson

    f = _complete_blocks(pair, 1)
    return _row(
        horvitz_thompson(
            f, "y", "z", blocks="block", condition_prob="p_received", simple=True, alpha=alpha
        )
    )


@register_estimator("cox", estimand="log_hr", label="stratified Cox log hazard ratio")
def _cox(pair: PairData, alpha: float, rng):
    from wpeval.estimators.survival import cox

    f = pair.frame[pair.frame["attached"]]
    return _row(
        cox(f, "entry_days", "entry_event", ["z"], strata=["block"], alpha=alpha, id_col=None)
    )


@register_estimator("randomisation_test", label="randomisation test (blocked DiM), 500 draws")
def _ri(pair: PairData, alpha: float, rng):
    from wpeval.inference.randomisation import randomisation_test

    f = _complete_blocks(pair, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = randomisation_test(
            f,
            "y",
            "z",
            blocks="block",
            draws=500,
            seed=rng,
            alpha=alpha,
            condition1=0,
            condition2=1,
        )
    r = res.table.iloc[0]
    return (
        float(r["estimate"]),
        float(r["std_error"]),
        float(r["conf_low"]),
        float(r["conf_high"]),
        float(r["p_value"]),
    )


# ------------------------------------------------------------------------------ survival
#: horizons (days) of the blocked survival contrasts: 52 and 104 weeks from attachment
SURVIVAL_HORIZONS = (364.0, 728.0)
#: Monte Carlo truth of the blocked survival contrasts: TRUTH_REPS programmes of TRUTH_N
#: referrals (same structure, individuals from SeedSequence(TRUTH_SEED).spawn(TRUTH_REPS))
TRUTH_N = 2_000_000
TRUTH_REPS = 5
TRUTH_SEED = 13_02
_TRUTH_CACHE: dict[str, tuple[dict, dict]] = {}
_SURVIVAL = {  # estimator name -> (quantity, horizon, estimand, label)
    "blocked_surv_52w": ("surv", 364.0, "diff_surv_52w", "S(52 weeks)"),
    "blocked_surv_104w": ("surv", 728.0, "diff_surv_104w", "S(104 weeks)"),
    "blocked_rmst_52w": ("rmst", 364.0, "diff_rmst_52w", "RMST to 52 weeks"),
    "blocked_rmst": ("rmst", 728.0, "diff_rmst_104w", "RMST to 104 weeks"),
}


def _blocked_km(pair: PairData, alpha: float) -> dict:
    """The blocked Kaplan-Meier contrasts of the pair (time to job entry from attachment,
    attached referrals, strata = the pair's design blocks), computed once per pair."""
    key = ("blocked_km", alpha)
    if key not in pair.cache:
        from wpeval.estimators.survival.blocked import blocked_km_arrays

        src = pair.source
        att = src["attached"].to_numpy()[pair.rows]
        pair.cache[key] = blocked_km_arrays(
            src["entry_days"].to_numpy()[pair.rows][att],
            src["entry_event"].to_numpy()[pair.rows][att],
            pair.block[att],
            pair.z[att] == 1,
            SURVIVAL_HORIZONS,
            alpha,
        )
    return pair.cache[key]


def survival_truth(spec: dict) -> dict:
    """True blocked survival contrasts for the generator configuration of ``spec``, by Monte
    Carlo (they have no closed form: the Kaplan-Meier functional of a stratum mixes payment
    groups whose other-exit hazards differ, so it is not an average of individual curves).

    The truth of contrast A - B is the blocked estimand at the generator's expected stratum
    mix: the mean of the blocked estimate (:func:`wpeval.estimators.survival.blocked.
    blocked_km_arrays`, the design blocks of :func:`run_replicate`) over :data:`TRUTH_REPS`
    programmes of :data:`TRUTH_N` referrals with the same structure and the same extract
    date. Its Monte Carlo SE (``sd / sqrt(TRUTH_REPS)``, in ``_TRUTH_CACHE``) is about
    ``sqrt(n / (TRUTH_N TRUTH_REPS))`` times the SE of an estimate from n referrals, e.g. a
    tenth at n = 100,000. Computed once per process and configuration (cached).

    Returns
    -------
    dict
        ``{(cpa, prime, reference): {estimand: value}}`` for every contrast of ``spec`` and
        the estimands ``diff_surv_52w, diff_surv_104w, diff_rmst_52w, diff_rmst_104w``.
    """
    key = json.dumps(
        [
            spec["config"],
            int(spec["structure_seed"]),
            sorted(list(c) for c in spec["contrasts"]),
            TRUTH_N,
            TRUTH_REPS,
            TRUTH_SEED,
        ],
        sort_keys=True,
        default=str,
    )
    if key not in _TRUTH_CACHE:
        vals: dict = {tuple(c): {e[2]: [] for e in _SURVIVAL.values()} for c in spec["contrasts"]}
        for ss in np.random.SeedSequence(TRUTH_SEED).spawn(TRUTH_REPS):
            prog, frame, quarter, q0 = simulate({**spec, "n": TRUTH_N}, ss)
            n_q = int(quarter.max()) + 1
            P = _prob_table(prog, list(prog.referrals["district"].cat.categories), q0, n_q)
            for cpa, a, b in spec["contrasts"]:
                res = _blocked_km(_pair(prog, frame, quarter, q0, P, cpa, a, b), 0.05)
                for kind, h, estimand, _ in _SURVIVAL.values():
                    vals[(cpa, a, b)][estimand].append(res[(kind, h)]["estimate"])
        truth = {c: {e: float(np.mean(v)) for e, v in d.items()} for c, d in vals.items()}
        mcse = {
            c: {
                e: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else np.nan
                for e, v in d.items()
            }
            for c, d in vals.items()
        }
        _TRUTH_CACHE[key] = (truth, mcse)
    return _TRUTH_CACHE[key][0]


def _register_survival(name: str, kind: str, h: float, estimand: str, what: str) -> None:
    def fn(pair: PairData, alpha: float, rng):
        r = _blocked_km(pair, alpha)[(kind, h)]
        return r["estimate"], r["std_error"], r["conf_low"], r["conf_high"], r["p_value"]

    fn.__name__ = f"_{name}"
    register_estimator(
        name,
        estimand=estimand,
        label=f"blocked Kaplan-Meier difference in {what} (Greenwood-type blocked variance, "
        "normal CI; truth by Monte Carlo)",
        truth=survival_truth,
    )(fn)


for _name, (_kind, _h, _estimand, _what) in _SURVIVAL.items():
    _register_survival(_name, _kind, _h, _estimand, _what)


# ------------------------------------------------------------------------------ pairs
def _pair(prog, frame, quarter, q0, P, cpa: str, a: str, b: str) -> PairData:
    r = prog.referrals
    primes = list(r["prime"].cat.categories)
    ia, ib = primes.index(a), primes.index(b)
    cpa_codes = r["cpa"].cat.codes.to_numpy()
    pc = r["prime"].cat.codes.to_numpy()
    rows = np.flatnonzero(
        (cpa_codes == list(r["cpa"].cat.categories).index(cpa)) & ((pc == ia) | (pc == ib))
    )
    d = r["district"].cat.codes.to_numpy()[rows]
    q = quarter[rows]
    g = r["payment_group"].cat.codes.to_numpy()[rows]
    pa, pb = P[d, q, g, ia], P[d, q, g, ib]
    share = np.round(pa / (pa + pb), 9)
    z = (pc[rows] == ia).astype(np.int8)
    key = (d.astype(np.int64) * P.shape[1] + q) * 1_000_003 + np.round(share * 1e6).astype(np.int64)
    block, uniq = pd.factorize(key, sort=True)
    return PairData(
        y=frame["y"].to_numpy()[rows],
        z=z,
        block=block.astype(np.int64),
        n_blocks=len(uniq),
        share=share,
        rows=rows,
        source=frame,
    )


def run_replicate(spec: dict, ss: np.random.SeedSequence) -> np.ndarray:
    """Simulate one programme and apply every estimator of ``spec`` to every contrast.

    Parameters
    ----------
    spec : dict
        ``n, structure_seed, config, estimators (names), contrasts (list of (cpa, prime,
        reference)), alpha``.
    ss : numpy.random.SeedSequence
        This replication's seed (individuals; randomisation-test draws use children of it).

    Returns
    -------
    ndarray, shape (n_estimators, n_contrasts, 6)
        ``estimate, std_error, conf_low, conf_high, p_value, estimand`` (NaN where an
        estimator failed on this replication).
    """
    unknown = [e for e in spec["estimators"] if e not in ESTIMATORS]
    if unknown:
        raise ParameterError(f"unknown estimators {unknown}; registered: {sorted(ESTIMATORS)}")
    people = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (0,))
    prog, frame, quarter, q0 = simulate(spec, people)
    n_q = int(quarter.max()) + 1
    P = _prob_table(prog, list(prog.referrals["district"].cat.categories), q0, n_q)
    truth = prog.truth.contrasts.set_index(["cpa", "prime", "reference"])
    out = np.full((len(spec["estimators"]), len(spec["contrasts"]), len(FIELDS)), np.nan)
    for j, (cpa, a, b) in enumerate(spec["contrasts"]):
        pair = _pair(prog, frame, quarter, q0, P, cpa, a, b)
        for i, name in enumerate(spec["estimators"]):
            est = ESTIMATORS[name]
            rng = np.random.default_rng(
                np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (1, j, i))
            )
            try:
                out[i, j, :5] = est.fn(pair, float(spec["alpha"]), rng)
            except Exception as exc:  # noqa: BLE001 - a failed fit: NaN, counted by diagnose
                _LOG.debug("%s failed on %s %s - %s: %r", name, cpa, a, b, exc)
            if est.truth is not None:
                out[i, j, 5] = float(est.truth(spec)[(cpa, a, b)][est.estimand])
            else:
                out[i, j, 5] = float(truth.loc[(cpa, a, b), est.estimand])
    return out
