"""The state folder (jobs with their inputs and outputs, keys) is private to the user running the host.

Issue 8 item 3: the folder is 0700 and every file in it 0600, whatever the umask, including folders
and files left by earlier versions (fixed at every start). SQLite creates its -wal and -shm files
with the database file's own mode (its unix VFS copies it), so creating the database file 0600
before SQLite opens it keeps them private too.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def make_private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) 0700; make an existing one and everything in it private.

    Symbolic links are left alone (neither followed nor changed). Returns the path.
    """
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
    os.chmod(path, PRIVATE_FOLDER)
    for root, folders, files in os.walk(path):
        for name in folders:
            _chmod_unless_link(Path(root, name), PRIVATE_FOLDER)
        for name in files:
            _chmod_unless_link(Path(root, name), PRIVATE_FILE)
    return path


def create_private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists (then make it 0600). Returns the path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE)
    return Path(path)


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`; the file is 0600 from its first byte."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, PRIVATE_FILE)
    tmp.replace(path)


def _chmod_unless_link(path: Path, mode: int) -> None:
    if not path.is_symlink():
        os.chmod(path, mode)
