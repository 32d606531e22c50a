"""``python -m lenetlab.export checkpoint=PATH``: the model as ONNX, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError, refuse
from lenetlab.config.overrides import checks_command_line


@checks_command_line("export")
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="export")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: the model and the test images are read (and bad input refused) before anything is written."""
    # torch and Lightning are imported once the command line is checked: a typo is refused in a second
    from lenetlab.config.bad_input import refusing_bad_input
    from lenetlab.export.onnx import ExportMismatch, export, mnist_test_pixels
    from lenetlab.models.safe_checkpoint import CheckpointError
    from lenetlab.trained import data_root_for, find_checkpoints, load_models

    with refusing_bad_input():
        if not cfg.checkpoint:
            raise ConfigError("checkpoint=PATH is required: a .ckpt file or a run directory")
        checkpoints = find_checkpoints(cfg.checkpoint)
        if len(checkpoints) > 1:
            raise CheckpointError(
                f"checkpoint={cfg.checkpoint}: a sweep of {len(checkpoints)} models; name one run or .ckpt file"
            )
        (trained,) = load_models(checkpoints, cfg)
        if cfg.trainer.accelerator not in ("auto", "cpu"):
            raise ConfigError(f"trainer.accelerator={cfg.trainer.accelerator}: export runs on the CPU; use cpu or auto")
        pixels = mnist_test_pixels(data_root_for(trained, cfg.data.root)) if cfg.check else None
    output = Path(cfg.output) if cfg.output else trained.path.with_suffix(".onnx")
    try:
        check = export(trained, output, pixels, cfg.batch_size, cfg.tolerance)
    except ImportError as error:  # an optional package of the export extra is not installed
        refuse(error)
    except ExportMismatch as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    line = f"{trained.path} -> {output}"
    if check:
        line += (
            f": onnxruntime gives the same digits as PyTorch on {check['images']} test images, "
            f"logits within {check['largest_logit_difference']:.1e}"
        )
    print(line)


if __name__ == "__main__":
    main()
