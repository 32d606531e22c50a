"""Unknown keys and config names are refused in one line (exit 2) with the closest valid name, nothing written."""

import subprocess
import sys

import pytest
from conftest import FAST, run_in_process

from lenetlab.config import ConfigError
from lenetlab.config.overrides import check_overrides
from lenetlab.params import main as params_main

EXPERIMENTS = "adam_decay, filters_runtime, kernel_size, learning_rate, mlp_baseline, recipe, seeds, speedrun"
REFUSED = [
    ("optimzer.lr=0.1", "error: unknown key 'optimzer.lr': did you mean 'optimizer.lr'?"),
    ("+optimzer.lr=0.1", "error: unknown key 'optimzer.lr': did you mean 'optimizer.lr'?"),
    ("experiment=nope", f"error: experiment=nope: no such experiment; choose from {EXPERIMENTS}"),
    ("+optimizer.wieght_decay=0.1", "error: unknown key 'optimizer.wieght_decay': did you mean 'optimizer.weight_decay'?"),
    ("++trainer.limit_trian_batches=2", "error: unknown key 'trainer.limit_trian_batches': did you mean 'trainer.limit_train_batches'?"),
    ("modle=mlp", "error: unknown key 'modle': did you mean 'model'?"),
    ("model=resnet", "error: model=resnet: no such model; choose from lenet, lenet_tiny, mlp, strided"),
    ("+model.batchnorm=true", "error: unknown key 'model.batchnorm' (--cfg job lists the keys)"),
    ("hydra/launcher=jobib", "error: hydra/launcher=jobib: no such hydra/launcher; choose from basic, joblib, submitit_local, submitit_slurm"),
    # keys below a value or a null: OmegaConf's own errors (not Hydra's) where Hydra composes them
    ("model.filters.a=3", "error: unknown key 'model.filters.a' (--cfg job lists the keys)"),
    ("hydra.sweeper.params.optimizer.lr=0.1", "error: unknown key 'hydra.sweeper.params.optimizer.lr' (--cfg job lists the keys)"),
]  # fmt: skip


start = run_in_process  # python -m <module> args in this process: (exit status, stderr)


