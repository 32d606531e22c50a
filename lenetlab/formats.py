"""How numbers are shown to a person (files such as CSV and JSON keep full precision)."""

from __future__ import annotations


def percent(fraction: float) -> str:
    """An error or accuracy as a percentage with two decimals: ``percent(0.019) -> '1.90%'``."""
    return f"{100 * fraction:.2f}%"
