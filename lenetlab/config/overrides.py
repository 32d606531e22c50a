"""The command line, checked before ``@hydra.main`` runs: every key and config option it names must exist, and
lenetlab's own settings must hold values it accepts.

Each job of the command (a sweep's, ``hydra.sweeper.params`` included) is composed with Hydra's Compose API
(``initialize_config_dir`` + ``compose``), so that Hydra and OmegaConf refuse a key or an option that does not
exist; their first error becomes one line (``error: ...``, exit status 2) with the closest valid name. Hydra takes
``+key=value`` for any key: such a key must be one that something reads. Each job's config then goes through
:func:`lenetlab.config.validation.validate` (the machine's devices are checked later, by the run). Nothing here
imports torch or Lightning.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import inspect
import os
import re
import sys
from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError, refuse
from lenetlab.config.sweeps import expand_sweep
from lenetlab.config.validation import validate

# collections whose entries have free names: each new entry must be a mapping (a callback, a search parameter)
OPEN_COLLECTIONS = ("callbacks", "search.space")
# Hydra's instantiate keys, accepted on any node with a _target_
HYDRA_KEYWORDS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")
_ABSENT = object()


def hydra_arguments(argv: list[str]) -> argparse.Namespace:
    """A command line as ``@hydra.main`` reads it: Hydra's documented flags (``--help``), then the overrides."""
    parser = argparse.ArgumentParser(add_help=False)
    for flags in (["--help", "-h"], ["--hydra-help"], ["--version"], ["--resolve"], ["--run", "-r"]):
        parser.add_argument(*flags, action="store_true")
    for flags in (["--multirun", "-m"], ["--shell-completion", "-sc"], ["--experimental-rerun"]):
        parser.add_argument(*flags, action="store_true")
    for flags in (["--cfg", "-c"], ["--package", "-p"], ["--config-path", "-cp"], ["--config-name", "-cn"]):
        parser.add_argument(*flags)
    parser.add_argument("--config-dir", "-cd")
    parser.add_argument("--info", "-i", nargs="?", const="all")
    parser.add_argument("overrides", nargs="*")
    return parser.parse_known_args(argv)[0]


def check_command_line(config_name: str, argv: list[str] | None = None) -> None:
    """Check the overrides of a Hydra command line (``sys.argv[1:]``); on a bad one print one line, exit 2."""
    args = hydra_arguments(sys.argv[1:] if argv is None else argv)
    if args.help or args.hydra_help or args.version or args.info or args.shell_completion or args.experimental_rerun:
        return
    try:
        check_overrides(args.config_name or config_name, args.overrides, args.config_dir, args.multirun)
    except ConfigError as error:
        refuse(error)


def checks_command_line(config_name: str) -> Callable:
    """Decorate a ``@hydra.main`` function: check its command line first (see :func:`check_command_line`)."""

    def decorate(hydra_main: Callable) -> Callable:
        @functools.wraps(hydra_main)
        def main(*args, **kwargs):
            if not args and not kwargs:  # called as the program, with sys.argv
                check_command_line(config_name)
            return hydra_main(*args, **kwargs)

        return main

    return decorate


