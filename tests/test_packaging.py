"""What pyproject.toml says the code needs: every package the code imports is declared, the version is written once."""

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib

from conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def distribution_name(requirement: str) -> str:
    """The normalized name (PEP 503) of a requirement such as ``psycopg[binary]>=3.1``."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def declared() -> set[str]:
    """The distributions pyproject.toml names, as dependencies or in any extra."""
    extras = PROJECT["optional-dependencies"].values()
    return {distribution_name(r) for r in [*PROJECT["dependencies"], *(r for extra in extras for r in extra)]}


def imported_modules() -> dict[str, str]:
    """Each top-level module that lenetlab, its scripts and its tests import, but not the standard library or
    their own modules: the module and the first file that imports it."""
    own = {"lenetlab"} | {path.stem for folder in ("scripts", "tests") for path in (ROOT / folder).glob("*.py")}
    found = {}
    for folder in ("lenetlab", "scripts", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for top in (name.partition(".")[0] for name in names):
                    if top not in sys.stdlib_module_names and top not in own:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared():
    owners = importlib.metadata.packages_distributions()  # module -> the distributions that install it (PIL: pillow)
    names = declared()
    undeclared = {
        module: where
        for module, where in imported_modules().items()
        if not {distribution_name(d) for d in owners.get(module, [module])} & names
    }
    assert undeclared == {}


def test_the_version_is_the_installed_metadatas_which_pyproject_writes():
    import lenetlab

    assert lenetlab.__version__ == importlib.metadata.version("lenetlab") == PROJECT["version"]


def test_a_checkout_that_is_not_installed_still_imports():
    """Without lenetlab's metadata (a clone put on PYTHONPATH), ``import lenetlab`` works and the version is unknown."""
    code = (
        "import importlib.metadata as metadata\n"
        "def missing(name):\n"
        "    raise metadata.PackageNotFoundError(name)\n"
        "metadata.version = missing\n"
        "import lenetlab\n"
        "print(lenetlab.__version__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0+unknown"
