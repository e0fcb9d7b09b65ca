"""Make the state databases of `tests/test_upgrade.py`: jobs left mid-flight by a host of schema v0.

Schema v0 is the state database of every host before the schema got a version (up to commit
928f924). The committed files `state_v0/durable_app.sqlite` and `state_v0/agent_app.sqlite` were
made by running this script against a checkout of that commit:

    git worktree add /tmp/v0 928f924
    .venv/bin/python tests/data/make_state_v0.py --host-root /tmp/v0

It starts that checkout's host on the engine test app and on the project's app (its model the
scripted fake server), leaves jobs in every state a user could have when upgrading (waiting for an
event, a timer not yet fired, an activity running, an event in a suspended job's inbox, a durable
agent between two model calls, finished and failed jobs), kills the host with SIGKILL and copies
the database into one file (`VACUUM INTO`, so no WAL file is needed).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import testing.host_process as host_process  # noqa: E402
from testing.durable_http import DurableHttp  # noqa: E402
from testing.fake_model_server import FakeModelServer  # noqa: E402
from testing.host_process import HostProcess  # noqa: E402

OUT = HERE / "state_v0"
AGENT_MODEL = "upgrade-model"


def snapshot(state: Path, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    target = OUT / name
    target.unlink(missing_ok=True)
    with sqlite3.connect(state / "durable.sqlite") as conn:
        conn.execute("VACUUM INTO ?", (str(target),))


def durable_app_jobs(root: Path, state: Path) -> None:
    host = HostProcess(root / "tests" / "apps" / "durable_app", state,
                       env={"STEP_LEDGER": str(state / "ledger.txt")}).start()
    api = DurableHttp(host)
    api.start("hello_sequence", instance_id="v0-done")
    api.wait("v0-done")
    api.start("raises", instance_id="v0-failed")
    api.wait("v0-failed")
    api.start("wait_event", instance_id="v0-waiting")
    api.wait("v0-waiting", statuses=("Running",))
    api.start("wait_event", instance_id="v0-suspended")
    api.wait("v0-suspended", statuses=("Running",))
    assert api.post("v0-suspended", "suspend").status_code == 202
    api.wait("v0-suspended", statuses=("Suspended",))
    assert api.raise_event("v0-suspended", "go", "kept in the inbox").status_code == 202
    api.start("timer_then_step", {"run": "v0-timer", "seconds": 2}, instance_id="v0-timer")
    api.wait("v0-timer", statuses=("Running",))
    api.start("steps", {"run": "v0-chain", "count": 4, "sleep": 1.5}, instance_id="v0-chain")
    deadline = time.time() + 30
    while len([e for e in api.history("v0-chain") if e["EventType"] == 5]) < 1:
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # step 1 is running: its row is in the activities table
    host.kill()
    snapshot(state, "durable_app.sqlite")


def agent_app_jobs(root: Path, state: Path) -> None:
    with FakeModelServer() as model:
        model.script({AGENT_MODEL: [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+3"}}]},
            # the host is killed while it waits for this answer: model call 2 is in flight
            lambda request: (time.sleep(5), {"text": "unreachable"})[1],
        ]})
        host = HostProcess(root, state, env={
            "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key", "OPENAI_DEFAULT_MODEL": AGENT_MODEL,
            "OPENAI_API_MODE": "chat_completions"}).start()
        api = DurableHttp(host)
        api.start("run_agent_workflow", {"task": "Compute (2+3)*7", "tools": ["calculate"], "model": AGENT_MODEL},
                  instance_id="v0-agent")
        deadline = time.time() + 30
        while len([e for e in api.history("v0-agent") if e["EventType"] == 5]) < 2:  # model call 1, tool call
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(1.0)
        host.kill()
    snapshot(state, "agent_app.sqlite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host-root", type=Path, required=True, help="a checkout of the host to record")
    args = parser.parse_args()
    root = args.host_root.resolve()
    host_process.PROJECT_ROOT = root  # `python -m host` runs from that checkout
    with tempfile.TemporaryDirectory() as tmp:
        durable_app_jobs(root, Path(tmp) / "durable")
        agent_app_jobs(root, Path(tmp) / "agent")
    shutil.rmtree(OUT / "__pycache__", ignore_errors=True)
    print(json.dumps(sorted(p.name for p in OUT.iterdir())))


if __name__ == "__main__":
    main()
