"""What a search writes besides its trials: ``trials.csv``, the figures and ``best.yaml``."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import hydra
import numpy as np
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from lenetlab.atomic import atomic_write_text
from lenetlab.formats import percent
from lenetlab.search.space import config_group, run_config

log = logging.getLogger(__name__)


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
