"""The training step compiles into one graph, with no host sync, and still stops a diverging run in its epoch."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import FAST, bare_trainer, run_in_process, scalars
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import lenetlab.data.augment
from lenetlab import CONF_DIR
from lenetlab.data.augment import distort
from lenetlab.data.mnist import TensorBatches
from lenetlab.models.classifier import Classifier, DivergedError, channels_last_for

LENET = {"_target_": "lenetlab.models.LeNet"}
SGD = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}
# every model config, and each option that touches the step (augmentation, EMA, label smoothing, schedulers)
STEP_CONFIGS = [
    ["model=lenet"],
    ["model=lenet_tiny", "data.augment=1", "callbacks=ema", "label_smoothing=0.1", "scheduler=onecycle"],
    ["model=mlp", "optimizer=adam", "scheduler=cosine"],
    ["model=lenet", "data.augment=1", "data.distortion.elastic=1", "scheduler=exponential"],
]


@pytest.mark.parametrize("overrides", STEP_CONFIGS, ids=" ".join)
def test_the_training_step_compiles_into_one_graph(fake_mnist, tmp_path, monkeypatch, overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", [*overrides, f"data.root={fake_mnist}", "data.val_size=200", f"output_dir={tmp_path}"])
    datamodule = instantiate(cfg.data)
    callbacks = [c for name, c in cfg.callbacks.items() if name == "ema"]
    trainer = bare_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, callbacks=instantiate(callbacks))
    model = Classifier(
        cfg.model,
        optimizer=cfg.optimizer,
        scheduler=cfg.scheduler if cfg.get("scheduler") else None,
        channels_last=channels_last_for(cfg.channels_last, "cpu"),
        label_smoothing=cfg.label_smoothing,
    )
    # fullgraph: a graph break (a host sync such as a Python `if` on a tensor) raises instead of splitting the graph
    model.training_loss = torch.compile(model.training_loss, backend="eager", fullgraph=True)
    # a batch's distortions, given their random draws (torch.compile cannot take a generator)
    monkeypatch.setattr(lenetlab.data.augment, "distort", torch.compile(distort, backend="eager", fullgraph=True))
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 3
    assert (datamodule._augment_rng is not None) == (cfg.data.augment > 0)  # the distortions did run


def test_compile_takes_a_mode_and_keeps_the_parameter_names():
    eager = Classifier(LENET, optimizer=SGD)
    compiled = Classifier(LENET, optimizer=SGD, compile="reduce-overhead")
    assert compiled.state_dict().keys() == eager.state_dict().keys()  # net.0.weight...: checkpoints load either way
    assert compiled.net._compiled_call_impl is not None and eager.net._compiled_call_impl is None


@pytest.mark.parametrize(("setting", "device", "expected"), [("auto", "cpu", True), ("auto", "cuda", False)])
def test_channels_last_auto_follows_the_device(setting, device, expected):
    assert channels_last_for(setting, device) is expected
    assert channels_last_for(True, device) is True and channels_last_for(False, device) is False


class PoisonWeights(L.Callback):
    """Set the first weight to NaN before batch ``at_batch`` of epoch ``at_epoch``; count the validations."""

    def __init__(self, at_epoch: int, at_batch: int):
        self.at_epoch, self.at_batch, self.validated_epochs = at_epoch, at_batch, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == (self.at_epoch, self.at_batch):
            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))

    def on_validation_end(self, trainer, pl_module) -> None:
        self.validated_epochs.append(trainer.current_epoch)


def fit_until_diverged(check_every: int, at_epoch: int, at_batch: int, batches: int = 12) -> tuple[str, list[int]]:
    torch.manual_seed(0)
    x, y = torch.randn(batches * 10, 1, 28, 28), torch.randint(0, 10, (batches * 10,))
    model = Classifier(LENET, optimizer=SGD, finite_check_every=check_every)
    poison = PoisonWeights(at_epoch, at_batch)
    trainer = bare_trainer(max_epochs=4, num_sanity_val_steps=0, callbacks=[poison])
    with pytest.raises(DivergedError) as error:
        trainer.fit(model, TensorBatches(x, y, 10, shuffle=True), TensorBatches(x[:20], y[:20], 10, shuffle=False))
    return str(error.value), poison.validated_epochs


def test_divergence_is_caught_in_its_epoch_before_that_epochs_validation():
    # checked rarely (every 100 steps, more than the epoch's 12): the epoch's last batch still checks
    reason, validated = fit_until_diverged(check_every=100, at_epoch=1, at_batch=2)
    assert reason == "training loss is nan at epoch 1, by step 12"
    assert validated == [0]  # epoch 1 is neither validated nor checkpointed


def test_divergence_is_caught_at_the_next_check_within_the_epoch():
    reason, validated = fit_until_diverged(check_every=4, at_epoch=2, at_batch=5)
    assert reason == "training loss is nan at epoch 2, by step 8"
    assert validated == [0, 1]


def test_a_compiled_run_compiles_the_network_once_for_training_and_once_for_evaluation(
    fake_mnist, tmp_path, monkeypatch, capsys
):
    graphs = []

    def counting(graph, example_inputs):  # a torch.compile backend that runs each graph as it is, counted
        graphs.append(torch.is_grad_enabled())
        return graph.forward

    compile_module = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda net, **_: compile_module(net, backend=counting))
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    args = [*FAST, "trainer.max_epochs=1", "model=lenet_tiny", "compile=true", f"hydra.run.dir={tmp_path / 'run'}"]
    code, stderr = run_in_process(monkeypatch, capsys, "lenetlab.train", *args)
    assert code == 0, stderr[-3000:]
    assert graphs == [True, False]  # training; then validation, whose graph the test reuses


@pytest.mark.slow
def test_a_compiled_run_gives_the_eager_validation_curve(run_main, tmp_path):
    tiny = [*FAST, "model=mlp", "model.hidden=[8]", "trainer.max_epochs=3"]
    curves = {}
    for compile in ("false", "default"):
        out = tmp_path / compile
        result = run_main("lenetlab.train", *tiny, f"compile={compile}", f"hydra.run.dir={out}")
        assert result.returncode == 0, result.stderr[-3000:]
        curves[compile] = scalars(out)
    for tag in ("val/loss", "val/error", "train/loss"):
        eager, compiled = curves["false"][tag], curves["default"][tag]
        assert [step for step, _ in compiled] == [step for step, _ in eager] == [0, 1, 2], tag
        torch.testing.assert_close([v for _, v in compiled], [v for _, v in eager], rtol=1e-4, atol=1e-5)
