"""What ``scripts/benchmark.py`` compares and how it reports it: the variants, the merged rounds, the table."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from pathlib import Path

VARIANTS = {
    "lenetlab": "(a) lenetlab",
    "plain": "(b) plain loop",
    "plain_channels_last": "(b') plain loop, channels_last",
    "torchvision": "(c) torchvision pipeline",
    "lenetlab_augment": "(a+) lenetlab, data.augment=1",
    "lenetlab_tiny": "(t) lenetlab, tiny MLP 784-8-10",
    "plain_tiny": "(t') plain loop, tiny MLP 784-8-10",
}
AUGMENTED = "lenetlab_augment"  # runs only with --augment
TINY = ("lenetlab_tiny", "plain_tiny")  # run only with --tiny: a step of almost no arithmetic, the framework's cost
# the variants timed by benchmark_plain, in a worker
WORKERS = ("plain", "plain_channels_last", "torchvision", "plain_tiny")
AUGMENT_GOAL = 1.3  # an epoch with augmentation costs at most this many epochs without
TINY_GOAL = 1.5  # lenetlab's epoch of the tiny network costs at most this many plain-loop epochs


def merge_rounds(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Per variant: every timed epoch, and the median (timings) or the maximum (memory) of the rest."""

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    merged = {}
    for name in (name for name in VARIANTS if name in rounds[0]):
        turns = [r[name] for r in rounds]
        merged[name] = {
            "epoch_s": [t for turn in turns for t in turn["epoch_s"]],
            "eval_s": median(turn["eval_s"] for turn in turns),
            "rss_mb": max(turn["rss_mb"] for turn in turns),
            "gpu_peak_mb": max((turn["gpu_peak_mb"] or 0 for turn in turns), default=0) or None,
            "precision": turns[0]["precision"],
        }
        if name in WORKERS:
            merged[name]["images"] = turns[0]["images"]
        else:
            merged[name]["startup_s"] = median(turn["startup_s"] for turn in turns)
            merged[name]["augment"] = turns[0]["augment"]
            merged[name]["hidden"] = turns[0]["hidden"]
    return merged


def format_startup(startup_s: float | None, imports: dict[str, float]) -> str:
    """One line: lenetlab's start-up beside the bare imports it cannot avoid."""
    lenetlab = "unknown (needs Linux's /proc)" if startup_s is None else f"{startup_s:.2f} s"
    floors = ", ".join(f"`import {module}` {seconds:.2f} s" for module, seconds in imports.items())
    return f"start-up to first training step: lenetlab {lenetlab} (goal < 5); a fresh process's {floors}"


def machine() -> str:
    """Date, CPU (or GPU), threads and versions: what a number in the table depends on."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} x {cpu}{gpu}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f}"
    )


def format_table(results: dict[int, dict[str, dict[str, dict]]], device: str) -> str:
    """A Markdown table: one row per (filters, precision, variant); the ratios below it."""
    header = (
        f"| filters | precision | variant ({device}) | s/epoch (median) | images/s | vs lenetlab | test eval s | "
        "peak RSS MiB | peak GPU MiB |\n| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    rows, notes = [header], []
    for filters, precisions in results.items():
        for precision, variants in precisions.items():
            lenetlab_s = variants["lenetlab"]["median_s"]
            for name, r in variants.items():
                cells = [
                    str(filters),
                    precision,
                    VARIANTS[name],
                    f"{r['median_s']:.3f}",
                    f"{r['images_per_s']:,.0f}",
                    f"{r['median_s'] / lenetlab_s:.2f} x",
                    f"{r['eval_s']:.3f}" if r.get("eval_s") is not None else "-",
                    str(r["rss_mb"]),
                    f"{r['gpu_peak_mb']:.0f}" if r.get("gpu_peak_mb") is not None else "-",
                ]
                rows.append("| " + " | ".join(cells) + " |")
            plain, vision = variants["plain"]["median_s"], variants["torchvision"]["median_s"]
            notes.append(
                f"filters {filters}, precision {precision}: a/b = {lenetlab_s / plain:.2f} (goal <= 1.10), "
                f"c/a = {vision / lenetlab_s:.2f} (goal >= 2)"
            )
            if TINY[0] in variants:
                ratio = variants[TINY[0]]["median_s"] / variants[TINY[1]]["median_s"]
                notes.append(
                    f"filters {filters}, precision {precision}: tiny t/t' = {ratio:.2f} (goal <= {TINY_GOAL:.2f})"
                )
            if AUGMENTED in variants:
                ratio = variants[AUGMENTED]["median_s"] / lenetlab_s
                notes.append(
                    f"filters {filters}, precision {precision}: augment a+/a = {ratio:.2f} (goal <= {AUGMENT_GOAL:.2f})"
                )
        notes += speedups(filters, precisions)
    return "\n".join(rows) + "\n\n" + "\n".join(notes) + "\n"


def speedups(filters: int, precisions: dict[str, dict]) -> list[str]:
    """Per variant, how many times faster an epoch is in each precision than in the first one."""
    (base, base_variants), *others = precisions.items()
    return [
        f"filters {filters}, {precision} against {base} (epoch speed-up): "
        + ", ".join(
            f"{VARIANTS[name].split(' ', 1)[0]} {base_variants[name]['median_s'] / variants[name]['median_s']:.2f} x"
            for name in base_variants
        )
        for precision, variants in others
    ]
