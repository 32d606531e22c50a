"""The bottom layer: atomic file writes (checkpoints too), figure files, and how numbers are shown to a person.

Files such as CSV and JSON keep full precision; :func:`percent` is for what a person reads.
"""

from __future__ import annotations


def percent(fraction: float) -> str:
    """An error or accuracy as a percentage with two decimals: ``percent(0.019) -> '1.90%'``."""
    return f"{100 * fraction:.2f}%"


def not_accepted(name: str, value, accepted: str) -> ValueError:
    """The error a constructor raises for a bad argument: ``name=value is not accepted: expected accepted``."""
    return ValueError(f"{name}={value!r} is not accepted: expected {accepted}")
