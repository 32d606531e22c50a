"""``python -m lenetlab.evaluate checkpoint=PATH``: score trained models on the test (or validation) images."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError
from lenetlab.config.overrides import checks_command_line
from lenetlab.output import percent

SPLITS = ("test", "val")


def result_line(result: dict) -> str:
    """``<checkpoint>: test error 1.23%, accuracy 98.77%, 10000 images, 1.4 s``."""
    return (
        f"{result['checkpoint']}: {result['split']} error {percent(result['error'])}, "
        f"accuracy {percent(result['accuracy'])}, {result['images']} images, {result['seconds']:.1f} s"
    )


def sweep_table(sweep: Path, results: list[dict]) -> str:
    """One row per job of a sweep: its name, error, accuracy, images and seconds."""
    names = [Path(r["checkpoint"]).parent.parent.relative_to(sweep).as_posix() for r in results]
    width = max(len("job"), *map(len, names))
    split = results[0]["split"]
    lines = [f"{'job':<{width}}  {split + ' error':>10}  {'accuracy':>8}  {'images':>6}  {'seconds':>7}"]
    for name, r in zip(names, results, strict=True):
        error, accuracy = percent(r["error"]), percent(r["accuracy"])
        lines.append(f"{name:<{width}}  {error:>10}  {accuracy:>8}  {r['images']:>6}  {r['seconds']:>7.1f}")
    return "\n".join(lines)


@checks_command_line("evaluate")
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: every model is loaded (and bad input refused) before anything is written."""
    # torch and Lightning are imported once the command line is checked: a typo is refused in a second
    from lenetlab.config.bad_input import refusing_bad_input
    from lenetlab.evaluate.scores import evaluate, write_evaluation
    from lenetlab.models.safe_checkpoint import CheckpointError
    from lenetlab.output.figures import save_figure
    from lenetlab.trained import find_checkpoints, load_models

    with refusing_bad_input():
        if cfg.split not in SPLITS:
            raise ConfigError(f"split={cfg.split!r} is not accepted: expected {' | '.join(SPLITS)}")
        checkpoints = find_checkpoints(cfg.checkpoint) if cfg.checkpoint else None
        if checkpoints is None:
            raise CheckpointError("checkpoint=PATH is required: a .ckpt file, a run directory or a sweep directory")
        models = load_models(checkpoints, cfg)
        results, figures = zip(*(evaluate(trained, cfg) for trained in models), strict=True)
    written = []
    for result, figure in zip(results, figures, strict=True):
        write_evaluation(result)
        if figure is not None:
            written += save_figure(figure, Path(result["checkpoint"]).parent, f"evaluation_{cfg.split}")
    sweep = Path(cfg.checkpoint)
    if len(results) > 1:
        print(f"{sweep}: {len(results)} models, {cfg.split} split")
        print(sweep_table(sweep, results))
    else:
        print(result_line(results[0]))
    for path in written:
        print(f"figure: {path}")


if __name__ == "__main__":
    main()
