"""Bad input is refused before any work: one or two lines, exit status 2, nothing written."""

import shutil

import pytest
from conftest import FAST, run_in_process

from lenetlab import CONF_DIR


def start(monkeypatch, capsys, data_dir, *args: str) -> tuple[int, str]:
    """Run ``python -m lenetlab.train args`` in this process (seconds faster); return exit status and stderr."""
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(data_dir))
    return run_in_process(monkeypatch, capsys, "lenetlab.train", *args)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=0", "optimizer.lr=0 is not accepted: expected a positive number"),
        ("optimizer.lr=-0.1", "optimizer.lr=-0.1 is not accepted: expected a positive number"),
        ("data.batch_size=0", "data.batch_size=0 is not accepted: expected a positive integer"),
        ("model.filters=0", "model.filters=0 is not accepted: expected a positive integer or a list of them"),
        ("model.filters=[16,-4]", "model.filters=[16, -4] is not accepted"),
        ("model.kernel_size=4", "model.kernel_size=4 is not accepted: expected an odd integer from 1 to 14"),
        ("model.kernel_size=15", "model.kernel_size=15 is not accepted: expected an odd integer from 1 to 14"),
        ("trainer.max_epochs=-1", "trainer.max_epochs=-1 is not accepted: expected an integer >= 0"),
        ("trainer.accelerator=tpu", "trainer.accelerator='tpu' is not accepted: expected auto | cpu | gpu | cuda"),
        ("model.filters=[8,8,8,8,8]", "expected at most 4 conv layers (each halves the 28-pixel map)"),
        ("callbacks.model_checkpoint=null", "callbacks.model_checkpoint=None is not accepted: expected a callback"),
        ("model.hidden=[-5]", "model.hidden=[-5] is not accepted: expected a list of positive integers"),
        ("trainer.devices=2", "trainer.devices=2 is not accepted: expected 1, or with trainer.accelerator=gpu one GPU"),
        ("trainer.devices=[0]", "trainer.devices=[0] is not accepted: expected 1, or with trainer.accelerator=gpu"),
        ("trainer.precision=8", "trainer.precision='8' is not accepted: expected 32 | 32-true | 16-mixed | bf16-mixed"),
        ("data.val_size=1200", "data.val_size=1200 is not accepted: expected an integer from 1 to 1199"),
        (
            "data.augment=-1",
            "data.augment=-1 is not accepted: expected a number >= 0 (0: off, 1: the distortion ranges)",
        ),
        ("data.distortion.elastic=-2", "data.distortion.elastic=-2 is not accepted: expected a number >= 0 (0: none)"),
        ("data.distortion.elastic_sigma=0", "data.distortion.elastic_sigma=0 is not accepted: expected a number > 0"),
        ("optimizer.momentum=1.5", "optimizer.momentum=1.5 is not accepted: expected a number in [0, 1)"),
        ("optimizer.weight_decay=-1e-4", "optimizer.weight_decay=-0.0001 is not accepted: expected a number >= 0"),
        ("optimizer.nesterov=true", "optimizer.nesterov=True is not accepted: expected false while optimizer.momentum"),
        ("label_smoothing=1", "label_smoothing=1 is not accepted: expected a number in [0, 1)"),
        ("model.dropout=1.0", "model.dropout=1.0 is not accepted: expected a number in [0, 1)"),
        (
            "compile=fast",
            "compile='fast' is not accepted: expected false | true | default | reduce-overhead | max-autotune",
        ),
        ("channels_last=maybe", "channels_last='maybe' is not accepted: expected auto | true | false"),
        ("optimizer.fused=yes", "optimizer.fused='yes' is not accepted: expected null (torch's choice) | true | false"),
        (
            "ckpt_path=run/checkpoints/lst.ckpt",
            "ckpt_path='run/checkpoints/lst.ckpt' is not a file: expected a checkpoint",
        ),
    ],
)
def test_bad_value_is_refused_in_one_line(monkeypatch, capsys, fake_mnist, tmp_path, override, message):
    out = tmp_path / "run"
    code, err = start(monkeypatch, capsys, fake_mnist, *FAST, override, f"hydra.run.dir={out}")
    assert code == 2
    assert err.strip().startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_settings_left_without_their_part_are_refused(monkeypatch, capsys, fake_mnist, tmp_path):
    # the speedrun sets scheduler.pct_start; scheduler=none leaves it with nothing to set
    out = tmp_path / "run"
    args = ["experiment=speedrun", "scheduler=none", *FAST, f"hydra.run.dir={out}"]
    code, err = start(monkeypatch, capsys, fake_mnist, *args)
    assert (code, err.strip()) == (
        2,
        "error: scheduler has settings (pct_start) but no scheduler to take them: choose one (scheduler=...), "
        "or drop them (~scheduler.pct_start)",
    )
    assert not out.exists()
    code, err = start(monkeypatch, capsys, fake_mnist, *args, "~scheduler.pct_start", "trainer.max_epochs=1")
    assert code == 0, err[-2000:]


