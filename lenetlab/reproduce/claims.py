"""Apply the claims table (``lenetlab/conf/reports/*.yaml``) to the measured results: one row per claim."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from lenetlab.reproduce import cost_checks, training_checks
from lenetlab.reproduce.results import Measured
from lenetlab.reproduce.verdict import NotMeasured, Verdict

CHECKS = {  # the public functions of the check modules that return a Verdict
    name: function
    for module in (training_checks, cost_checks)
    for name, function in vars(module).items()
    if not name.startswith("_")
    and callable(function)
    and getattr(function, "__module__", None) == module.__name__
    and function.__annotations__.get("return") == "Verdict"
}
# why: for a no, the part of the rule that failed, with the numbers (from the check); for an n/a, what is
# missing. cause: for a no, the likely cause the claims table gives (lenetlab/conf/reports/)
COLUMNS = ("report", "claim", "reported", "measured", "agrees", "why", "cause", "check")


def unknown_checks(claims) -> list[str]:
    """The check names of the table that no function implements."""
    return sorted({c.check for c in claims} - CHECKS.keys())


def evaluate(claim: dict, measured: Measured, missing: dict[str, str]) -> Verdict:
    """One claim's verdict; n/a with the reason when its data is missing (``missing``: study -> why)."""
    args = claim.get("args") or {}
    studies = [args[k] for k in ("gpu", "study", "cpu", "small", "large") if k in args]
    studies += list((args.get("expected") or {}) if isinstance(args.get("expected"), dict) else [])
    studies += ["params"] if "model" in args or "models" in args else []
    studies += ["filters_runtime_gpu"] if claim["check"] == "benchmark_speedup" else []
    studies += ["search"] if claim["check"].startswith(("search", "log_int")) else []
    for study in studies:
        if study in missing:
            return Verdict("not measured", "n/a", missing[study])
    try:
        return CHECKS[claim["check"]](measured, **args)
    except NotMeasured as reason:
        return Verdict("not measured", "n/a", str(reason))


def claim_rows(cfg: DictConfig, measured: Measured, missing: dict[str, str]) -> list[dict]:
    """Every claim of the table with lenetlab's measured value and the verdict."""
    rows = []
    for claim in OmegaConf.to_container(cfg.claims, resolve=True):
        result = evaluate(claim, measured, missing)
        rows.append(
            {
                "report": claim["report"],
                "claim": claim["claim"],
                "reported": claim["reported"],
                "measured": result.measured,
                "agrees": result.agrees,
                "why": result.why,
                "cause": claim.get("cause", "") if result.agrees == "no" else "",
                "check": claim["check"],
            }
        )
    return rows
