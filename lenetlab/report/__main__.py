"""``python -m lenetlab.report [DIR ...] [--out DIR] [--format pdf,png]``: figures and tables of runs and sweeps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lenetlab.output.figures import DPI, FORMATS, parse_formats
from lenetlab.report import write_report
from lenetlab.report.runs import describe, latest, load_runs, varying

OUTPUTS = Path("outputs")


def fail(message: str) -> None:
    """One line on stderr, exit status 2 (as for bad arguments)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lenetlab.report", description=__doc__)
    parser.add_argument("dirs", nargs="*", type=Path, help="runs or sweeps (default: the latest under outputs/)")
    parser.add_argument("--out", type=Path, help="where to write (default: DIR/report of the first DIR)")
    parser.add_argument(
        "--format",
        default="png",
        help=f"figure formats, comma-separated: {', '.join(FORMATS)} (default: png, at {DPI} dpi)",
    )
    args = parser.parse_args(argv)
    try:
        formats = parse_formats(args.format)
    except ValueError as error:
        fail(str(error))

    dirs = args.dirs or [latest(OUTPUTS) if OUTPUTS.is_dir() else None]
    if dirs == [None]:
        fail(f"no runs under {OUTPUTS}/ (train first, or name the run or sweep directories)")
    for d in dirs:
        if not d.is_dir():
            fail(f"{d}: no such directory")
    runs = load_runs(dirs)
    if not runs:
        fail(f"no runs in {' '.join(map(str, dirs))}: no status.json, .hydra or TensorBoard event files below")
    out = args.out or dirs[0] / "report"
    files = write_report(runs, out, formats)
    print(f"{len(runs)} runs from {', '.join(map(str, dirs))} -> {out}/: {', '.join(p.name for p in files)}")
    keys = varying(runs)
    for run in runs:
        if run.status != "finished":
            print(f"  {run.status:<10} {describe(run.hparams, keys) or run.name}: {run.reason}")


if __name__ == "__main__":
    main()
