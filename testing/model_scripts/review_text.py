"""The scripted model for README "Add your own job" (`review_text`): the reviewer counts the words with its
`count_words` tool, then answers with a structured review that carries the tool's count; the editor
returns the text with the remarks applied. Answers are computed from each request, so a test can check
that the tool's result reached the model."""
from __future__ import annotations

from typing import Any

REMARKS = ["Say who 'they' are.", "Split the long second sentence."]
EDITED = "The release team shipped version 2. It was late. It works."


def count_request(request) -> dict[str, Any]:
    return {"tool_calls": [{"name": "count_words", "arguments": {"text": request.user_text()}}]}


def review(request) -> dict[str, Any]:
    return {"json": {"words": int(request.tool_outputs()[-1]), "remarks": REMARKS}}


SCRIPT = {
    "reviewer": [count_request, review],
    "editor": [lambda request: {"text": EDITED}],
}
