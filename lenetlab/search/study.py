"""The study and its workers: open (or join) it, run one lenetlab training per trial, stop at ``search.n_trials``."""

from __future__ import annotations

import functools
import logging
import time
import warnings
from pathlib import Path

import optuna
import sqlalchemy
import torch
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from lenetlab.config import ConfigError
from lenetlab.output import percent
from lenetlab.run.fit import RunStopped, train
from lenetlab.run.status import CONTINUE_SEARCH, write_status
from lenetlab.search.settings import PRUNERS, SAMPLERS
from lenetlab.search.space import PerTrialSeed, run_config, search_space, suggest

log = logging.getLogger(__name__)

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
OBJECTIVE = "val_error"  # a trial's value: its best validation error


class SlotTaken(Exception):
    """Another worker started the study's last missing trial at the same moment."""


class NoValidationError(Exception):
    """The trial's run ended (diverged) before its first validation: FAIL, and the search goes on."""


class SearchStuck(RuntimeError):
    """Every recent trial failed: the settings, not the sampled values, are likely at fault."""


# a trial that fails is recorded as FAIL and the search goes on; any other error stops it
TRIAL_FAILURES = (SlotTaken, NoValidationError, torch.cuda.OutOfMemoryError)


def _record_dead(search_dir: Path, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """A trial whose process died (marked FAIL by the heartbeat check): say so in its run directory."""
    run_dir = search_dir / trial.user_attrs.get("run_dir", "")
    if "run_dir" in trial.user_attrs and run_dir.is_dir():
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
                    heartbeat_stale_trial_callback=functools.partial(_record_dead, search_dir),
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
    study = optuna.create_study(
        study_name=s.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([OBJECTIVE])  # what optuna-dashboard calls it, instead of "Objective 0"
    return study


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
    """The Optuna objective: one lenetlab run per trial, not tested; its best validation error."""
    n_trials = cfg.search.n_trials

    def objective(trial: optuna.Trial) -> float:
        taken = trial.study.get_trials(deepcopy=False, states=(*COUNTED, TrialState.RUNNING))
        if sum(t.number < trial.number for t in taken) >= n_trials:
            trial.set_user_attr("status", "not run: another worker took the last slot")
            raise SlotTaken(f"trial {trial.number}: the last of {n_trials} trials was started by another worker")
        values = {key: suggest(trial, name, dist) for name, (key, dist) in space.items()}
        run_dir = search_dir / f"trial_{trial.number}"
        trial.set_user_attr("run_dir", run_dir.name)  # relative to the search directory, which may move
        # a trial is chosen by its validation error: only the final run sees the test set
        run_cfg = run_config(cfg, {**values, "test": False}, run_dir)
        (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        OmegaConf.save(run_cfg, run_dir / ".hydra" / "config.yaml")
        try:
            result = train(run_cfg, callbacks=[PruneOnValError(trial)], to_continue=CONTINUE_SEARCH)
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
                f"see {search_dir / ran[0].user_attrs['run_dir']}/status.json; fix the settings and run the same command to resume"
            )


def format_params(params: dict) -> str:
    """``lr=0.0123, filters=16``: a trial's values as the terminal shows them (3 significant digits)."""
    return ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}" for name, value in params.items()
    )


def trial_line(trial: optuna.trial.FrozenTrial) -> str:
    """``trial 3 complete: val error 1.90% (lr=0.0123, filters=16, ...)``: one line per trial on the terminal."""
    outcome = f": val error {percent(trial.value)}" if trial.value is not None else ""
    return f"trial {trial.number} {trial.state.name.lower()}{outcome} ({format_params(trial.params)})"
