"""lenetlab and its tests use Hydra, OmegaConf and TensorBoard through their public interfaces only."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# private modules and classes of Hydra, OmegaConf's private node members, TensorBoard's private writer
PRIVATE = {
    "hydra._internal": r"\bhydra\._internal\b",
    "GlobalHydra": r"\bGlobalHydra\b",
    "ConfigLoader": r"\bConfigLoader(Impl)?\b",
    "Singleton": r"\bSingleton\b",
    "OmegaConf's private members": r"\._(get_node|metadata|set_value|get_full_key|get_parent|set_parent|is_missing|"
    r"is_none|is_interpolation|get_flag|set_flag|get_node_flag|content|dereference_node|invalidate_flags_cache|"
    r"iter_ex|get_value|value)\b",
    "_get_file_writer": r"\b_get_file_writer\b",
}


def sources() -> list[Path]:
    return [p for folder in ("lenetlab", "tests") for p in sorted((ROOT / folder).rglob("*.py"))]


@pytest.mark.parametrize("name", PRIVATE)
def test_no_private_api_is_used(name):
    pattern = re.compile(PRIVATE[name])
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources()
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_the_grep_finds_what_it_looks_for():
    lines = {
        "hydra._internal": "from hydra._internal.utils import get_args_parser",
        "GlobalHydra": "GlobalHydra.instance().clear()",
        "ConfigLoader": "loader: ConfigLoader",
        "Singleton": "Singleton.get_state()",
        "OmegaConf's private members": "node = config._get_node('model')",
        "_get_file_writer": "writer = self.experiment._get_file_writer()",
    }
    assert all(re.search(PRIVATE[name], line) for name, line in lines.items())
    assert not re.search(PRIVATE["OmegaConf's private members"], "OmegaConf.select(config, key)")
