"""The command-line and config layer: overrides, value checks, sweeps, job names, launchers, quiet logs.

Its error type lives here, for every layer above that refuses a setting.
"""

from __future__ import annotations

import sys


class ConfigError(ValueError):
    """A configuration value that lenetlab cannot run with."""


def refuse(error: Exception) -> None:
    """Stop a start with ``error: <message>`` on one line and exit status 2."""
    print(f"error: {error}", file=sys.stderr, flush=True)
    sys.exit(2)
