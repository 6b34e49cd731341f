"""Every relative link in README.md, CHANGELOG.md and docs/ reaches a file, and every #anchor a
heading of that file (GitHub's anchors: lower case, punctuation dropped, spaces as dashes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)
# Code blocks and HTML comments hold examples, not links.
FENCED = re.compile(r"^\s*```.*?^\s*```|<!--.*?-->", re.MULTILINE | re.DOTALL)
# Pages other developers are writing on their own branches; drop each once it is merged.
PAGES_BEING_WRITTEN = {"docs/flagger.md", "docs/slo.md"}


def pages() -> list[Path]:
    root = REPOSITORY_ROOT
    return [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").glob("*.md"))]


def anchor(heading: str) -> str:
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCED.sub("", page.read_text())
    return {anchor(heading) for heading in HEADING.findall(text)}


def relative_links(page: Path) -> list[str]:
    text = FENCED.sub("", page.read_text())
    return [link for link in LINK.findall(text) if not re.match(r"^[a-z]+:", link)]


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(REPOSITORY_ROOT)))
def test_relative_links_reach_a_file_and_heading(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        name = path.relative_to(REPOSITORY_ROOT).as_posix() if path.is_relative_to(REPOSITORY_ROOT) else link
        if name in PAGES_BEING_WRITTEN and not path.exists():
            continue
        if not path.exists():
            broken.append(f"{link}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{link}: no heading #{fragment} in {name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)
