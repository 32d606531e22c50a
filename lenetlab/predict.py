"""``python -m lenetlab.predict checkpoint=PATH images=PATH``: classify one's own images with a trained model."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from lenetlab.config import ConfigError
from lenetlab.config.overrides import checks_command_line
from lenetlab.output.atomic import atomic_file

if TYPE_CHECKING:
    import torch

    from lenetlab.trained import Trained


def predict(trained: Trained, images: torch.Tensor, cfg: DictConfig) -> torch.Tensor:
    """Each image's class probabilities (N x classes), computed in batches on ``cfg.trainer``'s device."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lenetlab.trained import inference_trainer

    batches = DataLoader(TensorDataset(images), batch_size=cfg.batch_size)
    return torch.cat(inference_trainer(cfg).predict(trained.model, batches)).float().cpu()


def write_csv(path: Path, names: list[str], probabilities: torch.Tensor) -> None:
    """One row per image: file, digit, probability, then every class's probability."""
    classes = probabilities.shape[1]
    with atomic_file(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["file", "digit", "probability", *(f"p{c}" for c in range(classes))])
        for name, row in zip(names, probabilities.tolist(), strict=True):
            digit = max(range(classes), key=row.__getitem__)
            writer.writerow([name, digit, f"{row[digit]:.6f}", *(f"{p:.6f}" for p in row)])


@checks_command_line("predict")
@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: the model and the images are read (and bad input refused) before anything is written."""
    # torch and Lightning are imported once the command line is checked: a typo is refused in a second
    from lenetlab.config.bad_input import refusing_bad_input
    from lenetlab.data.images import load_images
    from lenetlab.models.safe_checkpoint import CheckpointError
    from lenetlab.trained import find_checkpoints, load_models

    with refusing_bad_input():
        if not cfg.checkpoint or not cfg.images:
            raise ConfigError(
                "checkpoint=PATH and images=PATH are required (images: PNG/JPEG files, a folder, an IDX file)"
            )
        checkpoints = find_checkpoints(cfg.checkpoint)
        if len(checkpoints) > 1:
            raise CheckpointError(
                f"checkpoint={cfg.checkpoint}: a sweep of {len(checkpoints)} models; name one run or .ckpt file"
            )
        (trained,) = load_models(checkpoints, cfg)
        try:
            names, images = load_images(cfg.images)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        probabilities = predict(trained, images, cfg)
    if cfg.output:
        write_csv(Path(cfg.output), names, probabilities)
    confidence, digits = probabilities.max(dim=1)
    width = max(map(len, names))
    print(f"{'file':<{width}}  digit  probability")
    for name, digit, p in zip(names, digits.tolist(), confidence.tolist(), strict=True):
        print(f"{name:<{width}}  {digit:>5}  {p:>11.4f}")
    if cfg.output:
        print(f"-> {cfg.output}")


if __name__ == "__main__":
    main()
