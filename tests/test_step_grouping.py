"""Several optimizer steps per Lightning step (``steps_per_call``): the same training, fewer trips through the loop."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import bare_trainer
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.callbacks import GradientAccumulationScheduler, LearningRateMonitor
from lightning.pytorch.plugins.precision import MixedPrecision

from lenetlab import CONF_DIR
from lenetlab.data import MNISTDataModule
from lenetlab.data.mnist import TensorBatches
from lenetlab.models.backward import backward_is_plain
from lenetlab.models.callbacks import ExponentialMovingAverage
from lenetlab.models.classifier import Classifier, DivergedError
from lenetlab.run.step_grouping import AUTO_STEPS_PER_CALL, steps_per_call_for, trainer_needs

EPOCHS = 1


def fit(fake_mnist, steps_per_call: int, *overrides: str, **trainer_settings) -> tuple[Classifier, object]:
    """A short run of the tiny LeNet: 20 batches an epoch, augmented, with the scheduler ``overrides`` name."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=lenet_tiny", "optimizer.momentum=0.9", *overrides])
    torch.manual_seed(0)
    model = Classifier(
        cfg.model, optimizer=cfg.optimizer, scheduler=cfg.scheduler or None, steps_per_call=steps_per_call
    )
    trainer = bare_trainer(max_epochs=EPOCHS, **trainer_settings)
    # validation batches of 150 and 50 images: val/loss is their mean weighted by batch size either way
    datamodule = MNISTDataModule(str(fake_mnist), batch_size=50, eval_batch_size=150, val_size=200, augment=1.0)
    trainer.fit(model, datamodule=datamodule)
    return model, trainer


@pytest.mark.parametrize(
    ("scheduler", "precision"), [("onecycle", "32"), ("exponential", "32"), ("onecycle", "bf16-mixed")]
)  # a schedule stepped per batch, one per epoch; the augmentation outside the step's autocast
def test_seven_batches_a_step_train_exactly_as_one_batch_a_step(fake_mnist, scheduler, precision):
    # 20 batches an epoch: two steps of 7 batches and one of 6
    one, one_trainer = fit(fake_mnist, 1, f"scheduler={scheduler}", precision=precision)
    seven, seven_trainer = fit(fake_mnist, 7, f"scheduler={scheduler}", precision=precision)
    assert seven_trainer.global_step == one_trainer.global_step == EPOCHS * 20  # optimizer steps, for resume
    for (name, value), expected in zip(seven.state_dict().items(), one.state_dict().values(), strict=True):
        torch.testing.assert_close(value, expected, msg=name)
    lrs = [t.optimizers[0].param_groups[0]["lr"] for t in (one_trainer, seven_trainer)]
    assert lrs[1] == pytest.approx(lrs[0])  # the schedule took as many steps
    for tag in ("train/loss", "val/loss"):
        assert float(seven_trainer.callback_metrics[tag]) == pytest.approx(float(one_trainer.callback_metrics[tag]))