def check_overrides(
    config_name: str, overrides: list[str], config_dir: str | None = None, multirun: bool = False
) -> None:
    """Raise ConfigError naming the first unknown key or config option in ``overrides``, or a value of lenetlab's
    own settings that :func:`~lenetlab.config.validation.validate` refuses.

    ``config_dir`` is an extra directory searched for configs, as Hydra's ``--config-dir``; with ``multirun``
    every job of the sweep is checked, ``hydra.sweeper.params`` (an experiment's grid) included.
    """
    from hydra import initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for i, text in enumerate(overrides):
        if "=" not in text and not text.startswith("~"):
            after = overrides[i + 1] if i + 1 < len(overrides) and "=" not in overrides[i + 1] else "VALUE"
            raise ConfigError(f"{text!r} is not an override: write key=value, e.g. {text}={after}")
        try:
            parser.parse_overrides([text])
        except HydraException as error:
            raise ConfigError(f"cannot read {text!r}: {str(error).strip().splitlines()[0]}") from None
    # the primary config is the package's, unless only --config-dir has it (a search's best.yaml); a
    # hydra.searchpath override adds the other directory, as Hydra's --config-dir does
    primary_dir, extra_dir = str(CONF_DIR), config_dir
    if config_dir is not None and not (CONF_DIR / f"{config_name}.yaml").is_file():
        primary_dir, extra_dir = os.path.abspath(config_dir), str(CONF_DIR)
    overrides = _with_search_path(overrides, extra_dir, parser)
    with initialize_config_dir(config_dir=primary_dir, version_base="1.3"):
        _, jobs = expand_sweep(overrides)
        if multirun:  # a grid in the config (an experiment's) is swept with the command line's
            params = _compose(config_name, jobs[0]).hydra.sweeper.get("params") or {}
            grid = [f"{key}={value}" for key, value in params.items()]
            _, jobs = expand_sweep(grid + overrides) if grid else (None, jobs)
        checked: set[tuple[str, ...]] = set()
        for job in jobs:
            config = _compose(config_name, job)
            validate(config, check_devices=False)
            groups = dict(config.hydra.runtime.choices)
            # a key's value matters only to Hydra's own (typed) settings; a group's choice decides the keys
            shape = tuple(o if _is_group(o, groups) or o.startswith("hydra") else override_key(o) for o in job)
            if shape not in checked:
                checked.add(shape)
                _check_added(config_name, config, job, groups, parser)


def _with_search_path(overrides: list[str], directory: str | None, parser) -> list[str]:
    """``overrides`` with ``directory`` first on Hydra's search path (``hydra.searchpath``)."""
    if directory is None:
        return overrides
    found = [o for o in parser.parse_overrides(overrides) if o.get_key_element() == "hydra.searchpath"]
    paths = [f"file://{os.path.abspath(directory)}", *(found[0].value() if found else [])]
    searchpath = f"hydra.searchpath=[{','.join(hydra_quoted(str(p)) for p in paths)}]"
    return [searchpath, *(o for o in overrides if not (found and o == found[0].input_line))]


def _compose(config_name: str, job: list[str]) -> DictConfig:
    """The job's config with Hydra's; ConfigError naming the first override that Hydra or OmegaConf refuses."""
    from hydra import compose
    from hydra.errors import MissingConfigException

    try:
        return compose(config_name, overrides=job, return_hydra_config=True)
    except MissingConfigException as error:  # a config group option that does not exist
        group, _, name = (error.missing_cfg_file or "").rpartition("/")
        if not group or error.options is None:
            raise ConfigError(_first_line(error)) from None
        options = f"; choose from {', '.join(error.options)}" if error.options else ""
        raise ConfigError(f"{group}={name}: no such {group}{options}") from None
    except Exception as error:  # Hydra passes some of OmegaConf's errors on unwrapped (AssertionError, ValueError)
        failing = next((i for i in range(len(job) - 1) if not _composes(config_name, job[: i + 1])), len(job) - 1)
        if failing >= 0:
            before = compose(config_name, overrides=job[:failing], return_hydra_config=True)
            key = override_key(job[failing])
            if _node(before, key) is _ABSENT and not _is_group(job[failing], before.hydra.runtime.choices):
                raise ConfigError(_unknown(before, key, job)) from None
        raise ConfigError(_first_line(error)) from None


def _composes(config_name: str, job: list[str]) -> bool:
    from hydra import compose

    try:
        compose(config_name, overrides=job, return_hydra_config=True)
        return True
    except Exception:
        return False


def _is_group(override: str, choices) -> bool:
    return override_key(override) in choices


