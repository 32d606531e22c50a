"""``python -m lenetlab.search``: run (or resume, or join) the study, then write its outputs and the final run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lenetlab import CONF_DIR
from lenetlab.config import refuse
from lenetlab.config.overrides import checks_command_line


class _NoTracebackForCtrlC(logging.Filter):
    """Optuna's warning for a trial stopped by Ctrl-C, without the traceback of where the trial was stopped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info = record.exc_text = None
        return True


def quiet_optuna() -> None:
    """Optuna's warnings only (each trial gets lenetlab's line instead, trial_line), and a Ctrl-C in one line."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for handler in logging.getLogger("optuna").handlers:  # Optuna's own stderr handler
        if not any(isinstance(f, _NoTracebackForCtrlC) for f in handler.filters):
            handler.addFilter(_NoTracebackForCtrlC())


def search(cfg: DictConfig) -> dict:
    """Run (or resume) the study, then write its outputs and, if ``search.final``, the final run."""
    from optuna.trial import TrialState

    from lenetlab.output import percent
    from lenetlab.output.atomic import atomic_write_text
    from lenetlab.search.final import final_run
    from lenetlab.search.outputs import best_yaml, write_figures, write_trials_csv
    from lenetlab.search.settings import check_settings
    from lenetlab.search.space import search_space
    from lenetlab.search.study import format_params, open_study, optimize

    search_dir = Path(cfg.output_dir)
    check_settings(cfg)
    quiet_optuna()
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
    print(f"best: trial {best.number}, val error {percent(best.value)} ({format_params(best_values)})", flush=True)
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
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="search")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: a bad value stops with one line (exit 2); Ctrl-C leaves a resumable study (exit 130)."""
    # torch, Lightning and Optuna are imported once the command line is checked
    from lenetlab.config.bad_input import BAD_INPUT
    from lenetlab.run.precision import tf32_on_gpu
    from lenetlab.search.study import SearchStuck

    tf32_on_gpu(cfg.trainer.accelerator)
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
