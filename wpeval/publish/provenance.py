"""Provenance of a report: package and library versions, git commit, input-data fingerprint.

Everything here is cheap and has no side effects; results are cached per process where the
answer cannot change during a run (versions, the git commit).
"""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

#: libraries whose versions are written to provenance.json
LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "linearmodels",
    "lifelines",
    "matplotlib",
    "seaborn",
    "pyarrow",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "pyyaml",
)


def package_version() -> str:
    """Version of wpeval (``wpeval.__version__``)."""
    from wpeval import __version__

    return __version__


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Installed versions of :data:`LIBRARIES` (``"absent"`` when not installed) and Python."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@lru_cache(maxsize=4)
def git_info(root: str | None = None) -> dict:
    """The git commit of the code that ran.

    Parameters
    ----------
    root : str, optional
        Folder inside the repository (default: the folder holding the ``wpeval`` package).

    Returns
    -------
    dict
        ``{"commit": <sha or "unknown">, "dirty": <bool or None>}``; ``dirty`` is True when
        tracked files differ from the commit (untracked files are ignored), None when unknown.
    """
    where = Path(root) if root else Path(__file__).resolve().parents[2]
    commit = _git(["rev-parse", "HEAD"], where)
    if not commit:
        return {"commit": "unknown", "dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def data_fingerprint(path: str | Path):
    """Fingerprint of an input file via :func:`wpeval.data.io.file_fingerprint` (sha256)."""
    from wpeval.data.io import file_fingerprint

    return file_fingerprint(path)


def interpreter() -> dict:
    """The Python interpreter running this code (the kernel's, when called in a notebook)."""
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "platform": platform.platform(),
    }
