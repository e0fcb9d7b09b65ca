"""`make demo ARGS=--walkthrough` end to end: the scripted model, the real host, the walkthrough as an
MCP client; labelled as a demo first and last."""
from __future__ import annotations

import subprocess
import sys

from testing.host_process import PROJECT_ROOT, free_port


def test_demo_walkthrough_runs_and_says_it_is_a_demo(tmp_path):
    run = subprocess.run([sys.executable, "-m", "demo", "--walkthrough", "--port", str(free_port()),
                          "--state", str(tmp_path / "demo")],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    output = run.stdout
    assert run.returncode == 0, output + run.stderr
    assert output.startswith("=" * 78 + "\n DEMO MODE: the model is SCRIPTED")
    assert output.rstrip().endswith("=" * 78) and output.count("NOT a real LLM") == 2
    assert "[completed] completed: score 91" in output and "tasks ['1', '2', '3']" in output
    assert "judge: 91/100 (threshold 80) after 1 fixing round; gaps: none" in output
    assert "retried because it reported success without calling any tool" in output
    assert "[waiting_for_input]" in output and "booked: TRIP-" in output
    assert "runtimeStatus Completed" in output
    assert list((tmp_path / "demo" / "appdata").glob("app.db")), "the booking went to the demo's own store"
