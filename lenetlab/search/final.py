"""The search's final run: the best values retrained on all 60,000 training images, scored on the test set."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import optuna
from omegaconf import DictConfig

from lenetlab.output.atomic import atomic_write_text
from lenetlab.run.fit import train
from lenetlab.run.status import CONTINUE_SEARCH
from lenetlab.search.space import run_config

log = logging.getLogger(__name__)


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
            "test": True,  # the one run of the search scored on the test set
            "trainer.limit_val_batches": 0,
            # no validation, so nothing to rank checkpoints by: keep last.ckpt, test the final weights
            "callbacks.model_checkpoint.save_top_k": 0,
            "trainer.max_epochs": cfg.search.final_max_epochs,
            "trainer.limit_train_batches": cfg.search.final_limit_train_batches,
        },
        search_dir / "final",
    )
    result = train(run_cfg, to_continue=CONTINUE_SEARCH)
    record = {
        "trial": best.number,
        "values": values,
        "best_val_error": best.value,
        "status": result["status"],
        "test_error": result["metrics"].get("test_error"),
        "test_acc": result["metrics"].get("test_acc"),
        "epochs": result["metrics"]["epochs"],
        "run_dir": Path(result["output_dir"]).name,  # relative to the search directory
    }
    atomic_write_text(previous, json.dumps(record, indent=2) + "\n")
    return record
