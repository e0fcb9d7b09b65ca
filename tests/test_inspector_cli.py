"""The MCP Inspector CLI commands the README and the banner give, run as written against the real host.

The Inspector is npm `@modelcontextprotocol/inspector`, pinned in tests/node/inspector/package.json (and its
lock) at the version the README's commands name (`npx <package>@<version>` runs that same package); `make
test` installs it. The key goes in the
`x-functions-key` header (`--header`) or the `?code=` query, the two ways the Azure MCP extension takes it.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess

from host.banner import INSPECTOR
from testing.host_process import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
INSPECTOR_DIR = PROJECT_ROOT / "tests" / "node" / "inspector"
INSPECTOR_BIN = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"


def readme_commands() -> list[str]:
    """The `npx @modelcontextprotocol/inspector@...` commands of the README's code blocks (lines joined)."""
    text = README.read_text().replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip().startswith("npx " + INSPECTOR)]


def run_inspector(command: str, host) -> subprocess.CompletedProcess:
    """`command` as a person would paste it, with the host's URL and key filled in; `npx <pinned>` is the
    install of that version in tests/node/inspector."""
    command = command.replace("http://localhost:7071", host.base_url).replace("<key>", host.mcp_key)
    argv = shlex.split(command)
    assert argv[:2] == ["npx", INSPECTOR], argv
    return subprocess.run([str(INSPECTOR_BIN), *argv[2:]], capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT)


def test_the_pinned_inspector_is_the_one_installed():
    package = json.loads((INSPECTOR_DIR / "package.json").read_text())["devDependencies"]
    assert INSPECTOR == f"@modelcontextprotocol/inspector@{package['@modelcontextprotocol/inspector']}"
    assert readme_commands(), "the README gives no Inspector CLI command"


def test_the_readme_inspector_commands_work_as_written(host):
    results = {}
    for command in readme_commands():
        done = run_inspector(command, host)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        results[command] = json.loads(done.stdout)
    listed = [r for c, r in results.items() if "--method tools/list" in c]
    assert listed and all("run_agent" in {tool["name"] for tool in r["tools"]} for r in listed)
    called = [r for c, r in results.items() if "--tool-name list_jobs" in c]
    assert called and all("jobs" in json.loads(r["content"][0]["text"]) for r in called)


def test_the_banner_inspector_command_works_as_printed(host):
    command = re.search(r"^  CLI: (npx .*)$", host.log(), re.MULTILINE).group(1)
    done = run_inspector(command.replace(host.base_url.replace("127.0.0.1", "localhost"), host.base_url), host)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    assert "get_job" in {tool["name"] for tool in json.loads(done.stdout)["tools"]}
