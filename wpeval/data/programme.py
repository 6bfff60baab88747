"""Reference data for the programme: payment groups, CPAs and their prime contracts.

The defaults in ``wpeval/config/programme.yaml`` describe the GB Work Programme (2011-17).
An evaluator with other labels (or another programme) passes their own YAML file of the same
shape to :func:`load`; nothing else in the kit hard-codes a group, CPA or prime name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from wpeval.exceptions import ParameterError


@dataclass(frozen=True)
class PaymentGroup:
    code: str
    number: int
    label: str
    family: str
    jo_trigger_weeks: int
    sustainment_cap: int
    mpl: bool
    status: dict


@dataclass(frozen=True)
class Programme:
    """Payment groups and contracts of a programme.

    Attributes
    ----------
    payment_groups : dict[str, PaymentGroup]
        Keyed by code, in DWP group-number order.
    cpas : dict[str, dict]
        Keyed by CPA code; each holds ``name``, ``number``, ``primes`` (list of str).
    fictional : bool
        True for the synthetic variant made by :func:`fictional` (invented prime names).
    """

    payment_groups: dict
    cpas: dict
    fictional: bool = False

    @property
    def contracts(self) -> list[tuple[str, str]]:
        """All (cpa, prime) contracts."""
        return [(c, p) for c, info in self.cpas.items() for p in info["primes"]]

    def primes_of(self, cpa: str) -> list[str]:
        return list(self.cpas[cpa]["primes"])

    def group_labels(self) -> dict[str, str]:
        return {k: g.label for k, g in self.payment_groups.items()}


def _parse(raw: dict, source: str) -> Programme:
    try:
        groups = {}
        for g in raw["payment_groups"]:
            groups[g["code"]] = PaymentGroup(
                code=str(g["code"]),
                number=int(g["number"]),
                label=str(g["label"]),
                family=str(g.get("family", "")),
                jo_trigger_weeks=int(g["jo_trigger_weeks"]),
                sustainment_cap=int(g["sustainment_cap"]),
                mpl=bool(g.get("mpl", False)),
                status=dict(g.get("status", {})),
            )
        cpas = {}
        for c in raw["cpas"]:
            primes = [str(p) for p in c["primes"]]
            if len(set(primes)) != len(primes) or len(primes) < 1:
                raise ParameterError(f"{source}: CPA {c['code']} has duplicate or no primes")
            cpas[str(c["code"])] = {
                "name": str(c.get("name", c["code"])),
                "number": int(c.get("number", 0)),
                "primes": primes,
            }
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"{source}: malformed programme file ({exc!r})") from exc
    return Programme(payment_groups=groups, cpas=cpas)


@lru_cache(maxsize=8)
def _load_cached(path: str | None) -> Programme:
    if path is None:
        text = resources.files("wpeval.config").joinpath("programme.yaml").read_text("utf-8")
        source = "wpeval/config/programme.yaml"
    else:
        text = Path(path).read_text("utf-8")
        source = path
    return _parse(yaml.safe_load(text), source)


def load(path: str | Path | None = None) -> Programme:
    """Load programme reference data (default: the GB Work Programme)."""
    return _load_cached(None if path is None else str(path))


#: key of the marker that the synthetic generator puts in ``DataFrame.attrs`` and in the
#: Parquet key-value metadata (``wpeval.synthetic``); see :mod:`wpeval.data.parquet`
SYNTHETIC_ATTR = "wpeval_synthetic"


def fictional_name(index: int) -> str:
    """Invented prime name of the ``index``-th prime of a CPA: ``Prime A``, ``Prime B``..."""
    if index < 0:
        raise ParameterError(f"prime index must be >= 0, got {index}")
    letters = ""
    i = index
    while True:
        letters = chr(ord("A") + i % 26) + letters
        i = i // 26 - 1
        if i < 0:
            return f"Prime {letters}"


def fictional(programme: Programme | None = None) -> Programme:
    """The programme with invented prime names, for synthetic data.

    Same payment groups, CPAs and number of primes per CPA; the primes of each CPA are
    renamed ``Prime A``, ``Prime B``, ``Prime C`` in the order of the programme file. Synthetic
    data never carry the names of real providers: a ranking of invented effects must not be
    read as a statement about a real company.

    Parameters
    ----------
    programme : Programme, optional
        The programme to rename (default: :func:`load`). Already fictional: returned as is.
    """
    prog = load() if programme is None else programme
    if prog.fictional:
        return prog
    cpas = {
        code: {**info, "primes": [fictional_name(i) for i in range(len(info["primes"]))]}
        for code, info in prog.cpas.items()
    }
    return Programme(payment_groups=prog.payment_groups, cpas=cpas, fictional=True)


def synthetic_marker(df) -> dict | None:
    """The generator's marker of a frame (``df.attrs``), or None for other data."""
    attrs = getattr(df, "attrs", None)
    marker = attrs.get(SYNTHETIC_ATTR) if isinstance(attrs, dict) else None
    return dict(marker) if isinstance(marker, dict) else None


def for_data(df, programme: "Programme | str | Path | None" = None) -> Programme:
    """The programme to check ``df`` against.

    An explicit ``programme`` (object or file) wins. Otherwise data made by the synthetic
    generator (marked, see :func:`synthetic_marker`), or whose primes all carry the invented
    names (a CSV copy of generated data has no marker), are checked against
    :func:`fictional` names and everything else against the real programme (:func:`load`).
    """
    if isinstance(programme, Programme):
        return programme
    if programme is not None:
        return load(programme)
    marker = synthetic_marker(df)
    if marker is not None and marker.get("names", "fictional") == "fictional":
        return fictional(load())
    real = load()
    if _uses_fictional_names(df, real):  # e.g. a CSV copy of generated data (no marker)
        return fictional(real)
    return real


def _uses_fictional_names(df, real: Programme) -> bool:
    """True when every prime of ``df`` is an invented name (``Prime A``...) and none is a
    real one: such data can only be checked against :func:`fictional`."""
    cols = getattr(df, "columns", ())
    if "prime" not in cols:
        return False
    try:
        values = {str(v).strip() for v in df["prime"].dropna().unique()}
    except (TypeError, ValueError):
        return False
    names = {p for info in fictional(real).cpas.values() for p in info["primes"]}
    real_names = {p for info in real.cpas.values() for p in info["primes"]}
    return bool(values) and values <= names and not values & real_names