def test_a_nan_loss_is_caught_in_its_epoch_when_a_step_takes_several_batches():
    x, y = torch.randn(120, 1, 28, 28), torch.randint(0, 10, (120,))
    x[55] = float("nan")  # in batch 5 of 12 (not shuffled): epoch 0's sixth batch
    model = Classifier(
        {"_target_": "lenetlab.models.LeNet"},
        {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
        finite_check_every=4,
        steps_per_call=3,
    )
    trainer = bare_trainer(max_epochs=2, num_sanity_val_steps=0)
    with pytest.raises(DivergedError, match=r"training loss is nan at epoch 0, by step 6"):
        trainer.fit(model, TensorBatches(x, y, 10, shuffle=False), TensorBatches(x[:20], y[:20], 10, shuffle=False))
    assert trainer.global_step == 6  # stopped at the first check after the batch, not at the epoch's end


class LogsAtEpochEnd(L.Callback):
    """A callback that logs as most do, without a batch size."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        pl_module.log("custom/epoch_value", 1.5, on_epoch=True)


def test_a_callback_that_logs_without_a_batch_size_works_when_a_step_takes_several_batches(fake_mnist):
    _, trainer = fit(fake_mnist, 7, "scheduler=none", callbacks=[LogsAtEpochEnd()])
    assert float(trainer.callback_metrics["custom/epoch_value"]) == 1.5


class CountsBackwards(L.Callback):
    def __init__(self):
        self.before, self.after = 0, 0

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.before += 1

    def on_after_backward(self, trainer, pl_module) -> None:
        self.after += 1


def test_backward_hooks_run_for_every_batch_when_a_step_takes_several_batches(fake_mnist):
    counts = CountsBackwards()
    fit(fake_mnist, 7, "scheduler=none", callbacks=[counts])
    assert (counts.before, counts.after) == (EPOCHS * 20, EPOCHS * 20)


class OwnBackward(Classifier):
    def backward(self, loss, *args, **kwargs) -> None:
        loss.backward()


class HooksBackward(Classifier):
    def on_after_backward(self) -> None:
        pass


def test_the_grouped_step_calls_loss_backward_itself_only_where_lightning_would_add_nothing():
    net, optimizer = {"_target_": "lenetlab.models.LeNet"}, {"_target_": "torch.optim.SGD", "_partial_": True}
    model = Classifier(net, optimizer)
    assert backward_is_plain(bare_trainer(), model)
    assert backward_is_plain(bare_trainer(precision="bf16-mixed"), model)  # no loss scaling for bf16
    fp16 = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    assert not backward_is_plain(bare_trainer(plugins=[fp16]), model)  # the loss is scaled before backward
    assert not backward_is_plain(bare_trainer(strategy="ddp", devices=1), model)  # gradients are synced
    assert not backward_is_plain(bare_trainer(callbacks=[CountsBackwards()]), model)
    assert not backward_is_plain(bare_trainer(), OwnBackward(net, optimizer))
    assert not backward_is_plain(bare_trainer(), HooksBackward(net, optimizer))
    assert backward_is_plain(with_default_callbacks(), model)  # what a run of lenetlab.train gets


def test_a_fitted_model_with_nothing_on_its_backward_calls_loss_backward_itself(fake_mnist):
    model, _ = fit(fake_mnist, 7, "scheduler=none")
    assert model._backward is torch.Tensor.backward


def with_default_callbacks(*callbacks: L.Callback, **settings) -> L.Trainer:
    """A Trainer with the default callbacks of ``train.yaml`` (checkpoints, timer, bar) and these."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["output_dir=unused"])
    defaults = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    return L.Trainer(accelerator="cpu", logger=False, callbacks=[*defaults, *callbacks], **settings)


def needs_with(*callbacks: L.Callback, datamodule=None, **settings) -> list[str]:
    """What needs one batch a step in a Trainer with the default callbacks and these."""
    return trainer_needs(with_default_callbacks(*callbacks, **settings), datamodule)


class CountsZeroGrads(L.Callback):
    def on_before_zero_grad(self, trainer, pl_module, optimizer) -> None:
        pass


class PreparesBatches(MNISTDataModule):
    def on_before_batch_transfer(self, batch, dataloader_idx):
        return batch


def test_auto_groups_steps_with_the_default_callbacks_and_not_where_something_needs_each_batch():
    assert needs_with() == [] and steps_per_call_for("auto", []) == AUTO_STEPS_PER_CALL
    assert needs_with(ExponentialMovingAverage()) == ["callback ExponentialMovingAverage"]  # a per-step average
    assert needs_with(LearningRateMonitor("step")) == ["callback LearningRateMonitor"]
    assert needs_with(CountsZeroGrads()) == ["callback CountsZeroGrads"]
    assert needs_with(GradientAccumulationScheduler({0: 2})) == ["callback GradientAccumulationScheduler"]
    assert needs_with(datamodule=PreparesBatches()) == ["PreparesBatches.on_before_batch_transfer"]
    assert needs_with(gradient_clip_val=1.0) == ["trainer.gradient_clip_val"]
    assert needs_with(val_check_interval=0.5) == ["trainer.val_check_interval"]
    assert needs_with(max_steps=100) == ["trainer.max_steps"]
    assert needs_with(max_time="00:01:00:00") == ["callback Timer"]
    assert steps_per_call_for("auto", ["trainer.max_steps"]) == 1 and steps_per_call_for(4, []) == 4


def test_a_checkpoint_loads_as_a_one_batch_a_step_model(fake_mnist, tmp_path):
    _, trainer = fit(fake_mnist, 7, "scheduler=none")
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = Classifier.load_from_checkpoint(tmp_path / "model.ckpt")
    assert loaded.steps_per_call == 1 and loaded.automatic_optimization  # how it trained is not part of the model
