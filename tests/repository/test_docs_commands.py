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

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.doc_blocks import (
    REPOSITORY_ROOT,
    Block,
    doc_files,
    link_repository,
    run_block,
    shell_blocks,
)
from tests.support.servers import Server, start_emulator, start_evaluator

MAKE_TARGETS = re.compile(r"^\.PHONY:(.*)$", re.MULTILINE)

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
    return link_repository(tmp_path)


@pytest.mark.servers
@pytest.mark.parametrize("block", RUNNABLE, ids=str)
def test_a_runnable_block_runs_as_copied(block: Block, servers: tuple[Server, Server], scratch: Path) -> None:
    emulator, evaluator = servers
    code = block.code.replace("127.0.0.1:8081", emulator.url.removeprefix("http://"))
    code = code.replace("127.0.0.1:8080", evaluator.url.removeprefix("http://"))
    output = run_block(code, scratch)
    assert output.returncode == 0, f"{block} exited {output.returncode}:\n{code}\n---\n{output.text}"
    assert '"error":' not in output.text, f"{block} answered an error:\n{code}\n---\n{output.text}"