def test_data_directory_that_is_a_file(monkeypatch, capsys, fake_mnist, tmp_path):
    a_file = tmp_path / "mnist.tar"
    a_file.write_text("")
    code, err = start(
        monkeypatch, capsys, fake_mnist, *FAST, f"data.root={a_file}", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert code == 2
    assert err.strip() == f"error: data.root='{a_file}' is a file: expected a directory holding MNIST/raw/"
    assert not (tmp_path / "run").exists()


def test_output_directory_that_cannot_be_written(monkeypatch, capsys, fake_mnist, tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    code, err = start(monkeypatch, capsys, fake_mnist, *FAST, f"hydra.run.dir={blocker / 'run'}")
    assert code == 2
    assert (
        f"error: output directory '{blocker / 'run'}' cannot be written: {blocker} is not a writable directory" in err
    )
    assert blocker.read_text() == "a file where a directory should be"


def test_a_bad_sweep_job_is_refused_before_any_job_runs(monkeypatch, capsys, fake_mnist, tmp_path):
    sweep = tmp_path / "sweep"
    code, err = start(monkeypatch, capsys, fake_mnist, "-m", *FAST, "optimizer.lr=0.1,-1", f"hydra.sweep.dir={sweep}")
    assert code == 2
    assert err.strip() == "error: optimizer.lr=-1 is not accepted: expected a positive number"
    assert not sweep.exists()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[:-100], "bytes, expected"),  # truncated
        (lambda data: b"\x00\x00\x08\x01" + data[4:], "magic number 2049, expected 2051"),  # corrupt header
    ],
)
def test_damaged_idx_file_is_refused_by_name(monkeypatch, capsys, fake_mnist, tmp_path, damage, expected):
    data_dir = tmp_path / "data"
    shutil.copytree(fake_mnist, data_dir)
    images = data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(damage(images.read_bytes()))
    out = tmp_path / "run"
    code, err = start(monkeypatch, capsys, data_dir, *FAST, f"hydra.run.dir={out}")
    assert code == 2
    assert err.strip().startswith(f"error: {images}: ") and expected in err
    assert "Traceback" not in err and not out.exists()


