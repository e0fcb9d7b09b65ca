"""azd post-provision hook: where the deployed MCP server listens and how each client connects to it.

azd runs it after `azd provision` / `azd up` with the outputs of infra/main.bicep in the environment
(AZURE_FUNCTION_APP_NAME, SERVICE_API_URI, AZURE_RESOURCE_GROUP, DURABLE_TASK_SCHEDULER_DASHBOARD_URL).
With MCP_AUTH=entra (the default) it says how people sign in instead (no key: Entra ID, issue 20).
It prints no key: the `mcp_extension` system key exists only once the app has started (after the deploy
step), so the configurations fetch it with `az` or ask for it, as the official sample's .vscode/mcp.json does
(Azure-Samples/remote-mcp-functions-python).

Usage: python scripts/postprovision.py   (azd sets the variables; run `azd env get-values` to see them)
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("AZURE_FUNCTION_APP_NAME", "SERVICE_API_URI", "AZURE_RESOURCE_GROUP")
MCP_PATH = "/runtime/webhooks/mcp"
KEY_HEADER = "x-functions-key"


def server_name(host_json: Path = PROJECT_ROOT / "host.json") -> str:
    """`extensions.mcp.serverName` from host.json as a client-config name (lowercase, dashes)."""
    config = json.loads(host_json.read_text(encoding="utf-8"))
    name = ((config.get("extensions") or {}).get("mcp") or {}).get("serverName") or "functions"
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "functions"


def key_command(resource_group: str, app_name: str) -> str:
    """The `az` command that prints the deployed app's `mcp_extension` system key."""
    return (f"az functionapp keys list --resource-group {resource_group} --name {app_name} "
            f"--query systemKeys.mcp_extension --output tsv")


def sign_in_text(env: Mapping[str, str], name: str, url: str) -> str:
    """With MCP_AUTH=entra (issue 20): the server signs people in with Entra ID; clients find the sign-in through
    its protected resource metadata (/.well-known/oauth-protected-resource), so their configs carry no key."""
    vscode = {"servers": {name: {"type": "http", "url": url}}}
    return "\n".join([
        f"MCP server '{name}' on Azure Functions ({env['AZURE_FUNCTION_APP_NAME']}), signed in with Entra ID:",
        f"  Streamable HTTP  {url}",
        f"  Sign-in          Entra ID app {env.get('AUTH_CLIENT_ID', '?')}, scope {env.get('AUTH_SCOPE', '?')} "
        f"(protected resource metadata: {env['SERVICE_API_URI'].rstrip('/')}/.well-known/oauth-protected-resource)",
        f"  Admins           assign people the app role {env.get('JOBS_ADMIN_ROLE') or 'Jobs.Admin'} (Entra ID > "
        f"Enterprise applications > the app > Users and groups): they see and manage every job",
        "",
        "VS Code (.vscode/mcp.json; VS Code signs you in with your Microsoft account when the server starts):",
        f"  {json.dumps(vscode)}",
        "Claude Code (its client id must be allowed: add it to PRE_AUTHORIZED_CLIENT_IDS and provision again):",
        f"  claude mcp add --transport http {name} {url}",
    ])


def connection_text(env: Mapping[str, str], name: str) -> str:
    """The endpoint, the key command and one ready-to-paste configuration per client, as text."""
    missing = [variable for variable in REQUIRED if not env.get(variable)]
    if missing:
        raise KeyError(f"not set: {', '.join(missing)} (run this from azd, or export `azd env get-values`)")
    base = env["SERVICE_API_URI"].rstrip("/")
    if env.get("MCP_AUTH") == "entra":
        return sign_in_text(env, name, f"{base}{MCP_PATH}")
    url, sse_url = f"{base}{MCP_PATH}", f"{base}{MCP_PATH}/sse"
    fetch_key = key_command(env["AZURE_RESOURCE_GROUP"], env["AZURE_FUNCTION_APP_NAME"])
    key_input = "functions-mcp-extension-system-key"
    vscode = {
        "inputs": [{"type": "promptString", "id": key_input, "description": "Azure Functions MCP extension system key",
                    "password": True}],
        "servers": {name: {"type": "http", "url": url, "headers": {KEY_HEADER: f"${{input:{key_input}}}"}}},
    }
    desktop = {"mcpServers": {name: {"command": "npx", "args": ["-y", "mcp-remote", url, "--header",
                                                                f"{KEY_HEADER}:${{MCP_KEY}}"],
                                     "env": {"MCP_KEY": "<mcp_extension key>"}}}}
    lines = [
        f"MCP server '{name}' on Azure Functions ({env['AZURE_FUNCTION_APP_NAME']}):",
        f"  Streamable HTTP  {url}",
        f"  Legacy SSE       {sse_url}",
        f"  Key              the system key mcp_extension, in the {KEY_HEADER} header; once `azd deploy` has run:",
        f"                   {fetch_key}",
        "",
        "VS Code (.vscode/mcp.json; asks for the key when the server starts):",
        f"  {json.dumps(vscode)}",
        "Claude Code:",
        f"  claude mcp add --transport http {name} {url} --header \"{KEY_HEADER}: $({fetch_key})\"",
        "Claude Desktop (claude_desktop_config.json; put the key in MCP_KEY):",
        f"  {json.dumps(desktop)}",
        "MCP Inspector (npx @modelcontextprotocol/inspector):",
        f"  transport Streamable HTTP, URL {url}, header \"{KEY_HEADER}: <mcp_extension key>\"",
        "Azure AI Foundry agent:",
        f"  MCP_EXTENSION_KEY=$({fetch_key}) .venv/bin/python scripts/register_foundry_agent.py "
        f"--project-endpoint <Foundry project endpoint> --model <deployment> --server-url {url}",
    ]
    dashboard = env.get("DURABLE_TASK_SCHEDULER_DASHBOARD_URL")
    if dashboard:
        lines += ["", f"Jobs in the Durable Task Scheduler dashboard: {dashboard}"]
    return "\n".join(lines)


def main() -> int:
    try:
        print(connection_text(os.environ, server_name()), flush=True)
    except KeyError as exc:
        print(f"postprovision: {exc.args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
