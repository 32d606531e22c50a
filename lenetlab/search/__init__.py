"""``python -m lenetlab.search``: a resumable, parallel Optuna study over lenetlab.train's configuration.

Each trial is a normal lenetlab run in ``<search dir>/trial_<number>/``; the study lives in an Optuna RDB
storage (SQLite in the search directory by default). At the end: ``trials.csv``, figures, ``best.yaml``
and, unless ``search.final=false``, the best values retrained on all 60,000 training images and tested.

Modules by job: ``space`` (what is sampled), ``settings`` (refusing bad ones), ``study`` (the study and
its workers), ``final`` (the final run), ``outputs`` (trials.csv, figures, best.yaml), ``cli`` (the command).
"""

import importlib

# what each name is imported from, on first use: `python -m lenetlab.search` checks its command line first
_FROM = {
    "lenetlab.search.cli": ("main", "search"),
    "lenetlab.search.settings": ("PRUNERS", "SAMPLERS", "check_settings"),
    "lenetlab.search.space": ("PerTrialSeed", "run_config", "search_space", "suggest"),
    "lenetlab.search.study": ("make_objective", "open_study", "optimize"),
}

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


def __getattr__(name: str):
    module = next((module for module, names in _FROM.items() if name in names), None)
    if module is None:
        raise AttributeError(f"module 'lenetlab.search' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
