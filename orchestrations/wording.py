"""Small text helpers for what the workflows write for people: progress messages, prompts, reasons."""
from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """"1 fixing round", "2 fixing rounds"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, marked with an ellipsis when cut (custom status and prompts stay small)."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
