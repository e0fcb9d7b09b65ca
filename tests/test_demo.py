"""`make demo ARGS=--walkthrough` end to end (run_swarm, plan_trip, run_code_swarm): the scripted model, the
real host, the walkthrough as an MCP client; labelled as a demo first and last."""
from __future__ import annotations

import http.server
import subprocess
import sys

import pytest

from testing.host_process import PROJECT_ROOT, free_port
from testing.loopback_http import LoopbackHTTPServer


def test_demo_walkthrough_runs_and_says_it_is_a_demo(tmp_path):
    run = subprocess.run([sys.executable, "-m", "demo", "--walkthrough", "--port", str(free_port()),
                          "--state", str(tmp_path / "demo")],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240)
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
    # the code swarm: a nudged worker, one conflict for the integrator, a failing test the fixer repairs
    assert "worker-3: done after 2 attempts" in output and "nudged because it reported success but changed no file" \
        in output
    assert "merge worker-parser_cli -> merge-2: conflict in todo/__init__.py resolved by the integrator" in output
    assert "tests FAIL ['FAILED tests/test_storage.py::test_done_marks_the_item" in output
    assert "judge 92/100 after 1 fixing round; gaps: none" in output and "in bubblewrap" in output
    assert output.count("HTTP 200") == 2 and "todo%2Fcli.py" in output
    assert list((tmp_path / "demo" / "appdata" / "workspaces").iterdir()), "workspaces in the demo's own store"


class OtherServer:
    """Another server already on a port, answering every request 200 (as another local host would)."""

    def __init__(self):
        class Ok(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"state": "Running"}')

            def log_message(self, *args):
                pass

        self.server = LoopbackHTTPServer(Ok).start()
        self.port = self.server.port

    def close(self) -> None:
        self.server.close()


@pytest.mark.parametrize("command", [["host"], ["demo"], ["demo", "--walkthrough"]])
def test_a_busy_port_fails_at_once_with_one_line(tmp_path, command):
    """Issue 9 item 10: the demo used to talk to whatever answered on the port (printing a key that
    server rejects) or die with a long traceback."""
    other = OtherServer()
    try:
        run = subprocess.run([sys.executable, "-m", *command, "--port", str(other.port),
                              "--state", str(tmp_path / "state")],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    finally:
        other.close()
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert run.returncode != 0
    assert len(lines) == 1, lines
    assert f"port {other.port} on 127.0.0.1 is already in use" in lines[0]
    make_target = "run" if command == ["host"] else "demo"
    assert f'make {make_target} ARGS="--port 8080"' in lines[0]
