"""The scheduler options (lenetlab/conf/scheduler/) step as their configs say: per batch over the run, or per epoch."""

import itertools

import lightning as L
import pytest
from conftest import bare_trainer
from hydra import compose, initialize_config_dir

from lenetlab import CONF_DIR
from lenetlab.data import MNISTDataModule
from lenetlab.models.classifier import Classifier

EPOCHS, BATCHES = 3, 4  # 12 optimizer steps


class RecordLR(L.Callback):
    """The learning rate each training step runs with."""

    def __init__(self):
        self.lrs = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def lrs_of(fake_mnist, *overrides: str) -> tuple[list[float], object]:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=lenet_tiny", *overrides])
    model = Classifier(cfg.model, optimizer=cfg.optimizer, scheduler=cfg.scheduler or None)
    recorder = RecordLR()
    trainer = bare_trainer(max_epochs=EPOCHS, limit_train_batches=BATCHES, limit_val_batches=0, callbacks=[recorder])
    trainer.fit(model, datamodule=MNISTDataModule(str(fake_mnist), batch_size=50, val_size=200))
    return recorder.lrs, trainer.lr_scheduler_configs[0]


def test_onecycle_rises_to_the_learning_rate_and_anneals_over_every_step_of_the_run(fake_mnist):
    lrs, config = lrs_of(fake_mnist, "scheduler=onecycle", "optimizer.lr=0.2")
    assert config.interval == "step"
    assert config.scheduler.total_steps == EPOCHS * BATCHES  # Lightning's estimated_stepping_batches
    assert len(lrs) == len(set(lrs)) == EPOCHS * BATCHES  # a new rate for every batch
    peak = lrs.index(max(lrs))
    assert lrs[0] == pytest.approx(0.2 / 25)  # max_lr / div_factor
    assert max(lrs) == pytest.approx(0.2, rel=0.05)  # optimizer.lr is the peak...
    assert peak == round(0.25 * EPOCHS * BATCHES) - 1  # ...reached after pct_start of the steps
    assert lrs[: peak + 1] == sorted(lrs[: peak + 1]) and lrs[peak:] == sorted(lrs[peak:], reverse=True)
    assert lrs[-1] == pytest.approx(0.2 / 25 / 1e4)  # the last step runs at the end of the cycle


def test_cosine_anneals_from_the_learning_rate_to_eta_min_over_every_step(fake_mnist):
    lrs, config = lrs_of(fake_mnist, "scheduler=cosine", "optimizer.lr=0.1")
    assert config.interval == "step" and config.scheduler.T_max == EPOCHS * BATCHES
    assert lrs[0] == 0.1
    assert all(a > b for a, b in itertools.pairwise(lrs))  # down at every batch
    assert lrs[len(lrs) // 2] == pytest.approx(0.05)  # half-way: half the rate
    assert config.scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)


def test_a_schedule_with_its_length_set_steps_per_epoch(fake_mnist):
    lrs, config = lrs_of(fake_mnist, "scheduler=cosine", "scheduler.T_max=3", "optimizer.lr=0.1")
    assert config.interval == "epoch"
    assert len(set(lrs[:BATCHES])) == 1 and lrs[BATCHES] < lrs[0]
    lrs, config = lrs_of(fake_mnist, "scheduler=exponential", "optimizer.lr=0.1")
    assert config.interval == "epoch"
    assert [lrs[i * BATCHES] for i in range(EPOCHS)] == pytest.approx([0.1, 0.095, 0.09025])
