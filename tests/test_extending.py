"""docs/extending.md's examples, as the page gives them: its files, written into a directory of their own, and
its ``--config-dir`` command, run on a synthetic Fashion-MNIST in torchvision's layout."""

from __future__ import annotations

import re
import shlex
import shutil
import sys

from conftest import ROOT, make_fake_mnist

from lenetlab.run.status import read_status

PAGE = ROOT / "docs" / "extending.md"
# a fenced block whose first line names its file: ```python\n# my_data.py\n...```
FILE_BLOCK = re.compile(r"^```\w+\n# (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
COMMAND_BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def page_files() -> dict[str, str]:
    """Each file the page shows, by the path its first line names, with its text as the page has it."""
    return {path: f"# {path}\n{body}" for path, body in FILE_BLOCK.findall(PAGE.read_text())}


def page_commands() -> list[list[str]]:
    return [shlex.split(line) for block in COMMAND_BLOCK.findall(PAGE.read_text()) for line in block.splitlines()]


def fake_fashion_mnist(root):
    """``root/FashionMNIST/raw``: the four IDX files torchvision's FashionMNIST reads (60,000 training images,
    as the example's split needs), the synthetic digits of make_fake_mnist."""
    make_fake_mnist(root / "idx", n_train=60_000, n_test=200)
    (root / "FashionMNIST").mkdir(parents=True)
    shutil.move(root / "idx" / "MNIST" / "raw", root / "FashionMNIST" / "raw")


def test_the_page_shows_a_model_and_a_dataset_with_their_configs():
    assert sorted(page_files()) == [
        "my_conf/data/fashion.yaml",
        "my_conf/model/two_layer.yaml",
        "my_data.py",
        "my_models.py",
    ]


def test_the_fashion_mnist_example_trains_as_the_page_says(run_main, tmp_path, monkeypatch):
    for path, text in page_files().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    fake_fashion_mnist(tmp_path / "data")  # the config's root: data, in the directory the command runs from
    monkeypatch.syspath_prepend(str(tmp_path))  # as `python -m` puts the current directory first
    for module in ("my_data", "my_models"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    command = ["python", "-m", "lenetlab.train", "--config-dir", "my_conf", "data=fashion"]
    assert command in page_commands()

    short = ["trainer.max_epochs=1", "++trainer.limit_train_batches=3", "++trainer.limit_val_batches=2"]
    args = [*short, "trainer.accelerator=cpu", "callbacks.progress_bar=null", f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_main("lenetlab.train", *command[3:], *args)

    assert result.returncode == 0, result.stderr[-3000:]
    status = read_status(tmp_path / "run")
    assert status["status"] == "finished"
    assert 0 <= status["metrics"]["test_error"] <= 1
    fashion = sys.modules["my_data"].FashionMNISTData  # the page's datamodule did the run, not lenetlab's MNIST
    assert (status["mean"], status["std"]) == (fashion.mean, fashion.std)
