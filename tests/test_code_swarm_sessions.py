"""Issue 22 §2: on Azure the code swarm's checks run in Azure Container Apps dynamic sessions, reached with
the app's managed identity. Tested against testing/fake_sessions.py (the sessions data-plane API and the
managed identity endpoint Azure Functions provides, over real HTTP; its code runs under bubblewrap in a
Python without pytest, so the pytest the app ships to the session is what runs)."""
from __future__ import annotations

import pytest

from orchestrations.code_swarm import checks as code_checks
from testing.fake_sessions import FakeSessions
from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until
from testing.model_scripts import code_swarm as todo

CLIENT_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def sessions():
    with FakeSessions() as fake:
        fake.state.executors.add(CLIENT_ID)
        yield fake


async def test_a_code_swarm_on_azure_runs_its_tests_in_container_apps_sessions(tmp_path, model, sessions):
    """The whole scripted job on a host configured as infra/ configures Azure (pool endpoint, the identity's
    client id, the identity endpoint the platform gives): every check run is a new session, its tree
    uploaded, pytest run there, the result read back, the session deleted; and the results are the
    bubblewrap run's (a failing test the fixer repairs, then 5 passed)."""
    model.reset()
    model.script(todo.SCRIPT)
    host = project_host(tmp_path / "state", model, APP_DATA_DIR=str(tmp_path / "appdata"),
                        **sessions.app_settings(CLIENT_ID)).start(timeout=300)
    try:
        async with connect(host) as client:
            job = await call(client, "run_code_swarm", goal=todo.GOAL, max_workers=3)
            job = await wait_until(client, job["job_id"], timeout=240)
    finally:
        host.stop()
    assert job["status"] == "completed", job
    out = job["output"]
    [first] = out["quality_history"]
    assert first["checks"]["tests"]["sandbox"] == "aca" and "test_done_marks_the_item" in \
        first["checks"]["tests"]["output"]
    assert out["checks"]["ok"] and out["checks"]["tests"]["sandbox"] == "aca"
    assert "5 passed" in out["checks"]["tests"]["output"]
    executions = [identifier for method, operation, identifier in sessions.state.calls if operation == "executions"]
    assert len(executions) >= 3 and len(set(executions)) == len(executions)  # a new session per run
    assert set(sessions.state.deleted) == set(executions) and not sessions.state.sessions


def test_the_session_pool_refuses_an_identity_without_the_role(sessions, monkeypatch):
    """The token's principal must hold the Session Executor role on the pool (the service answers 403);
    the checks say the session failed, with the service's reason, and never pass."""
    for name, value in sessions.app_settings("someone-else").items():
        monkeypatch.setenv(name, value)
    assert code_checks.sandbox_kind() == "aca"
    tests = code_checks.run_tests({"test_a.py": b"def test_a():\n    assert True\n"})
    assert tests["ran"] and not tests["ok"], tests
    assert tests["reason"].startswith("the Azure Container Apps session failed: HTTP 403 from files (Forbidden: "), tests
    assert sessions.state.calls == []
