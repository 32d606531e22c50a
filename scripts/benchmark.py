"""Training speed side by side: lenetlab vs a plain in-memory PyTorch loop vs the torchvision pipeline.

    python scripts/benchmark.py [--device cpu|cuda] [--filters 16 32] [--precision 32 bf16-mixed] [--rounds 3]
                                [--limit-batches N] [--augment]

(a) ``lenetlab``: ``python -m lenetlab.train`` itself (its epoch timer, test timer and start-up time);
(b) ``plain``: the same network, batch size, data and threads in a plain loop over in-memory tensors
(and (b') the same loop with the network in ``channels_last``, as lenetlab runs it by default);
(c) ``torchvision``: the plain loop fed by ``MNIST(transform=Compose([ToTensor(), Normalize()]))`` through a
``DataLoader``; with ``--augment``, also (a+): ``lenetlab`` with ``data.augment=1`` (per-image random
affine distortions of every training batch), to weigh what augmentation adds to an epoch (the a+/a line).
Each runs in its own process (so its peak memory is its own): a warm-up epoch, then ``--repeats`` timed
epochs. The variants take turns, ``--rounds`` times, each round in a rotated order, so that a change in the
machine's load while the benchmark runs falls on all of them alike; the median over all timed epochs is
reported. Each ``--precision`` runs every variant in it (``bf16-mixed``:
lenetlab's ``trainer.precision``, and the plain loops under the same ``torch.autocast`` as Lightning's), the
precisions taking turns within each round. MNIST is read from ``$LENETLAB_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEAN, STD = 0.1307, 0.3081  # MNIST's training-set statistics, as in the torchvision examples
EVAL_BATCH = 1000  # lenetlab's data.eval_batch_size
PRECISIONS = ("32", "bf16-mixed")
VARIANTS = {
    "lenetlab": "(a) lenetlab",
    "plain": "(b) plain loop",
    "plain_channels_last": "(b') plain loop, channels_last",
    "torchvision": "(c) torchvision pipeline",
    "lenetlab_augment": "(a+) lenetlab, data.augment=1",
}
AUGMENTED = "lenetlab_augment"  # runs only with --augment
WORKERS = ("plain", "plain_channels_last", "torchvision")  # the variants this script times itself, as a worker
AUGMENT_GOAL = 1.3  # an epoch with augmentation costs at most this many epochs without


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--filters", type=int, nargs="+", default=[16], help="conv widths to compare (default: 16)")
    parser.add_argument(
        "--precision", nargs="+", default=["32"], help=f"arithmetic to compare: {' '.join(PRECISIONS)} (default: 32)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns of every variant, interleaved (default: 3)")
    parser.add_argument("--repeats", type=int, default=1, help="timed epochs per turn, after a warm-up (default: 1)")
    parser.add_argument("--limit-batches", type=int, default=None, help="training batches per epoch (default: all)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--val-size", type=int, default=5000, help="training images held out (default: 5000)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--augment", action="store_true", help="also time (a+): lenetlab with data.augment=1")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.variants = [name for name in VARIANTS if args.augment or name != AUGMENTED]
    if args.device not in ("cpu", "cuda"):
        parser.error(f"--device {args.device}: expected cpu or cuda")
    for name in ("rounds", "repeats", "limit_batches", "batch_size", "val_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} {value}: must be a positive integer")
    for precision in args.precision:
        if precision not in PRECISIONS:
            parser.error(f"--precision {precision}: expected {' or '.join(PRECISIONS)}")
    args.precision = list(dict.fromkeys(args.precision))
    if min(args.filters) < 1:
        parser.error(f"--filters {' '.join(map(str, args.filters))}: widths must be positive integers")
    return args


# ---------------------------------------------------------------- (b) and (c): the plain loop, in a worker process


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

    from lenetlab.models import LeNet

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":  # the same GPU settings as lenetlab's (trainer.benchmark, TF32)
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    torch.manual_seed(0)
    net = LeNet(filters=[args.filters[0]] * 2).to(device)
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


# ---------------------------------------------------------------- the parent: one process per variant


def _run(command: list[str], env: dict, cwd: Path) -> tuple[str, int]:
    """Run ``command``; return its stdout and its own peak resident memory (MiB), or exit with its stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"error: {' '.join(command)} failed ({process.returncode}):\n{err.read()[-3000:]}")
        return out.read(), usage.ru_maxrss // 1024  # Linux reports KiB


