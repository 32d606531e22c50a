"""Run each study through lenetlab's own commands, as a subprocess, and remember which are done.

A study's directory holds a ``study.json``: the command it runs, its status and its wall time. Running
``python -m lenetlab.reproduce`` again skips the done studies and resumes the others: a sweep continues
with ``resume=true`` (finished jobs are skipped), a search continues its Optuna study.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lenetlab.config import ConfigError
from lenetlab.config.overrides import hydra_quoted, override_key
from lenetlab.data.mnist import PROJECT_ROOT
from lenetlab.output.atomic import atomic_write_text
from lenetlab.reproduce.claims import CHECKS, unknown_checks
from lenetlab.run.status import job_dirs, read_status

log = logging.getLogger(__name__)

RECORD = "study.json"
COMMANDS = ("train", "search", "params")


@dataclass
class Study:
    """One study: its name, the command it runs and the overrides it runs with."""

    name: str
    command: str  # train | search | params
    overrides: list[str] = field(default_factory=list)
    gpu: bool = False
    models: dict[str, list[str]] = field(default_factory=dict)  # params only

    def spec(self) -> list[str]:
        """What the study runs, without where it writes (so a moved output directory still matches)."""
        if self.command == "params":
            return ["lenetlab.params", *(f"{name}: {' '.join(o)}" for name, o in self.models.items())]
        return [f"lenetlab.{self.command}", *self.overrides]

    def argv(self, out: Path) -> list[str]:
        """The lenetlab command line of this study, writing into ``out``."""
        if self.command == "train":
            return ["lenetlab.train", "-m", *self.overrides, f"hydra.sweep.dir={hydra_quoted(str(out))}", "resume=true"]
        if self.command == "search":
            return ["lenetlab.search", *self.overrides, f"hydra.run.dir={hydra_quoted(str(out))}"]
        raise ValueError(f"study {self.name} runs no command line")


def merge_overrides(*groups: list[str]) -> list[str]:
    """The overrides in order, a key given again replacing its earlier value (so each key appears once)."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            merged.pop(override_key(override), None)
            merged[override_key(override)] = override
    return list(merged.values())


def selected(cfg: DictConfig) -> list[str]:
    """The names in ``studies`` (``all``: every study), checked against the catalogue; ConfigError if unknown."""
    known = list(cfg.study)
    wanted = cfg.studies
    if wanted == "all":
        return known
    names = [wanted] if isinstance(wanted, str) else list(wanted) if wanted is not None else []
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigError(f"studies={names!r} is not accepted: expected all or a list of {', '.join(known)}")
    return [n for n in known if n in names]


def build(cfg: DictConfig, name: str) -> Study:
    """Study ``name`` with the profile's and the user's overrides added to its own."""
    spec = cfg.study[name]
    if spec.command not in COMMANDS:
        raise ConfigError(f"study.{name}.command={spec.command!r} is not accepted: expected {' | '.join(COMMANDS)}")
    extra = [] if spec.command == "params" else [*cfg.profile.train, *cfg.profile.study.get(name, []), *cfg.overrides]
    return Study(
        name,
        spec.command,
        merge_overrides(list(spec.get("overrides") or []), list(extra)),
        bool(spec.get("gpu", False)),
        {k: list(v) for k, v in (spec.get("models") or {}).items()},
    )


def read_record(study_dir: Path) -> dict | None:
    path = study_dir / RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def check_consistent(study: Study, study_dir: Path) -> None:
    """Refuse to continue a study directory that was started with another command (another profile, say)."""
    record = read_record(study_dir)
    if record and record["command"] != study.spec():
        raise ConfigError(
            f"{study_dir} holds study {study.name!r} run as `{' '.join(record['command'])}`, not "
            f"`{' '.join(study.spec())}`: choose another hydra.run.dir (or delete that directory)"
        )


def progress(study: Study, study_dir: Path) -> int | None:
    """How far the study got: a search's counted (complete or pruned) trials, a sweep's finished runs."""
    if study.command == "search":
        return search_trials(study_dir)
    if study.command == "train":
        return sum((read_status(job) or {}).get("status") == "finished" for job in job_dirs(study_dir))
    return None


def search_trials(study_dir: Path) -> int | None:
    """The complete and pruned trials of the search in ``study_dir`` (its own ``study.db``), None if none started."""
    import optuna

    database = study_dir / "study.db"
    if not database.is_file():
        return None
    storage = optuna.storages.RDBStorage(f"sqlite:///{database.resolve()}")
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return sum(
        len(optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False, states=states))
        for name in optuna.get_all_study_names(storage)
    )


