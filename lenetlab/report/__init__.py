"""``python -m lenetlab.report``: a run's or sweep's figures and tables, from its TensorBoard logs.

``runs`` reads the runs, ``figures`` draws them, ``tables`` writes ``summary.csv``/``summary.md``,
``__main__`` is the command line; :func:`write_report` writes them all into one directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lenetlab.output.figures import save_figure
from lenetlab.report.figures import FIGURES
from lenetlab.report.runs import Run, in_order, load_runs, varying
from lenetlab.report.tables import rows, write_csv, write_markdown


def write_report(runs: list[Run], out: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw the figures that fit what varies across ``runs`` in each of ``formats`` and write the tables into
    ``out``; return the files. A search's final run is not drawn among its trials: the tables name it apart."""
    out.mkdir(parents=True, exist_ok=True)
    final = [run for run in runs if run.final]  # a search's final run: in the tables, apart from its trials
    runs = [run for run in runs if not run.final]
    keys = varying(runs)
    runs = in_order(runs, keys)
    written = []
    for name, draw in FIGURES.items():
        figure = draw(runs, keys)
        if figure is not None:
            written += save_figure(figure, out, name, formats)
    write_csv(out / "summary.csv", rows([*runs, *final], keys))
    write_markdown(out / "summary.md", rows(runs, keys), runs, keys, [p.name for p in written], final)
    return [*written, out / "summary.csv", out / "summary.md"]


__all__ = ["Run", "load_runs", "write_report"]