def _check_added(config_name: str, config: DictConfig, job: list[str], groups: dict, parser) -> None:
    """A key added with ``+``/``++`` that no config has must be one that something reads."""
    parsed = parser.parse_overrides(job)
    added = [o for o in parsed if (o.is_add() or o.is_force_add()) and not _is_group(o.input_line, groups)]
    if not added:
        return
    before = _compose(config_name, [o for o in job if o not in {a.input_line for a in added}])
    for override in added:
        key = override.key_or_group
        if _node(before, key) is not _ABSENT:
            continue
        parts = key.split(".")
        depth = max(i for i in range(len(parts)) if _node(before, ".".join(parts[:i])) is not _ABSENT)
        parent = ".".join(parts[:depth])
        if key.startswith("hydra."):  # Hydra's settings are typed: it refuses what they do not hold
            continue
        if parent in OPEN_COLLECTIONS and depth == len(parts) - 1:
            if isinstance(override.value(), dict):
                continue
            value = override.value()
            raise ConfigError(f"+{key}={value!r} is not accepted: expected a mapping such as {{_target_: ...}}")
        node = _node(before, parent)
        reads = isinstance(node, DictConfig) and "_target_" in node and depth == len(parts) - 1
        if reads and {parts[depth], "**"} & set(_parameters(node["_target_"])):
            continue
        raise ConfigError(_unknown(before, key, job))


def _node(config, key: str):
    """The value at dotted ``key`` (a node for a mapping or a list), or _ABSENT."""
    if not key:
        return config
    try:
        return OmegaConf.select(config, key, default=_ABSENT, throw_on_resolution_failure=False)
    except Exception:  # a key below a value, such as a list's item by name
        return _ABSENT


@functools.cache
def _parameters(target: str) -> tuple[str, ...]:
    """The keyword names ``target`` accepts (``**`` when it takes any), plus Hydra's own keys."""
    from hydra.utils import get_object

    try:
        signature = inspect.signature(get_object(target))
    except Exception:  # not importable, or no signature: let instantiate report it
        return ("**",)
    names = [
        "**" if p.kind is inspect.Parameter.VAR_KEYWORD else name
        for name, p in signature.parameters.items()
        if p.kind is not inspect.Parameter.VAR_POSITIONAL
    ]
    return (*names, *HYDRA_KEYWORDS)


def _unknown(config: DictConfig, key: str, job: list[str]) -> str:
    """``unknown key 'k': did you mean 'm'?``, correcting each mistyped part of the dotted key in turn."""
    plain = OmegaConf.to_container(config, resolve=False)
    root_groups = [g for g in config.hydra.runtime.choices if "/" not in g]
    node, fixed = plain, []
    for part in key.split("."):
        names = [str(k) for k in node if not str(k).startswith("_")] if isinstance(node, dict) else []
        names += root_groups if not fixed else []
        match = part if part in names else next(iter(difflib.get_close_matches(part, names, n=1, cutoff=0.6)), None)
        if match is None:
            break
        fixed.append(match)
        node = node.get(match) if isinstance(node, dict) else None
    else:
        if fixed != key.split("."):
            return f"unknown key {key!r}: did you mean {'.'.join(fixed)!r}?"
    choices = config.hydra.runtime.choices
    chosen = [o for o in job if override_key(o) in choices and key.startswith(override_key(o) + ".")]
    if chosen:
        return f"unknown key {key!r} with {', '.join(chosen)} (--cfg job lists the keys)"
    return f"unknown key {key!r} (--cfg job lists the keys)"


def _first_line(error: BaseException) -> str:
    """Hydra's message in one line: its first line, and the reason (its cause's first line) if there is one."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    cause = error.__cause__ and [line.strip() for line in str(error.__cause__).strip().splitlines() if line.strip()]
    return f"{first}: {cause[0]}" if cause else first


def override_key(override: str) -> str:
    """The key or config group an override sets: ``+model@net=lenet`` -> ``model``."""
    return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]


def hydra_quoted(value: str) -> str:
    """``value`` as a single-quoted Hydra override value that parses back to exactly ``value``."""
    # backslashes before a quote or the end are doubled, quotes escaped, ${ kept from interpolating
    escaped = re.sub(r"(\\+)('|$)", lambda m: m.group(1) * 2 + m.group(2), value)
    return "'" + escaped.replace("'", "\\'").replace("${", "\\${") + "'"
