"""The package's layers: every import inside lenetlab runs downward (or within its own layer).

The package's face, ``lenetlab/__init__.py``, is below them all: every import of a lenetlab module runs it
first, so it imports none of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lenetlab

PACKAGE = Path(lenetlab.__file__).parent

# bottom to top; a module may import its own layer and those below
LAYERS = {
    "output": 0,
    "models": 1,
    "data": 1,
    "config": 2,
    "tensorboard": 3,
    "run": 4,
    "trained": 4,
    "train": 5,
    "evaluate": 5,
    "predict": 5,
    "export": 5,
    "params": 5,
    "__main__": 5,
    "search": 6,
    "report": 6,
    "reproduce": 6,
}
FACE = -1  # the layer of ``lenetlab`` itself


def layer_of(module: str) -> int:
    """The layer of ``lenetlab.x.y`` (that of ``x``); FACE for the package's face ``lenetlab`` itself."""
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else FACE


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def lenetlab_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a lenetlab module, at module level or inside a function."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "lenetlab" and node.level == 0:
            # from lenetlab import run: the module run, else a name of the face (CONF_DIR)
            found += [(node.lineno, f"lenetlab.{a.name}" if a.name in LAYERS else "lenetlab") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "lenetlab" or name.startswith("lenetlab.")]


def upward_imports(importer: str, source: str) -> list[str]:
    """Each import in the source of module ``importer`` that reaches a layer above its own, as ``line: a imports b``."""
    own = layer_of(importer)
    return [
        f"{line}: {importer} imports {imported}"
        for line, imported in lenetlab_imports(ast.parse(source))
        if layer_of(imported) > own
    ]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    names = {module_name(path).split(".")[1] for path in modules() if module_name(path) != "lenetlab"}
    assert names <= set(LAYERS), f"modules without a layer in tests/test_layers.py: {sorted(names - set(LAYERS))}"


def test_imports_run_only_downward():
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in modules()
        for line in upward_imports(module_name(path), path.read_text())
    ]
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "upward"),
    [
        ("from lenetlab.run.fit import train\n", True),
        ("def f():\n    import lenetlab.tensorboard.hparams\n", True),
        ("from lenetlab.output import percent\n", False),
        ("from lenetlab.config.sweeps import expand_sweep\n", False),
        ("from lenetlab import CONF_DIR\n", False),
        ("from lenetlab import run\n", True),
    ],
)
def test_an_upward_import_is_found(source, upward):
    """The check itself: from config/, an import of run/ or tensorboard/ is reported, of output/ or config/ not."""
    assert bool(upward_imports("lenetlab.config.overrides", source)) is upward


@pytest.mark.parametrize(
    ("source", "upward"),
    [
        ("import lenetlab.output\n", True),
        ("def f():\n    from lenetlab import models\n", True),
        ("from importlib.metadata import version\n", False),
    ],
)
def test_the_face_imports_no_layer(source, upward):
    """``lenetlab/__init__.py`` is checked too: an import of any lenetlab module from it is reported."""
    assert bool(upward_imports("lenetlab", source)) is upward
