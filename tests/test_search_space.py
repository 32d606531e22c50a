"""A search's space and settings: the values its trials draw (bounds, integer types, log scale; fixed by the seed
and the trial's number), an entry added in YAML, and the settings refused by name before anything runs."""

import importlib.util
import json
import math

import optuna
import pytest
from conftest import FAST
from hydra import compose, initialize_config_dir
from optuna.trial import TrialState

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError
from lenetlab.run.status import read_status
from lenetlab.search import PerTrialSeed, check_settings, make_objective, open_study, search_space, suggest

# a trial in seconds: one short epoch
TINY = [*FAST, "trainer.max_epochs=1", "++trainer.limit_train_batches=4", "search.n_trials=3"]


def compose_search(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="search", overrides=list(overrides))


def test_sampled_values_respect_bounds_integer_types_and_log_scale():
    space = search_space(compose_search())
    study = optuna.create_study(sampler=PerTrialSeed(optuna.samplers.RandomSampler, seed=0))
    draws = []
    study.optimize(lambda t: draws.append({n: suggest(t, n, d) for n, (_, d) in space.items()}) or 0.0, n_trials=1000)

    lr, filters = [d["lr"] for d in draws], [d["filters"] for d in draws]
    kernels, batches = [d["kernel_size"] for d in draws], [d["batch_size"] for d in draws]
    assert all(1e-4 <= v <= 1e-1 for v in lr)
    assert all(type(v) is int and 8 <= v <= 64 for v in filters)
    assert all(type(v) is int and 16 <= v <= 128 for v in batches)
    assert set(kernels) == {3, 5}
    # log-uniform: as many draws below the geometric middle of the range as above it
    # (uniform sampling would put 3% of lr, 26% of filters and 27% of batch sizes there)
    for values, low, high in ((lr, 1e-4, 1e-1), (filters, 8, 64), (batches, 16, 128)):
        below = sum(v < math.sqrt(low * high) for v in values) / len(values)
        assert 0.42 < below < 0.58, (low, high, below)


def test_a_trials_draws_depend_only_on_seed_and_trial_number():
    space = search_space(compose_search())

    def draws(seed: int, n: int) -> list[dict]:
        study = optuna.create_study(sampler=PerTrialSeed(optuna.samplers.RandomSampler, seed=seed))
        study.optimize(lambda t: [suggest(t, k, d) for k, (_, d) in space.items()] and 0.0, n_trials=n)
        return [t.params for t in study.trials]

    first, again = draws(0, 4), draws(0, 2)
    assert first[:2] == again  # a resumed search does not replay trial 0's values as its trial 2
    assert len({json.dumps(p, sort_keys=True) for p in first}) == 4
    assert draws(1, 1) != first[:1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("search.sampler=grid", "search.sampler='grid' is not accepted: expected random | tpe"),
        ("search.pruner=early", "search.pruner='early' is not accepted: expected none | median | hyperband"),
        ("search.n_trials=0", "search.n_trials=0 is not accepted: expected an integer >= 1"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0 is not accepted in a search: each trial must validate once"),
        ("trainer.limit_val_batches=0", "trainer.limit_val_batches=0 is not accepted in a search"),
        ("+trainer.check_val_every_n_epoch=7", "trainer.check_val_every_n_epoch=7 is not accepted in a search"),
        (
            "search.space.lr.type=flaot",
            "search.space.lr.type='flaot' is not accepted: expected float | int | categorical",
        ),
        ("search.space.lr.key=optimizer.lrr", "search.space.lr.key='optimizer.lrr' is not accepted"),
        ("search.space.lr.low=0", "search.space.lr="),
    ],
)
def test_bad_search_settings_are_refused_by_name(override, message):
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
        check_settings(compose_search(override))


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is not None, reason="needs a machine without psycopg")
def test_a_storage_without_its_driver_is_named_without_the_password(tmp_path):
    cfg = compose_search("search.storage=postgresql://user:secret@localhost/db")
    with pytest.raises(ConfigError) as error:
        open_study(cfg, tmp_path)
    assert str(error.value) == (
        "search.storage='postgresql://user:***@localhost/db' needs the database driver 'psycopg', "
        "which is not installed (for PostgreSQL: pip install 'lenetlab[postgres]')"
    )


def test_a_search_space_entry_can_be_added_in_yaml_and_is_applied(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    cfg = compose_search(
        *TINY,
        "~search.space.batch_size",
        "+search.space.momentum={key: optimizer.momentum, type: float, low: 0.5, high: 0.9}",
    )
    # a pruner that stops every trial at its first report: the trial is PRUNED, its run says so
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=-1.0))
    study.optimize(make_objective(cfg, search_space(cfg), tmp_path), n_trials=1)
    (trial,) = study.trials
    assert trial.state == TrialState.PRUNED
    assert set(trial.params) == {"lr", "filters", "kernel_size", "momentum"}
    status = read_status(tmp_path / "trial_0")
    assert status["status"] == "pruned" and "pruned at epoch 0" in status["reason"]
    assert status["hparams"]["batch_size"] == 50  # FAST's: not in this search space
    saved = (tmp_path / "trial_0" / ".hydra" / "config.yaml").read_text()
    assert f"momentum: {trial.params['momentum']}" in saved
