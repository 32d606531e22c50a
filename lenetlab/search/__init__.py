"""``python -m lenetlab.search``: a resumable, parallel Optuna study over lenetlab.train's configuration.

Each trial is a normal lenetlab run in ``<search dir>/trial_<number>/``; the study lives in an Optuna RDB
storage (SQLite in the search directory by default). At the end: ``trials.csv``, figures, ``best.yaml``
and, unless ``search.final=false``, the best values retrained on all 60,000 training images and tested.

Modules by job: ``space`` (what is sampled), ``settings`` (refusing bad ones), ``study`` (the study and
its workers), ``final`` (the final run), ``outputs`` (trials.csv, figures, best.yaml), ``cli`` (the command).
"""

from lenetlab.search.cli import main, search
from lenetlab.search.settings import PRUNERS, SAMPLERS, check_settings
from lenetlab.search.space import PerTrialSeed, run_config, search_space, suggest
from lenetlab.search.study import make_objective, open_study, optimize

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "PerTrialSeed",
    "check_settings",
    "main",
    "make_objective",
    "open_study",
    "optimize",
    "run_config",
    "search",
    "search_space",
    "suggest",
]
