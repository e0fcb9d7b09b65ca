"""Register the deployed MCP server with an Azure AI Foundry agent, then run one conversation with it.

Creates (a new version of) a Foundry prompt agent whose MCP tool points at our server: the server URL, a
label, the `x-functions-key` header with the `mcp_extension` key, and the tools it may call. Then it asks
the agent to launch a job and follow it with `wait_for_job` until it ends, and prints what the agent did.

Foundry gives up on a tool call after about a minute (Azure/azure-sdk-for-net#54526), so the agent uses
our launch-then-wait tools: a launcher returns at once, and each `wait_for_job` call returns within 50 s;
the agent calls it again while the job runs.

    export MCP_EXTENSION_KEY=$(az functionapp keys list -g <rg> -n <app> --query systemKeys.mcp_extension -o tsv)
    python scripts/register_foundry_agent.py --project-endpoint https://<account>.services.ai.azure.com/api/projects/<project> \\
        --model <model deployment> --server-url https://<app>.azurewebsites.net/runtime/webhooks/mcp

The key is read from the environment, never from the command line (which other users and shell history see),
and it is never printed. Sign in with `az login` (DefaultAzureCredential); the Foundry project needs a model
deployment that supports tool calls. SDK: `azure-ai-projects` 2.x (agents v2: `agents.create_version`,
conversations and responses through `get_openai_client()`).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import MCPTool, PromptAgentDefinition

KEY_ENV = "MCP_EXTENSION_KEY"
KEY_HEADER = "x-functions-key"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def app_tools() -> tuple[str, ...]:
    """The MCP tools the app serves, from the app's own declarations: the app is imported as the worker
    imports it, and every tool is registered through `tools/tool.py` `job_tool` (the job tools and one
    launcher per declared job), so a new tool or job is allowed without an edit here. Needs the
    project's venv (`make` builds it), as the post-provision hook uses."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    importlib.import_module("function_app")
    return tuple(importlib.import_module("tools.tool").TOOLS)


ALLOWED_TOOLS = app_tools()
TERMINAL = ("completed", "failed", "canceled")
MAX_FOLLOW_UPS = 5
INSTRUCTIONS = (
    "You run long jobs through the durable-agents MCP tools. To do a task, start it with run_agent, which returns "
    "at once with a job_id. Then call wait_for_job with that job_id; each call waits at most 50 seconds, so call it "
    "again while the status is pending or running. When the job is completed, failed or canceled, report its "
    "status and output. If it is waiting_for_input, say what it asks for.")
DEFAULT_TASK = "Start a run_agent job with the task 'Name three uses of durable orchestrations, one line each', " \
               "wait for it with wait_for_job until it ends, then tell me its result."


@dataclass
class Options:
    project_endpoint: str
    model: str
    server_url: str
    agent_name: str = "durable-agent-jobs"
    server_label: str = "durable_agents"
    task: str = DEFAULT_TASK


def mcp_tool(options: Options, key: str) -> MCPTool:
    """The agent's MCP tool: our server, its key header, the job tools, no per-call approval."""
    return MCPTool(server_label=options.server_label, server_url=options.server_url, headers={KEY_HEADER: key},
                   allowed_tools=list(ALLOWED_TOOLS), require_approval="never")


class Printer:
    """Prints what the agent did, with the key masked wherever it might appear."""

    def __init__(self, key: str, out: TextIO):
        self.key, self.out = key, out

    def __call__(self, text: str) -> None:
        print(text.replace(self.key, "***") if self.key else text, file=self.out, flush=True)


def summary(tool_output: str | None) -> str:
    """A status object as one line (job, status, progress); other text as it is, shortened."""
    try:
        job = json.loads(tool_output or "")
    except ValueError:
        return (tool_output or "").strip()[:200]
    if not isinstance(job, dict) or "job_id" not in job:
        return json.dumps(job)[:200]
    progress = (job.get("progress") or {}).get("message", "")
    return f"job {job['job_id']} {job.get('status')}" + (f" ({progress})" if progress else "")


def job_status(tool_output: str | None) -> str | None:
    try:
        job = json.loads(tool_output or "")
    except ValueError:
        return None
    return job.get("status") if isinstance(job, dict) else None


def report(response: Any, say: Printer) -> str | None:
    """Print the response's MCP calls and messages; the status of the last job status seen, if any."""
    last_status = None
    for item in response.output:
        kind = getattr(item, "type", "")
        if kind == "mcp_list_tools":
            say(f"  listed tools of {item.server_label}: {', '.join(tool.name for tool in item.tools)}")
        elif kind == "mcp_call":
            say(f"  called {item.name}({item.arguments})")
            if getattr(item, "error", None):
                say(f"    error: {item.error}")
            else:
                say(f"    -> {summary(item.output)}")
                last_status = job_status(item.output) or last_status
        elif kind == "message":
            text = "".join(part.text for part in item.content if getattr(part, "type", "") == "output_text")
            say(f"  agent: {text}")
    return last_status


def run(project: AIProjectClient, options: Options, key: str, say: Printer) -> int:
    """Create the agent version, then one conversation until its job ends; 0 when it ended, else 1."""
    agent = project.agents.create_version(
        agent_name=options.agent_name,
        definition=PromptAgentDefinition(model=options.model, instructions=INSTRUCTIONS,
                                         tools=[mcp_tool(options, key)]),
        description="Launches and follows durable agent jobs on an Azure Functions MCP server.",
    )
    say(f"Agent {agent.name} version {agent.version}: MCP tool '{options.server_label}' -> {options.server_url} "
        f"(header {KEY_HEADER}; tools {', '.join(ALLOWED_TOOLS)})")
    reference = {"agent_reference": {"name": agent.name, "type": "agent_reference"}}
    with project.get_openai_client() as openai:
        conversation = openai.conversations.create()
        say(f"Conversation {conversation.id}")
        message = options.task
        for _ in range(1 + MAX_FOLLOW_UPS):
            say(f"user: {message}")
            response = openai.responses.create(conversation=conversation.id, input=message, extra_body=reference)
            status = report(response, say)
            if status in TERMINAL:
                say(f"The job ended: {status}.")
                return 0
            message = "Keep waiting for the job with wait_for_job until it ends, then report its result."
    say(f"The job had not ended after {MAX_FOLLOW_UPS} follow-ups; see it with get_job.")
    return 1


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project-endpoint", required=True,
                        help="Foundry project endpoint, https://<account>.services.ai.azure.com/api/projects/<name>")
    parser.add_argument("--model", required=True, help="model deployment in the Foundry project")
    parser.add_argument("--server-url", required=True, help="https://<app>.azurewebsites.net/runtime/webhooks/mcp")
    parser.add_argument("--agent-name", default=Options.agent_name)
    parser.add_argument("--server-label", default=Options.server_label)
    parser.add_argument("--task", default=DEFAULT_TASK, help="the first message of the conversation")
    args = parser.parse_args(argv)
    return Options(args.project_endpoint, args.model, args.server_url, args.agent_name, args.server_label, args.task)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        print(f"Set {KEY_ENV} to the server's mcp_extension key (az functionapp keys list ... "
              f"--query systemKeys.mcp_extension -o tsv).", file=sys.stderr)
        return 2
    from azure.identity import DefaultAzureCredential

    with DefaultAzureCredential() as credential, \
            AIProjectClient(endpoint=options.project_endpoint, credential=credential) as project:
        return run(project, options, key, Printer(key, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
