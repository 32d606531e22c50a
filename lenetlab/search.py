"""``python -m lenetlab.search``: a resumable, parallel Optuna study over lenetlab.train's configuration.

Each trial is a normal lenetlab run in ``<search dir>/trial_<number>/``; the study lives in an Optuna RDB
storage (SQLite in the search directory by default). At the end: ``trials.csv``, figures, ``best.yaml``
and, unless ``search.final=false``, the best values retrained on all 60,000 training images and tested.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import sys
import time
import warnings
from pathlib import Path

import hydra
import numpy as np
import optuna
import sqlalchemy
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from lenetlab.atomic import atomic_write_text
from lenetlab.formats import percent
from lenetlab.overrides import checks_command_line
from lenetlab.run_status import write_status
from lenetlab.train import RunStopped, train
from lenetlab.validation import BAD_INPUT, ConfigError, check_data, check_output_dir, refuse, validate

log = logging.getLogger(__name__)

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
SAMPLERS = {"random": optuna.samplers.RandomSampler, "tpe": optuna.samplers.TPESampler}
PRUNERS = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}


_ABSENT = object()


class SlotTaken(Exception):
    """Another worker started the study's last missing trial at the same moment."""


class NoValidationError(Exception):
    """The trial's run ended (diverged) before its first validation: FAIL, and the search goes on."""


class SearchStuck(RuntimeError):
    """Every recent trial failed: the settings, not the sampled values, are likely at fault."""


# a trial that fails is recorded as FAIL and the search goes on; any other error stops it
TRIAL_FAILURES = (SlotTaken, NoValidationError, torch.cuda.OutOfMemoryError)


# --- search space ---------------------------------------------------------------------------------


def search_space(cfg: DictConfig) -> dict[str, tuple[str, BaseDistribution]]:
    """``search.space`` as ``{name: (training key, Optuna distribution)}``; ConfigError on a bad entry."""
    space = {}
    for name, spec in cfg.search.space.items():
        where = f"search.space.{name}"
        if not isinstance(spec, DictConfig) or "key" not in spec:
            raise ConfigError(f"{where}={spec!r} is not accepted: expected {{key: <training key>, type: ...}}")
        if OmegaConf.select(cfg, spec.key, default=_ABSENT) is _ABSENT or spec.key.split(".")[0] == "search":
            raise ConfigError(f"{where}.key={spec.key!r} is not accepted: expected a key of the training config")
        kind = spec.get("type")
        try:
            if kind == "categorical":
                distribution = CategoricalDistribution(OmegaConf.to_container(spec.choices))
            elif kind == "float":
                distribution = FloatDistribution(spec.low, spec.high, log=spec.get("log", False), step=spec.get("step"))
            elif kind == "int":
                distribution = IntDistribution(
                    spec.low, spec.high, log=spec.get("log", False), step=spec.get("step") or 1
                )
            else:
                raise ConfigError(f"{where}.type={kind!r} is not accepted: expected float | int | categorical")
        except (ValueError, TypeError, AttributeError) as error:
            raise ConfigError(f"{where}={OmegaConf.to_container(spec)} is not accepted: {error}") from None
        space[name] = (spec.key, distribution)
    return space


def suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution):
    """Draw ``name`` from ``distribution`` through the trial's public suggest API."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


class PerTrialSeed(optuna.samplers.BaseSampler):
    """Wraps a sampler, re-created before every trial with a seed made of (seed, trial number).

    A trial's draws then depend only on its number: a resumed search does not replay the first
    trials' values, and workers sharing a study do not draw the same ones.
    """

    def __init__(self, make, seed: int):
        self.make, self.seed = make, seed
        self.inner = make(seed=seed)

    def before_trial(self, study, trial) -> None:
        self.inner = self.make(seed=int(np.random.SeedSequence([self.seed, trial.number]).generate_state(1)[0]))
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self.inner.after_trial(study, trial, state, values)


# --- study ----------------------------------------------------------------------------------------


def check_settings(cfg: DictConfig) -> None:
    """Refuse bad ``search.*`` values (ConfigError naming the key) before anything is written."""
    s = cfg.search
    for key in ("n_trials", "max_failed_in_a_row", "heartbeat_interval", "grace_period", "final_max_epochs", "seed"):
        value, low = s.get(key), 0 if key in ("final_max_epochs", "seed") else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"search.{key}={value!r} is not accepted: expected an integer >= {low}")
    # a trial is scored by its validation error: settings that never validate would fail every trial
    t = cfg.trainer
    every = t.get("check_val_every_n_epoch") or 1
    for key, value, ok in (
        ("max_epochs", t.max_epochs, isinstance(t.max_epochs, int) and t.max_epochs >= 1),
        ("limit_val_batches", t.get("limit_val_batches", 1.0), t.get("limit_val_batches", 1.0) != 0),
        ("check_val_every_n_epoch", every, isinstance(t.max_epochs, int) and every <= t.max_epochs),
    ):
        if not ok:
            raise ConfigError(f"trainer.{key}={value!r} is not accepted in a search: each trial must validate once")
    for key, options in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if s.get(key) not in options:
            raise ConfigError(f"search.{key}={s.get(key)!r} is not accepted: expected {' | '.join(options)}")
    search_space(cfg)


class StartChecks(Callback):
    """Hydra callback (replacing lenetlab.train's): refuse bad search settings before the search
    directory is written. An existing directory is fine: running the same command again resumes."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            check_settings(config)
            validate(config)
            check_output_dir(config.hydra.run.dir)
            check_data(config)
        except BAD_INPUT as error:
            refuse(error)


def _record_dead(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """A trial whose process died (marked FAIL by the heartbeat check): say so in its run directory."""
    run_dir = Path(trial.user_attrs.get("run_dir", "/nonexistent"))
    if run_dir.is_dir():
        write_status(run_dir, "failed", reason="its process died: no heartbeat within search.grace_period")


def _without_password(url: str) -> str:
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url


def open_study(cfg: DictConfig, search_dir: Path) -> optuna.Study:
    """Create the study, or load it if it exists (a resume, or another worker's)."""
    s = cfg.search
    sampler = PerTrialSeed(SAMPLERS[s.sampler], s.seed)
    pruner = PRUNERS[s.pruner]()
    url = s.storage or f"sqlite:///{(search_dir / 'study.db').resolve()}"
    shown = _without_password(url)
    # SQLite serializes writers: wait for the lock instead of failing when workers share the file
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=s.heartbeat_interval,
                    grace_period=s.grace_period,
                    heartbeat_stale_trial_callback=_record_dead,
                )
                break
            except sqlalchemy.exc.DBAPIError as error:  # workers creating the tables at once: the next try finds them
                if attempt == 3:
                    raise ConfigError(f"search.storage={shown!r} cannot be opened: {error.orig}") from None
                time.sleep(1 + attempt)
            except ImportError as error:  # Optuna's, raised from the driver's ModuleNotFoundError
                driver = getattr(error.__cause__, "name", None) or error.name
                raise ConfigError(
                    f"search.storage={shown!r} needs the database driver {driver!r}, which is not installed "
                    "(for PostgreSQL: pip install 'lenetlab[postgres]')"
                ) from None
            except Exception as error:  # SQLAlchemy: ArgumentError, NoSuchModuleError...
                raise ConfigError(
                    f"search.storage={shown!r} is not accepted: expected an Optuna RDB URL such as "
                    f"sqlite:///study.db or postgresql://user:password@host/db "
                    f"({type(error).__name__}: {str(error).replace(url, shown)})"
                ) from None
    return optuna.create_study(
        study_name=s.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )


def run_config(cfg: DictConfig, values: dict, output_dir: Path) -> DictConfig:
    """The training config of one run: the composed config without ``search``, plus ``values``."""
    run = copy.deepcopy(cfg)
    with open_dict(run):
        del run["search"]
        run.output_dir = str(output_dir)
        for key, value in values.items():
            OmegaConf.update(run, key, value, merge=False, force_add=True)
    return run


class PruneOnValError(PyTorchLightningPruningCallback):
    """Optuna's Lightning pruning callback on ``val/error``; the run ends with status ``pruned``."""

    def __init__(self, trial: optuna.Trial):
        super().__init__(trial, monitor="val/error")

    def on_validation_end(self, trainer, pl_module) -> None:
        try:
            super().on_validation_end(trainer, pl_module)
        except optuna.TrialPruned as pruned:
            raise RunStopped("pruned", str(pruned)) from None


def make_objective(cfg: DictConfig, space: dict, search_dir: Path):
    """The Optuna objective: one lenetlab run per trial; its best validation error."""
    n_trials = cfg.search.n_trials

    def objective(trial: optuna.Trial) -> float:
        taken = trial.study.get_trials(deepcopy=False, states=(*COUNTED, TrialState.RUNNING))
        if sum(t.number < trial.number for t in taken) >= n_trials:
            trial.set_user_attr("status", "not run: another worker took the last slot")
            raise SlotTaken(f"trial {trial.number}: the last of {n_trials} trials was started by another worker")
        values = {key: suggest(trial, name, dist) for name, (key, dist) in space.items()}
        run_dir = search_dir / f"trial_{trial.number}"
        trial.set_user_attr("run_dir", str(run_dir))
        run_cfg = run_config(cfg, values, run_dir)
        (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        OmegaConf.save(run_cfg, run_dir / ".hydra" / "config.yaml")
        try:
            result = train(run_cfg, callbacks=[PruneOnValError(trial)])
        except Exception as error:
            write_status(run_dir, "failed", reason=f"{type(error).__name__}: {error}")
            raise
        trial.set_user_attr("status", result["status"])
        if result["status"] == "pruned":
            raise optuna.TrialPruned(result["reason"])
        best = result["metrics"]["best_val_error"]
        if best is None:
            raise NoValidationError(
                f"trial {trial.number} {result['status']} before any validation: {result['reason']}"
            )
        return best

    return objective


def optimize(cfg: DictConfig, study: optuna.Study, search_dir: Path) -> None:
    """Run trials until the study holds ``search.n_trials`` COMPLETE + PRUNED ones (all workers together)."""
    objective = make_objective(cfg, search_space(cfg), search_dir)
    n_trials, waiting, failed_in_a_row = cfg.search.n_trials, False, 0
    ran: list[optuna.trial.FrozenTrial] = []  # the trial this process just ran
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # RUNNING trials of dead processes -> FAIL
        done = len(study.get_trials(deepcopy=False, states=COUNTED))
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if done >= n_trials:
            return
        if done + running >= n_trials:  # the last ones run elsewhere (or died: failed after grace_period)
            if not waiting:
                log.info("%d of %d trials done, %d running in other processes: waiting", done, n_trials, running)
            waiting = True
            time.sleep(cfg.search.heartbeat_interval)
            continue
        waiting = False
        ran.clear()
        study.optimize(
            objective, n_trials=1, catch=TRIAL_FAILURES, gc_after_trial=True, callbacks=[lambda _, t: ran.append(t)]
        )
        if ran and ran[0].state in COUNTED:  # Optuna's own line (full precision) is turned off in search()
            log.info("%s", trial_line(ran[0]))
        failed = ran and ran[0].state == TrialState.FAIL and "run_dir" in ran[0].user_attrs
        failed_in_a_row = failed_in_a_row + 1 if failed else 0
        if failed_in_a_row >= cfg.search.max_failed_in_a_row:
            raise SearchStuck(
                f"the last {failed_in_a_row} trials failed (search.max_failed_in_a_row): "
                f"see {ran[0].user_attrs['run_dir']}/status.json; fix the settings and run the same command to resume"
            )


def trial_line(trial: optuna.trial.FrozenTrial) -> str:
    """``trial 3 complete: val error 1.90% (lr=0.0123, filters=16, ...)``: one line per trial on the terminal."""
    values = ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}" for name, value in trial.params.items()
    )
    outcome = f": val error {percent(trial.value)}" if trial.value is not None else ""
    return f"trial {trial.number} {trial.state.name.lower()}{outcome} ({values})"


