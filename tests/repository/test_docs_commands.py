"""Every shell block in README.md and docs/ is either run here, as copied, or marked.

A ```sh block runs in bash (``set -euo pipefail``) in a scratch directory that links to the
repository's files, against a real emulator with its demo data and a real evaluator configured
as ``make serve`` configures it; the blocks' 127.0.0.1:8081 and :8080 become those servers' ports.
It passes when it exits 0 and prints no ``"error":`` answer.

A block that cannot run here says so in an HTML comment on the line before its fence:
- ``<!-- not-run: why -->`` (needs AWS, a cluster, Docker, or only shows a shape);
- ``<!-- run-by: make TARGET -->`` or ``<!-- run-by: tests/path.py -->``: run by that target of
  ``make test`` or by that test file (both must exist).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import Server, start_emulator, start_evaluator

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(not-run|run-by):\s*(.*?)\s*-->\s*$")
MAKE_TARGETS = re.compile(r"^\.PHONY:(.*)$", re.MULTILINE)


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


ALL_BLOCKS = [block for path in doc_files() for block in shell_blocks(path)]
RUNNABLE = [block for block in ALL_BLOCKS if block.marker is None]


def test_docs_have_shell_blocks() -> None:
    assert len(ALL_BLOCKS) > 5 and RUNNABLE


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.marker], ids=str)
def test_a_marked_block_says_why_or_what_runs_it(block: Block) -> None:
    assert block.reason, f"{block}: a marker needs a reason or what runs the block"
    if block.marker == "not-run":
        return
    if block.reason.startswith("make "):
        targets = MAKE_TARGETS.search((REPOSITORY_ROOT / "Makefile").read_text().replace("\\\n", " "))
        assert targets and block.reason.split()[1] in targets.group(1).split(), f"{block}: no such target"
    else:
        assert (REPOSITORY_ROOT / block.reason.split("::")[0]).is_file(), f"{block}: no such test file"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    """The pair `make emulator` and `make serve` start, on free ports."""
    with start_emulator("--demo") as emulator:
        env = {
            "HONEYCOMB_API_KEY": "emulator-key",
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_ALLOW_ANONYMOUS": "true",
        }
        with start_evaluator(env) as evaluator:
            yield emulator, evaluator


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A directory that sees the repository's files but keeps whatever a block writes."""
    for entry in REPOSITORY_ROOT.iterdir():
        if entry.name != ".git":
            (tmp_path / entry.name).symlink_to(entry)
    return tmp_path


@pytest.mark.servers
@pytest.mark.parametrize("block", RUNNABLE, ids=str)
def test_a_runnable_block_runs_as_copied(block: Block, servers: tuple[Server, Server], scratch: Path) -> None:
    emulator, evaluator = servers
    code = block.code.replace("127.0.0.1:8081", emulator.url.removeprefix("http://"))
    code = code.replace("127.0.0.1:8080", evaluator.url.removeprefix("http://"))
    output = run_block(code, scratch)
    assert output.returncode == 0, f"{block} exited {output.returncode}:\n{code}\n---\n{output.text}"
    assert '"error":' not in output.text, f"{block} answered an error:\n{code}\n---\n{output.text}"


@dataclass(frozen=True)
class Outcome:
    returncode: int
    text: str


def run_block(code: str, cwd: Path, timeout: float = 300) -> Outcome:
    """bash -euo pipefail in a session of its own, so a timeout also stops what the block started."""
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=cwd,
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
