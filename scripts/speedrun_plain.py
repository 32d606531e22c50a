"""``experiment=speedrun`` as a plain PyTorch loop, to time lenetlab's overhead on it (docs/speedrun.md).

The same network (``lenetlab.models.StridedNet``, or ``--lenet``), data split (55,000 / 5,000, seed 42),
normalization, shuffling, one-cycle SGD with Nesterov momentum, batch 128, label smoothing 0.1, gradient
clipping, bfloat16 autocast where the device has it (``--fp32``: off), channels_last and threads as the lenetlab run
(``RECIPE`` and ``NETWORK`` below); over in-memory tensors, no Lightning.
It validates once after the epoch and tests once, and prints one JSON line:

    LENETLAB_DATA_DIR=... python scripts/speedrun_plain.py --seed 0
    LENETLAB_DATA_DIR=... python scripts/speedrun_plain.py --seed 0 --lightning

``--lightning`` runs the same steps in a bare Lightning ``Trainer`` (a LightningModule of four lines, no logger,
checkpoint or callback; the validation as the plain loop's), which splits lenetlab's overhead on the plain loop
into Lightning's and lenetlab's own.

``fit_s`` is the training epochs and the validation (what lenetlab's ``fit_s`` covers), ``startup_s`` the
process's start to the first step, ``wall_s`` the process's start to the end of the test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

# experiment=speedrun's settings (lenetlab/conf/experiment/speedrun.yaml, model/strided.yaml; a test keeps them equal)
RECIPE = {
    "lr": 0.3,  # the one cycle's peak; SGD with Nesterov momentum
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 128,
    "pct_start": 0.35,
    "div_factor": 25.0,
    "final_div_factor": 1e4,
    "label_smoothing": 0.1,
    "gradient_clip_val": 1.0,  # the gradient's norm
}
NETWORK = {"stem_filters": 16, "stem_kernel": 5, "stem_stride": 2, "filters": [32], "kernel_size": 3, "hidden": [128]}


def process_age_s() -> float:
    """Seconds since this process started (Linux's /proc, to 10 ms), as lenetlab's EpochTimer counts them."""
    stat, uptime = Path("/proc/self/stat").read_text(), Path("/proc/uptime").read_text()
    start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return float(uptime.split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lenet", action="store_true", help="the lab's LeNet instead of StridedNet")
    parser.add_argument("--fp32", action="store_true", help="no bfloat16 autocast (the default without native bf16)")
    parser.add_argument("--val-size", type=int, default=5000, help="training images held out (lenetlab's default)")
    parser.add_argument("--limit-batches", type=int, default=None, help="training batches per epoch (default: all)")
    parser.add_argument("--data", default=os.environ.get("LENETLAB_DATA_DIR", "data"))
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--lightning", action="store_true", help="train in a bare Lightning Trainer")
    args = parser.parse_args(argv)

    if args.lightning:
        import lightning  # noqa: F401  (imported before the clock starts, as lenetlab imports it)
    import torch
    import torch.nn.functional as F
    from torchvision.datasets import MNIST

    from lenetlab.models.networks import LeNet, StridedNet
    from lenetlab.run.precision import resolve_precision

    device = torch.device(args.device)

    def pixels(x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255).unsqueeze(1)

    train, test = MNIST(args.data, train=True), MNIST(args.data, train=False)
    order = torch.randperm(len(train.data), generator=torch.Generator().manual_seed(42))
    x, y = pixels(train.data[order[args.val_size :]]), train.targets[order[args.val_size :]]
    mean, std = x.mean().item(), x.std().item()
    splits = {
        "train": ((x - mean) / std, y),
        "val": ((pixels(train.data[order[: args.val_size]]) - mean) / std, train.targets[order[: args.val_size]]),
        "test": ((pixels(test.data) - mean) / std, test.targets),
    }
    splits = {name: (xs.to(device), ys.to(device)) for name, (xs, ys) in splits.items()}  # once, as lenetlab does

    torch.manual_seed(args.seed)
    net = (LeNet() if args.lenet else StridedNet(**NETWORK)).to(device, memory_format=torch.channels_last)
    lr, batch_size = RECIPE["lr"], RECIPE["batch_size"]
    optimizer = torch.optim.SGD(
        net.parameters(), lr=lr, momentum=RECIPE["momentum"], nesterov=True, weight_decay=RECIPE["weight_decay"]
    )
    batches = -(-len(x) // batch_size)
    if args.limit_batches:
        batches = min(batches, args.limit_batches)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=lr,
        total_steps=args.epochs * batches,
        pct_start=RECIPE["pct_start"],
        div_factor=RECIPE["div_factor"],
        final_div_factor=RECIPE["final_div_factor"],
    )
    # trainer.precision=auto, as the lenetlab run
    bf16 = not args.fp32 and resolve_precision("auto", "gpu" if device.type == "cuda" else "cpu") == "bf16-mixed"
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def accuracy(split: str) -> float:
        net.eval()
        xs, ys = splits[split]
        with torch.inference_mode(), autocast:
            right = sum(
                (net(xs[i : i + 1000]).argmax(1) == ys[i : i + 1000]).sum().item() for i in range(0, len(xs), 1000)
            )
        net.train()
        return right / len(xs)

    class Batches:
        """The training split's batches, reshuffled each epoch as lenetlab's are (by seed and epoch)."""

        epoch, first_step_s = 0, None

        def __len__(self) -> int:
            return batches

        def __iter__(self):
            seed = args.seed * 100_003 + self.epoch
            shuffled = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(device)
            self.epoch += 1
            xs, ys = splits["train"]
            for i in range(0, batches * batch_size, batch_size):
                index = shuffled[i : i + batch_size]
                if self.first_step_s is None:
                    self.first_step_s = process_age_s()
                yield xs.index_select(0, index), ys.index_select(0, index)

    def loss_of(batch) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(net(x), y, label_smoothing=RECIPE["label_smoothing"])

    train_batches = Batches()
    if args.lightning:
        train_s = fit_in_lightning(args, net, loss_of, train_batches, optimizer, schedule, bf16)
    else:
        start = time.perf_counter()
        for _ in range(args.epochs):
            for batch in train_batches:
                with autocast:
                    loss = loss_of(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), RECIPE["gradient_clip_val"])
                optimizer.step()
                schedule.step()
        train_s = time.perf_counter() - start
    start = time.perf_counter()
    val_acc = accuracy("val")
    fit_s = train_s + time.perf_counter() - start
    result = {
        "net": "LeNet" if args.lenet else "StridedNet",
        "seed": args.seed,
        "epochs": args.epochs,
        "val_acc": val_acc,
        "test_acc": accuracy("test"),
        "fit_s": fit_s,
        "startup_s": train_batches.first_step_s,
        "wall_s": process_age_s(),
        "threads": torch.get_num_threads(),
        "device": device.type,
        "loop": "lightning" if args.lightning else "plain",
        "precision": "bf16-mixed" if bf16 else "32",
    }
    print(json.dumps(result))
    return result


def fit_in_lightning(args, net, loss_of, train_batches, optimizer, schedule, bf16: bool) -> float:
    """The plain loop's steps in a bare Lightning ``Trainer``: its loop, nothing of lenetlab's. The seconds from
    the fit's start to its end, as lenetlab's ``fit_s`` counts them."""
    import lightning as L

    class Steps(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = net

        def on_fit_start(self):
            self.started = time.perf_counter()

        def on_fit_end(self):
            self.seconds = time.perf_counter() - self.started

        def training_step(self, batch, batch_idx):
            return loss_of(batch)

        def configure_optimizers(self):
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    trainer = L.Trainer(
        accelerator="gpu" if args.device.startswith("cuda") else "cpu",
        devices=1,
        max_epochs=args.epochs,
        precision="bf16-mixed" if bf16 else "32",
        gradient_clip_val=RECIPE["gradient_clip_val"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    steps = Steps()
    trainer.fit(steps, train_dataloaders=train_batches)
    return steps.seconds


if __name__ == "__main__":
    main()
