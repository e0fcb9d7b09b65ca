"""scripts/register_foundry_agent.py against a fake of the Foundry API (an outside service), which plays the
agent against the real local host with the MCP tool the script defined (issue 13)."""
from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
import time

import pytest
from azure.ai.projects import AIProjectClient
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.policies import SansIOHTTPPolicy

from testing.fake_foundry import FakeFoundry
from testing.host_process import PROJECT_ROOT
from testing.mcp_client import connect

AGENT = "fake-model"  # the scripted model answers run_agent's agent by model name


def load_script():
    spec = importlib.util.spec_from_file_location("register_foundry_agent",
                                                  PROJECT_ROOT / "scripts" / "register_foundry_agent.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class StandInCredential:
    """Stands for Microsoft Entra ID: a bearer token for any scope."""

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken("entra-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None) -> AccessTokenInfo:
        return AccessTokenInfo("entra-token", int(time.time()) + 3600)


class BearerOverHttp(SansIOHTTPPolicy):
    """The SDK sends tokens over https only; the fake listens on loopback http."""

    def on_request(self, request):
        request.http_request.headers["Authorization"] = "Bearer entra-token"


async def served_tools(host) -> set[str]:
    async with connect(host) as client:
        return {listed.name for listed in (await client.list_tools()).tools}


@pytest.fixture
def foundry():
    with FakeFoundry() as server:
        yield server


def test_agent_gets_our_mcp_tool_and_follows_a_job_to_its_end(foundry, host, model):
    script = load_script()
    model.reset()
    model.script({AGENT: [{"text": "1. crash-proof agents\n2. human approval\n3. fan-out"}]})
    server_url = f"{host.base_url}/runtime/webhooks/mcp"
    options = script.parse_args(["--project-endpoint", foundry.project_endpoint, "--model", "gpt-test",
                                 "--server-url", server_url, "--task", "Name three uses of durable orchestrations"])
    out = io.StringIO()
    with AIProjectClient(endpoint=foundry.project_endpoint, credential=StandInCredential(),
                         authentication_policy=BearerOverHttp()) as project:
        code = script.run(project, options, host.mcp_key, script.Printer(host.mcp_key, out))
    printed = out.getvalue()
    assert code == 0, printed

    versions = foundry.state.agents["durable-agent-jobs"]
    definition = versions[-1]["definition"]
    assert definition["kind"] == "prompt" and definition["model"] == "gpt-test"
    [tool] = definition["tools"]
    assert tool == {"type": "mcp", "server_label": "durable_agents", "server_url": server_url,
                    "headers": {"x-functions-key": host.mcp_key}, "allowed_tools": list(script.ALLOWED_TOOLS),
                    "require_approval": "never"}
    # every tool the server lists, no more (derived from the app: run_code_swarm was once left out)
    served = asyncio.run(served_tools(host))
    assert set(script.ALLOWED_TOOLS) == served and "run_code_swarm" in served
    assert all(r.authorization for r in foundry.state.received)
    calls = [c["name"] for c in foundry.state.tool_calls]
    assert calls[0] == "run_agent" and calls[-1] == "wait_for_job", calls
    assert "called run_agent" in printed and "called wait_for_job" in printed
    assert "completed" in printed and "The job ended: completed." in printed
    for secret in (host.mcp_key, host.durable_key):
        assert secret not in printed


def test_a_wrong_key_fails_at_the_server_and_is_not_printed(foundry, host):
    script = load_script()
    options = script.parse_args(["--project-endpoint", foundry.project_endpoint, "--model", "gpt-test",
                                 "--server-url", f"{host.base_url}/runtime/webhooks/mcp"])
    out = io.StringIO()
    with AIProjectClient(endpoint=foundry.project_endpoint, credential=StandInCredential(),
                         authentication_policy=BearerOverHttp()) as project:
        with pytest.raises(Exception):
            script.run(project, options, "not-the-key", script.Printer("not-the-key", out))
    assert "not-the-key" not in out.getvalue()


def test_the_key_comes_from_the_environment_only(monkeypatch, capsys):
    script = load_script()
    monkeypatch.delenv(script.KEY_ENV, raising=False)
    code = script.main(["--project-endpoint", "https://example.invalid/api/projects/p", "--model", "m",
                        "--server-url", "https://example.invalid/runtime/webhooks/mcp"])
    assert code == 2
    assert script.KEY_ENV in capsys.readouterr().err