# --- outputs --------------------------------------------------------------------------------------


def write_trials_csv(study: optuna.Study, search_dir: Path) -> None:
    """Every trial's number, state, objective (best val/error), sampled values, run status, directory and seconds."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "params", "user_attrs", "duration"))
    frame["duration"] = frame["duration"].dt.total_seconds()
    frame = frame.rename(columns={"value": "best_val_error", "duration": "duration_s"}).convert_dtypes()
    atomic_write_text(search_dir / "trials.csv", frame.to_csv(index=False))


def write_figures(study: optuna.Study, search_dir: Path) -> list[str]:
    """history.png, params.png (each parameter against the objective, log axis where log-sampled) and
    importances.png (only once two completed trials differ), at the report's resolution; return the names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    from lenetlab.figure_files import save_figure

    logging.getLogger("matplotlib.category").setLevel(logging.WARNING)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    numeric = {
        name: dist
        for trial in complete
        for name, dist in trial.distributions.items()
        if not isinstance(dist, CategoricalDistribution)
    }
    plots = {"history": vis.plot_optimization_history, "params": vis.plot_slice}
    if len({t.value for t in complete}) >= 2:
        plots["importances"] = vis.plot_param_importances
    else:
        log.info("importances.png: needs two completed trials with different results (%d completed)", len(complete))
    written = []
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                axes = plot(study)
            except (ValueError, RuntimeError) as error:  # e.g. no completed trial yet
                log.warning("%s.png not drawn: %s", name, error)
                continue
        if name != "importances":
            np.ravel(axes)[0].set_ylabel("best val/error")
        if name == "params":
            for ax in np.ravel(axes):
                if ax.get_xlabel() in numeric:
                    _show_range(ax, numeric[ax.get_xlabel()])
        figure = np.ravel(axes)[0].figure
        written += [path.name for path in save_figure(figure, search_dir, name, bbox_inches="tight")]
        plt.close(figure)
    return written


