"""Plots: free functions ``plot_*(result, ax=None, **kw) -> matplotlib.axes.Axes``.

One submodule per area (``checks``, ``randomised``, ``survival``, ``tables``, ``ranking``,
``value``, ``models``, ``diagnosis``, ``ph``, ``aft``);
every ``plot_*`` function of those submodules is available here, loaded lazily so that
importing ``wpeval.plots`` does not import matplotlib until a plot is drawn. The look is one
seaborn theme (:func:`theme`, colour-blind-safe palette; colours by role via :func:`colour`).
"""

from __future__ import annotations

import importlib
import pkgutil

_SUBMODULES = (
    "checks",
    "randomised",
    "survival",
    "tables",
    "ranking",
    "value",
    "models",
    "diagnosis",
    "ph",
    "aft",
)


def _index() -> dict[str, str]:
    names: dict[str, str] = {}
    here = __path__  # noqa: F821 - defined for packages
    available = {m.name for m in pkgutil.iter_modules(here)}
    for sub in _SUBMODULES:
        if sub in available:
            module = importlib.import_module(f"{__name__}.{sub}")
            names.update({n: sub for n in dir(module) if n.startswith("plot_")})
    return names


_THEME = ("theme", "colour", "palette")


def __getattr__(name: str):
    if name in _THEME:
        value = getattr(importlib.import_module(f"{__name__}.theme"), name)
        globals()[name] = value
        return value
    if name.startswith("plot_"):
        where = _index().get(name)
        if where is not None:
            value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'wpeval.plots' has no attribute {name!r}")


def __dir__():
    return sorted(_index()) + list(_THEME)
