"""``scripts/benchmark.py --speedrun``: ``experiment=speedrun``'s fit against the default LeNet's steady epoch.

Each round runs, in a rotated order, every process of docs/speedrun.md's tables, with the round's number as
the seed (so that ``--rounds 5`` is the 5-seed table):

- ``default``: ``python -m lenetlab.train trainer.max_epochs=2``, whose ``steady_epoch_s`` (its second epoch) is
  the yardstick of the speedrun's goal (its ``fit_s`` at most 0.75 of it);
- ``speedrun``: ``python -m lenetlab.train experiment=speedrun`` (its ``fit_s``, ``startup_s``, test accuracy);
- ``lenet`` (``--lenet``): the lab's own network under the recipe, to 99%: ``experiment=speedrun`` with ``LENET``
  (a lower peak, at which it does not diverge, and two epochs);
- ``plain``: ``scripts/speedrun_plain.py``, the same recipe in a plain PyTorch loop;
- ``lightning``: ``scripts/speedrun_plain.py --lightning``, the plain loop's steps in a bare Lightning ``Trainer``,
  which splits lenetlab's overhead on the plain loop into Lightning's and lenetlab's own;
- ``import``: a bare ``python -c "import lightning"``, the floor of the speedrun's start-up.

Every number is printed per round, then each ratio's median over the rounds, beside the load average.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("default", "speedrun", "lenet", "plain", "lightning", "import")
LENET = ["model=lenet", "optimizer.lr=0.2", "trainer.max_epochs=2"]
FIT_GOAL = 0.75  # the speedrun's fit_s, as a share of the default LeNet's steady epoch
STARTUP_GOAL = 1.3  # the speedrun's start-up (to its first step), as a multiple of a bare `import lightning`
PLAIN_GOAL = 1.2  # lenetlab's fit of the speedrun, as a multiple of the plain loop's


def _run(command: list[str], env: dict, cwd: Path) -> tuple[str, float]:
    """Run ``command``: its stdout and wall seconds, or exit with its stderr."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout, time.perf_counter() - start


def lenetlab_run(overrides: list[str], args, seed: int, env: dict, work: Path) -> dict:
    """One ``python -m lenetlab.train``: its ``status.json`` metrics."""
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    command = [sys.executable, "-m", "lenetlab.train", *overrides, f"seed={seed}", f"data.val_size={args.val_size}"]
    command += ["callbacks.progress_bar=null", f"hydra.run.dir={run_dir}"]
    command.append(f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}")
    if args.limit_batches:
        command.append(f"trainer.limit_train_batches={args.limit_batches}")
    _run(command, env, work)
    status = json.loads((run_dir / "status.json").read_text())
    if status["status"] != "finished":
        raise SystemExit(f"error: {' '.join(command)}: {status['status']}: {status.get('reason')}")
    return {**status["metrics"], "precision": status["hparams"]["precision"]}


def run_process(name: str, args, seed: int, env: dict, work: Path) -> dict:
    """One process of the round (a name of ``PROCESSES``) and what it measured."""
    if name == "default":
        return lenetlab_run(["trainer.max_epochs=2"], args, seed, env, work)
    if name in ("speedrun", "lenet"):
        return lenetlab_run(["experiment=speedrun", *(LENET if name == "lenet" else [])], args, seed, env, work)
    if name in ("plain", "lightning"):
        command = [sys.executable, str(ROOT / "scripts" / "speedrun_plain.py"), f"--seed={seed}"]
        command += [
            f"--val-size={args.val_size}",
            f"--device={args.device}",
            *(["--lightning"] * (name == "lightning")),
        ]
        if args.limit_batches:
            command.append(f"--limit-batches={args.limit_batches}")
        out, _ = _run(command, env, work)
        return json.loads(out.strip().splitlines()[-1])
    _, wall_s = _run([sys.executable, "-c", "import lightning"], env, work)
    return {"wall_s": wall_s}


def _rotated(items: list, turn: int) -> list:
    return items[turn % len(items) :] + items[: turn % len(items)]


