"""Using a trained model: ``python -m lenetlab.evaluate``, ``.predict`` and ``.export`` on runs of the synthetic data."""

import csv
import json

import numpy as np
import pytest
import torch
from conftest import FAST, python_m, python_m_in

from lenetlab.data.idx import write_idx
from lenetlab.models.classifier import Classifier
from lenetlab.run.status import read_status

# one epoch of five batches: a model that still gets some test images wrong
TRAIN = [*FAST, "model=lenet_tiny", "trainer.max_epochs=1", "trainer.limit_train_batches=5", "optimizer.lr=0.1"]


@pytest.fixture(scope="module")
def trained(fake_mnist, tmp_path_factory):
    """A finished run and a two-job sweep of it, trained once for the module's tests."""
    root = tmp_path_factory.mktemp("trained")
    for args in ([f"hydra.run.dir={root / 'run'}"], ["--multirun", "seed=0,1", f"hydra.sweep.dir={root / 'sweep'}"]):
        result = python_m_in(root, {"LENETLAB_DATA_DIR": str(fake_mnist)}, "lenetlab.train", *args, *TRAIN)
        assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.fixture
def here(tmp_path, monkeypatch, fake_mnist):
    """Commands run in an empty directory, on the synthetic data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    return tmp_path


def test_evaluate_a_run_gives_its_test_error_and_writes_evaluation_json(trained, here, monkeypatch, capsys):
    run = trained / "run"
    result = python_m(monkeypatch, capsys, "lenetlab.evaluate", f"checkpoint={run}", "batch_size=64")
    assert result.returncode == 0, result.stderr
    test_error = read_status(run)["metrics"]["test_error"]
    assert 0 < test_error < 0.9
    evaluation = json.loads((run / "checkpoints" / "evaluation.json").read_text())["best.ckpt"]["test"]
    assert evaluation["error"] == test_error
    assert (evaluation["images"], evaluation["accelerator"]) == (200, "cpu")
    assert result.stdout == (
        f"{run / 'checkpoints' / 'best.ckpt'}: test error {100 * test_error:.2f}%, "
        f"accuracy {100 * (1 - test_error):.2f}%, 200 images, {evaluation['seconds']:.1f} s\n"
    )
    assert list(here.iterdir()) == []  # no run directory, .hydra folder or log file


def test_evaluate_on_the_validation_split_gives_the_best_epochs_error_and_a_figure(trained, here, monkeypatch, capsys):
    run = trained / "run"
    result = python_m(monkeypatch, capsys, "lenetlab.evaluate", f"checkpoint={run}", "split=val", "figures=true")
    assert result.returncode == 0, result.stderr
    assert (run / "checkpoints" / "evaluation_val.png").stat().st_size > 10_000
    assert result.stdout.splitlines()[-1] == f"figure: {run / 'checkpoints' / 'evaluation_val.png'}"  # where it went
    evaluations = json.loads((run / "checkpoints" / "evaluation.json").read_text())["best.ckpt"]
    assert evaluations["val"]["error"] == read_status(run)["metrics"]["best_val_error"]
    assert evaluations["val"]["images"] == 200


def test_evaluate_a_sweep_scores_every_job_in_a_table(trained, here, monkeypatch, capsys):
    sweep = trained / "sweep"
    result = python_m(monkeypatch, capsys, "lenetlab.evaluate", f"checkpoint={sweep}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{sweep}: 2 models, test split"
    assert lines[1].split() == ["job", "test", "error", "accuracy", "images", "seconds"]
    for job, line in zip(("seed=0", "seed=1"), lines[2:], strict=True):
        test_error = read_status(sweep / job)["metrics"]["test_error"]
        assert line.split()[:2] == [job, f"{100 * test_error:.2f}%"]
        evaluation = json.loads((sweep / job / "checkpoints" / "evaluation.json").read_text())
        assert evaluation["best.ckpt"]["test"]["error"] == test_error


def known_test_images(fake_mnist, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` synthetic test images (uint8) and their labels."""
    from lenetlab.data import load_mnist

    data = load_mnist(fake_mnist, download=False)
    return data["test_x"][:n].numpy(), data["test_y"][:n].numpy()


