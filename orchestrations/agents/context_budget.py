"""What fits the model's context window: a setting, and the budgets derived from it (issue 22 §1).

`MODEL_CONTEXT_TOKENS` is the window of the configured model (default `DEFAULT_CONTEXT_TOKENS`; llama.cpp's
server gives each parallel slot `-c / -np` tokens, 16,384 with `shared/real_llm/serve.sh`). Prompts the
workflows build (the code under review, the files a fixer is shown) and every tool result an agent reads
are cut to `prompt_chars` / `tool_result_chars`, with a note saying what was cut; a request a server still
refuses as too long is made smaller (`recovery.py`). Characters per token is a conservative 3 (code and
English with the common BPE vocabularies).
"""
from __future__ import annotations

import os

CONTEXT_ENV = "MODEL_CONTEXT_TOKENS"
DEFAULT_CONTEXT_TOKENS = 128_000
CHARS_PER_TOKEN = 3
ANSWER_SHARE = 4  # a quarter of the window (at most MODEL_MAX_OUTPUT_TOKENS' default) is left for the answer
MAX_ANSWER_TOKENS = 8192


def context_tokens() -> int:
    """The configured window in tokens; a bad value falls back to the default (the app must start)."""
    raw = os.environ.get(CONTEXT_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) >= 1024 else DEFAULT_CONTEXT_TOKENS


def prompt_chars(share: float = 1.0) -> int:
    """Characters of prompt a request may carry (`share` of what the window leaves besides the answer)."""
    window = context_tokens()
    return int((window - min(MAX_ANSWER_TOKENS, window // ANSWER_SHARE)) * CHARS_PER_TOKEN * share)


def tool_result_chars() -> int:
    """Characters of one tool result an agent reads: an eighth of the prompt budget."""
    return prompt_chars(1 / 8)


def cut(text: str, limit: int, what: str = "text") -> str:
    """`text` at most `limit` characters, with a note saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... cut: {len(text) - limit} more characters of this {what} are not shown]"
