"""The ```sh blocks of README.md and docs/, and running one as a reader would paste it.

A block may be marked on the line before its fence: `<!-- not-run: why -->`, or `<!-- run-by:
make TARGET -->` / `<!-- run-by: tests/path.py -->` when that target or test file runs it.
tests/repository/test_docs_commands.py runs the unmarked ones against a local evaluator;
tests/cluster/test_docs_on_cluster.py runs the cluster pages' blocks against a control plane.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(not-run|run-by):\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    code: str
    marker: str | None  # "not-run" or "run-by"
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def doc_files() -> list[Path]:
    return [REPOSITORY_ROOT / "README.md", *sorted((REPOSITORY_ROOT / "docs").glob("*.md"))]


def shell_blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            end += 1
        if fence.group(2) in SHELL_LANGUAGES:
            indent = len(fence.group(1))
            code = "\n".join(line[indent:] for line in lines[index + 1 : end])
            previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
            marker = MARKER.match(previous)
            yield Block(
                path=str(path.relative_to(REPOSITORY_ROOT)),
                line=index + 1,
                code=code,
                marker=marker.group(1) if marker else None,
                reason=marker.group(2) if marker else "",
            )
        index = end + 1


def link_repository(directory: Path) -> Path:
    """`directory` seeing the repository's files (symlinks), keeping whatever a block writes."""
    for entry in REPOSITORY_ROOT.iterdir():
        if entry.name != ".git":
            (directory / entry.name).symlink_to(entry)
    return directory


@dataclass(frozen=True)
class Outcome:
    returncode: int
    text: str


def run_block(code: str, cwd: Path, timeout: float = 300, env: Mapping[str, str] | None = None) -> Outcome:
    """bash -euo pipefail in a session of its own, so a timeout also stops what the block started.

    `env` adds to (or overrides) this process's environment."""
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        text, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        text, _ = process.communicate()
        return Outcome(-1, f"timed out after {timeout} s\n{text}")
    return Outcome(process.returncode, text)
