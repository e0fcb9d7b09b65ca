"""Upgrading the host keeps every job: state databases made by the first host (schema v0, before the
schema had a version; see tests/data/make_state_v0.py) open in this one, and their jobs go on where
they were left - a waiting job takes its event, a due timer fires, a running step runs again, a
suspended job keeps its inbox, a durable agent resumes between two model calls - and no step whose
completion was recorded runs again."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from testing.durable_http import DurableHttp, ledger_counts
from testing.host_process import PROJECT_ROOT, TEST_APPS, HostProcess

STATE_V0 = Path(__file__).resolve().parent / "data" / "state_v0"


def state_from(fixture: str, state: Path) -> Path:
    state.mkdir(parents=True)
    shutil.copy(STATE_V0 / fixture, state / "durable.sqlite")
    return state


def test_jobs_of_a_v0_state_folder_finish(tmp_path):
    state = state_from("durable_app.sqlite", tmp_path / "state")
    host = HostProcess(TEST_APPS / "durable_app", state, env={"STEP_LEDGER": str(tmp_path / "ledger.txt")}).start()
    api = DurableHttp(host)
    try:
        assert api.status("v0-done")["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!", "Hello Oslo!",
                                                   "Hello Lima!"]
        assert len(api.history("v0-done")) == 24
        assert api.status("v0-failed")["runtimeStatus"] == "Failed"
        assert api.wait("v0-timer")["output"] == {"n": 0}
        assert api.wait("v0-chain")["output"] == [0, 1, 2, 3]
        assert api.raise_event("v0-waiting", "go", "after the upgrade").status_code == 202
        assert api.wait("v0-waiting")["output"] == "after the upgrade"
        assert api.post("v0-suspended", "resume").status_code == 202
        assert api.wait("v0-suspended")["output"] == "kept in the inbox"
        assert ledger_counts(host, "v0-timer") == {0: 1}
        assert ledger_counts(host, "v0-chain") == {1: 1, 2: 1, 3: 1}, "step 0 was recorded before the upgrade"
        assert api.wait(api.start("chain", 3))["output"] == [0, 1, 2]
    finally:
        host.stop()
    with sqlite3.connect(state / "durable.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_a_durable_agent_of_a_v0_state_folder_resumes_without_repeating_a_model_call(tmp_path, model):
    state = state_from("agent_app.sqlite", tmp_path / "state")
    model.reset()
    model.script({"upgrade-model": [lambda request: {"text": f"result {request.tool_outputs()[-1]}"}]})
    host = HostProcess(PROJECT_ROOT, state, env={
        "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key", "OPENAI_DEFAULT_MODEL": "upgrade-model",
        "OPENAI_API_MODE": "chat_completions"}).start()
    try:
        status = DurableHttp(host).wait("v0-agent", timeout=60)
    finally:
        host.stop()
    assert status["runtimeStatus"] == "Completed", status
    output = json.loads(status["output"])  # the agent wrapper returns its output as JSON text
    assert output["final_output"] == "result 5"
    assert output["model_calls"] == 2 and output["tool_calls"] == 1
    assert model.stats().by_agent == {"upgrade-model": 1}, "model call 1 was recorded before the upgrade"
