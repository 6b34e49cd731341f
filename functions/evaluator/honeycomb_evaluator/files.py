"""Whether a file changed since it was last read: its modification time, inode and size.

The key file and the caller registry file are reread when they change. A Kubernetes Secret or
ConfigMap mounted as a volume is updated by pointing a symlink at a new directory: the path then
leads to another inode, which a check of the modification time alone can miss (two writes within
the clock's resolution, or a file restored with its old time); a size check catches in-place
edits that keep both.
"""

from __future__ import annotations

import os

FileVersion = tuple[float, int, int]  # modification time, inode, size


def file_version(path: str | os.PathLike[str]) -> FileVersion:
    """The version of the file `path` leads to now (symlinks followed); OSError if none."""
    stat = os.stat(path)
    return stat.st_mtime, stat.st_ino, stat.st_size