def _show_range(ax, dist: FloatDistribution | IntDistribution) -> None:
    """The whole sampled range on the x axis (so the spread of the draws shows), integers ticked at powers of 2."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xlim(dist.low, dist.high)
    if dist.log:
        ax.xaxis.set_minor_formatter(NullFormatter())
        if isinstance(dist, IntDistribution):
            ax.set_xticks([2**k for k in range(dist.low.bit_length() - 1, dist.high.bit_length()) if dist.low <= 2**k])
            ax.xaxis.set_major_formatter(ScalarFormatter())


def best_yaml(cfg: DictConfig, best: optuna.trial.FrozenTrial, values: dict, search_dir: Path) -> str:
    """A primary config for ``lenetlab.train``: ``train`` with the search's group choices, the sampled
    values and every other training key the search changed (its epochs, the user's overrides)."""
    defaults = hydra.compose(config_name="train", return_hydra_config=True).hydra.runtime.choices
    choices = {
        group: choice
        for group, choice in HydraConfig.get().runtime.choices.items()
        if group in defaults and not group.startswith("hydra/") and choice is not None and choice != defaults[group]
    }
    plain = hydra.compose(config_name="train", overrides=[f"{g}={c}" for g, c in choices.items()])
    run_cfg = run_config(cfg, values, Path())
    changed = OmegaConf.create(_diff(OmegaConf.to_container(run_cfg), OmegaConf.to_container(plain)))
    changed.pop("output_dir", None)
    for key, value in values.items():  # always shown, even where a value equals the default
        OmegaConf.update(changed, key, value, force_add=True)
    body = OmegaConf.create({"defaults": ["train", *({f"override /{g}": c} for g, c in choices.items()), "_self_"]})
    header = (
        f"# Best of study {cfg.search.study_name!r}: trial {best.number}, best val error {percent(best.value)}.\n"
        f"# Retrain it:  python -m lenetlab.train --config-dir {search_dir} --config-name best\n"
    )
    return header + OmegaConf.to_yaml(OmegaConf.merge(body, changed))


def _diff(new: dict, old: dict) -> dict:
    """The leaves of ``new`` that are missing from ``old`` or differ, as a nested dict."""
    out = {}
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            if sub := _diff(value, old[key]):
                out[key] = sub
        elif key not in old or old[key] != value:
            out[key] = value
    return out


def final_run(cfg: DictConfig, best: optuna.trial.FrozenTrial, space: dict, search_dir: Path) -> dict:
    """Retrain the best values on all 60,000 training images (no validation) and score the final weights on test."""
    previous = search_dir / "final.json"
    if previous.is_file() and json.loads(previous.read_text()).get("trial") == best.number:
        log.info("final run of trial %d already done: %s", best.number, previous)
        return json.loads(previous.read_text())
    values = {key: best.params[name] for name, (key, _) in space.items() if name in best.params}
    shutil.rmtree(search_dir / "final", ignore_errors=True)  # an interrupted final run, or one of an older best
    run_cfg = run_config(
        cfg,
        {
            **values,
            "data.full_train": True,
            "trainer.limit_val_batches": 0,
            # no validation, so nothing to rank checkpoints by: keep last.ckpt, test the final weights
            "callbacks.model_checkpoint.monitor": None,
            "callbacks.model_checkpoint.save_top_k": 0,
            "trainer.max_epochs": cfg.search.final_max_epochs,
        },
        search_dir / "final",
    )
    result = train(run_cfg)
    record = {
        "trial": best.number,
        "values": values,
        "best_val_error": best.value,
        "status": result["status"],
        "test_error": result["metrics"]["test_error"],
        "test_acc": result["metrics"]["test_acc"],
        "epochs": result["metrics"]["epochs"],
        "run_dir": result["output_dir"],
    }
    atomic_write_text(previous, json.dumps(record, indent=2) + "\n")
    return record


def search(cfg: DictConfig) -> dict:
    """Run (or resume) the study, then write its outputs and, if ``search.final``, the final run."""
    search_dir = Path(cfg.output_dir)
    check_settings(cfg)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial gets lenetlab's line instead (trial_line)
    search_dir.mkdir(parents=True, exist_ok=True)
    space = search_space(cfg)
    study = open_study(cfg, search_dir)
    optimize(cfg, study, search_dir)

    write_trials_csv(study, search_dir)
    figures = write_figures(study, search_dir)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise RuntimeError(f"study {cfg.search.study_name!r} has no completed trial: see {search_dir}/trials.csv")
    best = study.best_trial
    best_values = {key: best.params[name] for name, (key, _) in space.items() if name in best.params}
    atomic_write_text(search_dir / "best.yaml", best_yaml(cfg, best, best_values, search_dir))
    print(f"best: trial {best.number}, val error {percent(best.value)}, {best_values}", flush=True)
    summary = {"search_dir": str(search_dir), "best_trial": best.number, "best_val_error": best.value}
    summary |= {"values": best_values, "figures": figures}
    if cfg.search.final:
        final = final_run(cfg, best, space, search_dir)
        outcome = (
            f"test error {percent(final['test_error'])}" if final.get("test_error") is not None else final.get("status")
        )
        print(f"final: trained on train + validation images, {outcome}", flush=True)
        summary["final"] = final
    return summary


@checks_command_line("search")
@hydra.main(version_base="1.3", config_path="../conf", config_name="search")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: a bad value stops with one line (exit 2); Ctrl-C leaves a resumable study (exit 130)."""
    try:
        search(cfg)
    except BAD_INPUT as error:
        refuse(error)
    except SearchStuck as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume the study", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
