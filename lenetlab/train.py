"""``python -m lenetlab.train``: fit, test and log one configuration (or a Hydra sweep of them)."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lenetlab.config.overrides import checks_command_line

log = logging.getLogger(__name__)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _stop_interrupted(out: Path) -> None:
    """End the process after an interrupted run: in a sweep the next job does not start, and the summary says so."""
    from lenetlab.run.status import EXIT_INTERRUPTED, read_status, summarize

    log.warning("%s", (read_status(out) or {}).get("reason", "interrupted"))
    if _in_multirun():  # Hydra's launchers let KeyboardInterrupt and SystemExit through: the sweep ends here
        text, _ = summarize(Path(HydraConfig.get().sweep.dir))
        print(text, file=sys.stderr, flush=True)
    sys.exit(EXIT_INTERRUPTED)


@checks_command_line("train")
@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point. In a sweep a failing job is recorded and the sweep goes on; Ctrl-C stops it (exit 130)."""
    # torch and Lightning are imported once the command line is checked: a typo is refused in a second
    from lenetlab.config.bad_input import BAD_INPUT
    from lenetlab.config.launchers import set_job_threads
    from lenetlab.run.fit import result_line, train
    from lenetlab.run.precision import tf32_on_gpu
    from lenetlab.run.status import read_status, sigterm_as_interrupt, write_status

    # the process's settings are the command's, train() leaves them alone: SIGTERM as Ctrl-C, threads, TF32
    sigterm_as_interrupt()
    out = Path(cfg.output_dir)
    set_job_threads()
    tf32_on_gpu(cfg.trainer.accelerator)
    record = read_status(out) if cfg.get("resume") else None
    if record and record["status"] in ("finished", "diverged"):
        log.info("resume: %s already %s, skipped", out, record["status"])
        best = (record.get("metrics") or {}).get("best_val_error")
        return best if best is not None else math.nan
    try:
        result = train(cfg)
    except KeyboardInterrupt:
        _stop_interrupted(out)
    except BAD_INPUT as error:
        write_status(out, "failed", reason=str(error))
        if _in_multirun():
            log.error("%s", error)
            return None
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        write_status(out, "failed", reason=f"{type(error).__name__}: {error}")
        if not _in_multirun():
            raise
        log.exception("job failed")
        return None
    log.info("%s", result_line(result))
    best = result["metrics"]["best_val_error"]
    return best if best is not None else math.nan


if __name__ == "__main__":
    main()
