"""What a user reads holds no path of the machine it was written on: not the folder the checkout sits in, not
the home folder, not the ``../shared`` of a particular layout. Paths in committed results are relative."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT

# what a user of the checkout reads or runs (.ci/run is CI's own script, with CI's layout)
READ = ["README.md", "docs", "lenetlab/conf", "scripts"]


def machine_paths() -> list[str]:
    """The absolute paths of this machine that no committed file may hold: the checkout's parent folder and
    the home folder, as given and as resolved (the filesystem root alone would match every path)."""
    folders = {ROOT.parent, ROOT.parent.resolve(), Path.home(), Path.home().resolve()}
    return sorted(str(folder) for folder in folders if folder.parent != folder)


def forbidden() -> re.Pattern:
    """A machine path where it starts a path (not ``docs/work`` for ``/work``) and ends at a folder name
    (``/work/`` or ``/work`` alone, not ``/workers``), and ``../shared``."""
    paths = "|".join(re.escape(path) for path in machine_paths())
    return re.compile(rf"(?<![\w.~/-])(?:{paths})(?![\w.-])|\.\./shared\b")


def text_files(root: Path) -> list[Path]:
    files = [root / name for name in READ if (root / name).is_file()]
    files += [
        p for name in READ for p in sorted((root / name).rglob("*")) if p.is_file() and "__pycache__" not in p.parts
    ]
    return files


def machine_path_lines(root: Path) -> list[str]:
    """``file:line: text`` for every line of the files a user reads that holds a machine path."""
    pattern, found = forbidden(), []
    for path in text_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # figures
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:160]}")
    return found


def test_no_file_a_user_reads_holds_a_path_of_this_machine():
    found = machine_path_lines(ROOT)
    assert not found, "machine paths (write them relative, or drop them):\n" + "\n".join(found)
