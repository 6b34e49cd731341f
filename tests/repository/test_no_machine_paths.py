"""No tracked file names an absolute path of the machine it was written on.

A path under a developer's home, root's home, the work area of these machines or a named
scratch file in the temporary directory works only where it was typed: on a user's laptop or
their CI the test or the doc that cites it breaks. Things beside the repository are reached
through relative paths (``../shared/...``) or variables. ``mktemp``-style templates
(``XXXXXX``) are examples, not paths, and are allowed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# Written without the literal prefixes so that this file does not match itself. Not preceded by
# a word character, a dot, a slash, '~' or '}' (URLs, "$HOME/...", "~/..." and "${X}/..." are fine).
MACHINE_PATH = re.compile(
    r"(?<![\w.~}/$-])/(?:work|root|home/[A-Za-z_][\w.-]*|Users/[A-Za-z_][\w.-]*|tmp/(?!\S*XXX)[\w.-]+)"
    r"(?:/[\w.@+-]*)*"
)


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPOSITORY_ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files to scan")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY_ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listing.split("\0") if name]


def machine_paths(text: str) -> list[str]:
    return [match.group(0) for match in MACHINE_PATH.finditer(text)]


def absolute(*parts: str) -> str:
    """An absolute path built from its parts, so that this file holds none literally."""
    return "/" + "/".join(parts)


def test_pattern_catches_machine_paths_and_spares_the_rest() -> None:
    spec, notes = absolute("work", "shared", "x.yaml"), absolute("tmp", "iface.md")
    cache, home = absolute("root", ".cache"), absolute("home", "alice", "src")
    assert machine_paths(f"spec at {spec}; notes in {notes}; {cache} and {home}") == [
        spec,
        notes,
        cache,
        home,
    ]
    template = absolute("tmp", "demo.XXXXXX")
    spared = (
        "../shared/honeycomb/openapi.yaml $HOME/work ~/work https://example.com/work/x "
        f"k8s.io/client-go/util/workqueue mktemp {template} ${{TMPDIR}}/x /v1/evaluate"
    )
    assert machine_paths(spared) == []


def test_no_tracked_file_names_a_machine_path() -> None:
    found: list[str] = []
    for name in tracked_files():
        path = REPOSITORY_ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree but still in the index
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), start=1):
            found.extend(f"{name}:{number}: {hit}" for hit in machine_paths(line))
    assert not found, "absolute paths of one machine (use a relative path or a variable):\n" + "\n".join(
        found
    )