@pytest.mark.parametrize(("override", "message"), REFUSED)
@pytest.mark.parametrize("module", ["lenetlab.train", "lenetlab.search"])
def test_a_typo_is_refused_in_one_line_and_nothing_is_written(
    monkeypatch, capsys, fake_mnist, tmp_path, module, override, message
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    code, err = start(monkeypatch, capsys, module, *FAST, override)
    assert (code, err) == (2, message + "\n")
    assert list(tmp_path.iterdir()) == []  # no outputs/, no run or search directory


def test_a_typo_in_a_sweep_is_refused_before_any_job(monkeypatch, capsys, fake_mnist, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    code, err = start(
        monkeypatch, capsys, "lenetlab.train", "-m", *FAST, "optimizer.lr=0.1,0.01", "trainer.max_epoch=1"
    )
    assert (code, err) == (2, "error: unknown key 'trainer.max_epoch': did you mean 'trainer.max_epochs'?\n")
    code, err = start(monkeypatch, capsys, "lenetlab.train", "-m", "model=lenet,mlp", "model.filters=8")
    assert (code, err) == (2, "error: unknown key 'model.filters' with model=mlp (--cfg job lists the keys)\n")
    # the grid of an experiment (hydra.sweeper.params) counts too
    code, err = start(monkeypatch, capsys, "lenetlab.train", "-m", "experiment=mlp_baseline", "model.kernel_size=5")
    assert (code, err) == (2, "error: unknown key 'model.kernel_size' with model=mlp (--cfg job lists the keys)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("override", "message"), REFUSED)
def test_params_refuses_the_same_typos(capsys, override, message):
    assert params_main([override]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_search_keys_are_checked_too():
    with pytest.raises(ConfigError, match=r"^unknown key 'search.n_trails': did you mean 'search.n_trials'\?$"):
        check_overrides("search", ["search.n_trails=3"])
    with pytest.raises(ConfigError, match=r"^search_space=nope: no such search_space; choose from recipe, report004$"):
        check_overrides("search", ["search_space=nope"])


@pytest.mark.parametrize(
    ("config", "overrides"),
    [
        ("train", ["++trainer.limit_train_batches=2"]),  # a key of the config, forced
        ("train", ["+trainer.gradient_clip_val=1.0"]),  # a lightning.Trainer argument the config does not set
        ("train", ["optimizer=adam", "optimizer.weight_decay=1e-4", "+optimizer.amsgrad=true"]),  # torch.optim.Adam's
        ("train", ["scheduler=exponential", "+scheduler.last_epoch=-1"]),
        ("train", ["+callbacks.model_checkpoint.every_n_epochs=2"]),
        ("train", ["+callbacks.stop={_target_: lightning.pytorch.callbacks.EarlyStopping, monitor: val/error}"]),
        ("train", ["-m", "optimizer.lr=0.1,0.01", "model=lenet,lenet_tiny", "model.kernel_size=5"]),
        ("train", ["experiment=[adam_decay,seeds]", "optimizer.lr=0.01"]),
        ("train", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "+hydra.job.env_set.OMP_NUM_THREADS=1"]),
        ("train", ["~optimizer.momentum", "hydra.run.dir=out"]),
        ("search", ["+search.space.momentum={key: optimizer.momentum, type: float, low: 0.5, high: 0.99}"]),
        ("search", ["~search.space.batch_size", "search.space.lr.high=0.5"]),
    ],
)
def test_keys_that_something_reads_are_accepted(config, overrides):
    check_overrides(config, [o for o in overrides if o != "-m"])


def test_a_config_dir_adds_its_options_as_hydras_config_dir_does(tmp_path):
    mine = tmp_path / "my configs, v2" / "experiment"  # a space and a comma: the path is quoted for Hydra
    mine.mkdir(parents=True)
    (mine / "mine.yaml").write_text("# @package _global_\noptimizer:\n  lr: 0.05\n")
    check_overrides("train", ["experiment=mine", "optimizer.lr=0.1,0.2"], config_dir=str(mine.parent), multirun=True)
    with pytest.raises(ConfigError, match=r"^experiment=nope: no such experiment; choose from .*learning_rate, mine, "):
        check_overrides("train", ["experiment=nope"], config_dir=str(mine.parent))
    with pytest.raises(ConfigError, match=r"^experiment=mine: no such experiment"):
        check_overrides("train", ["experiment=mine"])
    searchpath = f"hydra.searchpath=['file://{mine.parent}']"  # Hydra's other way to add a directory
    check_overrides("train", [searchpath, "experiment=mine"])


def test_a_grid_sweep_takes_lists_ranges_and_choices_only():
    with pytest.raises(ConfigError, match=r"^optimizer.lr=interval\(0.1,1\): a grid sweep takes a list of values"):
        check_overrides("train", ["optimizer.lr=interval(0.1,1)"], multirun=True)


# runs a command as `python -m` does, then names the heavy packages imported by the time it exits
WITHOUT_TORCH = """
import runpy, sys
command, sys.argv = sys.argv[1], sys.argv[1:]
try:
    runpy.run_module(command, run_name="__main__", alter_sys=True)
finally:
    print("imported:", [m for m in ("torch", "lightning") if m in sys.modules], file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("command", "override", "message"),
    [
        ("lenetlab.train", "optimzer.lr=0.1", "error: unknown key 'optimzer.lr': did you mean 'optimizer.lr'?"),
        (
            "lenetlab.train",
            "model=lenett",
            "error: model=lenett: no such model; choose from lenet, lenet_tiny, mlp, strided",
        ),
        (
            "lenetlab.search",
            "search.n_trails=3",
            "error: unknown key 'search.n_trails': did you mean 'search.n_trials'?",
        ),
        ("lenetlab.reproduce", "studyy=x", "error: unknown key 'studyy': did you mean 'study'?"),
        ("lenetlab.evaluate", "spilt=val", "error: unknown key 'spilt': did you mean 'split'?"),
        ("lenetlab.predict", "imagse=digits", "error: unknown key 'imagse': did you mean 'images'?"),
        ("lenetlab.export", "tolerence=1", "error: unknown key 'tolerence': did you mean 'tolerance'?"),
        ("lenetlab.params", "model.filter=8", "error: unknown key 'model.filter': did you mean 'model.filters'?"),
    ],
)
def test_a_typo_is_refused_before_torch_is_imported(tmp_path, command, override, message):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, command, override],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr) == (2, f"{message}\nimported: []\n")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["experiment=speedrun", "scheduler=none"],
            "error: scheduler has settings (pct_start) but no scheduler to take them: choose one (scheduler=...), "
            "or drop them (~scheduler.pct_start)",
        ),
        (["-m", "trainer.precision=32,bf17"], "error: trainer.precision='bf17' is not accepted: expected 32 | "),
        (["compile=maybe"], "error: compile='maybe' is not accepted: expected false | true | default | "),
    ],
)
def test_a_bad_value_of_lenetlabs_own_settings_is_refused_before_torch_is_imported(tmp_path, overrides, message):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, "lenetlab.train", *overrides],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert result.stderr.endswith("\nimported: []\n") and not list(tmp_path.iterdir())  # nothing written


def test_a_key_and_its_value_without_equals_get_a_hint():
    with pytest.raises(ConfigError, match=r"^'trainer.max_epochs' is not an override: write key=value, e.g\. "):
        check_overrides("train", ["trainer.max_epochs", "1"])
