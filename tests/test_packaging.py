"""The two set-up routes (make / conda) describe the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lock():
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_environment_yml_installs_the_lock_file():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.lock" in pip_section
    assert "python=3.11" in env["dependencies"]


def test_every_declared_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _lock()
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    for req in declared:
        name = re.split(r"[<>=!\[ ;]", req, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in pins, (
            f"{name} missing from requirements.lock"
        )
