"""A checkpoint is data: loading one imports and calls only trusted targets, and never unpickles code."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import FAST, python_m, python_m_in

from lenetlab.models import Classifier, trust
from lenetlab.models.safe_checkpoint import CheckpointError, UntrustedTargetError, _trusted_by_user

TRAIN = [*FAST, "model=lenet_tiny", "trainer.max_epochs=1", "trainer.limit_train_batches=3"]
LOADERS = ("evaluate", "predict", "export", "python")


class Pickled:
    """An object whose unpickling would create a folder: what a crafted checkpoint can hold."""

    def __init__(self, folder: Path):
        self.folder = str(folder)

    def __reduce__(self):
        return (os.makedirs, (self.folder,))


def side_effects(tmp: Path, slot: str) -> dict[str, dict]:
    """A config per target that would each leave a trace under ``tmp`` if it ran."""
    return {
        "os.makedirs": {"_target_": "os.makedirs", "_args_": [str(tmp / f"made_{slot}")]},
        "shutil.copy": {"_target_": "shutil.copy", "_args_": [__file__, str(tmp / f"copied_{slot}")]},
        "builtins.open": {"_target_": "builtins.open", "_args_": [str(tmp / f"opened_{slot}"), "w"]},
    }


@pytest.fixture(scope="module")
def run(fake_mnist, tmp_path_factory) -> Path:
    """One finished lenetlab run whose checkpoints are edited into crafted ones."""
    root = tmp_path_factory.mktemp("trusted")
    args = [*TRAIN, f"hydra.run.dir={root / 'run'}"]
    result = python_m_in(root, {"LENETLAB_DATA_DIR": str(fake_mnist)}, "lenetlab.train", *args)
    assert result.returncode == 0, result.stderr
    return root / "run"


@pytest.fixture
def here(tmp_path, monkeypatch, fake_mnist) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    return tmp_path


def load(loader: str, checkpoint: Path, monkeypatch, capsys, *extra: str) -> tuple[int, str]:
    """Load ``checkpoint`` with a command (its exit status and stderr) or from Python (2 and the error)."""
    if loader == "python":
        try:
            Classifier.load_from_checkpoint(checkpoint)
        except CheckpointError as error:
            return 2, f"error: {error}\n"
        return 0, ""
    images = [f"images={checkpoint}"] if loader == "predict" else []
    result = python_m(monkeypatch, capsys, f"lenetlab.{loader}", f"checkpoint={checkpoint}", *images, *extra)
    return result.returncode, result.stderr


@pytest.mark.parametrize("target", ["os.makedirs", "shutil.copy", "builtins.open"])
@pytest.mark.parametrize("slot", ["net", "optimizer", "scheduler"])
def test_a_checkpoint_naming_an_untrusted_target_is_refused_by_every_loader(
    slot, target, run, here, monkeypatch, capsys
):
    checkpoint = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint["hyper_parameters"][slot] = side_effects(here, slot)[target]
    crafted = here / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    for loader in LOADERS:
        code, err = load(loader, crafted, monkeypatch, capsys)
        assert (code, err) == (
            2,
            f"error: {crafted}: refused to load, its {slot} config names {target!r}, which is not trusted to run; "
            f"if you trust this checkpoint, add trust=[{target}] (from Python: "
            f"load_from_checkpoint(path, trust=[{target}]))\n",
        ), loader
        assert sorted(p.name for p in here.iterdir()) == ["crafted.ckpt"], loader  # nothing ran, nothing written


def test_a_nested_target_or_one_in_the_datamodules_arguments_is_refused(run, tmp_path):
    checkpoint = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    evil = side_effects(tmp_path, "nested")["os.makedirs"]
    for edit, where in (
        (lambda c: c["hyper_parameters"]["net"].update(hidden=[evil]), "net.hidden[0]"),
        (lambda c: c["datamodule_hyper_parameters"].update(distortion=evil), "datamodule.distortion"),
    ):
        crafted = {k: (v.copy() if isinstance(v, dict) else v) for k, v in checkpoint.items()}
        crafted["hyper_parameters"] = {**crafted["hyper_parameters"], "net": dict(crafted["hyper_parameters"]["net"])}
        edit(crafted)
        torch.save(crafted, tmp_path / "crafted.ckpt")
        with pytest.raises(UntrustedTargetError, match=re.escape(f"its {where} config")):
            Classifier.load_from_checkpoint(tmp_path / "crafted.ckpt")
    assert not (tmp_path / "made_nested").exists()


def test_a_pickled_object_is_refused_in_one_line_without_being_unpickled(run, here, monkeypatch, capsys):
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    pickled = here / "pickled.ckpt"
    torch.save({**checkpoint, "extra": Pickled(here / "unpickled")}, pickled)
    says = (
        "refused to load: it holds a pickled Python object (os.makedirs), and checkpoints are read as tensors "
        "and plain data only (torch.load weights_only=True)\n"
    )
    code, err = load("evaluate", pickled, monkeypatch, capsys)
    assert (code, err) == (2, f"error: {pickled}: {says}")

    new_run = here / "new_run"
    args = [*TRAIN, f"ckpt_path={pickled}", f"hydra.run.dir={new_run}"]
    result = python_m(monkeypatch, capsys, "lenetlab.train", *args)
    assert (result.returncode, result.stderr) == (2, f"error: {pickled}: {says}")

    resumed = here / "resumed"  # a run whose own last checkpoint was replaced
    shutil.copytree(run, resumed)
    shutil.copy(pickled, resumed / "checkpoints" / "last.ckpt")
    status = json.loads((resumed / "status.json").read_text())
    (resumed / "status.json").write_text(json.dumps({**status, "status": "interrupted"}))
    before = sorted(resumed.rglob("*"))
    result = python_m(monkeypatch, capsys, "lenetlab.train", *TRAIN, "resume=true", f"hydra.run.dir={resumed}")
    last = resumed / "checkpoints" / "last.ckpt"
    assert (result.returncode, result.stderr) == (2, f"error: {last}: {says}")
    assert sorted(resumed.rglob("*")) == before
    assert sorted(p.name for p in here.iterdir()) == ["pickled.ckpt", "resumed"]  # no unpickled/, no new_run/


MY_MODELS = """
from torch import nn