def test_missing_data_without_download_is_refused(monkeypatch, capsys, tmp_path):
    code, err = start(monkeypatch, capsys, tmp_path, *FAST, "data.download=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert code == 2
    assert err.strip().startswith(f"error: MNIST not found in {tmp_path / 'MNIST' / 'raw'}")
    assert f"(chosen by LENETLAB_DATA_DIR={tmp_path}; data.root=DIR on the command line chooses another)" in err
    assert not (tmp_path / "run").exists()


def test_missing_data_names_data_root_when_it_chose_the_directory(monkeypatch, capsys, fake_mnist, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = start(monkeypatch, capsys, fake_mnist, *FAST, f"data.root={empty}", "data.download=false",
                      f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: MNIST not found in {empty / 'MNIST' / 'raw'} (chosen by data.root={empty}; ")
    assert "without data.root, export LENETLAB_DATA_DIR=DIR chooses it" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "already holds a run: add resume=true to continue it, or choose another directory"),
        (["resume=true", "optimizer.lr=-1"], "optimizer.lr=-1 is not accepted: expected a positive number"),
    ],
)
def test_a_refused_start_leaves_an_existing_run_untouched(monkeypatch, capsys, fake_mnist, tmp_path, args, message):
    out = tmp_path / "run"
    (out / ".hydra").mkdir(parents=True)
    (out / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (out / "status.json").write_text('{"status": "failed"}')
    before = {p: (p.stat().st_mtime_ns, p.is_file() and p.read_text()) for p in out.rglob("*")}
    code, err = start(monkeypatch, capsys, fake_mnist, *FAST, *args, f"hydra.run.dir={out}")
    assert code == 2
    assert err.strip().startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert {p: (p.stat().st_mtime_ns, p.is_file() and p.read_text()) for p in out.rglob("*")} == before


@pytest.mark.parametrize(
    "override",
    ["trainer.precision=16", "trainer.precision=bf16", "trainer.precision=bf16-mixed", "trainer.devices='1'"],
)
def test_values_lightning_accepts_pass(override):
    from hydra import compose, initialize_config_dir

    from lenetlab.config.validation import validate

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        validate(compose("train", overrides=[override]), check_devices=False)


def compose_train(*overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_an_mlp_with_one_hidden_width_is_accepted_and_shown_in_hparams():
    from lenetlab.run.start_checks import check_config
    from lenetlab.tensorboard.hparams import config_hparams

    cfg = compose_train("model=mlp", "model.hidden=64")
    check_config(cfg, check_devices=False)
    assert config_hparams(cfg)["hidden"] == 64
    assert config_hparams(compose_train("model=mlp", "model.hidden=[300,100]"))["hidden"] == "300-100"


@pytest.mark.parametrize(
    ("target", "checked"),
    [
        ("lenetlab.data.MNISTDataModule", True),
        ("lenetlab.data.mnist.MNISTDataModule", True),
        ("mypackage.FashionMNISTDataModule", False),  # another dataset checks its own files
    ],
)
def test_only_mnist_gets_the_mnist_file_checks(tmp_path, target, checked):
    from lenetlab.data import DataNotFoundError
    from lenetlab.run.start_checks import check_data

    cfg = compose_train(f"data._target_={target}", f"data.root={tmp_path}", "data.download=false")
    if checked:
        with pytest.raises(DataNotFoundError):
            check_data(cfg)
    else:
        check_data(cfg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.kernel_size=4"], "model.kernel_size=4 is not accepted: expected an odd integer from 1 to 14"),
        (["callbacks=ema", "callbacks.ema.decay=1.5"], "callbacks.ema.decay=1.5 is not accepted: expected a number"),
        (["label_smoothing=1"], "label_smoothing=1 is not accepted: expected a number in [0, 1)"),
        (["data.distortion.shift=-1"], "data.distortion.shift=-1 is not accepted: expected a number >= 0 (0: none)"),
    ],
)
@pytest.mark.parametrize("module", ["lenetlab.train", "lenetlab.search"])
def test_train_and_search_refuse_the_same_values_and_write_nothing(
    monkeypatch, capsys, fake_mnist, tmp_path, module, overrides, message
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    code, err = run_in_process(monkeypatch, capsys, module, *FAST, *overrides, f"hydra.run.dir={tmp_path / 'out'}")
    assert code == 2 and err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no study.db, no trial_0/, no run directory


def test_each_part_refuses_its_own_bad_argument_by_name():
    from lenetlab.data import MNISTDataModule
    from lenetlab.models import LeNet
    from lenetlab.models.classifier import Classifier

    with pytest.raises(ValueError, match=r"^filters=0 is not accepted: expected a positive integer"):
        LeNet(filters=0)
    with pytest.raises(ValueError, match=r"^batch_size=0 is not accepted: expected a positive integer$"):
        MNISTDataModule(batch_size=0)
    optimizer = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1, "momentum": 0.0, "nesterov": True}
    with pytest.raises(ValueError, match=r"^optimizer.nesterov=True is not accepted: expected false while"):
        Classifier(LeNet(), optimizer=optimizer)
