"""The training step is Lightning's own: a subclass's ``training_step`` and batch hooks run for every batch."""

from __future__ import annotations

import torch
from conftest import bare_trainer

from lenetlab.data import MNISTDataModule
from lenetlab.models.classifier import Classifier

LENET = {"_target_": "lenetlab.models.LeNet", "filters": [4, 4], "hidden": []}
SGD = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}
EPOCHS, BATCHES = 2, 20  # 1,000 training images of the synthetic set in batches of 50


class CountsItsBatches(Classifier):
    """A user's subclass with its own training step and batch-end hook, each noting the batches it sees."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stepped: list[tuple[int, int]] = []
        self.ended: list[tuple[int, int]] = []
        self.losses: list[torch.Tensor] = []  # what training_step returned
        self.outputs: list[torch.Tensor] = []  # what on_train_batch_end was given

    def training_step(self, batch, batch_idx: int):
        self.stepped.append((self.current_epoch, batch_idx))
        loss = super().training_step(batch, batch_idx)
        self.losses.append(loss.detach())
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.ended.append((self.current_epoch, batch_idx))
        self.outputs.append(outputs["loss"])
        super().on_train_batch_end(outputs, batch, batch_idx)


def test_a_subclass_training_step_and_batch_end_hook_run_for_every_batch(fake_mnist):
    model = CountsItsBatches(LENET, optimizer=SGD)
    datamodule = MNISTDataModule(str(fake_mnist), batch_size=50, val_size=200)
    trainer = bare_trainer(max_epochs=EPOCHS, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    every_batch = [(epoch, i) for epoch in range(EPOCHS) for i in range(BATCHES)]
    assert model.stepped == every_batch
    assert model.ended == every_batch
    torch.testing.assert_close(torch.stack(model.outputs), torch.stack(model.losses))  # each batch's own step
    assert model.automatic_optimization and trainer.global_step == EPOCHS * BATCHES  # one optimizer step a batch
