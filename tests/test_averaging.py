"""``callbacks=ema``: an exponential moving average of the weights, validated, kept and tested as the model."""

import pytest
import torch
from conftest import FAST, run_in_process

from lenetlab.data import MNISTDataModule
from lenetlab.models.classifier import Classifier
from lenetlab.run.status import read_status


def error_on_test_images(model: Classifier, data_root) -> float:
    """The error of ``model`` (normalizing as its checkpoint says) on the run's test images."""
    data = MNISTDataModule(root=str(data_root), val_size=200)
    data.setup()
    x, y = data.splits["test"]
    with torch.inference_mode():
        return (model.eval()(x).argmax(1) != y).float().mean().item()


def test_an_ema_run_keeps_and_tests_the_averaged_weights(run_main, fake_mnist, tmp_path):
    run = tmp_path / "run"
    # 20 steps at lr 0.1 learn the synthetic digits; an average over about 1 / (1 - 0.999) = 1000 steps stays
    # near the first step's weights
    args = [*FAST, "trainer.max_epochs=1", "callbacks=ema", "callbacks.ema.decay=0.999"]
    result = run_main("lenetlab.train", *args, f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]

    best = run / "checkpoints" / "best.ckpt"
    averaged = Classifier.load_from_checkpoint(best)  # the checkpoint's weights: the average
    current = Classifier.load_from_checkpoint(best)
    current.load_state_dict(torch.load(best, weights_only=False)["current_model_state"])
    averaged_error = error_on_test_images(averaged, fake_mnist)
    current_error = error_on_test_images(current, fake_mnist)
    assert current_error < 0.1 and averaged_error > 0.5  # far apart: the weights the test scored are not in doubt
    assert read_status(run)["metrics"]["test_error"] == pytest.approx(averaged_error, abs=1e-4)


def test_a_decay_outside_zero_to_one_is_refused_by_name(fake_mnist, monkeypatch, capsys):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    code, stderr = run_in_process(
        monkeypatch, capsys, "lenetlab.train", *FAST, "callbacks=ema", "callbacks.ema.decay=1"
    )
    assert code == 2
    assert "callbacks.ema.decay=1 is not accepted: expected a number in (0, 1)" in stderr
