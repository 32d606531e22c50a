"""(b), (b') and (c) of ``scripts/benchmark.py``: the plain PyTorch loop it compares lenetlab with.

Run in a worker process of its own (``benchmark.py --worker KIND``): the same network, batch size, data
split and threads as lenetlab, over in-memory tensors ((b), (b') in ``channels_last``, and (t') with the tiny
784-8-10 MLP) or fed by torchvision's ``MNIST`` dataset through a ``DataLoader`` ((c)).
"""

from __future__ import annotations

import itertools
import os
import statistics
import time

MEAN, STD = 0.1307, 0.3081  # MNIST's training-set statistics, as in the torchvision examples
EVAL_BATCH = 1000  # lenetlab's data.eval_batch_size


def _synchronize(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _split(n: int, val_size: int):
    """The same 55,000/5,000 split as lenetlab's data module (``data.split_seed=42``)."""
    import torch

    if not 0 < val_size < n:
        raise SystemExit(f"error: --val-size {val_size}: must be between 1 and {n - 1} for this data set")
    return torch.randperm(n, generator=torch.Generator().manual_seed(42))[val_size:]


def _in_memory(args, device):
    """Normalized training and test tensors, on ``device``."""
    from torchvision.datasets import MNIST

    def tensors(train: bool, index=None):
        data = MNIST(os.environ["LENETLAB_DATA_DIR"], train=train)
        x, y = data.data, data.targets
        if index is not None:
            x, y = x[index], y[index]
        return x.float().div_(255).sub_(MEAN).div_(STD).unsqueeze(1).to(device), y.to(device)

    x, y = tensors(True)
    index = _split(len(x), args.val_size)
    return (x[index.to(device)], y[index.to(device)]), tensors(False)


def _tensor_batches(x, y, batch_size: int):
    """One epoch of shuffled batches by indexing (a fresh permutation on the data's device)."""
    import torch

    order = torch.randperm(len(x), device=x.device)
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


def _torchvision_loader(args):
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms
    from torchvision.datasets import MNIST

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    data = MNIST(os.environ["LENETLAB_DATA_DIR"], train=True, transform=transform)
    return DataLoader(Subset(data, _split(len(data), args.val_size).tolist()), batch_size=args.batch_size, shuffle=True)


def run_worker(args) -> dict:
    """Time the plain loop: a warm-up epoch, then ``repeats`` epochs (and, in memory, the test evaluation)."""
    import torch
    import torch.nn.functional as F

    from lenetlab.models import MLP, LeNet

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":  # the same GPU settings as lenetlab's (trainer.benchmark, TF32)
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    torch.manual_seed(0)
    net = (MLP(hidden=[8]) if args.worker == "plain_tiny" else LeNet(filters=[args.filters[0]] * 2)).to(device)
    if args.worker == "plain_channels_last":
        net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    in_memory = args.worker.startswith("plain")
    if in_memory:
        (x, y), (test_x, test_y) = _in_memory(args, device)
        epoch = lambda: _tensor_batches(x, y, args.batch_size)  # noqa: E731
    else:
        loader = _torchvision_loader(args)
        epoch = lambda: loader  # noqa: E731

    # what Lightning's bf16-mixed does: the forward pass and the loss under autocast, the weights in fp32
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision[0] == "bf16-mixed")
    times, images = [], 0
    for _ in range(1 + args.repeats):
        _synchronize(device)
        start, images = time.perf_counter(), 0
        for batch_x, batch_y in itertools.islice(epoch(), args.limit_batches):
            batch_x, batch_y = batch_x.to(device, non_blocking=True), batch_y.to(device, non_blocking=True)
            with autocast:
                logits = net(batch_x)
                loss = F.cross_entropy(logits, batch_y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images += len(batch_y)
        _synchronize(device)
        times.append(time.perf_counter() - start)

    eval_s = None
    if in_memory:
        evals = [_evaluate(net, test_x, test_y, device, autocast) for _ in range(1 + args.repeats)]
        eval_s = statistics.median(evals[1:])
    precision = "bf16-mixed" if logits.dtype == torch.bfloat16 else "32"  # what the arithmetic really was
    return {
        "epoch_s": times[1:],
        "images": images,
        "eval_s": eval_s,
        "gpu_peak_mb": _gpu_peak_mb(device),
        "precision": precision,
    }


def _evaluate(net, x, y, device, autocast) -> float:
    """Seconds to classify the test set in batches of ``EVAL_BATCH`` (accuracy computed, as lenetlab does)."""
    import torch

    net.eval()
    _synchronize(device)
    start = time.perf_counter()
    with torch.inference_mode(), autocast:
        correct = sum(
            (net(x[i : i + EVAL_BATCH]).argmax(1) == y[i : i + EVAL_BATCH]).sum() for i in range(0, len(x), EVAL_BATCH)
        )
        float(correct)
    _synchronize(device)
    net.train()
    return time.perf_counter() - start


def _gpu_peak_mb(device) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
