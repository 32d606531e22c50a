"""Optimizer implementations side by side: torch's for-loop, ``foreach`` and ``fused`` SGD and Adam on LeNet.

    python scripts/benchmark_optimizers.py [--device cpu|cuda] [--steps 200] [--rounds 3]

Each round times ``--steps`` training steps (batch 100, random images, the default LeNet in lenetlab's layout
for the device) with each implementation in turn, in a rotated order; the median milliseconds per step are
printed, and which is fastest per optimizer: what ``optimizer.fused`` / ``optimizer.foreach`` default to.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from lenetlab.models import LeNet
from lenetlab.run.fit import channels_last_for

IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
OPTIMIZERS = {"SGD": (torch.optim.SGD, {"lr": 0.1}), "Adam": (torch.optim.Adam, {"lr": 1e-3})}


def step_ms(device: torch.device, optimizer: str, implementation: str, steps: int) -> float:
    """Milliseconds per training step of LeNet with this optimizer and implementation."""
    torch.manual_seed(0)
    net = LeNet().to(device)
    if channels_last_for("auto", device.type):
        net = net.to(memory_format=torch.channels_last)
    factory, settings = OPTIMIZERS[optimizer]
    opt = factory(net.parameters(), **settings, **IMPLEMENTATIONS[implementation])
    x, y = torch.randn(100, 1, 28, 28, device=device), torch.randint(0, 10, (100,), device=device)
    for i in range(steps + 10):  # 10 steps of warm-up
        if i == 10:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    names = list(IMPLEMENTATIONS)
    times: dict[tuple[str, str], list[float]] = {}
    for turn in range(args.rounds):
        for optimizer in OPTIMIZERS:
            for implementation in names[turn % len(names) :] + names[: turn % len(names)]:
                ms = step_ms(device, optimizer, implementation, args.steps)
                times.setdefault((optimizer, implementation), []).append(ms)
    print(f"| optimizer | implementation ({args.device}) | ms/step (median of {args.rounds}) |\n| --- | --- | ---: |")
    for (optimizer, implementation), values in times.items():
        print(f"| {optimizer} | {implementation} | {statistics.median(values):.3f} |")
    for optimizer in OPTIMIZERS:
        best = min(names, key=lambda name: statistics.median(times[(optimizer, name)]))
        print(f"{optimizer}: fastest {best}")


if __name__ == "__main__":
    main()
