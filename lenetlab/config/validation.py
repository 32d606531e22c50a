"""The settings only lenetlab reads (how a run trains, on which device): each bad one is refused in one line.

The same :func:`validate` checks every job of a command line before torch is imported
(``lenetlab.config.overrides``) and each run's config as it starts. The networks, the
datamodule, the ``Classifier`` and the callbacks refuse their own bad arguments (a ValueError naming the
argument); ``lenetlab.run.start_checks`` builds them before a start. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig

from lenetlab.config import ConfigError

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")
# Lightning's precision names and their short aliases (16 -> 16-mixed, bf16 -> bf16-mixed, ...)
PRECISIONS = ("32", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64", "64-true", "16", "bf16")
PRECISIONS += ("transformer-engine", "transformer-engine-float16")
PRECISIONS += ("auto",)  # lenetlab's: bf16-mixed where the device does bfloat16 natively, else 32 (run/precision.py)
# torch.compile's modes; compile=true is "default", "reduce-overhead" adds CUDA graphs on a GPU
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def require(ok: bool, key: str, value, accepted: str) -> None:
    """Raise ConfigError ``key=value is not accepted: expected accepted`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={value!r} is not accepted: expected {accepted}")


def validate(cfg: DictConfig, check_devices: bool = True) -> None:
    """Check lenetlab's own keys of ``cfg`` (those it has); raise ConfigError on the first bad one.

    ``check_devices=False`` skips what depends on the machine (a sweep over cpu and gpu records
    its gpu jobs as failed where there is no GPU).
    """
    for group in ("model", "optimizer", "scheduler"):  # the parts a run builds from a _target_
        node = cfg.get(group)
        if isinstance(node, DictConfig) and node and "_target_" not in node:  # scheduler=none under pct_start
            keys = ", ".join(map(str, node))
            raise ConfigError(
                f"{group} has settings ({keys}) but no {group} to take them: choose one ({group}=...), "
                f"or drop them ({' '.join(f'~{group}.{key}' for key in node)})"
            )
    ckpt = cfg.get("ckpt_path")
    if ckpt and not Path(ckpt).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt!r} is not a file: expected a checkpoint such as <run>/checkpoints/last.ckpt"
        )
    compile = cfg.get("compile", False)
    ok = isinstance(compile, bool) or compile in COMPILE_MODES
    require(ok, "compile", compile, " | ".join(("false", "true", *COMPILE_MODES)))
    channels_last = cfg.get("channels_last", False)
    ok = isinstance(channels_last, bool) or channels_last == "auto"
    require(ok, "channels_last", channels_last, "auto | true | false")
    require(isinstance(cfg.get("test", True), bool), "test", cfg.get("test"), "true | false")
    if "batch_size" in cfg:  # the commands that use a trained model
        batch = cfg.batch_size
        require(
            isinstance(batch, int) and not isinstance(batch, bool) and batch > 0,
            "batch_size",
            batch,
            "a positive integer",
        )
    for key in ("model_checkpoint", "last_checkpoint", "epoch_timer"):  # a run's status, test and resume need them
        if "callbacks" in cfg:
            require(cfg.callbacks.get(key) is not None, f"callbacks.{key}", None, "a callback (it cannot be null)")
    if "trainer" in cfg:
        check_trainer(cfg.trainer, check_devices)


def check_trainer(trainer: DictConfig, check_devices: bool = True) -> None:
    """One device, one of lenetlab's accelerators and a precision Lightning knows; an epoch count >= 0."""
    if "max_epochs" in trainer:
        epochs = trainer.max_epochs
        require(isinstance(epochs, int) and epochs >= 0, "trainer.max_epochs", epochs, "an integer >= 0")
    accelerator = trainer.get("accelerator", "auto")
    check_accelerator(accelerator, check_devices)
    devices = trainer.get("devices", 1)
    gpu_index = accelerator in ("gpu", "cuda") and isinstance(devices, ListConfig | list) and len(devices) == 1
    accepted = "1, or with trainer.accelerator=gpu one GPU index such as [0] (lenetlab trains on one device)"
    require(str(devices) == "1" or gpu_index, "trainer.devices", devices, accepted)
    precision = str(trainer.get("precision", "32"))
    require(precision in PRECISIONS, "trainer.precision", precision, " | ".join(PRECISIONS))


def check_accelerator(accelerator, check_devices: bool = True) -> None:
    """``trainer.accelerator`` is one lenetlab runs on (and, with ``check_devices``, a GPU is there if asked for)."""
    require(accelerator in ACCELERATORS, "trainer.accelerator", accelerator, " | ".join(ACCELERATORS))
    if check_devices and accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.accelerator={accelerator}: no CUDA device visible; use cpu or auto")
