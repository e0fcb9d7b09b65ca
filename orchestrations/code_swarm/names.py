"""One normalisation for every name a model hands the code swarm: agents, tasks, tools and files.

Models write `Storage-Layer`, `storage_layer`, `3`, `"3"`, `todo-cli/storage.py` for the same thing.
Everything the workflow keys on goes through `normal_name` (identifiers) or `normal_path` (files),
so a task id, the agent it names (`code-worker-<id>`), the branch it works on (`worker-<id>`) and the
files the contract names all compare equal however the model spelled them. Plain functions, no
Durable or model dependency (tested directly).

Paths follow the workspace rules (issue 12, step 2): relative, `/`-separated, no `..`, no empty or
hidden-control segments, no drive letters, at most `MAX_PATH_CHARS`; each segment's stem is
normalised like a name (lower case; hyphens and spaces become underscores, so `todo-storage.py` is
the module `todo_storage.py`; a segment's own underscores stay, as in `__init__.py`), and the
extension is lower-cased. A leading dot is dropped, so no path can reach a `.git` folder.
"""
from __future__ import annotations

import re
from typing import Any

MAX_NAME_CHARS = 64
MAX_PATH_CHARS = 200
MAX_PATH_DEPTH = 8
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_NOT_FILE_NAME = re.compile(r"[^a-z0-9_]+")


class BadName(ValueError):
    """A name or path that cannot be used; the message says why (shown to the model or the user)."""


def normal_name(raw: Any) -> str:
    """`"Storage-Layer "` -> `storage_layer`, `3` -> `3`, `"Task 3"` -> `task_3`; empty when nothing is left."""
    text = str(raw).strip().lower() if raw is not None else ""
    return _NOT_NAME.sub("_", text).strip("_")[:MAX_NAME_CHARS]


def _segment(raw: str) -> str:
    stem, dot, extension = raw.rpartition(".")
    if not dot or not stem:  # no extension, or a dot file such as ".gitignore"
        stem, extension = raw, ""
    # like normal_name, but a segment keeps its own underscores: `__init__.py`, `_private.py`
    name = _NOT_FILE_NAME.sub("_", stem.strip().lower()).strip(".")[:MAX_NAME_CHARS]
    if not name.strip("_"):
        raise BadName(f"the path segment {raw!r} has no usable name")
    extension = re.sub(r"[^a-z0-9]", "", extension.lower())
    return f"{name}.{extension}" if extension else name


def normal_path(raw: Any) -> str:
    """A workspace path in its one spelling, or `BadName` saying which rule it breaks."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadName("a path must be a non-empty string, e.g. 'todo/storage.py'")
    text = raw.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise BadName(f"{raw!r} is absolute; use a path relative to the workspace root")
    segments = [segment for segment in text.split("/") if segment not in ("", ".")]
    if any(segment == ".." for segment in segments):
        raise BadName(f"{raw!r} leaves the workspace ('..' is not allowed)")
    if not segments:
        raise BadName(f"{raw!r} names no file")
    if len(segments) > MAX_PATH_DEPTH:
        raise BadName(f"{raw!r} is nested deeper than {MAX_PATH_DEPTH} folders")
    path = "/".join(_segment(segment) for segment in segments)
    if len(path) > MAX_PATH_CHARS:
        raise BadName(f"{raw!r} is longer than {MAX_PATH_CHARS} characters")
    return path
