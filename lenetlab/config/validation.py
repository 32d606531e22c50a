"""The values a run accepts: each bad one is refused with one line naming key, value and what is accepted."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig

from lenetlab.config import ConfigError
from lenetlab.data.idx import IdxFormatError
from lenetlab.data.mnist import DataNotFoundError
from lenetlab.models.safe_checkpoint import CheckpointError

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")
# Lightning's precision names and their short aliases (16 -> 16-mixed, bf16 -> bf16-mixed, ...)
PRECISIONS = ("32", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64", "64-true", "16", "bf16")
PRECISIONS += ("transformer-engine", "transformer-engine-float16")
# torch.compile's modes; compile=true is "default", "reduce-overhead" adds CUDA graphs on a GPU
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def require(ok: bool, key: str, value, accepted: str) -> None:
    """Raise ConfigError ``key=value is not accepted: expected accepted`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={value!r} is not accepted: expected {accepted}")


def _positive_ints(value) -> list:
    return [value] if isinstance(value, int | float | str) else list(value)


# what stops a start with a one-line message and exit status 2, not a traceback
BAD_INPUT = (ConfigError, IdxFormatError, DataNotFoundError, CheckpointError)


def validate(cfg: DictConfig, check_devices: bool = True) -> None:
    """Check the keys a user is likely to mistype; raise ConfigError on the first bad one.

    ``check_devices=False`` skips what depends on the machine (a sweep over cpu and gpu records
    its gpu jobs as failed where there is no GPU).
    """
    lr = cfg.optimizer.get("lr")
    require(isinstance(lr, int | float) and lr > 0, "optimizer.lr", lr, "a positive number")
    for key in ("batch_size", "eval_batch_size"):
        value = cfg.data.get(key)
        require(isinstance(value, int) and value > 0, f"data.{key}", value, "a positive integer")
    _check_recipe(cfg)

    ckpt = cfg.get("ckpt_path")
    if ckpt and not Path(ckpt).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt!r} is not a file: expected a checkpoint such as <run>/checkpoints/last.ckpt"
        )

    model = cfg.model
    if "hidden" in model:
        hidden = _positive_ints(model.hidden)
        ok = all(isinstance(h, int) and h > 0 for h in hidden)
        require(ok, "model.hidden", model.hidden, "a list of positive integers (hidden layer widths)")
    if "filters" in model:
        filters = _positive_ints(model.filters)
        ok = len(filters) > 0 and all(isinstance(f, int) and f > 0 for f in filters)
        require(ok, "model.filters", model.filters, "a positive integer or a list of them")
        layers = 2 if isinstance(model.filters, int) else len(filters)
        image_size = model.get("image_size", 28)
        require(
            image_size // 2**layers >= 1,
            "model.filters",
            model.filters,
            f"at most {image_size.bit_length() - 1} conv layers (each halves the {image_size}-pixel map)",
        )
        smallest_map = image_size // 2 ** (layers - 1)
        k = model.get("kernel_size", 3)
        require(
            isinstance(k, int) and k > 0 and k % 2 == 1 and k <= smallest_map,
            "model.kernel_size",
            k,
            f"an odd integer from 1 to {smallest_map} (the smallest feature map)",
        )

    compile = cfg.get("compile", False)
    ok = isinstance(compile, bool) or compile in COMPILE_MODES
    require(ok, "compile", compile, " | ".join(("false", "true", *COMPILE_MODES)))
    channels_last = cfg.get("channels_last", False)
    require(
        isinstance(channels_last, bool) or channels_last == "auto",
        "channels_last",
        channels_last,
        "auto | true | false",
    )
    require(isinstance(cfg.get("test", True), bool), "test", cfg.get("test"), "true | false")

    for key in ("model_checkpoint", "last_checkpoint", "epoch_timer"):  # a run's status, test and resume need them
        require(cfg.callbacks.get(key) is not None, f"callbacks.{key}", None, "a callback (it cannot be null)")

    epochs = cfg.trainer.get("max_epochs")
    require(isinstance(epochs, int) and epochs >= 0, "trainer.max_epochs", epochs, "an integer >= 0")
    accelerator = cfg.trainer.get("accelerator")
    check_accelerator(accelerator, check_devices)
    devices = cfg.trainer.get("devices", 1)
    gpu_index = accelerator in ("gpu", "cuda") and isinstance(devices, ListConfig | list) and len(devices) == 1
    accepted = "1, or with trainer.accelerator=gpu one GPU index such as [0] (lenetlab trains on one device)"
    require(str(devices) == "1" or gpu_index, "trainer.devices", devices, accepted)
    precision = str(cfg.trainer.get("precision", "32"))
    require(precision in PRECISIONS, "trainer.precision", precision, " | ".join(PRECISIONS))

    root = cfg.data.get("root")
    if root is not None and Path(root).exists() and not Path(root).is_dir():
        raise ConfigError(f"data.root={root!r} is a file: expected a directory holding MNIST/raw/")


def check_accelerator(accelerator, check_devices: bool = True) -> None:
    """``trainer.accelerator`` is one lenetlab runs on (and, with ``check_devices``, a GPU is there if asked for)."""
    require(accelerator in ACCELERATORS, "trainer.accelerator", accelerator, " | ".join(ACCELERATORS))
    if check_devices and accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator}: no CUDA device visible; use cpu or auto")


def _fraction(value, below_one: bool = True) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < (1 if below_one else 1e9)


def _check_recipe(cfg: DictConfig) -> None:
    """Momentum, weight decay, augmentation, label smoothing, dropout and EMA: ranges the libraries accept."""
    opt = cfg.optimizer
    momentum = opt.get("momentum", 0.0)
    require(_fraction(momentum), "optimizer.momentum", momentum, "a number in [0, 1)")
    decay = opt.get("weight_decay", 0.0)
    require(_fraction(decay, below_one=False), "optimizer.weight_decay", decay, "a number >= 0")
    for key in ("fused", "foreach"):
        value = opt.get(key)
        require(
            value is None or isinstance(value, bool), f"optimizer.{key}", value, "null (torch's choice) | true | false"
        )
    if opt.get("fused") and opt.get("foreach"):
        require(False, "optimizer.foreach", True, "false or null while optimizer.fused is true (one implementation)")
    if opt.get("nesterov"):
        require(
            momentum > 0, "optimizer.nesterov", True, "false while optimizer.momentum is 0 (Nesterov needs momentum)"
        )
    augment = cfg.data.get("augment", 0.0)
    require(_fraction(augment, below_one=False), "data.augment", augment, "a number >= 0 (0: off, 1: data.distortion)")
    for name, amount in (cfg.data.get("distortion") or {}).items():
        if name == "elastic_sigma":
            ok, accepted = _fraction(amount, below_one=False) and amount > 0, "a number > 0 (pixels)"
        else:
            ok, accepted = _fraction(amount, below_one=False), "a number >= 0 (0: none)"
        require(ok, f"data.distortion.{name}", amount, accepted)
    ema = cfg.callbacks.get("ema")
    if ema is not None and "decay" in ema:
        ok = _fraction(ema.decay) and ema.decay > 0
        require(ok, "callbacks.ema.decay", ema.decay, "a number in (0, 1), e.g. 0.999")
    smoothing = cfg.get("label_smoothing", 0.0)
    require(_fraction(smoothing), "label_smoothing", smoothing, "a number in [0, 1)")
    dropout = cfg.model.get("dropout", 0.0)
    require(_fraction(dropout), "model.dropout", dropout, "a number in [0, 1)")
