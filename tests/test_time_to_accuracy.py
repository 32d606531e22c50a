"""Time to accuracy: every run records when its validation accuracy first reached 98% and 99%."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import FAST, scalars

from lenetlab.report import load_runs, write_report


def test_a_run_records_the_epoch_and_seconds_it_first_reached_each_accuracy(run_main, tmp_path):
    runs = {"learns": ["model=lenet_tiny", "trainer.max_epochs=3"], "stuck": ["optimizer.lr=1e-9"]}
    for name, overrides in runs.items():
        result = run_main("lenetlab.train", *FAST, *overrides, f"hydra.run.dir={tmp_path / name}")
        assert result.returncode == 0, result.stderr[-3000:]

    curves = scalars(tmp_path / "learns")
    elapsed = dict(curves["time/elapsed_s"])
    assert sorted(elapsed) == [0, 1, 2] and list(elapsed.values()) == sorted(elapsed.values())
    metrics = json.loads((tmp_path / "learns" / "status.json").read_text())["metrics"]
    for target in (98, 99):
        first = next(step for step, acc in curves["val/acc"] if acc >= target / 100)
        assert metrics[f"val_acc_{target}_epochs"] == first + 1
        assert metrics[f"val_acc_{target}_s"] == pytest.approx(elapsed[first])  # TensorBoard keeps float32
        assert curves[f"time/to_val_acc_{target}_s"] == [(first, elapsed[first])]

    stuck = json.loads((tmp_path / "stuck" / "status.json").read_text())["metrics"]
    assert max(acc for _, acc in scalars(tmp_path / "stuck")["val/acc"]) < 0.98
    assert [stuck[f"val_acc_{t}_{part}"] for t in (98, 99) for part in ("epochs", "s")] == [None] * 4

    written = write_report(load_runs([tmp_path]), tmp_path / "report")
    assert tmp_path / "report" / "error_against_time.png" in written
    with (tmp_path / "report" / "summary.csv").open() as f:
        table = {row["run"]: row for row in csv.DictReader(f)}
    assert float(table["learns"]["val_acc_98_s"]) == pytest.approx(metrics["val_acc_98_s"])
    assert int(table["learns"]["val_acc_99_epochs"]) == metrics["val_acc_99_epochs"]
    assert table["stuck"]["val_acc_98_s"] == table["stuck"]["val_acc_99_epochs"] == ""
