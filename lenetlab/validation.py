"""Refuse bad input before any work, with one line naming key, value and what is accepted."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import torch
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig

from lenetlab.data import DataNotFoundError, default_data_root, ensure_mnist
from lenetlab.idx import IMAGES_MAGIC, IdxFormatError, check_idx_file
from lenetlab.resume import choose_output_dir
from lenetlab.run_status import job_dirs

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")
# Lightning's precision names and their short aliases (16 -> 16-mixed, bf16 -> bf16-mixed, ...)
PRECISIONS = ("32", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64", "64-true", "16", "bf16")
PRECISIONS += ("transformer-engine", "transformer-engine-float16")
# torch.compile's modes; compile=true is "default", "reduce-overhead" adds CUDA graphs on a GPU
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class ConfigError(ValueError):
    """A configuration value that lenetlab cannot run with."""


def _require(ok: bool, key: str, value, accepted: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is not accepted: expected {accepted}")


def _positive_ints(value) -> list:
    return [value] if isinstance(value, int | float | str) else list(value)


# what stops a start with a one-line message and exit status 2, not a traceback
BAD_INPUT = (ConfigError, IdxFormatError, DataNotFoundError)


def validate(cfg: DictConfig, check_devices: bool = True) -> None:
    """Check the keys a user is likely to mistype; raise ConfigError on the first bad one.

    ``check_devices=False`` skips what depends on the machine (a sweep over cpu and gpu records
    its gpu jobs as failed where there is no GPU).
    """
    lr = cfg.optimizer.get("lr")
    _require(isinstance(lr, int | float) and lr > 0, "optimizer.lr", lr, "a positive number")
    for key in ("batch_size", "eval_batch_size"):
        value = cfg.data.get(key)
        _require(isinstance(value, int) and value > 0, f"data.{key}", value, "a positive integer")
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
        _require(ok, "model.hidden", model.hidden, "a list of positive integers (hidden layer widths)")
    if "filters" in model:
        filters = _positive_ints(model.filters)
        ok = len(filters) > 0 and all(isinstance(f, int) and f > 0 for f in filters)
        _require(ok, "model.filters", model.filters, "a positive integer or a list of them")
        layers = 2 if isinstance(model.filters, int) else len(filters)
        image_size = model.get("image_size", 28)
        _require(
            image_size // 2**layers >= 1,
            "model.filters",
            model.filters,
            f"at most {image_size.bit_length() - 1} conv layers (each halves the {image_size}-pixel map)",
        )
        smallest_map = image_size // 2 ** (layers - 1)
        k = model.get("kernel_size", 3)
        _require(
            isinstance(k, int) and k > 0 and k % 2 == 1 and k <= smallest_map,
            "model.kernel_size",
            k,
            f"an odd integer from 1 to {smallest_map} (the smallest feature map)",
        )

    compile = cfg.get("compile", False)
    ok = isinstance(compile, bool) or compile in COMPILE_MODES
    _require(ok, "compile", compile, " | ".join(("false", "true", *COMPILE_MODES)))
    channels_last = cfg.get("channels_last", False)
    _require(
        isinstance(channels_last, bool) or channels_last == "auto",
        "channels_last",
        channels_last,
        "auto | true | false",
    )

    for key in ("model_checkpoint", "last_checkpoint", "epoch_timer"):  # a run's status, test and resume need them
        _require(cfg.callbacks.get(key) is not None, f"callbacks.{key}", None, "a callback (it cannot be null)")

    epochs = cfg.trainer.get("max_epochs")
    _require(isinstance(epochs, int) and epochs >= 0, "trainer.max_epochs", epochs, "an integer >= 0")
    accelerator = cfg.trainer.get("accelerator")
    check_accelerator(accelerator, check_devices)
    devices = cfg.trainer.get("devices", 1)
    gpu_index = accelerator in ("gpu", "cuda") and isinstance(devices, ListConfig | list) and len(devices) == 1
    accepted = "1, or with trainer.accelerator=gpu one GPU index such as [0] (lenetlab trains on one device)"
    _require(str(devices) == "1" or gpu_index, "trainer.devices", devices, accepted)
    precision = str(cfg.trainer.get("precision", "32"))
    _require(precision in PRECISIONS, "trainer.precision", precision, " | ".join(PRECISIONS))

    root = cfg.data.get("root")
    if root is not None and Path(root).exists() and not Path(root).is_dir():
        raise ConfigError(f"data.root={root!r} is a file: expected a directory holding MNIST/raw/")


def check_accelerator(accelerator, check_devices: bool = True) -> None:
    """``trainer.accelerator`` is one lenetlab runs on (and, with ``check_devices``, a GPU is there if asked for)."""
    _require(accelerator in ACCELERATORS, "trainer.accelerator", accelerator, " | ".join(ACCELERATORS))
    if check_devices and accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator}: no CUDA device visible; use cpu or auto")


def _fraction(value, below_one: bool = True) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < (1 if below_one else 1e9)


def _check_recipe(cfg: DictConfig) -> None:
    """Momentum, weight decay, augmentation, label smoothing, dropout and EMA: ranges the libraries accept."""
    opt = cfg.optimizer
    momentum = opt.get("momentum", 0.0)
    _require(_fraction(momentum), "optimizer.momentum", momentum, "a number in [0, 1)")
    decay = opt.get("weight_decay", 0.0)
    _require(_fraction(decay, below_one=False), "optimizer.weight_decay", decay, "a number >= 0")
    for key in ("fused", "foreach"):
        value = opt.get(key)
        _require(
            value is None or isinstance(value, bool), f"optimizer.{key}", value, "null (torch's choice) | true | false"
        )
    if opt.get("fused") and opt.get("foreach"):
        _require(False, "optimizer.foreach", True, "false or null while optimizer.fused is true (one implementation)")
    if opt.get("nesterov"):
        _require(
            momentum > 0, "optimizer.nesterov", True, "false while optimizer.momentum is 0 (Nesterov needs momentum)"
        )
    augment = cfg.data.get("augment", 0.0)
    _require(_fraction(augment, below_one=False), "data.augment", augment, "a number >= 0 (0: off, 1: data.distortion)")
    for name, amount in (cfg.data.get("distortion") or {}).items():
        if name == "elastic_sigma":
            ok, accepted = _fraction(amount, below_one=False) and amount > 0, "a number > 0 (pixels)"
        else:
            ok, accepted = _fraction(amount, below_one=False), "a number >= 0 (0: none)"
        _require(ok, f"data.distortion.{name}", amount, accepted)
    ema = cfg.callbacks.get("ema")
    if ema is not None and "decay" in ema:
        ok = _fraction(ema.decay) and ema.decay > 0
        _require(ok, "callbacks.ema.decay", ema.decay, "a number in (0, 1), e.g. 0.999")
    smoothing = cfg.get("label_smoothing", 0.0)
    _require(_fraction(smoothing), "label_smoothing", smoothing, "a number in [0, 1)")
    dropout = cfg.model.get("dropout", 0.0)
    _require(_fraction(dropout), "model.dropout", dropout, "a number in [0, 1)")


def check_output_dir(out: str | Path) -> None:
    """Refuse an output directory that cannot be created or written."""
    out = Path(out)
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError(
            f"output directory {str(out)!r} cannot be written: {parent} is not a writable directory "
            "(choose another with hydra.run.dir / hydra.sweep.dir)"
        )


def check_data(cfg: DictConfig) -> None:
    """Check the MNIST files' headers and sizes (downloading them first if missing and allowed)."""
    if not str(cfg.data.get("_target_", "")).endswith("MNISTDataModule"):
        return
    root = Path(cfg.data.root) if cfg.data.get("root") else default_data_root()
    raw = ensure_mnist(root, cfg.data.get("download", True))  # downloads, or names what is missing or corrupt
    n = check_idx_file(raw / "train-images-idx3-ubyte", IMAGES_MAGIC)[0]
    val_size = cfg.data.get("val_size", 5000)
    ok = isinstance(val_size, int) and 0 < val_size < n
    _require(ok, "data.val_size", val_size, f"an integer from 1 to {n - 1} (the training images held out)")


