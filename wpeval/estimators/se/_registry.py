"""The name -> implementation registry of standard errors."""

from __future__ import annotations

from typing import Callable

#: name -> implementation
SE_REGISTRY: dict[str, Callable] = {}


def register(name: str) -> Callable:
    """Decorator adding a function to :data:`SE_REGISTRY` under ``name``."""

    def deco(fn: Callable) -> Callable:
        SE_REGISTRY[name] = fn
        return fn

    return deco


def get_se(name: str) -> Callable:
    """Return the SE implementation registered as ``name`` (KeyError lists the names)."""
    try:
        return SE_REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown SE type {name!r}; known: {sorted(SE_REGISTRY)}") from None
