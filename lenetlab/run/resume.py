"""``resume=true`` and ``ckpt_path``: the run or sweep to continue (Hydra pointed at it), and the checkpoint and
epoch a run continues from."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, read_write

from lenetlab.config import ConfigError
from lenetlab.config.overrides import hydra_quoted, override_key
from lenetlab.models.safe_checkpoint import CheckpointError, read_checkpoint

log = logging.getLogger(__name__)

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"

# keys that do not change what a run computes, only how it is started
START_KEYS = ("resume", "ckpt_path", "hydra.run.dir", "hydra.sweep.dir")


def command_overrides(overrides) -> frozenset[str]:
    """The overrides that define what a run computes: all but the start keys and Hydra's own."""
    return frozenset(
        o for o in overrides if override_key(o) not in START_KEYS and not override_key(o).startswith("hydra.")
    )


def _search_root(pattern: str) -> Path | None:
    """The fixed part of a directory pattern such as ``outputs/runs/${now:...}/${now:...}``."""
    prefix = pattern.split("${", 1)[0]
    return Path(prefix) if prefix and "${" in pattern else None


def _explicit(config: DictConfig, key: str) -> bool:
    return any(override_key(o) == key for o in config.hydra.overrides.hydra)


def latest_matching(config: DictConfig, multirun: bool) -> Path | None:
    """The newest earlier run (or sweep) under the same output root started with the same overrides."""
    key = "sweep" if multirun else "run"
    root = _search_root(OmegaConf.to_container(config.hydra[key], resolve=False)["dir"])
    if root is None or not root.is_dir():
        return None
    wanted = command_overrides(config.hydra.overrides.task)
    found = []
    for record in root.glob("**/multirun.yaml" if multirun else "**/.hydra/overrides.yaml"):
        saved = OmegaConf.load(record)
        overrides = saved.hydra.overrides.task if multirun else saved
        if command_overrides(overrides) == wanted:
            found.append(record)
    if not found:
        return None
    newest = max(found, key=lambda p: p.stat().st_mtime)
    return newest.parent if multirun else newest.parent.parent


def _run_of(checkpoint: Path) -> Path | None:
    """The lenetlab run directory whose ``checkpoints/last.ckpt`` is ``checkpoint``, if any.

    Only the last checkpoint continues its run in place: starting from an earlier one (``best.ckpt``)
    there would drop the run's later curve points, so such a start gets a new directory.
    """
    run = checkpoint.parent.parent
    return run if checkpoint == run / LAST_CHECKPOINT and (run / ".hydra").is_dir() else None


def choose_output_dir(config: DictConfig, multirun: bool) -> Path:
    """Point ``hydra.run.dir`` (``hydra.sweep.dir``) at the run being resumed, and return the directory.

    An explicit ``hydra.run.dir=``/``hydra.sweep.dir=`` always wins; with ``resume=true`` it must hold a run
    (a mistyped directory would otherwise train a new run from scratch). Otherwise ``resume=true`` picks the
    newest earlier run (sweep) of the same command, and a ``ckpt_path`` inside a run's ``checkpoints/``
    continues that run's directory.
    """
    key = "sweep" if multirun else "run"
    target = None
    ckpt = config.get("ckpt_path")
    if _explicit(config, f"hydra.{key}.dir"):
        explicit = Path(str(config.hydra[key].dir))
        if not multirun and config.get("resume") and not ckpt and not (explicit / ".hydra").is_dir():
            raise ConfigError(
                f"resume=true: hydra.run.dir={str(explicit)!r} holds no run to continue; "
                "check the directory, or leave out resume=true to start a new run there"
            )
    elif not multirun and ckpt and _run_of(Path(ckpt)):
        target = _run_of(Path(ckpt))
    elif config.get("resume"):
        target = latest_matching(config, multirun)
        if target is None:
            log.info("resume=true: no earlier %s of this command, starting a new one", key)
    if target is not None:
        if multirun:  # a run says which run and epoch it continues as it starts (lenetlab.run.fit)
            log.info("resume: continuing the sweep %s", target)
        with read_write(config.hydra):
            config.hydra[key].dir = str(target)
            # a sweep's jobs are composed again from these overrides, not from the config above
            config.hydra.overrides.hydra.append(f"hydra.{key}.dir={hydra_quoted(str(target))}")
    return Path(str(config.hydra[key].dir))


def resume_checkpoint(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint this run starts from: ``ckpt_path``, else with ``resume=true`` the run's own last one."""
    if cfg.get("ckpt_path"):
        return str(cfg.ckpt_path)
    last = Path(output_dir) / LAST_CHECKPOINT
    return str(last) if cfg.get("resume") and last.is_file() else None


def first_epoch_after(checkpoint: str) -> int:
    """The epoch a run resumed from ``checkpoint`` starts with (Lightning's checkpoints end an epoch)."""
    epoch = read_checkpoint(checkpoint).get("epoch")
    if not isinstance(epoch, int):
        raise CheckpointError(f"{checkpoint}: not a Lightning checkpoint (it has no epoch)")
    return epoch + 1


def last_checkpoint_epoch(out: Path) -> int | None:
    """The last epoch the run's ``checkpoints/last.ckpt`` holds (where ``resume=true`` continues), if any."""
    last = Path(out) / LAST_CHECKPOINT
    return first_epoch_after(str(last)) - 1 if last.is_file() else None
