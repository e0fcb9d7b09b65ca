"""The state folder (jobs with their inputs and outputs, keys) is private to the user running the host.

Issue 8 item 3: the folder is 0700 and the host's files in it 0600, whatever the umask, including
files left by earlier versions (fixed at every start). SQLite creates its -wal and -shm files with
the database file's own mode (its unix VFS copies it), so creating the database file 0600 before
SQLite opens it keeps them private too.

The host changes the mode of nothing but the folder and its own files (`HOST_FILE_PATTERNS`, not
recursively), and `open_state_folder` refuses a path that is not a folder or a folder of someone's
files: the new-user trial's `--state /etc/passwd` made the file 0700 before failing with a traceback,
and `--state <a project>` made every file below it 0600, executables too.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
HOST_FILES = ("durable.sqlite", "keys.json")  # every state folder the host made holds one of them
HOST_FILE_PATTERNS = ("durable.sqlite*", "keys.json*", "tasks.sqlite*")  # with -wal, -shm, .tmp


class StateFolderError(Exception):
    """The `--state` path cannot be the host's state folder; the message says why and what to give instead."""


def open_state_folder(path: Path) -> Path:
    """Check that `path` can be the state folder, then make it private (`make_private_folder`).

    Accepted: a path that does not exist yet, a folder that holds no files (subfolders are fine: the
    demo keeps its own state folder in `.durable/demo/`), a folder holding `HOST_FILES`.
    Raises StateFolderError for a path that is not a folder, a folder of other files, or one the
    host cannot create or read; nothing is changed then.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise StateFolderError(f"--state {path} is not a folder; give a new or empty folder for the "
                                   f"host's state (default: .durable/ in the app folder)")
        if path.is_dir() and not any((path / name).exists() for name in HOST_FILES) \
                and any(entry.is_symlink() or not entry.is_dir() for entry in path.iterdir()):
            raise StateFolderError(f"--state {path} holds other files and is not a state folder the host made "
                                   f"(it has no {' or '.join(HOST_FILES)}); give a new or empty folder for the "
                                   f"host's state (default: .durable/ in the app folder)")
        return make_private_folder(path)
    except OSError as exc:
        raise StateFolderError(f"--state {path} cannot be used: {exc.strerror or exc}") from None


def make_private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) 0700, or make an existing one 0700 and the host's files in
    it (`HOST_FILE_PATTERNS`) 0600. Nothing else in it is changed; symbolic links are left alone.
    Returns the path."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
    os.chmod(path, PRIVATE_FOLDER)
    for pattern in HOST_FILE_PATTERNS:
        for own in path.glob(pattern):
            if own.is_file() and not own.is_symlink():
                os.chmod(own, PRIVATE_FILE)
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
