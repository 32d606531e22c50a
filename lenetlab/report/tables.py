"""``summary.csv`` and ``summary.md``: one row per run, and the runs that did not finish."""

from __future__ import annotations

import csv
from pathlib import Path

from lenetlab.output import percent
from lenetlab.report.runs import Run, describe, fmt

METRICS = ("params", "epochs", "val_error", "best_val_error", "test_error", "first_epoch_s", "epoch_s", "fit_s")
METRICS += ("val_acc_98_epochs", "val_acc_98_s", "val_acc_99_epochs", "val_acc_99_s")
HEADINGS = {
    "params": "parameters",
    "val_error": "final val error",
    "best_val_error": "best val error",
    "test_error": "test error",
    "first_epoch_s": "first epoch (s)",
    "epoch_s": "s/epoch",
    "fit_s": "total (s)",
    "val_acc_98_epochs": "epochs to 98%",
    "val_acc_98_s": "s to 98%",
    "val_acc_99_epochs": "epochs to 99%",
    "val_acc_99_s": "s to 99%",
    "epoch_share": "share of each epoch trained",
}


def rows(runs: list[Run], keys: list[str]) -> list[dict]:
    """One row per run: name, the varying values, the metrics as logged (with the share of each epoch trained,
    if a run's epochs were shortened: its seconds are then a part-epoch's), device, status and reason."""
    shortened = any(run.partly_timed for run in runs)
    return [
        {
            "run": run.name,
            **{key: run.hparams.get(key) for key in keys},
            **run.metrics(),
            **({"epoch_share": run.epoch_fraction} if shortened else {}),
            "device": run.hparams.get("accelerator"),
            "status": run.status,
            "reason": run.reason,
        }
        for run in runs
    ]


def write_csv(path: Path, table: list[dict]) -> None:
    """Full precision, empty cells for missing values."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in row.items()} for row in table])


def _cell(key: str, value) -> str:
    if value is None:
        return ""
    if key == "params":
        return f"{value:,}"
    if key.endswith("error"):
        return percent(value)
    if key.endswith("_s"):
        return f"{value:.2f}"
    if key == "epoch_share":
        return f"{100 * value:.3g}%"
    return fmt(value).replace("|", "\\|")


def write_markdown(
    path: Path, table: list[dict], runs: list[Run], keys: list[str], figures: list[str], final: list[Run] = ()
) -> None:
    """The table, a search's ``final`` run, the runs that did not finish (with their reasons) and the figures."""
    columns = [c for c in table[0] if c not in ("run", "reason")]
    counts = {s: sum(r.status == s for r in runs) for s in dict.fromkeys(r.status for r in runs)}
    lines = [
        "# Report",
        "",
        f"{len(runs)} runs: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + ".",
        f"Varying: {', '.join(keys) or 'nothing'}.",
        "",
        "| " + " | ".join(HEADINGS.get(c, c) for c in columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(c, row[c]) for c in columns) + " |" for row in table),
    ]
    for run in final:
        tested = run.metrics()["test_error"]
        outcome = f"test error {percent(tested)}" if tested is not None else run.status
        lines += ["", f"**Final run** (`{run.name}`): the best trial's values ({describe(run.hparams, keys)}) retrained "
                  f"on the training and validation images, scored on the test set: {outcome}."]  # fmt: skip
    missing = [run for run in [*runs, *final] if run.status != "finished"]
    if missing:
        lines += ["", "## Runs that did not finish", ""]
        lines += [f"- **{r.status}** {describe(r.hparams, keys) or r.name}: {r.reason} (`{r.name}`)" for r in missing]
    shown = [name for name in figures if name.endswith((".png", ".svg"))]  # what a Markdown viewer can show
    lines += ["", "## Figures", "", *(f"![{name}]({name})" for name in shown)]
    if len(shown) < len(figures):
        lines += ["", "Vector files: " + ", ".join(f"[{n}]({n})" for n in figures if n not in shown)]
    path.write_text("\n".join(lines) + "\n")
