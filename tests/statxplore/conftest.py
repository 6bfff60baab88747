"""Shared paths for the Stat-Xplore tests."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "statxplore"
