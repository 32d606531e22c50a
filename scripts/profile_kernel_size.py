"""Where a training step of the 1x1 LeNet spends its time, against the 3x3 one, on the CPU.

    python scripts/profile_kernel_size.py [--steps 300] [--rounds 3] [--batch-size 100] [--threads N]

Trains lenetlab's LeNet (16 filters, SGD, batch 100) on random MNIST-shaped batches for kernel sizes 1
and 3, each in NCHW and in channels_last, interleaved round by round so that a busy machine slows all
four alike; prints the median milliseconds per step, the ratios within the run, and torch.profiler's
top operators of one more pass per setting.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from lenetlab.models import LeNet

SETTINGS = [(k, cl) for cl in (True, False) for k in (1, 3)]  # (kernel size, channels_last)


def make_step(kernel_size: int, channels_last: bool, batch_size: int):
    torch.manual_seed(0)
    net = LeNet(filters=16, kernel_size=kernel_size)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    images, labels = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(net(images), labels).backward()
        optimizer.step()

    return step


def timed(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--top", type=int, default=8, help="operators shown per setting")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = {s: make_step(*s, args.batch_size) for s in SETTINGS}
    for step in steps.values():  # warm-up: oneDNN builds its primitives on the first calls
        timed(step, 20)
    times = {s: [] for s in SETTINGS}
    for round_ in range(args.rounds):
        for s, step in steps.items():
            times[s].append(timed(step, args.steps))
        print(f"round {round_ + 1}: " + ", ".join(f"{k}x{k} cl={cl} {t[-1]:.1f} ms" for (k, cl), t in times.items()),
              flush=True)  # fmt: skip
    ms = {s: statistics.median(t) for s, t in times.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, "
          f"{args.rounds} rounds of {args.steps} steps")  # fmt: skip
    for (k, cl), value in ms.items():
        print(f"{k}x{k} channels_last={cl}: {value:.2f} ms/step ({value / ms[(3, cl)]:.2f}x the 3x3)")
    for s, step in steps.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            timed(step, min(args.steps, 50))
        print(f"\n--- {s[0]}x{s[0]} channels_last={s[1]}")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))


if __name__ == "__main__":
    main()