def bench_lenetlab(args, filters: int, precision: str, env: dict, work: Path, augment: bool = False) -> dict:
    """(a), or (a+) with ``augment``: ``python -m lenetlab.train`` for 1 + repeats epochs, timings read back
    from what it logged."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"lenetlab-{filters}-", dir=work)) / "run"
    overrides = [
        f"model.filters=[{filters},{filters}]",
        f"trainer.precision={precision}",
        f"trainer.max_epochs={1 + args.repeats}",
        f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}",
        f"data.batch_size={args.batch_size}",
        f"data.val_size={args.val_size}",
        f"data.augment={1.0 if augment else 0.0}",
        f"hydra.run.dir={run_dir}",
    ]
    if args.limit_batches:
        overrides.append(f"trainer.limit_train_batches={args.limit_batches}")
    _, rss_mb = _run([sys.executable, "-m", "lenetlab.train", *overrides], env, work)
    from lenetlab.report.runs import read_events

    status = json.loads((run_dir / "status.json").read_text())
    if status["status"] != "finished":
        raise SystemExit(f"error: lenetlab run {status['status']}: {status.get('reason')}")
    curves, _ = read_events(run_dir)

    def last(tag: str) -> float | None:
        return curves[tag][-1][1] if tag in curves else None

    return {
        "epoch_s": [value for _, value in curves["time/train_epoch_s"]][1:],
        "eval_s": last("time/test_s"),
        "rss_mb": rss_mb,
        "gpu_peak_mb": last("memory/gpu_peak_mb"),
        "startup_s": status["metrics"].get("startup_s"),
        "precision": status["hparams"]["precision"],
        "augment": status["hparams"]["augment"],
    }


def bench_worker(args, kind: str, filters: int, precision: str, env: dict, work: Path) -> dict:
    """(b) or (c): this script as a worker process; its result is the last line of its output."""
    command = [sys.executable, __file__, "--worker", kind, "--filters", str(filters), "--device", args.device]
    command += ["--precision", precision]
    for name in ("repeats", "limit_batches", "batch_size", "val_size", "threads"):
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    out, rss_mb = _run(command, env, work)
    return {**json.loads(out.strip().splitlines()[-1]), "rss_mb": rss_mb}


# what `python -m lenetlab.train` must import before its first step, cheapest first; lightning imports
# torch._dynamo itself (lightning.fabric.wrappers), so that import is the floor of any Lightning run
STARTUP_IMPORTS = ("torch", "torch._dynamo", "lightning")


def import_s(module: str, env: dict, cwd: Path) -> float:
    """Wall seconds of a fresh ``python -c "import <module>"``, interpreter start included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, cwd=cwd, check=True)
    return time.perf_counter() - start


def _rotated(items: list, turn: int) -> list:
    return items[turn % len(items) :] + items[: turn % len(items)]


def bench_variant(args, name: str, filters: int, precision: str, env: dict, work: Path) -> dict:
    """One turn of the variant ``name`` (a key of ``VARIANTS``)."""
    if name in WORKERS:
        return bench_worker(args, name, filters, precision, env, work)
    return bench_lenetlab(args, filters, precision, env, work, augment=name == AUGMENTED)


def bench_round(args, filters: int, env: dict, work: Path, turn: int) -> dict[str, dict[str, dict]]:
    """One turn of every variant in every precision, starting with the ``turn``-th (so that none always runs first)."""
    return {
        precision: {
            name: bench_variant(args, name, filters, precision, env, work) for name in _rotated(args.variants, turn)
        }
        for precision in _rotated(args.precision, turn)
    }


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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda: no CUDA device is visible (torch.cuda.is_available() is False)")
    from lenetlab.data import default_data_root, ensure_mnist
    from lenetlab.precision import cpu_has_native_bf16

    root = default_data_root()
    ensure_mnist(root, download=False)
    env = {
        **os.environ,
        "LENETLAB_DATA_DIR": str(root.resolve()),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)

    print(f"start: {machine()}; native bfloat16: {'yes' if cpu_has_native_bf16() else 'no'}", flush=True)
    results: dict[int, dict[str, dict[str, dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="lenetlab-bench-") as tmp:
        work = Path(tmp)
        imports: dict[str, list[float]] = {module: [] for module in STARTUP_IMPORTS}
        for filters in args.filters:
            rounds = []
            for turn in range(args.rounds):
                rounds.append(bench_round(args, filters, env, work, turn))
                if filters == args.filters[0]:
                    for module, times in imports.items():
                        times.append(import_s(module, env, work))
                print(f"filters {filters}: round {turn + 1} of {args.rounds} done", file=sys.stderr, flush=True)
            results[filters] = {}
            for precision in args.precision:
                variants = merge_rounds([r[precision] for r in rounds])
                images = variants["plain"]["images"]  # every variant sees the same images per epoch
                for r in variants.values():
                    r["median_s"] = statistics.median(r["epoch_s"])
                    r["images_per_s"] = images / r["median_s"]
                results[filters][precision] = variants
    imports = {module: statistics.median(times) for module, times in imports.items()}
    first = results[args.filters[0]][args.precision[0]]
    print(format_table(results, args.device))
    print(format_startup(first["lenetlab"]["startup_s"], imports))
    print(f"end: load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({**results, "import_s": imports}, indent=2))


if __name__ == "__main__":
    main()