def _write_record(study: Study, study_dir: Path, status: str, wall_s: float, **more) -> None:
    """``study.json``: the command, status and wall time, how far it got, and the attempts that were interrupted."""
    record = {"study": study.name, "command": study.spec(), "status": status, "wall_s": round(wall_s, 1)}
    record |= {"returncode": None, "interruptions": [], **more}
    study_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(study_dir / RECORD, json.dumps(record, indent=2) + "\n")


def run_study(study: Study, study_dir: Path) -> str:
    """Run (or resume) ``study`` into ``study_dir`` unless it is done; return its status (done | failed).

    An earlier attempt that did not finish (killed, interrupted or failed) is kept in the record's
    ``interruptions``: its wall time so far, exit status and how far it had got.
    """
    record = read_record(study_dir) or {}
    if record.get("status") == "done":
        log.info("%s: done before (%s s), skipped", study.name, record["wall_s"])
        return "done"
    before = record.get("wall_s", 0.0)  # an interrupted attempt's time counts too
    interruptions = record.get("interruptions", [])
    if record:
        stop = {"after_s": before, "returncode": record.get("returncode"), "progress": progress(study, study_dir)}
        interruptions = [*interruptions, stop]
        log.info("%s: resumed after %d interruption(s)", study.name, len(interruptions))
    _write_record(study, study_dir, "started", before, interruptions=interruptions)
    start = time.monotonic()
    if study.command == "params":
        atomic_write_text(study_dir / "params.json", json.dumps(parameter_counts(study.models), indent=2) + "\n")
        returncode = 0
    else:
        argv = [sys.executable, "-m", *study.argv(study_dir)]
        log.info("%s: %s", study.name, " ".join(argv[2:]))
        # the subprocess imports this lenetlab, wherever it is started from
        path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        try:
            returncode = subprocess.run(argv, env={**os.environ, "PYTHONPATH": path}, check=False).returncode
        finally:
            _write_record(study, study_dir, "started", before + time.monotonic() - start, interruptions=interruptions)
    status = "done" if returncode == 0 else "failed"
    wall_s = before + time.monotonic() - start
    _write_record(study, study_dir, status, wall_s, returncode=returncode, interruptions=interruptions,
                  progress=progress(study, study_dir))  # fmt: skip
    if status == "failed":
        log.error("%s: exit status %d; run the same command again to resume it", study.name, returncode)
    return status


def parameter_counts(models: dict[str, list[str]]) -> dict[str, dict]:
    """Per model: total, conv and fully connected parameters and the per-layer table (no training)."""
    import hydra
    from hydra.utils import instantiate

    from lenetlab.models import count_parameters, parameter_table

    counts = {}
    for name, overrides in models.items():
        net = instantiate(hydra.compose(config_name="train", overrides=list(overrides)).model)
        layers = parameter_table(net)
        conv = sum(row["total"] for row in layers if row["layer"].startswith("Conv"))
        total = count_parameters(net)
        counts[name] = {"total": total, "conv": conv, "fc": total - conv, "layers": layers}
    return counts


def check_gpu_results(gpu_results) -> None:
    """``gpu_results`` must be a directory holding at least one of the GPU sweeps."""
    if gpu_results is None:
        return
    path = Path(str(gpu_results))
    if not path.is_dir() or not any((path / name).is_dir() for name in ("learning_rate", "filters_runtime")):
        raise ConfigError(
            f"gpu_results={str(gpu_results)!r} is not accepted: expected a directory holding the sweep "
            "directories learning_rate/ and/or filters_runtime/ (and optionally benchmark_cuda.json)"
        )


def check_settings(config: DictConfig) -> None:
    """Refuse (ConfigError) a study, a claim, ``gpu_results`` or ``overrides`` that the reproduction cannot use."""
    out = Path(config.hydra.run.dir)
    for name in selected(config):
        check_consistent(build(config, name), out / name)
    check_gpu_results(config.gpu_results)
    if unknown := unknown_checks(config.claims):
        raise ConfigError(f"claims: check {', '.join(unknown)} is not accepted: expected one of {', '.join(CHECKS)}")
    if not isinstance(OmegaConf.to_object(config.overrides), list):
        raise ConfigError(f"overrides={config.overrides!r} is not accepted: expected a list of key=value")
