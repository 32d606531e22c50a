"""Profile steady training steps of a lenetlab run with ``torch.profiler``; report its steady epoch time.

    python scripts/profile_step.py OUT_DIR [--compile MODE ...] [--steps 50] [--warmup 100] [key=value ...]

For each ``--compile`` value (``false``: eager; a ``torch.compile`` mode such as ``reduce-overhead``) this
runs ``python -m lenetlab.train``'s ``train`` on the default configuration plus the given overrides, and
profiles ``--steps`` training steps of its second epoch after ``--warmup`` steps of it (compilation,
cuDNN autotuning and CUDA-graph recording are over by then). It writes ``OUT_DIR/profile_<mode>.txt``
(``eager`` or the mode: the operators by their own device time, or CPU time on a CPU) and
``OUT_DIR/epoch_times.json`` (each mode's first and steady epoch seconds, added to what the file holds); the
runs go to ``OUT_DIR/runs/<mode>``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from torch.profiler import ProfilerActivity, profile

from lenetlab import CONF_DIR
from lenetlab.config.quiet import quiet
from lenetlab.run.fit import train
from lenetlab.run.precision import tf32_on_gpu


class ProfileSteps(L.Callback):
    """Profile ``steps`` optimizer steps of epoch 1, after its first ``warmup``; keep the profiler's table."""

    def __init__(self, steps: int, warmup: int):
        self.steps, self.warmup = steps, warmup
        self.profiler: profile | None = None
        self.table = ""
        self._epoch_start_step = 0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start_step = trainer.global_step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        done = trainer.global_step - self._epoch_start_step  # optimizer steps of this epoch before this one
        if trainer.current_epoch != 1 or self.table:
            return
        if done == self.warmup and self.profiler is None:
            activities = [ProfilerActivity.CPU]
            if pl_module.device.type == "cuda":
                activities.append(ProfilerActivity.CUDA)
            self.profiler = profile(activities=activities)
            self.profiler.__enter__()
        elif done == self.warmup + self.steps and self.profiler is not None:
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize(pl_module.device)
            self.profiler.__exit__(None, None, None)
            by = "self_cuda_time_total" if pl_module.device.type == "cuda" else "self_cpu_time_total"
            self.table = self.profiler.key_averages().table(sort_by=by, row_limit=40)
            self.profiler = None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.profiler is not None:  # the epoch ended first: no table, main() says so
            self.profiler.__exit__(None, None, None)
            self.profiler = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write into")
    parser.add_argument("--compile", nargs="+", default=["false", "reduce-overhead"], help="modes to profile")
    parser.add_argument("--steps", type=int, default=50, help="training steps profiled (default: 50)")
    parser.add_argument("--warmup", type=int, default=100, help="steps of epoch 1 before them (default: 100)")
    parser.add_argument("overrides", nargs="*", help="lenetlab.train overrides, e.g. trainer.accelerator=gpu")
    args = parser.parse_intermixed_args(argv)  # overrides may come after the options
    quiet()  # the process settings lenetlab.train's command makes (train() itself leaves them alone)
    args.out.mkdir(parents=True, exist_ok=True)
    times_file = args.out / "epoch_times.json"  # another invocation's modes stay in it
    times = json.loads(times_file.read_text()) if times_file.is_file() else {}
    for mode in args.compile:
        label = "eager" if mode == "false" else mode
        run_dir = args.out / "runs" / label
        overrides = ["trainer.max_epochs=3", "callbacks.progress_bar=null", *args.overrides]
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", [*overrides, f"compile={mode}", f"output_dir={run_dir}"])
        tf32_on_gpu(cfg.trainer.accelerator)
        profiler = ProfileSteps(args.steps, args.warmup)
        result = train(cfg, callbacks=[profiler])
        if not profiler.table:
            raise SystemExit(f"error: compile={mode}: epoch 1 has at most {args.warmup + args.steps} steps")
        header = f"compile={mode}: {args.steps} training steps of epoch 1 after {args.warmup}, {' '.join(overrides)}\n"
        (args.out / f"profile_{label}.txt").write_text(header + profiler.table + "\n")
        metrics = result["metrics"]
        times[label] = {key: metrics[key] for key in ("first_epoch_s", "steady_epoch_s", "fit_s", "startup_s")}
        times[label]["status"] = result["status"]
        print(f"{label}: {json.dumps(times[label])}", flush=True)
        times_file.write_text(json.dumps(times, indent=2) + "\n")


if __name__ == "__main__":
    main()
