"""``python -m lenetlab.params [overrides]``: parameter counts of the configured network.

One configuration prints the per-layer table (report 003, table 3); sweep syntax such as
``model.filters=8,16,32`` prints one row per combination (report 002's filters-parameters table).
"""

from __future__ import annotations

import sys

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from hydra.utils import instantiate

from lenetlab import CONF_DIR
from lenetlab.config.overrides import check_overrides
from lenetlab.config.sweeps import expand_sweep
from lenetlab.models.networks import count_parameters, parameter_table
from lenetlab.run.start_checks import check_config


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


def main(argv: list[str] | None = None) -> int:
    """Print the parameter table(s) for the overrides in ``argv``."""
    args = sys.argv[1:] if argv is None else argv
    try:
        check_overrides("train", args)
        varying, combinations = expand_sweep(args)
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            configs = [compose("train", overrides=combo) for combo in combinations]
        for config in configs:
            check_config(config, check_devices=False)
        nets = [instantiate(config.model) for config in configs]
    except (HydraException, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if len(nets) == 1:
        print(format_layer_table(parameter_table(nets[0])))
        return 0
    body = []
    for combo, net in zip(combinations, nets, strict=True):
        values = dict(o.split("=", 1) for o in combo)
        body.append((*(values[key] for key in varying), f"{count_parameters(net):,}"))
    print(_format((*(k.rsplit(".", 1)[-1] for k in varying), "Parameters"), body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
