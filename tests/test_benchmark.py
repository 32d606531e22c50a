"""``scripts/benchmark.py`` and the speed options it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from lenetlab.models.classifier import Classifier
from lenetlab.run.fit import prepare_network

SCRIPT = ROOT / "scripts" / "benchmark.py"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--device", "tpu"], "--device tpu: expected cpu or cuda"),
        (["--repeats", "0"], "--repeats 0: must be a positive integer"),
        (["--precision", "32", "fp16"], "--precision fp16: expected 32 or bf16-mixed"),
    ],
    ids=["device", "repeats", "precision"],
)
def test_benchmark_refuses_bad_options_by_name(args, error, monkeypatch, capsys):
    """In this process: the command line itself runs in the GPU check's dry run (tests/test_gpu_check.py)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    from benchmark import main

    with pytest.raises(SystemExit) as refused:
        main(args)
    assert refused.value.code == 2 and error in capsys.readouterr().err


@pytest.mark.slow  # a lenetlab process, paying its imports
def test_bf16_and_augmentation_reach_the_variants(fake_mnist, tmp_path, monkeypatch):
    """(a+) in bf16-mixed, one turn as the benchmark takes it, and (b)'s loop in this process: what each really
    computed in and trained with. The whole command (every variant in a process of its own, its rounds, table and
    JSON) runs in the GPU check's dry run (tests/test_gpu_check.py); (b') and (c) run the same loop as (b), (a) and
    (t) the same command as (a+)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    from benchmark import bench_variant, parse_args
    from benchmark_plain import run_worker
    from benchmark_table import AUGMENTED

    options = ["--precision", "bf16-mixed", "--augment", "--repeats", "2", "--limit-batches", "2", "--val-size", "200"]
    plain = run_worker(parse_args([*options, "--worker", "plain"]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    augmented = bench_variant(parse_args([*options, "--threads", "1"]), AUGMENTED, 16, "bf16-mixed", env, tmp_path)
    # what each really computed in: the loop's logits dtype, lenetlab's recorded trainer.precision
    assert (plain["precision"], augmented["precision"]) == ("bf16-mixed", "bf16-mixed")
    assert (augmented["augment"], augmented["hidden"]) == (1.0, "128")  # data.augment as the run recorded it
    assert len(plain["epoch_s"]) == len(augmented["epoch_s"]) == 2  # --repeats 2: the warm-up epoch is not counted
    assert plain["images"] == 2 * 100  # --limit-batches 2 of the default batch size
    assert plain["eval_s"] > 0 and augmented["rss_mb"] > 0
    assert augmented["startup_s"] > 0  # recorded by the run (None where it was not measured)


def test_each_precision_is_compared_with_the_first_variant_by_variant(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    from benchmark_table import speedups

    def timed(lenetlab_s, augmented_s):
        return {"lenetlab": {"median_s": lenetlab_s}, "lenetlab_augment": {"median_s": augmented_s}}

    precisions = {"32": timed(2.0, 3.0), "bf16-mixed": timed(1.0, 2.0)}
    assert speedups(16, precisions) == ["filters 16, bf16-mixed against 32 (epoch speed-up): (a) 2.00 x, (a+) 1.50 x"]
    assert speedups(16, {"32": timed(2.0, 3.0)}) == []


def test_the_plain_loops_run_without_lightning(fake_mnist, tmp_path):
    """(t') here; (b), (b') and (c) import the same: their processes' time and memory are torch's, not Lightning's."""
    worker = ["--worker", "plain_tiny", "--limit-batches", "1", "--val-size", "200"]
    code = (
        f"import runpy, sys; sys.argv = {[str(SCRIPT), *worker]!r}; runpy.run_path(sys.argv[0], run_name='__main__'); "
        "print('lightning' in sys.modules)"
    )
    env = {**os.environ, "LENETLAB_DATA_DIR": str(fake_mnist), "PYTHONPATH": f"{ROOT}{os.pathsep}{SCRIPT.parent}"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    timed, imported_lightning = result.stdout.splitlines()[-2:]
    assert json.loads(timed)["images"] == 100 and imported_lightning == "False"


def test_channels_last_changes_the_layout_not_the_result():
    torch.manual_seed(0)
    lenet, sgd = {"_target_": "lenetlab.models.LeNet"}, {"_target_": "torch.optim.SGD", "lr": 0.1}
    plain = Classifier(lenet, optimizer=sgd)
    nhwc = Classifier(lenet, optimizer=sgd)
    prepare_network(nhwc.net, {"channels_last": True}, "cpu")
    nhwc.net.load_state_dict(plain.net.state_dict())
    assert nhwc.net[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.net[3].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(8, 1, 28, 28)
    torch.testing.assert_close(nhwc(x), plain(x), rtol=1e-4, atol=1e-5)


def test_the_rounds_take_turns_and_every_timed_epoch_counts(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from benchmark import _rotated
    from benchmark_table import merge_rounds

    assert [_rotated(["a", "b", "c"], turn) for turn in range(4)] == [
        ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]
    ]  # fmt: skip

    def turn(epoch_s, eval_s, rss_mb, startup_s):
        common = {"epoch_s": epoch_s, "eval_s": eval_s, "rss_mb": rss_mb, "gpu_peak_mb": None, "precision": "32"}
        return {
            "lenetlab": {**common, "startup_s": startup_s, "augment": 0.0, "hidden": "128"},
            "plain": {**common, "images": 300},
        }

    merged = merge_rounds([turn([2.0], 0.5, 900, 4.0), turn([1.0], 0.3, 1000, 3.0), turn([3.0], None, 800, 5.0)])
    assert merged["lenetlab"]["epoch_s"] == [2.0, 1.0, 3.0]  # every round's timed epochs, in order
    assert (merged["lenetlab"]["eval_s"], merged["lenetlab"]["rss_mb"]) == (0.4, 1000)  # median of those measured, peak
    assert merged["lenetlab"]["startup_s"] == 4.0 and merged["plain"]["images"] == 300


def test_the_tiny_pair_and_augmentation_get_their_ratio_lines_and_only_with_them(monkeypatch):
    """The table's arithmetic; the tiny pair's processes run in the GPU check's dry run (tests/test_gpu_check.py)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    from benchmark_table import format_table

    def timed(median_s):
        return {"median_s": median_s, "images_per_s": 300 / median_s, "eval_s": None, "rss_mb": 900}

    variants = {"lenetlab": timed(4.0), "plain": timed(4.0), "torchvision": timed(10.0)}
    tiny = {**variants, "lenetlab_tiny": timed(0.5), "plain_tiny": timed(0.4)}
    assert "filters 16, precision 32: tiny t/t' = 1.25 (goal <= 1.50)" in format_table({16: {"32": tiny}}, "cpu")
    assert "t/t'" not in format_table({16: {"32": variants}}, "cpu")
    augmented = format_table({16: {"bf16-mixed": {**variants, "lenetlab_augment": timed(5.0)}}}, "cpu")
    assert "filters 16, precision bf16-mixed: a/b = 1.00 (goal <= 1.10), c/a = 2.50 (goal >= 2)" in augmented
    assert "filters 16, precision bf16-mixed: augment a+/a = 1.25 (goal <= 1.30)" in augmented
    assert "| 16 | bf16-mixed | (a+) lenetlab, data.augment=1 | 5.000 | 60 | 1.25 x | - | 900 | - |" in augmented
    assert "augment" not in format_table({16: {"32": variants}}, "cpu")


def test_the_speedrun_benchmark_times_every_process_in_rounds_on_synthetic_data(fake_mnist, tmp_path):
    """``--speedrun``, one shortened round: the default run, the speedrun, the plain loop in plain PyTorch and in a bare
    Lightning Trainer, and a bare import."""
    out = tmp_path / "rounds.json"
    command = [sys.executable, str(SCRIPT), "--speedrun", "--rounds=1", "--limit-batches=6", "--val-size=200"]
    env = {**os.environ, "LENETLAB_DATA_DIR": str(fake_mnist), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*command, f"--json={out}"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (measured,) = json.loads(out.read_text())
    assert {"seed", "default", "speedrun", "plain", "lightning", "import", "load"} == set(measured)
    assert measured["seed"] == 0
    assert measured["default"]["epochs"] == 2 and measured["default"]["steady_epoch_s"] > 0  # the yardstick
    assert measured["speedrun"]["epochs"] == 1 and measured["speedrun"]["test_acc"] is not None
    assert measured["plain"]["fit_s"] > 0 and measured["import"]["wall_s"] > 0
    assert (measured["plain"]["loop"], measured["lightning"]["loop"]) == ("plain", "lightning")
    assert measured["lightning"]["test_acc"] == measured["plain"]["test_acc"]  # the same steps, in either loop
    assert "speedrun fit_s / default steady_epoch_s: median " in done.stdout
    assert "| 0 | " in done.stdout  # the round's row


def test_the_speedrun_rounds_give_their_ratios_and_accuracy_over_seeds(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    from benchmark_speedrun import format_rounds

    def one(seed, steady_s, fit_s, acc):
        speedrun = {"fit_s": fit_s, "startup_s": 6.0, "test_acc": acc}
        return {
            "seed": seed,
            "default": {"steady_epoch_s": steady_s},
            "speedrun": speedrun,
            "lenet": {**speedrun, "val_acc_99_s": None},
            "plain": {"fit_s": fit_s / 1.25, "test_acc": acc},
            "lightning": {"fit_s": fit_s / 1.25 * 1.1},
            "import": {"wall_s": 5.0},
            "load": 1.0,
        }

    table = format_rounds([one(0, 4.0, 3.0, 0.99), one(1, 4.0, 2.8, 0.992), one(2, 5.0, 4.0, 0.988)])
    assert (
        "| 1 | 4.00 | 2.80 | 0.70 | 99.20% | 6.00 | 5.00 | 2.24 | 99.20% | 2.46 | 99.20% | 2.80 | - | 1.00 |" in table
    )
    assert "speedrun test accuracy: mean 99.00%, min 98.80% over 3 seeds" in table
    assert "speedrun fit_s / default steady_epoch_s: median 0.75 (goal <= 0.75)" in table
    assert "speedrun startup_s / `import lightning`: median 1.20 (goal <= 1.3)" in table
    assert (
        "speedrun fit_s / plain loop fit_s: median 1.25 (goal <= 1.2): a bare Lightning Trainer's / the plain loop's "
        "1.10, lenetlab's / the bare Trainer's 1.14" in table
    )
