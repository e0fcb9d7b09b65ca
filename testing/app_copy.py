"""A copy of the project's app with modules added, for tests of what a user adds (issue 18): the files a
deploy takes (`deploy.stage`), so the copy is the app as Azure and the host load it, plus the new files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .deploy import stage
from .host_process import PROJECT_ROOT, TEST_KEYS

# a model configured (never called): the app logs no "no model is configured" warning at start
MODEL_SETTINGS = {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                  "OPENAI_DEFAULT_MODEL": "fake-model"}


def app_copy(destination: Path, modules: dict[str, str]) -> Path:
    """The app staged in `destination`, with `modules` (path relative to the app folder: source) written in."""
    stage(destination)
    for relative, source in modules.items():
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        (destination / relative).write_text(source, encoding="utf-8")
    return destination


def start_refused(app: Path, state: Path) -> subprocess.CompletedProcess:
    """`python -m host` on `app` when it is expected not to start: its exit status and output."""
    return subprocess.run([sys.executable, "-m", "host", "--app", str(app), "--state", str(state), "--port", "0"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **TEST_KEYS, **MODEL_SETTINGS})
