"""The one thing lenetlab takes from Hydra's private modules, for want of a public interface.

Hydra reads its own flags (``-m``, ``--config-dir``, ``--cfg``...) with a parser it does not export; checking a
command line before ``@hydra.main`` runs needs the same reading. ``tests/test_hydra_internals.py`` fails if a
Hydra release moves or changes it.
"""

from __future__ import annotations

import argparse


def hydra_arguments(argv: list[str]) -> argparse.Namespace:
    """A command line as ``@hydra.main`` reads it: its flags, ``config_name``, ``config_dir`` and ``overrides``."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser().parse_known_args(argv)[0]
