"""Lightning callbacks of lenetlab: honest timings, and an exponential moving average of the weights."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from lenetlab.models.classifier import log_epoch_values


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def process_age_s() -> float | None:
    """Seconds since this process started (from Linux's /proc, to 10 ms; None elsewhere)."""
    try:
        stat, uptime = Path("/proc/self/stat").read_text(), Path("/proc/uptime").read_text()
    except OSError:
        return None
    start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime, counted after "(comm)"
    return float(uptime.split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")


ACCURACY_TARGETS = (0.98, 0.99)  # the validation accuracies whose first time is recorded


def target_name(accuracy: float) -> str:
    """``val_acc_98``: the name of a run's first time at validation accuracy ``accuracy`` (0.98)."""
    return f"val_acc_{round(100 * accuracy)}"


class EpochTimer(L.Callback):
    """Logs ``time/train_epoch_s`` (training batches only, device synchronized), ``time/fit_s`` and ``time/test_s``.

    Time to accuracy: at each validation's end it logs ``time/elapsed_s``, the fit's wall time so far, and the
    first time ``val/acc`` reaches each of :data:`ACCURACY_TARGETS` it logs ``time/to_val_acc_98_s`` (at that
    epoch's step); ``summary()`` gives those seconds and the number of epochs trained then (None if never).

    The first epoch includes warm-up (cuDNN autotuning, compilation, caches), so ``summary()``
    reports it apart from the steady-state mean of the later epochs, with ``startup_s``: process
    start to the first training step (for a later run in the same process, as in a sweep or a
    search, from the timer's creation). On a GPU, the test also logs ``memory/gpu_peak_mb``, the
    peak of this fit and test.
    """

    _process_has_trained = False  # class-wide: has any run in this process reached its first step?

    def __init__(self):
        self._created = time.perf_counter()
        self.epoch_times: list[float] = []
        self._epoch_start: float | None = None
        self._fit_start: float | None = None  # set while fitting
        self._test_start = 0.0
        self._fit_before = 0.0  # fit seconds of the processes before a resume, from the checkpoint
        self.fit_s = 0.0
        self.startup_s: float | None = None
        self._started = False
        self.reached: dict[str, tuple[int, float]] = {}  # target name -> (epochs trained, fit seconds)

    def on_fit_start(self, trainer, pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        # the first epoch's start stands for its first step's, so that no hook runs per batch
        if not self._started:
            first = not EpochTimer._process_has_trained
            self.startup_s = process_age_s() if first else time.perf_counter() - self._created
            self._started = EpochTimer._process_has_trained = True
        _synchronize(pl_module.device)
        self._epoch_start = time.perf_counter()

    def _stop(self, pl_module) -> None:
        if self._epoch_start is not None:
            _synchronize(pl_module.device)
            self.epoch_times.append(time.perf_counter() - self._epoch_start)
            self._epoch_start = None

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:  # validation runs before on_train_epoch_end
            self._stop(pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._stop(pl_module)
        if self.epoch_times:
            log_epoch_values(trainer, {"time/train_epoch_s": self.epoch_times[-1]}, trainer.current_epoch)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or self._fit_start is None:  # a validation outside fit is not on the clock
            return
        _synchronize(pl_module.device)
        seconds, accuracy = self._fit_elapsed(), trainer.callback_metrics.get("val/acc")
        metrics = {"time/elapsed_s": seconds}
        for target in ACCURACY_TARGETS:
            name = target_name(target)
            if accuracy is not None and float(accuracy) >= target and name not in self.reached:
                self.reached[name] = (trainer.current_epoch + 1, seconds)
                metrics[f"time/to_{name}_s"] = seconds
        log_epoch_values(trainer, metrics, trainer.current_epoch)

    def _fit_elapsed(self) -> float:
        running = time.perf_counter() - self._fit_start if self._fit_start is not None else 0.0
        return self._fit_before + running

    def on_fit_end(self, trainer, pl_module) -> None:
        self.fit_s = self._fit_before = self._fit_elapsed()
        self._fit_start = None
        log_epoch_values(trainer, {"time/fit_s": self.fit_s}, max(trainer.current_epoch - 1, 0))  # the last epoch's

    def on_exception(self, trainer, pl_module, exception) -> None:
        # a fit stopped by an error (a diverged loss) or Ctrl-C keeps the seconds it trained
        if self._fit_start is not None:
            self.fit_s = self._fit_before = self._fit_elapsed()
            self._fit_start = None

    def on_test_start(self, trainer, pl_module) -> None:
        _synchronize(pl_module.device)
        self._test_start = time.perf_counter()

    def on_test_end(self, trainer, pl_module) -> None:
        _synchronize(pl_module.device)
        metrics = {"time/test_s": time.perf_counter() - self._test_start}
        if pl_module.device.type == "cuda":
            metrics["memory/gpu_peak_mb"] = torch.cuda.max_memory_allocated(pl_module.device) / 2**20
        log_epoch_values(trainer, metrics, max(trainer.current_epoch - 1, 0))

    def summary(self) -> dict[str, float | None]:
        """First-epoch, steady-state mean per epoch and whole-fit seconds; process start to first step."""
        times = self.epoch_times
        return {
            "first_epoch_s": times[0] if times else None,
            "steady_epoch_s": statistics.mean(times[1:]) if len(times) > 1 else None,
            "fit_s": self.fit_s,
            "startup_s": self.startup_s,
            **{
                f"{name}_{part}": self.reached[name][i] if name in self.reached else None
                for name in map(target_name, ACCURACY_TARGETS)
                for i, part in enumerate(("epochs", "s"))
            },
        }

    def state_dict(self) -> dict:
        reached = {name: list(value) for name, value in self.reached.items()}
        return {"epoch_times": list(self.epoch_times), "fit_s": self._fit_elapsed(), "reached": reached}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epoch_times = list(state_dict["epoch_times"])
        self._fit_before = state_dict.get("fit_s", 0.0)
        self.reached = {name: (int(epochs), float(s)) for name, (epochs, s) in state_dict.get("reached", {}).items()}


class ExponentialMovingAverage(WeightAveraging):
    """Lightning's ``WeightAveraging`` with an EMA of ``decay`` per optimizer step.

    Validation (so the choice of ``best.ckpt``) sees the averaged weights, and checkpoints hold them as
    their ``state_dict``. Lightning's callback, when the same Trainer then tests a checkpoint, swaps the
    un-averaged weights back in; here the test scores the averaged weights that validation chose.
    """

    def __init__(self, decay: float = 0.999):
        if not (isinstance(decay, int | float) and 0 < decay < 1):
            raise ValueError(f"decay={decay!r} is not accepted: expected a number in (0, 1), e.g. 0.999")
        super().__init__(multi_avg_fn=get_ema_multi_avg_fn(decay))
        self.decay = decay

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.testing:  # the module already holds the checkpoint's state_dict: the averaged weights
            return
        super().on_load_checkpoint(trainer, pl_module, checkpoint)