def expand_sweep(arguments: list[str]) -> tuple[list[str], list[list[str]]]:
    """The keys that vary and each job's overrides, as Hydra's basic sweeper expands ``a=1,2 b=x,y``.

    A key given again replaces its earlier values in place (the command line an experiment's grid).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(arguments)
    choices: dict[str, list[str]] = {}
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override() and not override.is_discrete_sweep():
            raise ConfigError(f"{override.input_line}: a grid sweep takes a list of values (a,b), range() or choice()")
        values = (
            override.sweep_string_iterator() if override.is_sweep_override() else [override.get_value_element_as_str()]
        )
        choices[key] = [f"{key}={value}" for value in values]
    varying = [override.get_key_element() for override in parsed if override.is_sweep_override()]
    return varying, [list(job) for job in itertools.product(*choices.values())]


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """Each job's overrides in a multirun of ``config`` (``hydra.sweeper.params`` included)."""
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)
    return expand_sweep(arguments)[1]


def refuse(error: Exception) -> None:
    """Stop a start with ``error: <message>`` on one line and exit status 2."""
    print(f"error: {error}", file=sys.stderr, flush=True)
    sys.exit(2)


class StartChecks(Callback):
    """Hydra callback: choose the directory to resume, then refuse bad input before anything is written.

    Runs before Hydra creates the run (sweep) directory, so a refused start leaves nothing behind
    and changes nothing in an existing one.
    """

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            out = choose_output_dir(config, multirun=False)
            resuming = config.get("resume") or config.get("ckpt_path")
            if not resuming and (out / ".hydra").is_dir():
                raise ConfigError(
                    f"hydra.run.dir={str(out)!r} already holds a run: add resume=true to continue it, "
                    "or choose another directory"
                )
            validate(config)
            check_output_dir(out)
            check_data(config)
        except BAD_INPUT as error:
            refuse(error)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            sweep_dir = choose_output_dir(config, multirun=True)
            if not config.get("resume") and job_dirs(sweep_dir):
                raise ConfigError(
                    f"hydra.sweep.dir={str(sweep_dir)!r} already holds a sweep: add resume=true to continue it "
                    "(finished jobs are skipped), or choose another directory"
                )
            if config.hydra.sweeper._target_.endswith("BasicSweeper"):
                from hydra.core.global_hydra import GlobalHydra

                loader = GlobalHydra.instance().config_loader()
                for job in sweep_jobs(config):
                    validate(loader.load_sweep_config(config, job), check_devices=False)
            else:
                validate(config, check_devices=False)
            check_output_dir(sweep_dir)
            check_data(config)
        except BAD_INPUT as error:
            refuse(error)
