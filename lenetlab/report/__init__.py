"""``python -m lenetlab.report``: a run's or sweep's figures and tables, from its TensorBoard logs.

``runs`` reads the runs, ``figures`` draws them, ``tables`` writes ``summary.csv``/``summary.md``,
``__main__`` is the command line.
"""

from lenetlab.report.runs import Run, load_runs
from lenetlab.report.write import write_report

__all__ = ["Run", "load_runs", "write_report"]
