"""The startup banner: where the MCP server and the Durable API listen, and client configs to paste."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from host.durable.config import Replay
from host.http.triggers import starlette_path
from host.mcp.server import MCP_PATH, SSE_PATH

if TYPE_CHECKING:
    from host.server import LocalHost

# The Inspector the README's commands pin (its CLI has `--header` since 0.16.6; README "Connect a client").
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "functions"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def banner_text(local_host: "LocalHost") -> str:
    """The banner as text: URLs and key first, then one ready-to-paste entry per client."""
    settings, mcp = local_host.settings, local_host.mcp
    base = settings.public_base
    url, sse_url = f"{base}{MCP_PATH}", f"{base}{SSE_PATH}"
    name = _slug(mcp.server.name)
    key = settings.keys["mcp_extension"] if settings.mcp_auth_level.lower() != "anonymous" else None
    counts = mcp.catalog.counts()
    summary = ", ".join(_plural(counts[kind], kind) for kind in ("tool", "resource", "prompt"))
    lines = [
        f"MCP server '{mcp.server.name}' {mcp.server.version}: {summary}",
        f"  Streamable HTTP  {url}",
        f"  Legacy SSE       {sse_url}",
        f"  Key              {key}  (x-functions-key header or ?code=)" if key
        else "  Key              none (webhookAuthorizationLevel Anonymous)",
        "",
    ]
    auth = {"headers": {"x-functions-key": key}} if key else {}
    vscode = {"servers": {name: {"type": "http", "url": url, **auth}}}
    lines += ["VS Code (.vscode/mcp.json):", f"  {json.dumps(vscode)}"]
    header_flag = f' --header "x-functions-key: {key}"' if key else ""
    lines += ["Claude Code:", f"  claude mcp add --transport http {name} {url}{header_flag}"]
    remote_args = ["-y", "mcp-remote", url, *(["--header", f"x-functions-key:{key}"] if key else [])]
    desktop = {"mcpServers": {name: {"command": "npx", "args": remote_args}}}
    lines += ["Claude Desktop (claude_desktop_config.json):", f"  {json.dumps(desktop)}"]
    inspector_auth = f', header "x-functions-key: {key}"' if key else ""
    lines += [f"MCP Inspector (npx {INSPECTOR}):", f"  transport Streamable HTTP, URL {url}{inspector_auth}",
              f"  CLI: npx {INSPECTOR} --cli {url} --transport http{header_flag} --method tools/list", ""]
    lines += [f"Durable management API  {base}/runtime/webhooks/durabletask/instances"
              f"?code={settings.keys['durabletask_extension']}"]
    if settings.replay is Replay.AZURE:
        engine = local_host.engine.config
        lines += [f"Replay as on Azure      every episode from the start of its history; "
                  f"{settings.worker_threads} worker threads, {engine.max_concurrent_orchestrators} orchestrator "
                  f"episodes and {engine.max_concurrent_activities} activities at once"]
    lines += http_function_lines(local_host)
    return "\n".join(lines)


def http_function_lines(local_host: "LocalHost") -> list[str]:
    """The app's HTTP functions, as Core Tools lists them at start, and the function key they take."""
    functions = local_host.app.by_trigger("httpTrigger")
    if not functions:
        return []
    lines = ["", f"HTTP functions (function key {local_host.settings.keys['default']}: x-functions-key or ?code=)"]
    for function in functions:
        methods = ",".join(m.upper() for m in function.trigger.get("methods") or []) or "ALL"
        level = str(function.trigger.get("authLevel") or "FUNCTION").lower()
        path = starlette_path(function.trigger.get("route") or function.name)
        lines.append(f"  {function.name}: [{methods}] {local_host.settings.public_base}{path}  ({level})")
    return lines


def print_banner(local_host: "LocalHost") -> None:
    print(banner_text(local_host), flush=True)
