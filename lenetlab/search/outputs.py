"""What a search writes besides its trials: ``trials.csv``, the figures and ``best.yaml``."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import hydra
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lenetlab.output import percent
from lenetlab.output.atomic import atomic_write_text
from lenetlab.search.space import config_group, run_config
from lenetlab.search.study import OBJECTIVE

log = logging.getLogger(__name__)


def write_trials_csv(study: optuna.Study, search_dir: Path) -> None:
    """Every trial's number, state, objective (best val/error), sampled values, run status, directory and seconds."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "params", "user_attrs", "duration"))
    frame["duration"] = frame["duration"].dt.total_seconds()
    objective = {"value": "best_val_error", f"value_{OBJECTIVE}": "best_val_error"}  # unnamed, named
    frame = frame.rename(columns={**objective, "duration": "duration_s"}).convert_dtypes()
    atomic_write_text(search_dir / "trials.csv", frame.to_csv(index=False))


def write_figures(study: optuna.Study, search_dir: Path) -> list[str]:
    """history.png, params.png and importances.png (see lenetlab.search.figures), each once it has something
    to show, at the report's resolution; return the names written."""
    from lenetlab.output.figures import save_figure
    from lenetlab.search.figures import FIGURES

    written = []
    for name, draw in FIGURES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            figure = draw(study)
        if figure is None:
            log.info("%s.png not drawn: it needs completed trials (with two different results for importances)", name)
            continue
        written += [path.name for path in save_figure(figure, search_dir, name)]
    return written


def best_yaml(cfg: DictConfig, best: optuna.trial.FrozenTrial, values: dict, search_dir: Path) -> str:
    """A primary config for ``lenetlab.train``: ``train`` with the search's group choices (sampled ones
    included), the sampled values and every other training key the search changed (its epochs, the
    user's overrides, an experiment's settings: written out, so the file stands on its own)."""
    defaults = hydra.compose(config_name="train", return_hydra_config=True).hydra.runtime.choices
    choices = {
        group: choice
        for group, choice in HydraConfig.get().runtime.choices.items()
        if group in defaults and not group.startswith("hydra/") and group != "experiment" and choice is not None
    }
    choices |= {key: value for key, value in values.items() if config_group(key)}
    choices = {group: choice for group, choice in choices.items() if choice != defaults[group]}
    plain = hydra.compose(config_name="train", overrides=[f"{g}={c}" for g, c in choices.items()])
    run_cfg = run_config(cfg, values, Path())
    changed = OmegaConf.create(_diff(OmegaConf.to_container(run_cfg), OmegaConf.to_container(plain)))
    changed.pop("output_dir", None)
    for key, value in values.items():  # always shown, even where a value equals the default
        if not config_group(key):
            OmegaConf.update(changed, key, value, force_add=True)
    body = OmegaConf.create({"defaults": ["train", *({f"override /{g}": c} for g, c in choices.items()), "_self_"]})
    header = (
        f"# Best of study {cfg.search.study_name!r}: trial {best.number}, best val error {percent(best.value)}.\n"
        f"# Retrain it:  python -m lenetlab.train --config-dir {os.path.relpath(search_dir)} --config-name best\n"
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
