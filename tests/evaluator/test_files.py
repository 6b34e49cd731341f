"""A file counts as changed when its modification time, inode or size does (files.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from honeycomb_evaluator.files import file_version
from honeycomb_evaluator.keys import FileKeys


def mounted_secret(tmp_path: Path, name: str, text: str) -> Path:
    """A file laid out as the kubelet mounts a Secret: `name` → `..data/name`, `..data` → a dated dir."""
    first = tmp_path / "..2026_01_01_00_00_00.1"
    first.mkdir()
    (first / name).write_text(text)
    (tmp_path / "..data").symlink_to(first.name)
    (tmp_path / name).symlink_to(f"..data/{name}")
    return tmp_path / name


def swap(tmp_path: Path, name: str, text: str, mtime: float) -> None:
    """The kubelet's update: a new dated dir, then `..data` atomically pointed at it."""
    second = tmp_path / "..2026_01_01_00_01_00.2"
    second.mkdir()
    (second / name).write_text(text)
    os.utime(second / name, (mtime, mtime))
    (tmp_path / "..data_tmp").symlink_to(second.name)
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")


def test_a_swapped_mount_is_a_new_version_even_with_the_same_time_and_size(tmp_path: Path) -> None:
    path = mounted_secret(tmp_path, "api-key", "key-one")
    os.utime(path, (1000, 1000))
    before = file_version(path)
    assert file_version(path) == before
    swap(tmp_path, "api-key", "key-two", mtime=1000)
    after = file_version(path)
    (mtime, _, size), (mtime_before, _, size_before) = after, before
    assert (mtime, size) == (mtime_before, size_before) and after != before


def test_an_edit_in_place_that_keeps_the_time_is_a_new_version_when_the_size_moves(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("short")
    os.utime(path, (1000, 1000))
    before = file_version(path)
    path.write_text("much longer")
    os.utime(path, (1000, 1000))
    assert file_version(path) != before


def test_the_key_file_follows_a_swapped_mount(tmp_path: Path) -> None:
    path = mounted_secret(tmp_path, "api-key", "key-one")
    os.utime(path, (1000, 1000))
    keys = FileKeys(str(path), "https://api.honeycomb.io")
    first = asyncio.run(keys.resolve("default"))
    swap(tmp_path, "api-key", "key-two", mtime=1000)
    second = asyncio.run(keys.resolve("default"))
    assert first.api_key.get_secret_value() == "key-one"
    assert second.api_key.get_secret_value() == "key-two"
