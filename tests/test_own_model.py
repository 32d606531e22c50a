"""A user's own network, in a ``--config-dir`` of their own: counted, recorded and reported by its own keys."""

import csv
import sys
from pathlib import Path

import pytest
import torch
from conftest import FAST
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from torch import nn

from lenetlab import CONF_DIR
from lenetlab.models import count_parameters, parameter_table
from lenetlab.params import main as params
from lenetlab.report import load_runs, write_report
from lenetlab.report.figures import learning_curves, runtime
from lenetlab.report.runs import Run, read_events, varying
from lenetlab.report.style import shared_settings
from lenetlab.run.status import read_status
from lenetlab.tensorboard.hparams import config_hparams

MODULE = "two_layer_net"  # the user's Python file, importable from their directory (PYTHONPATH)
NETWORK = """
from torch import nn


class TwoLayerNet(nn.Sequential):
    def __init__(self, width: int = 64, num_classes: int = 10):
        super().__init__(nn.Flatten(), nn.Linear(28 * 28, width), nn.ReLU(), nn.Linear(width, num_classes))
"""
CONFIG = f"_target_: {MODULE}.TwoLayerNet\nwidth: 64\n"


def two_layer_params(width: int) -> int:
    return 28 * 28 * width + width + width * 10 + 10


@pytest.fixture
def own_conf(tmp_path, monkeypatch):
    """``<tmp>/user``: the network's module and ``my_conf/model/two_layer.yaml``, the module on ``sys.path``."""
    user = tmp_path / "user"
    (user / "my_conf" / "model").mkdir(parents=True)
    (user / f"{MODULE}.py").write_text(NETWORK)
    (user / "my_conf" / "model" / "two_layer.yaml").write_text(CONFIG)
    monkeypatch.syspath_prepend(str(user))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return user / "my_conf"


def test_params_counts_a_network_of_a_config_dir(own_conf, capsys):
    assert params(["--config-dir", str(own_conf), "model=two_layer", "model.width=128"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["FC(784,128)", "FC(128,10)", "Total"]
    assert lines[-1].split() == ["Total", f"{two_layer_params(128):,}"]

    assert params([f"--config-dir={own_conf}", "model=two_layer", "model.width=32,128"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["width", "Parameters"]
    assert rows[2:] == [["32", f"{two_layer_params(32):,}"], ["128", f"{two_layer_params(128):,}"]]

    assert params(["--config-dir", str(own_conf), "--help"]) == 0  # Hydra's help, with the config dir's options
    assert "model: lenet, lenet_tiny, mlp, strided, two_layer" in capsys.readouterr().out.splitlines()

    assert params(["--config-dir", str(own_conf), "model=two_layer", "model.widht=8"]) == 2
    assert capsys.readouterr().err == "error: unknown key 'model.widht': did you mean 'model.width'?\n"


def test_any_module_is_counted_layer_by_layer():
    class Odd(nn.Module):  # no input_shape, a norm layer that needs eval mode for one image, a bare parameter
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))
            self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.BatchNorm1d(16), nn.Linear(16, 10))

        def forward(self, x):
            return self.scale * self.layers(x)

    net = Odd().train()
    rows = parameter_table(net)
    assert sum(row["total"] for row in rows) == count_parameters(net) == 1 + 784 * 16 + 16 + 32 + 16 * 10 + 10
    assert [row["output_shape"] for row in rows] == [(10,), (16,), (16,), (10,)]
    assert net.training  # put back as it was


def compose_train(*overrides: str):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_a_networks_own_keys_are_its_hparams():
    mlp = config_hparams(compose_train("model=mlp"))
    assert {key: mlp[key] for key in ("model", "hidden", "activation")} == {
        "model": "MLP",
        "hidden": "300",
        "activation": "sigmoid",
    }
    assert not {"filters", "kernel_size", "dropout"} & mlp.keys()  # the LeNet's keys are not everyone's

    cfg = compose_train()
    with open_dict(cfg):
        cfg.model.seed = 7  # named like a training setting: kept apart
    assert (config_hparams(cfg)["model.seed"], config_hparams(cfg)["seed"]) == (7, 0)


def test_a_sweep_of_an_own_network_records_and_reports_its_keys(own_conf, run_main, tmp_path):
    sweep = tmp_path / "sweep"
    fixed = [o for o in FAST if not o.startswith("trainer.max_epochs")]
    args = ["-m", "--config-dir", str(own_conf), "model=two_layer", "model.width=16,32", *fixed]
    args += ["trainer.max_epochs=1", "++trainer.limit_train_batches=4", f"hydra.sweep.dir={sweep}"]
    result = run_main("lenetlab.train", *args)
    assert result.returncode == 0, result.stderr[-3000:]

    jobs = [sweep / f"model.width={width}" for width in (16, 32)]
    for job, width in zip(jobs, (16, 32), strict=True):
        logged = read_events(job)[1]  # the HParams tab's values
        recorded = read_status(job)["hparams"]
        for hparams in (logged, recorded):
            assert (hparams["model"], hparams["width"], hparams["params"]) == (
                "TwoLayerNet",
                width,
                two_layer_params(width),
            )
            assert not {"filters", "kernel_size", "hidden", "dropout"} & hparams.keys()
        assert list(recorded)[:3] == ["model", "width", "optimizer"]  # the network's keys, then how it trained
    # TensorBoard shows first the columns whose values differ between the runs: the width and what follows from it
    first, second = (read_events(job)[1] for job in jobs)
    assert {key for key in first if first[key] != second[key]} == {"width", "params"}

    runs = load_runs([sweep])
    assert varying(runs) == ["width"] and list(runs[0].hparams)[:2] == ["model", "width"]  # in the logged order
    assert shared_settings(runs, ["width"]).startswith("model=TwoLayerNet, optimizer=SGD, lr=0.1")  # the footer
    legend = learning_curves(runs, ["width"]).axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["width=16", "width=32"]
    write_report(runs, tmp_path / "report")
    with (tmp_path / "report" / "summary.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [(row["width"], int(row["params"])) for row in table] == [
        ("16", two_layer_params(16)),
        ("32", two_layer_params(32)),
    ]
    assert "Varying: width." in (tmp_path / "report" / "summary.md").read_text()


def test_against_params_a_networks_own_keys_are_on_the_x_axis():
    def run(width: int, lr: float) -> Run:
        hparams = {"model": "TwoLayerNet", "width": width, "lr": lr, "params": two_layer_params(width)}
        curves = {"val/error": [(0, 0.2), (1, 0.1)], "time/train_epoch_s": [(0, 2.0), (1, width / 16)]}
        return Run(Path(f"{width},{lr}"), f"{width},{lr}", "finished", hparams=hparams, curves=curves)

    runs = [run(width, lr) for width in (16, 32) for lr in (0.1, 0.01)]
    assert varying(runs) == ["width", "lr"]
    against_params = runtime(runs, varying(runs)).axes[0]
    lines = [line for line in against_params.get_lines() if len(line.get_xdata())]
    assert [text.get_text() for text in against_params.get_legend().get_texts()] == ["lr=0.1", "lr=0.01"]
    # one line per lr, through both widths (not one per width, of one point each)
    assert [sorted(line.get_xdata()) for line in lines] == [[two_layer_params(16), two_layer_params(32)]] * 2
