"""``python -m lenetlab.params [--config-dir DIR] [overrides]``: parameter counts of the configured network.

A Hydra app: the network is the one ``lenetlab.train`` builds from the same command line (any model config,
one of lenetlab's or one of your own in ``--config-dir``), and ``--help`` lists the options. One configuration
prints the per-layer table (report 003, table 3); sweep syntax such as ``model.filters=8,16,32`` prints one row
per combination (report 002's filters-parameters table).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import hydra
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError, refuse
from lenetlab.config.overrides import check_command_line, hydra_arguments
from lenetlab.config.sweeps import expand_sweep

if TYPE_CHECKING:
    from torch import nn


def _shape(shape: tuple[int, ...] | None) -> str:
    return "x".join(map(str, shape)) if shape else "-"


def format_layer_table(rows: list[dict]) -> str:
    """The per-layer table: layer, output shape, weights, biases, total, and the sum."""
    header = ("Layer", "Output shape", "Weights", "Biases", "Total")
    body = [
        (r["layer"], _shape(r["output_shape"]), f"{r['weights']:,}", f"{r['biases']:,}", f"{r['total']:,}")
        for r in rows
    ]
    body.append(("Total", "", "", "", f"{sum(r['total'] for r in rows):,}"))
    return _format(header, body)


def _format(header: tuple[str, ...], body: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_networks: list[nn.Module] = []  # what each run of the Hydra app below built (@hydra.main returns nothing)


# an absolute config path: found whether the module runs with -m or is imported
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="params")
def _build(cfg: DictConfig) -> None:
    """Hydra entry point: build the network of one configuration, checked as a run checks it."""
    from lenetlab.run.start_checks import check_config  # torch: once the command line is checked

    try:
        check_config(cfg, check_devices=False)
        _networks.append(instantiate(cfg.model))
    except (HydraException, ValueError, TypeError) as error:
        refuse(" ".join(str(error).split()))  # Hydra's message of an instantiation in one line


def main(argv: list[str] | None = None) -> int:
    """Print the parameter table(s) of the command line ``argv`` (Hydra's flags and overrides); the exit status.

    The Hydra app runs once per combination of a grid (``model.filters=8,16``), each combination a run of its own.
    """
    args = sys.argv[1:] if argv is None else argv
    overrides = hydra_arguments(args).overrides
    flags = [arg for arg in args if arg not in overrides and arg not in ("-m", "--multirun")]
    saved, _networks[:] = sys.argv, []
    try:
        check_command_line("params", args)
        varying, combinations = expand_sweep(overrides)
        for combination in combinations:
            sys.argv = [saved[0], *flags, *combination]  # where @hydra.main reads its command line
            _build()
    except SystemExit as stop:  # a refused configuration (exit status 2), or --help
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
    except (ConfigError, HydraException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        sys.argv = saved
    from lenetlab.models.networks import count_parameters, parameter_table

    if len(_networks) == 1:
        print(format_layer_table(parameter_table(_networks[0])))
    elif _networks:
        body = []
        for combo, net in zip(combinations, _networks, strict=True):
            values = dict(o.split("=", 1) for o in combo)
            body.append((*(values[key] for key in varying), f"{count_parameters(net):,}"))
        print(_format((*(k.rsplit(".", 1)[-1] for k in varying), "Parameters"), body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