def run_rounds(args, env: dict, work: Path) -> list[dict]:
    """``args.rounds`` rounds, each with its own seed (0, 1, ...) and order; the load average after each."""
    processes = [name for name in PROCESSES if name != "lenet" or args.lenet]
    rounds = []
    for turn in range(args.rounds):
        measured = {name: run_process(name, args, turn, env, work) for name in _rotated(processes, turn)}
        rounds.append({"seed": turn, **measured, "load": os.getloadavg()[0]})
        print(f"speedrun: round {turn + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    return rounds


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def ratios(r: dict) -> dict[str, float | None]:
    """A round's ratios: the speedrun's fit to the default's steady epoch, its start-up to a bare import, lenetlab's
    fit of it to the plain loop's, split into a bare Lightning Trainer's to the plain loop's and lenetlab's to that."""
    fit, steady = r["speedrun"]["fit_s"], r["default"]["steady_epoch_s"]
    startup = r["speedrun"]["startup_s"]
    return {
        "fit": fit / steady if steady else None,
        "startup": startup / r["import"]["wall_s"] if startup is not None else None,
        "plain": fit / r["plain"]["fit_s"],
        "lightning": r["lightning"]["fit_s"] / r["plain"]["fit_s"],
        "own": fit / r["lightning"]["fit_s"],
    }


def format_rounds(rounds: list[dict]) -> str:
    """The rounds as a Markdown table, then the means and the median ratios against their goals."""
    lenet = "lenet" in rounds[0]
    header = [
        "seed",
        "default steady_epoch_s",
        "speedrun fit_s",
        "ratio",
        "speedrun test acc",
        "speedrun startup_s",
        "`import lightning` s",
        "plain fit_s",
        "plain test acc",
        "bare Lightning fit_s",
        *(["lenet test acc", "lenet fit_s", "lenet to val 99% (s)"] if lenet else []),
        "load",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + " ---: |" * len(header)]
    for r in rounds:
        s, p = r["speedrun"], r["plain"]
        cells = [str(r["seed"]), _s(r["default"]["steady_epoch_s"]), _s(s["fit_s"]), _s(ratios(r)["fit"])]
        cells += [_pct(s["test_acc"]), _s(s["startup_s"]), _s(r["import"]["wall_s"])]
        cells += [_s(p["fit_s"]), _pct(p["test_acc"]), _s(r["lightning"]["fit_s"])]
        if lenet:
            cells += [_pct(r["lenet"]["test_acc"]), _s(r["lenet"]["fit_s"]), _s(r["lenet"]["val_acc_99_s"])]
        rows.append("| " + " | ".join([*cells, f"{r['load']:.2f}"]) + " |")

    def median(key: str) -> float | None:
        values = [v for v in (ratios(r)[key] for r in rounds) if v is not None]
        return statistics.median(values) if values else None

    accuracy = [r["speedrun"]["test_acc"] for r in rounds]
    notes = [
        f"speedrun test accuracy: mean {_pct(statistics.mean(accuracy))}, min {_pct(min(accuracy))} "
        f"over {len(rounds)} seed{'s' * (len(rounds) != 1)} (goal: mean >= 99.00%, min >= 98.80%)",
        f"speedrun fit_s / default steady_epoch_s: median {_s(median('fit'))} (goal <= {FIT_GOAL})",
        f"speedrun startup_s / `import lightning`: median {_s(median('startup'))} (goal <= {STARTUP_GOAL})",
        f"speedrun fit_s / plain loop fit_s: median {_s(median('plain'))} (goal <= {PLAIN_GOAL}): "
        f"a bare Lightning Trainer's / the plain loop's {_s(median('lightning'))}, "
        f"lenetlab's / the bare Trainer's {_s(median('own'))}",
    ]
    if lenet:
        lenet_accuracy = [r["lenet"]["test_acc"] for r in rounds]
        notes.append(
            f"model=lenet test accuracy: mean {_pct(statistics.mean(lenet_accuracy))}, min {_pct(min(lenet_accuracy))}"
        )
    return "\n".join(rows) + "\n\n" + "\n".join(notes) + "\n"
