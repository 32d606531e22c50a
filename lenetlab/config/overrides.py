"""Refuse unknown keys and config names on the command line in one line, before Hydra composes.

Hydra reports a mistyped key in six lines (exit 1) and accepts ``+key=value`` for any key, so a typo
added with ``+`` is silently ignored. :func:`check_overrides` composes the config the way the entry
point will and checks each override: a key must exist, a config group option must exist, and a key
added with ``+``/``++`` must be one that something reads (a parameter of the ``_target_`` it is passed
to, an entry of an open collection such as ``callbacks``, or a key of one of Hydra's open dicts).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import re
import sys
from collections.abc import Callable

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError, refuse
from lenetlab.config.hydra_internals import hydra_arguments
from lenetlab.config.sweeps import expand_sweep

# collections whose entries have free names: each new entry must be a mapping (a callback, a search parameter)
OPEN_COLLECTIONS = ("callbacks", "search.space")
# Hydra's instantiate keys, accepted on any node with a _target_
HYDRA_KEYWORDS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")
_ABSENT = object()


def check_overrides(
    config_name: str, overrides: list[str], config_dir: str | None = None, multirun: bool = False
) -> None:
    """Raise ConfigError naming the first unknown key or config option in ``overrides``.

    ``config_dir`` is an extra directory searched for configs, as Hydra's ``--config-dir``; with ``multirun``
    every job of the sweep is checked, ``hydra.sweeper.params`` (an experiment's grid) included.
    """
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser, parsed = OverridesParser.create(), []
    for text in overrides:
        try:
            parsed += parser.parse_overrides([text])
        except HydraException as error:
            raise ConfigError(f"cannot read {text!r}: {str(error).strip().splitlines()[0]}") from None
    # the primary config is the package's, unless only --config-dir has it (a search's best.yaml); Hydra
    # reads a hydra.searchpath override only after finding the primary config, so its directory comes first
    primary_dir, extra_dir = str(CONF_DIR), config_dir
    if config_dir is not None and not (CONF_DIR / f"{config_name}.yaml").is_file():
        primary_dir, extra_dir = os.path.abspath(config_dir), str(CONF_DIR)
    with initialize_config_dir(config_dir=primary_dir, version_base="1.3"):
        configs = _Configs(GlobalHydra.instance().config_loader(), config_name, extra_dir, parsed)
        for override in parsed:
            if configs.is_group(override.key_or_group):
                _check_group_choice(configs, override)
        try:
            _, jobs = expand_sweep(overrides)
            if multirun:  # a grid in the config (an experiment's) is swept with the command line's
                params = configs.load(_groups(configs, jobs[0])).hydra.sweeper.get("params") or {}
                grid = [f"{key}={value}" for key, value in params.items()]
                _, jobs = expand_sweep(grid + overrides) if grid else (None, jobs)
        except HydraException as error:
            raise ConfigError(_first_line(error)) from None
        checked: set[tuple[str, ...]] = set()
        for job in jobs:
            groups = tuple(_groups(configs, job))
            if groups in checked:  # keys depend only on the group choices
                continue
            checked.add(groups)
            if not any(o.is_add() or o.is_force_add() or o.is_delete() for o in parser.parse_overrides(job)):
                try:  # only values set: where Hydra composes the job, each key exists (a composition saved)
                    configs.load(job)
                    continue
                except Exception:  # Hydra passes some of OmegaConf's errors on unwrapped (AssertionError, ValueError)
                    pass  # the checks below name the override in one line
            try:
                config = configs.load(list(groups))
            except HydraException as error:
                raise ConfigError(_first_line(error)) from None
            keys = [o for o in job if o not in groups]
            _check_keys(config, parser.parse_overrides(keys), [*configs.options("", groups=True), *groups])
            try:  # anything else Hydra would refuse (a value of the wrong type for one of its settings...)
                configs.load(job)
            except HydraException as error:
                raise ConfigError(_first_line(error)) from None


class _Configs:
    """The configs as ``@hydra.main`` composes them, through Hydra's config loader (``initialize_config_dir``).

    Hydra searches a ``--config-dir`` after the package's configs, and then the directories of a
    ``hydra.searchpath=[...]`` override: one such override, given in every look-up, stands for both.
    """

    def __init__(self, loader, config_name: str, config_dir: str | None, overrides: list):
        self.loader, self.config_name = loader, config_name
        paths = [f"file://{os.path.abspath(config_dir)}"] if config_dir is not None else []
        paths += next((o.value() for o in overrides if o.get_key_element() == "hydra.searchpath"), [])
        self.search = [f"hydra.searchpath=[{','.join(hydra_quoted(str(p)) for p in paths)}]"] if paths else []
        self._groups: dict[str, list[str]] = {}

    def options(self, group: str, groups: bool = False) -> list[str]:
        """The options of a config group (``model``, ``hydra/launcher``), or with ``groups`` its subgroups."""
        from hydra.core.object_type import ObjectType

        kind = ObjectType.GROUP if groups else ObjectType.CONFIG
        return self.loader.get_group_options(group, results_filter=kind, overrides=self.search)

    def is_group(self, key: str) -> bool:
        parent, _, name = key.rpartition("/")
        if parent not in self._groups:
            self._groups[parent] = self.options(parent, groups=True)
        return name in self._groups[parent]

    def load(self, overrides: list[str]) -> DictConfig:
        from hydra.types import RunMode

        return self.loader.load_configuration(self.config_name, [*self.search, *overrides], run_mode=RunMode.RUN)


def check_command_line(config_name: str, argv: list[str] | None = None) -> None:
    """Check the overrides of a Hydra command line (``sys.argv[1:]``); on a bad one print one line, exit 2."""
    args = hydra_arguments(sys.argv[1:] if argv is None else argv)
    if args.help or args.hydra_help or args.info or args.shell_completion or args.experimental_rerun:
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


def _first_line(error: BaseException) -> str:
    """Hydra's message in one line: its first line, and the reason (its cause's first line) if there is one."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    cause = error.__cause__ and [line.strip() for line in str(error.__cause__).strip().splitlines() if line.strip()]
    return f"{first}: {cause[0]}" if cause else first


