"""Reading a checkpoint as data: no unpickling of code, and only trusted ``_target_``s rebuilt from it.

Every checkpoint is read with ``torch.load(weights_only=True)``: tensors and plain data only. Its hyperparameters
hold configs with a ``_target_`` (its network, optimizer, scheduler), which loading rebuilds, so a shared checkpoint
could name any function. Only lenetlab's networks and datamodules, ``torch.optim``'s optimizers and
``torch.optim.lr_scheduler``'s schedulers are trusted; anything else runs only when the user trusts it by name,
the way ``torch.serialization.add_safe_globals`` trusts pickled classes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import torch

LENETLAB_TARGETS = (
    "lenetlab.models.LeNet",
    "lenetlab.models.MLP",
    "lenetlab.models.StridedNet",
    "lenetlab.models.networks.LeNet",
    "lenetlab.models.networks.MLP",
    "lenetlab.models.networks.StridedNet",
    "lenetlab.data.MNISTDataModule",
    "lenetlab.data.mnist.MNISTDataModule",
)

_trusted_by_user: set[str] = set()


class CheckpointError(ValueError):
    """A file that cannot be loaded as a lenetlab model, with what to do instead."""


class UntrustedTargetError(CheckpointError):
    """A checkpoint names a ``_target_`` that is not trusted: nothing of it was imported or called."""


def _reason(error: Exception, limit: int = 100) -> str:
    """An error's type and the first line of its message (of a ``weights_only`` refusal, its reason), cut at a word."""
    text = str(error).strip()
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    line = (paragraphs[1] if text.startswith("Weights only load failed") else text).split("\n")[0] if text else ""
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0] + " ..."
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


def read_checkpoint(path: str | Path | IO[bytes]) -> dict:
    """A checkpoint's contents, tensors on the CPU, read without unpickling code; CheckpointError for any other file."""
    try:
        if isinstance(path, str) and "://" in path:  # a remote checkpoint, as Lightning's own load reads it
            import fsspec  # Lightning's own way to a remote file

            with fsspec.open(path, "rb") as remote:
                checkpoint = torch.load(remote, map_location="cpu", weights_only=True)
        else:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises anything on a file that is not a checkpoint (KeyError on text)
        if blocked := re.search(r"GLOBAL (\S+)", str(error)):
            raise CheckpointError(
                f"{path}: refused to load: it holds a pickled Python object ({blocked[1]}), and checkpoints are "
                "read as tensors and plain data only (torch.load weights_only=True)"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (torch.load: {_reason(error)})") from None
    finally:
        if hasattr(path, "seek"):
            path.seek(0)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (a {type(checkpoint).__name__}, not a dict)")
    return checkpoint


def target_name(target: str | Any) -> str:
    """The dotted name a config's ``_target_`` writes for ``target`` (a class, a function or that name itself)."""
    if isinstance(target, str):
        return target.strip()
    return f"{target.__module__}.{target.__qualname__}"


@functools.cache
def _torch_targets() -> frozenset[str]:
    """Every name under which a config can reach a ``torch.optim`` optimizer or an LR scheduler class."""
    import torch.optim
    from torch.optim import lr_scheduler

    names = set()
    for module, bases in (
        (torch.optim, (torch.optim.Optimizer,)),
        (lr_scheduler, (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)),
    ):
        for attribute, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, bases) and value not in bases:
                names |= {f"{module.__name__}.{attribute}", target_name(value)}
    return frozenset(names)


def trust(*targets: str | Any) -> None:
    """Trust these targets (classes, functions or their dotted names) in every checkpoint loaded by this process."""
    _trusted_by_user.update(target_name(t) for t in targets)


def trusted(extra: Iterable[str | Any] = ()) -> frozenset[str]:
    """The targets a checkpoint may name: lenetlab's, torch's optimizers and schedulers, and the user's."""
    return frozenset({*LENETLAB_TARGETS, *_torch_targets(), *_trusted_by_user, *map(target_name, extra)})


def named_targets(tree: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """``(key path, target)`` of every ``_target_`` in nested dicts and lists, such as ``("net", "lenetlab...")``."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield where or "top-level", value
            else:
                yield from named_targets(value, path)
    elif isinstance(tree, list | tuple):
        for index, value in enumerate(tree):
            yield from named_targets(value, f"{where}[{index}]")


def check_trusted(hparams: Any, source: str, extra: Iterable[str | Any] = (), where: str = "") -> None:
    """Refuse (UntrustedTargetError) hyperparameters read from ``source`` that name an untrusted ``_target_``."""
    allowed = trusted(extra)
    for key, target in named_targets(hparams, where):
        if not isinstance(target, str) or target.strip() not in allowed:
            raise UntrustedTargetError(
                f"{source}: refused to load, its {key} config names {target!r}, which is not trusted to run; "
                f"if you trust this checkpoint, add trust=[{target}] (from Python: "
                f"load_from_checkpoint(path, trust=[{target}]))"
            )
