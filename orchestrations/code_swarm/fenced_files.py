"""Files a model hands in as text: whole files in fenced code blocks, each named by its path (issue 22 §1,
fault 7).

A small model's habit, and aider's "whole file" edit format: instead of calling `write_file`, the answer
holds each module in a Markdown fence, its path on the line before the fence (`calc/tokenizer.py:`,
`**calc/tokenizer.py**`, `### calc/tokenizer.py`), in the fence's info string (```` ```python calc/x.py ````),
or on the fence's first line as a comment (`# calc/tokenizer.py`, `# path: calc/tokenizer.py`).
`fenced_files` finds them; a block whose path cannot be told is left alone (it may be an example).
Plain functions over text (tested directly).
"""
from __future__ import annotations

import re

from orchestrations.code_swarm.names import BadName, normal_path

FENCE = re.compile(r"^[ \t]*```([^\n`]*)\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)
PATH_TOKEN = re.compile(r"[\w][\w./-]*\.(?:py|md|txt|toml|cfg|ini|json|ya?ml)\b")
PATH_COMMENT = re.compile(r"^\s*(?:#|//)\s*(?:(?:file|path|filename)\s*:\s*)?`?([\w][\w./-]*\.\w+)`?\s*$",
                          re.IGNORECASE)
MAX_LABEL_CHARS = 120


def _path_in(text: str) -> str | None:
    """The one path-like token of a short label line, or None."""
    if len(text) > MAX_LABEL_CHARS:
        return None
    tokens = PATH_TOKEN.findall(text)
    return tokens[-1] if len(set(tokens)) == 1 else None


def _normal(path: str | None) -> str | None:
    try:
        return normal_path(path) if path else None
    except BadName:
        return None


def fenced_files(text: str) -> dict[str, str]:
    """`{path: content}` for every fenced block of `text` whose path is named; a later block for the same
    path wins (a model's corrected version comes last)."""
    found: dict[str, str] = {}
    if not isinstance(text, str):
        return found
    for match in FENCE.finditer(text):
        info, body = match.group(1).strip(), match.group(2)
        path = _path_in(info) if info else None
        first, _, rest = body.partition("\n")
        comment = PATH_COMMENT.match(first)
        if comment and (path is None or _normal(comment.group(1)) == _normal(path)):
            path, body = comment.group(1), rest
        if path is None:
            before = text[:match.start()].rstrip().rsplit("\n", 1)[-1].strip()
            path = _path_in(before) if before else None
        normal = _normal(path)
        if normal and body.strip():
            found[normal] = body.rstrip() + "\n"
    return found
