"""Configuration and vectorised helpers of the synthetic generator
(:mod:`wpeval.data.synthetic`): the YAML configuration, calendar and mix weights, categorical
draws and the closed-form outcome probability of the piecewise-constant hazards."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from wpeval.exceptions import ParameterError


# ------------------------------------------------------------------------------ configuration
def _merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@functools.lru_cache(maxsize=1)
def _default_config() -> dict:
    """The parsed defaults (parsed once per process: a diagnosis generates thousands of
    programmes; callers get a deep copy)."""
    text = resources.files("wpeval.config").joinpath("synthetic.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_config(config: str | Path | Mapping | None = None) -> dict:
    """Return the generator configuration: the defaults merged with ``config``.

    Parameters
    ----------
    config : str, Path, mapping or None
        A YAML file or a (partial, nested) mapping overriding keys of
        ``wpeval/config/synthetic.yaml``; None for the defaults.
    """
    cfg = copy.deepcopy(_default_config())
    if config is None:
        return cfg
    if isinstance(config, (str, Path)):
        try:
            over = yaml.safe_load(Path(config).read_text("utf-8")) or {}
        except OSError as exc:
            raise ParameterError(f"cannot read synthetic config {config}: {exc}") from exc
    elif isinstance(config, Mapping):
        over = config
    else:
        raise ParameterError(f"config must be a path, a mapping or None, not {type(config)}")
    if not isinstance(over, Mapping):
        raise ParameterError("synthetic config must be a mapping of sections")
    unknown = set(over) - set(cfg)
    if unknown:
        raise ParameterError(
            f"unknown synthetic config sections {sorted(unknown)}; known: {sorted(cfg)}"
        )
    return _merge(cfg, over)


def _month_index(month: str, first: pd.Period) -> int:
    return int((pd.Period(month, "M") - first).n)


# ------------------------------------------------------------------------------ helpers
def _group_arrays(cfg: dict, prog, groups: list[str]) -> dict:
    gc = cfg["groups"]
    missing = [g for g in groups if g not in gc]
    if missing:
        raise ParameterError(f"synthetic config has no parameters for groups {missing}")
    col = lambda key: np.array([float(gc[g][key]) for g in groups])
    ages = np.array([gc[g]["age"] for g in groups], float)
    bd = np.array([gc[g]["benefit_days"] for g in groups], float)
    return dict(
        log_rate=col("log_rate"),
        exit_rate=col("exit_rate"),
        never=col("never_attach"),
        retention=col("retention"),
        male=col("male"),
        disabled=col("disabled"),
        target=col("target_2y"),
        age=ages,
        bd=bd,
        trig=np.array([prog.payment_groups[g].jo_trigger_weeks for g in groups]),
        cap=np.array([prog.payment_groups[g].sustainment_cap for g in groups]),
        esa=np.array([prog.payment_groups[g].family == "ESA" for g in groups]),
    )


def _month_weights(cfg: dict, first: pd.Period, n_months: int) -> np.ndarray:
    w = np.zeros(n_months)
    for step in sorted(cfg["calendar"]["intake"], key=lambda s: s["from"]):
        w[max(0, _month_index(step["from"], first)) :] = float(step["weight"])
    if w.min() <= 0:
        raise ParameterError(
            "calendar.intake must give every month a positive weight "
            "(the first step must start at or before first_referral_month)"
        )
    return w / w.sum()


def _group_mix(cfg: dict, groups: list[str], first: pd.Period, n_months: int) -> np.ndarray:
    mc = cfg["mix"]
    t_plateau = max(1, _month_index(mc["esa_plateau_month"], first))
    t = np.minimum(np.arange(n_months) / t_plateau, 1.0)
    a, b = float(mc["esa_share_first"]), float(mc["esa_share_plateau"])
    esa = a + (b - a) * t ** float(mc["esa_ramp_power"])
    mix = np.zeros((n_months, len(groups)))
    for part, share in (("esa", esa), ("other", 1 - esa)):
        tot = sum(mc[part].values())
        for g, v in mc[part].items():
            if g not in groups:
                raise ParameterError(f"mix.{part}: unknown payment group {g!r}")
            mix[:, groups.index(g)] += share * float(v) / tot
    return mix


def _draw_cat(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """Categorical draws given row-wise cumulative probabilities (n x k)."""
    u = rng.random(cum.shape[0])
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def _days_to_dt(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out


def _p_outcome(lam, mu, tau, never, s_trig, t0, a):
    """Closed-form P(job outcome within 730 days) for piecewise-constant competing hazards.

    Job-entry hazard ``a * lam`` on ``[0, t0)`` and ``lam`` afterwards, other-exit hazard
    ``mu``; a job start before ``tau`` (and before exit) lasting the trigger gives an outcome:
    ``P = (1 - never) * s_trig * [a lam/(a lam + mu) (1 - exp(-(a lam + mu) min(t0, tau)))
    + exp(-(a lam + mu) t0) lam/(lam + mu) (1 - exp(-(lam + mu) (tau - t0)_+))]``.
    """
    tau = np.maximum(tau, 0)
    r1 = a * lam + mu
    p1 = a * lam / r1 * -np.expm1(-r1 * np.minimum(t0, tau))
    r2 = lam + mu
    p2 = np.exp(-r1 * t0) * lam / r2 * -np.expm1(-r2 * np.maximum(tau - t0, 0))
    return (1 - never) * (p1 + p2) * s_trig


def _entry_time(e, lam, t0, a):
    """Invert the piecewise cumulative hazard: time at which ``H(t) = e``."""
    h0 = a * lam * t0
    return np.where(e < h0, e / (a * lam), t0 + (e - h0) / lam)
