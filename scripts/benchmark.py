"""Training speed side by side: lenetlab vs a plain in-memory PyTorch loop vs the torchvision pipeline.

    python scripts/benchmark.py [--device cpu|cuda] [--filters 16 32] [--precision 32 bf16-mixed] [--rounds 3]
                                [--limit-batches N] [--augment] [--tiny]
    python scripts/benchmark.py --speedrun [--rounds 5] [--lenet]

``--speedrun`` times ``experiment=speedrun`` instead (scripts/benchmark_speedrun.py, docs/speedrun.md): its fit
against the default LeNet's steady epoch, its start-up against a bare ``import lightning`` and its fit against
the plain-PyTorch loop of the same recipe, in interleaved rounds, one seed per round.

(a) ``lenetlab``: ``python -m lenetlab.train`` itself (its epoch timer, test timer and start-up time);
(b) ``plain``: the same network, batch size, data and threads in a plain loop over in-memory tensors
(and (b') the same loop with the network in ``channels_last``, as lenetlab runs it by default);
(c) ``torchvision``: the plain loop fed by ``MNIST(transform=Compose([ToTensor(), Normalize()]))`` through a
``DataLoader``; with ``--augment``, also (a+): ``lenetlab`` with ``data.augment=1`` (per-image random
affine distortions of every training batch), to weigh what augmentation adds to an epoch (the a+/a line); with
``--tiny``, also (t) lenetlab and (t') the plain loop training a 784-8-10 MLP (``model=mlp 'model.hidden=[8]'``),
a step of almost no arithmetic, whose ratio t/t' is the framework's own cost per step (5 x ``--repeats`` timed
epochs a turn: they are short).
Each runs in its own process (so its peak memory is its own): a warm-up epoch, then ``--repeats`` timed
epochs. The variants take turns, ``--rounds`` times, each round in a rotated order, so that a change in the
machine's load while the benchmark runs falls on all of them alike; the median over all timed epochs is
reported. Each ``--precision`` runs every variant in it (``bf16-mixed``:
lenetlab's ``trainer.precision``, and the plain loops under the same ``torch.autocast`` as Lightning's), the
precisions taking turns within each round. MNIST is read from ``$LENETLAB_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_plain import run_worker
from benchmark_speedrun import format_rounds, run_rounds
from benchmark_table import (
    AUGMENTED,
    TINY,
    VARIANTS,
    WORKERS,
    format_startup,
    format_table,
    machine,
    merge_rounds,
)

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("32", "bf16-mixed")
# the tiny pair's epochs take well under a second, where the machine's noise is a large part of one epoch: each
# of their turns times this many times ``--repeats`` epochs, so that their median is of many
TINY_REPEATS = 5


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
    parser.add_argument(
        "--tiny", action="store_true", help="also time (t) and (t'): lenetlab and the plain loop, tiny MLP"
    )
    parser.add_argument(
        "--speedrun", action="store_true", help="time experiment=speedrun against the default LeNet's epoch instead"
    )
    parser.add_argument("--lenet", action="store_true", help="with --speedrun: also experiment=speedrun model=lenet")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    skipped = ([] if args.augment else [AUGMENTED]) + ([] if args.tiny else list(TINY))
    args.variants = [name for name in VARIANTS if name not in skipped]
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


def bench_lenetlab(
    args, filters: int, precision: str, env: dict, work: Path, augment: bool = False, tiny: bool = False
) -> dict:
    """(a), (a+) with ``augment`` or (t) with ``tiny``: ``python -m lenetlab.train`` for 1 + repeats epochs,
    timings read back from what it logged."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"lenetlab-{filters}-", dir=work)) / "run"
    network = ["model=mlp", "model.hidden=[8]"] if tiny else [f"model.filters=[{filters},{filters}]"]
    overrides = [
        *network,
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
        "hidden": status["hparams"]["hidden"],
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


def import_s(env: dict, cwd: Path) -> dict[str, float]:
    """What a fresh process spends to import each of ``STARTUP_IMPORTS`` (each with those before it), from one
    ``python -X importtime -c "import lightning"``: its wall seconds (interpreter start included) for lightning,
    Python's cumulative import times for torch and torch._dynamo."""
    start = time.perf_counter()
    command = [sys.executable, "-X", "importtime", "-c", "import lightning"]
    result = subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True, text=True)
    wall_s = time.perf_counter() - start
    cumulative: dict[str, float] = {}
    for line in result.stderr.splitlines():  # "import time: <self us> | <cumulative us> | <module>"
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            cumulative.setdefault(fields[2].strip(), int(fields[1]) / 1e6)
    torch_s = cumulative["torch"]
    return {"torch": torch_s, "torch._dynamo": torch_s + cumulative["torch._dynamo"], "lightning": wall_s}


def _rotated(items: list, turn: int) -> list:
    return items[turn % len(items) :] + items[: turn % len(items)]


def bench_variant(args, name: str, filters: int, precision: str, env: dict, work: Path) -> dict:
    """One turn of the variant ``name`` (a key of ``VARIANTS``); (t) and (t') time ``TINY_REPEATS`` times as many
    epochs, each a fraction of a second."""
    if name in TINY:
        args = argparse.Namespace(**{**vars(args), "repeats": TINY_REPEATS * args.repeats})
    if name in WORKERS:
        return bench_worker(args, name, filters, precision, env, work)
    return bench_lenetlab(args, filters, precision, env, work, augment=name == AUGMENTED, tiny=name in TINY)


def bench_round(args, filters: int, env: dict, work: Path, turn: int) -> dict[str, dict[str, dict]]:
    """One turn of every variant in every precision, starting with the ``turn``-th (so that none always runs first)."""
    return {
        precision: {
            name: bench_variant(args, name, filters, precision, env, work) for name in _rotated(args.variants, turn)
        }
        for precision in _rotated(args.precision, turn)
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda: no CUDA device is visible (torch.cuda.is_available() is False)")
    from lenetlab.data.mnist import default_data_root, ensure_mnist
    from lenetlab.run.precision import cpu_has_native_bf16

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
    if args.speedrun:
        with tempfile.TemporaryDirectory(prefix="lenetlab-speedrun-") as tmp:
            rounds = run_rounds(args, env, Path(tmp))
        print(format_rounds(rounds))
        print(f"end: load average {os.getloadavg()[0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(rounds, indent=2))
        return
    results: dict[int, dict[str, dict[str, dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="lenetlab-bench-") as tmp:
        work = Path(tmp)
        imports: dict[str, list[float]] = {module: [] for module in STARTUP_IMPORTS}
        for filters in args.filters:
            rounds = []
            for turn in range(args.rounds):
                rounds.append(bench_round(args, filters, env, work, turn))
                if filters == args.filters[0]:
                    for module, seconds in import_s(env, work).items():
                        imports[module].append(seconds)
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
