"""``python -m lenetlab.reproduce``: every study of the lab reports, then REPRODUCTION.md and claims.csv."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lenetlab.config.overrides import checks_command_line

log = logging.getLogger(__name__)


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def run_studies(cfg: DictConfig, out: Path) -> tuple[dict[str, str], list[str]]:
    """Run (resume, skip) the selected studies; return why each study without results has none, and the failed."""
    from lenetlab.reproduce.studies import build, read_record, run_study, selected

    gpu, imported = gpu_name(), cfg.gpu_results is not None
    missing, failed = {}, []
    chosen = selected(cfg)
    for name in cfg.study:
        study = build(cfg, name)
        if study.gpu and imported:
            continue
        if study.gpu and gpu is None:
            missing[name] = "no GPU"
        elif name not in chosen:
            if read_record(out / name) is None:
                missing[name] = f"study {name} not run"
        elif run_study(study, out / name) == "failed":
            failed.append(name)
    return missing, failed


def reproduce(cfg: DictConfig) -> int:
    """Run the studies and write the reproduction; return the exit status (1 if a study failed)."""
    # torch and Lightning are imported once the command line is checked: a typo is refused in a second
    from lenetlab.reproduce.claims import claim_rows
    from lenetlab.reproduce.paper import write_claims_csv, write_figures, write_paper
    from lenetlab.reproduce.results import read_measured
    from lenetlab.reproduce.studies import read_record

    out = Path(cfg.output_dir)
    missing, failed = run_studies(cfg, out)
    gpu_results = Path(cfg.gpu_results) if cfg.gpu_results else None
    measured = read_measured(out, list(cfg.study), gpu_results)
    rows = claim_rows(cfg, measured, missing)
    write_claims_csv(out / "claims.csv", rows)
    figures = write_figures(measured, out / "figures")
    timings = {}
    for name in cfg.study:
        record = read_record(out / name)
        if record:
            timings[name] = record
        elif name in missing or (gpu_results and cfg.study[name].get("gpu")):
            timings[name] = {"status": missing.get(name) or f"imported from {gpu_results}"}
    timings["_gpu"] = gpu_name() or (f"results imported from {gpu_results}" if gpu_results else None)
    write_paper(out / "REPRODUCTION.md", cfg, rows, timings, figures)
    counts = {a: sum(r["agrees"] == a for r in rows) for a in ("yes", "no", "n/a")}
    print(f"{len(rows)} claims: {counts['yes']} agree, {counts['no']} disagree, {counts['n/a']} not measured")
    print(f"-> {out / 'REPRODUCTION.md'}, {out / 'claims.csv'}, {out / 'figures'}/")
    if failed:
        print(f"failed: {', '.join(failed)}; run the same command again to resume", file=sys.stderr)
        return 1
    return 0


@checks_command_line("reproduce")
@hydra.main(version_base="1.3", config_path="../conf", config_name="reproduce")
def main(cfg: DictConfig) -> None:
    """Hydra entry point; Ctrl-C leaves every study resumable (exit 130)."""
    try:
        status = reproduce(cfg)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue", file=sys.stderr)
        sys.exit(130)
    sys.exit(status)


if __name__ == "__main__":
    main()