class TwoLayerNet(nn.Sequential):
    def __init__(self, width: int = 64, num_classes: int = 10):
        super().__init__(nn.Flatten(), nn.Linear(28 * 28, width), nn.ReLU(), nn.Linear(width, num_classes))
"""


@pytest.fixture
def own_model_run(here, monkeypatch, capsys) -> Path:
    """The README's two-layer net, trained from the user's own module and config folder."""
    module = f"my_models_{os.getpid()}"  # a module name of its own in this process
    (here / f"{module}.py").write_text(textwrap.dedent(MY_MODELS))
    (here / "my_conf" / "model").mkdir(parents=True)
    (here / "my_conf" / "model" / "two_layer.yaml").write_text(f"_target_: {module}.TwoLayerNet\nwidth: 16\n")
    monkeypatch.syspath_prepend(str(here))
    args = ["--config-dir", str(here / "my_conf"), *TRAIN, "model=two_layer", f"hydra.run.dir={here / 'run'}"]
    result = python_m(monkeypatch, capsys, "lenetlab.train", *args)
    assert result.returncode == 0, result.stderr
    yield here / "run"
    sys.modules.pop(module, None)
    _trusted_by_user.clear()


def test_a_users_own_model_loads_when_trusted_and_is_refused_in_one_line_otherwise(own_model_run, monkeypatch, capsys):
    best = own_model_run / "checkpoints" / "best.ckpt"
    target = torch.load(best, weights_only=True)["hyper_parameters"]["net"]["_target_"]
    code, err = load("evaluate", own_model_run, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1 and f"add trust=[{target}]" in err, err

    code, err = load("evaluate", own_model_run, monkeypatch, capsys, f"trust=[{target}]")
    assert (code, err) == (0, "")
    with pytest.raises(UntrustedTargetError):
        Classifier.load_from_checkpoint(best)
    net_class = sys.modules[target.rsplit(".", 1)[0]].TwoLayerNet
    for trusted in ([net_class], [target]):
        model = Classifier.load_from_checkpoint(best, trust=trusted)
        assert type(model.net) is net_class
    trust(net_class)  # for the whole process, as torch.serialization.add_safe_globals
    assert type(Classifier.load_from_checkpoint(best).net) is net_class


def test_a_checkpoint_of_another_format_is_refused_in_one_line(run, tmp_path):
    checkpoint = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert checkpoint["lenetlab_format"] == 1
    for value, says in (
        (2, "a lenetlab checkpoint of format 2; this lenetlab reads format 1"),
        (None, "not a lenetlab checkpoint (no lenetlab_format in it)"),
    ):
        checkpoint["lenetlab_format"] = value
        if value is None:
            del checkpoint["lenetlab_format"]
        torch.save(checkpoint, tmp_path / "other.ckpt")
        with pytest.raises(CheckpointError) as error:
            Classifier.load_from_checkpoint(tmp_path / "other.ckpt")
        assert str(error.value) == f"{tmp_path / 'other.ckpt'}: {says}"
