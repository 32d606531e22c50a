"""Figure files for screens and papers: PNG at print resolution, vector PDF/SVG/EPS with embedded fonts.

The report and the search both save through :func:`save_figure`, so their figures share one resolution.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from lenetlab.output.atomic import atomic_file

FORMATS = ("png", "pdf", "svg", "eps")
# A 7.5-inch figure is 1,500 pixels wide at 200 dpi: about 230 dpi when LaTeX scales it to a 6.5-inch
# text width and 450 dpi in a 3.3-inch column, above the 150 dpi at which print looks sharp.
DPI = 200
# TrueType (Type 42) fonts rather than matplotlib's default Type 3: what publishers' PDF checks ask for
FONTS = {"pdf.fonttype": 42, "ps.fonttype": 42}


def parse_formats(text: str) -> list[str]:
    """``"pdf,png"`` -> ``["pdf", "png"]``; a ``ValueError`` naming a bad value and the accepted ones."""
    formats = list(dict.fromkeys(part.strip().lower() for part in text.split(",")))
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"--format {fmt or repr(text)}: not a figure format; choose from {', '.join(FORMATS)}")
    return formats


def save_figure(figure: Figure, out: Path, stem: str, formats: Iterable[str] = ("png",), **savefig) -> list[Path]:
    """Write ``out/<stem>.<format>`` for each format, each file replaced atomically; return the paths."""
    paths = []
    with matplotlib.rc_context(FONTS):
        for fmt in formats:
            path = Path(out) / f"{stem}.{fmt}"
            with atomic_file(path, "wb") as f:
                figure.savefig(f, format=fmt, dpi=DPI, **savefig)
            paths.append(path)
    return paths