def test_predict_classifies_png_files_and_an_idx_file_alike(trained, here, fake_mnist, monkeypatch, capsys):
    from PIL import Image

    images, labels = known_test_images(fake_mnist)
    folder = here / "digits"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"digit_{i:02d}.png")
    write_idx(here / "digits-idx3-ubyte", images)
    run = trained / "run"

    result = python_m(monkeypatch, capsys, "lenetlab.predict", f"checkpoint={run}", f"images={folder}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "digit", "probability"] and len(lines) == 1 + len(images)
    result = python_m(
        monkeypatch, capsys, "lenetlab.predict", f"checkpoint={run}", f"images={here / 'digits-idx3-ubyte'}",
        "output=preds.csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((here / "preds.csv").open()))
    digits = [int(row["digit"]) for row in rows]
    assert [int(line.split()[1]) for line in lines[1:]] == digits  # PNG files and IDX images: the same answers
    assert np.mean(np.array(digits) == labels) >= 0.5  # and mostly the right ones
    for row in rows:
        probabilities = [float(row[f"p{c}"]) for c in range(10)]
        assert sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert float(row["probability"]) == max(probabilities)


def test_export_writes_an_onnx_model_that_agrees_with_pytorch(trained, here, monkeypatch, capsys):
    from lenetlab.export.onnx import onnx_logits

    run, output = trained / "run", here / "lenet.onnx"
    result = python_m(monkeypatch, capsys, "lenetlab.export", f"checkpoint={run}", f"output={output}")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{run / 'checkpoints' / 'best.ckpt'} -> {output}: onnxruntime gives the same digits")
    assert "on 200 test images" in out
    assert [p.name for p in here.iterdir()] == ["lenet.onnx"]  # no staging file left behind
    # raw pixels go in: the normalization is inside the graph, and the batch size is free
    pixels = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    model = Classifier.load_from_checkpoint(run / "checkpoints" / "best.ckpt").eval()
    with torch.inference_mode():
        expected = model(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(onnx_logits(output, pixels), expected, atol=1e-4)


def bad_inputs(here, run) -> dict[str, tuple[str, list[str], str]]:
    """name -> (command, arguments, what its one line says), with the files they name written in ``here``."""
    (here / "notes.ckpt").write_text("not a checkpoint\n")
    torch.save({"state_dict": {"encoder.weight": torch.zeros(2)}, "epoch": 3}, here / "other.ckpt")
    torch.save({"fc.weight": torch.zeros(2)}, here / "weights.pt")
    (here / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (here / "empty").mkdir()
    model = f"checkpoint={run}"
    return {
        "missing path": ("evaluate", [f"checkpoint={here / 'nowhere'}"], "no such file or directory"),
        "not a checkpoint": ("evaluate", [f"checkpoint={here / 'notes.ckpt'}"], "not a PyTorch checkpoint"),
        "another program's checkpoint": (
            "evaluate",
            [f"checkpoint={here / 'other.ckpt'}"],
            "not a lenetlab checkpoint",
        ),
        "plain weights": ("export", [f"checkpoint={here / 'weights.pt'}"], "not a lenetlab checkpoint"),
        "bad split": ("evaluate", [model, "split=train"], "split='train' is not accepted: expected test | val"),
        "missing images": ("predict", [model, f"images={here / 'nowhere.png'}"], "nowhere.png"),
        "unreadable image": ("predict", [model, f"images={here / 'broken.png'}"], "broken.png"),
        "empty folder": ("predict", [model, f"images={here / 'empty'}"], "empty"),
        "sweep to predict with": ("predict", [f"checkpoint={run.parent / 'sweep'}", "images=x.png"], "a sweep of 2"),
    }


BAD_INPUTS = [
    "missing path",
    "not a checkpoint",
    "another program's checkpoint",
    "plain weights",
    "bad split",
    "missing images",
    "unreadable image",
    "empty folder",
    "sweep to predict with",
]


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gets_one_line_exit_2_and_nothing_written(name, trained, here, monkeypatch, capsys):
    command, args, says = bad_inputs(here, trained / "run")[name]
    before = sorted(here.rglob("*")), sorted((trained / "run").rglob("*"))
    output = ["output=out.csv"] if command == "predict" else []
    result = python_m(monkeypatch, capsys, f"lenetlab.{command}", *args, *output)
    err = result.stderr
    assert result.returncode == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and says in err, err
    assert (sorted(here.rglob("*")), sorted((trained / "run").rglob("*"))) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is there")
@pytest.mark.parametrize("command", ["evaluate", "predict", "export"])
def test_a_gpu_asked_for_on_a_machine_without_one_is_refused(command, trained, here, monkeypatch, capsys):
    args = [f"checkpoint={trained / 'run'}", "trainer.accelerator=gpu", *(["images=x.png"] * (command == "predict"))]
    result = python_m(monkeypatch, capsys, f"lenetlab.{command}", *args)
    code, err = result.returncode, result.stderr
    assert (code, err) == (2, "error: trainer.accelerator=gpu: no CUDA device visible; use cpu or auto\n")
    assert list(here.iterdir()) == []


def test_evaluate_reads_mnist_where_its_run_trained_when_no_folder_is_given(fake_mnist, tmp_path, monkeypatch, capsys):
    import shutil

    data = tmp_path / "elsewhere"
    shutil.copytree(fake_mnist, data)
    monkeypatch.delenv("LENETLAB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = python_m(monkeypatch, capsys, "lenetlab.train", *TRAIN, f"data.root={data}", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    away = tmp_path / "away"  # another directory, with no data and no LENETLAB_DATA_DIR
    away.mkdir()
    monkeypatch.chdir(away)
    result = python_m(monkeypatch, capsys, "lenetlab.evaluate", f"checkpoint={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    assert ", 200 images, " in result.stdout  # the synthetic test set it trained beside

    shutil.rmtree(data)  # gone, and the default folder holds no MNIST either: one line names both
    monkeypatch.setattr("lenetlab.trained.default_data_root", lambda: away / "data")
    result = python_m(monkeypatch, capsys, "lenetlab.evaluate", f"checkpoint={tmp_path / 'run'}")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{data / 'MNIST' / 'raw'}, where" in result.stderr and str(away / "data" / "MNIST" / "raw") in result.stderr
