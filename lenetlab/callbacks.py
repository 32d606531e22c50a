"""Lightning callbacks of lenetlab: honest epoch timings."""

from __future__ import annotations

import statistics
import time

import lightning as L
import torch

from lenetlab.module import log_per_epoch


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class EpochTimer(L.Callback):
    """Logs ``time/train_epoch_s`` (training batches only, device synchronized) and ``time/fit_s``.

    The first epoch includes warm-up (cuDNN autotuning, compilation, caches), so ``summary()``
    reports it apart from the steady-state mean of the later epochs.
    """

    def __init__(self):
        self.epoch_times: list[float] = []
        self._epoch_start: float | None = None
        self._fit_start = 0.0
        self.fit_s = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
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
            log_per_epoch(pl_module, {"time/train_epoch_s": self.epoch_times[-1]})

    def on_fit_end(self, trainer, pl_module) -> None:
        self.fit_s = time.perf_counter() - self._fit_start
        for logger in trainer.loggers:
            logger.log_metrics({"time/fit_s": self.fit_s}, step=max(trainer.current_epoch - 1, 0))

    def summary(self) -> dict[str, float | None]:
        """First-epoch seconds, steady-state mean seconds per epoch, and whole-fit seconds."""
        times = self.epoch_times
        return {
            "first_epoch_s": times[0] if times else None,
            "steady_epoch_s": statistics.mean(times[1:]) if len(times) > 1 else None,
            "fit_s": self.fit_s,
        }

    def state_dict(self) -> dict:
        return {"epoch_times": list(self.epoch_times)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epoch_times = list(state_dict["epoch_times"])