def _groups(configs: _Configs, job: list[str]) -> list[str]:
    """The config group choices among a job's overrides."""
    return [o for o in job if configs.is_group(override_key(o))]


def override_key(override: str) -> str:
    """The key or config group an override sets: ``+model@net=lenet`` -> ``model``."""
    return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]


def hydra_quoted(value: str) -> str:
    """``value`` as a single-quoted Hydra override value that parses back to exactly ``value``."""
    # backslashes before a quote or the end are doubled, quotes escaped, ${ kept from interpolating
    escaped = re.sub(r"(\\+)('|$)", lambda m: m.group(1) * 2 + m.group(2), value)
    return "'" + escaped.replace("'", "\\'").replace("${", "\\${") + "'"


def _check_group_choice(configs: _Configs, override) -> None:
    group = override.key_or_group
    if override.is_delete() or override.value() is None:
        return
    options = configs.options(group)
    if override.is_sweep_override():
        values = list(override.sweep_string_iterator())
    else:
        value = override.value()
        values = list(value) if isinstance(value, list) else [value]
    for value in values:
        if str(value) not in options:
            raise ConfigError(
                f"{group}={value}: no such {group}; choose from {', '.join(options)}"
                if options
                else f"{group}={value}: no such {group}"
            )


def _check_keys(config: DictConfig, overrides: list, root_groups: list[str]) -> None:
    """Check key overrides in order on ``config``, applying each so that later ones see what earlier ones added.

    ``root_groups`` holds the top-level config groups, then the group overrides ``config`` was composed with.
    """
    config = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    for override in overrides:
        key, typed = override.key_or_group, override.get_key_element()
        exists = _node(config, key) is not _ABSENT
        if override.is_delete():
            if not exists:
                raise ConfigError(_unknown(config, key, root_groups))
            continue
        value = override.value()
        if override.is_add() and exists:
            raise ConfigError(f"{typed}: the key already exists; set it with {key}=...")
        if not exists and not (override.is_add() or override.is_force_add()):
            raise ConfigError(_unknown(config, key, root_groups))
        if not exists:
            _check_added(config, key, value, root_groups)
        with open_dict(config):
            OmegaConf.update(config, key, value, merge=True, force_add=True)


def _node(config, key: str):
    """The node at dotted ``key`` without resolving interpolations, or _ABSENT."""
    node = config
    for part in key.split(".") if key else []:
        if isinstance(node, DictConfig) and part in node:
            node = node._get_node(part)
        elif isinstance(node, ListConfig) and part.isdigit() and int(part) < len(node):
            node = node._get_node(int(part))
        else:
            return _ABSENT
    return node


def _check_added(config: DictConfig, key: str, value, root_groups: list[str]) -> None:
    """A new key is accepted only where something reads it."""
    parts = key.split(".")
    depth = max(i for i in range(len(parts)) if _node(config, ".".join(parts[:i])) is not _ABSENT) if parts else 0
    parent = ".".join(parts[:depth])
    if key.startswith("hydra."):  # Hydra's settings are typed: only its open dicts take new keys
        if _hydra_open(parent):
            return
        raise ConfigError(_unknown(config, key, root_groups))
    if parent in OPEN_COLLECTIONS and depth == len(parts) - 1:
        if isinstance(value, dict):
            return
        raise ConfigError(f"+{key}={value!r} is not accepted: expected a mapping such as {{_target_: ...}}")
    for i in range(depth, 0, -1):  # the nearest object the key would be passed to
        node = _node(config, ".".join(parts[:i]))
        if isinstance(node, DictConfig) and "_target_" in node:
            if parts[i] in _parameters(node["_target_"]) or "**" in _parameters(node["_target_"]):
                return
            break
    raise ConfigError(_unknown(config, key, root_groups))


_HYDRA_OPEN = ("hydra.sweeper.params", "hydra.job.env_set", "hydra.job_logging", "hydra.hydra_logging")


def _hydra_open(parent: str) -> bool:
    return any(parent == p or parent.startswith(p + ".") for p in _HYDRA_OPEN)


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


def _children(node, at_root: bool, root_groups: list[str]) -> list[str]:
    names = [str(k) for k in node] if isinstance(node, DictConfig) else []
    root_groups = [g for g in root_groups if "=" not in g]
    if isinstance(node, DictConfig) and "_target_" in node:
        names += [p for p in _parameters(node["_target_"]) if p != "**"]
    if at_root:
        names += root_groups
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def _unknown(config: DictConfig, key: str, root_groups: list[str]) -> str:
    """``unknown key 'k': did you mean 'm'?``, correcting each mistyped part of the dotted key in turn."""
    node, fixed = config, []
    for part in key.split("."):
        names = _children(node, not fixed, root_groups)
        match = part if part in names else next(iter(difflib.get_close_matches(part, names, n=1, cutoff=0.6)), None)
        if match is None:
            break
        fixed.append(match)
        child = _node(node, match)
        node = child if child is not _ABSENT else None
    else:
        if fixed != key.split("."):
            return f"unknown key {key!r}: did you mean {'.'.join(fixed)!r}?"
    chosen = [g for g in root_groups if "=" in g and key.startswith(override_key(g) + ".")]
    if chosen:
        return f"unknown key {key!r} with {', '.join(chosen)} (--cfg job lists the keys)"
    return f"unknown key {key!r} (--cfg job lists the keys)"
