"""``callbacks=ema``: an exponential moving average of the weights, validated, kept and tested as the model."""

import torch
from conftest import FAST, run_in_process

from lenetlab.data import MNISTDataModule
from lenetlab.models.classifier import Classifier
from lenetlab.run.status import read_status


def error_on_test_split(state_dict: dict, data_root) -> float:
    """The test error of the lab's LeNet with these weights, on the run's data."""
    model = Classifier({"_target_": "lenetlab.models.LeNet"}, optimizer={"_target_": "torch.optim.SGD", "lr": 0.1})
    model.load_state_dict(state_dict)
    data = MNISTDataModule(root=str(data_root), val_size=200)
    data.setup()
    x, y = data.splits["test"]
    with torch.inference_mode():
        return (model.eval()(x).argmax(1) != y).float().mean().item()


def test_an_ema_run_keeps_and_tests_the_averaged_weights(run_main, fake_mnist, tmp_path):
    run = tmp_path / "run"
    # a slow average over one epoch of a small learning rate: far behind the weights it averages
    args = [*FAST, "trainer.max_epochs=1", "optimizer.lr=0.01", "callbacks=ema", "callbacks.ema.decay=0.99"]
    result = run_main("lenetlab.train", *args, f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]

    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    averaged, current = best["state_dict"], best["current_model_state"]
    assert not torch.equal(averaged["net.0.weight"], current["net.0.weight"])
    averaged_error, current_error = error_on_test_split(averaged, fake_mnist), error_on_test_split(current, fake_mnist)
    assert averaged_error != current_error
    assert read_status(run)["metrics"]["test_error"] == averaged_error


def test_a_decay_outside_zero_to_one_is_refused_by_name(fake_mnist, monkeypatch, capsys):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    code, stderr = run_in_process(
        monkeypatch, capsys, "lenetlab.train", *FAST, "callbacks=ema", "callbacks.ema.decay=1"
    )
    assert code == 2
    assert "callbacks.ema.decay=1 is not accepted: expected a number in (0, 1)" in stderr
