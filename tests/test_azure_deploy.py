"""Azure's own Python worker indexes what we deploy, and sees the functions and MCP tools the local host serves.

The file set is what .funcignore keeps; the venv holds only requirements.txt, for the Python version infra/
deploys; the worker is `azure-functions-runtime`, the worker library Azure runs for Python 3.13+ (issue 13).
"""
from __future__ import annotations

import inspect
import json
import os

import pytest

from testing import deploy, infra
from testing.mcp_client import connect

FORBIDDEN_PACKAGES = {"host", "tests", "testing", "bench", "demo", "scripts", "infra"}
PLACEHOLDER_CLIENT_ID = "00000000-0000-0000-0000-000000000000"


def azure_environment() -> dict[str, str]:
    """The environment the app imports in on Azure: the settings infra/ sets, with stand-in values."""
    env = {"PATH": os.environ.get("PATH", ""), "FUNCTIONS_WORKER_RUNTIME": "python",
           "WEBSITE_INSTANCE_ID": "0" * 64, "HOME": os.environ.get("HOME", "/tmp")}
    for name in infra.app_settings():
        if name.endswith(("Uri", "ENDPOINT")):
            env[name] = "https://placeholder.invalid/"
        elif name.lower().endswith("clientid") or name == "AZURE_CLIENT_ID":
            env[name] = PLACEHOLDER_CLIENT_ID
        else:
            env[name] = "placeholder"
    return env


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(worker result, local host's index) for the staged deployable app."""
    version = infra.parameter(infra.MAIN_BICEP, "pythonVersion").default
    python = deploy.deploy_venv(version)
    app = deploy.stage(tmp_path_factory.mktemp("wwwroot"))
    env = azure_environment()
    return deploy.worker_index(python, app, env), deploy.local_index(app, env)


def normalized(bindings: list[dict]) -> list[dict]:
    """Bindings with docstring indentation removed: Python 3.13 strips it from __doc__, earlier versions keep it."""
    return [{**b, "description": inspect.cleandoc(b["description"])} if "description" in b else b for b in bindings]


def test_deployable_files_leave_out_what_azure_must_not_run():
    files = {path.parts[0] for path in deploy.deployable_files()}
    assert {"function_app.py", "host.json", "requirements.txt", "tools", "orchestrations"} <= files
    assert not files & (FORBIDDEN_PACKAGES | {".venv", ".git", ".durable", ".appdata", "node_modules"}), files
    assert not any(name.startswith(".venv") for name in files), files


def test_worker_indexes_every_function_without_error(deployed):
    worker, local = deployed
    assert worker["status"] == "Success", worker["error"]
    assert sorted(f["name"] for f in worker["functions"]) == sorted(local)
    for function in worker["functions"]:
        assert function["script_file"] == "function_app.py"
        assert normalized(function["bindings"]) == normalized(local[function["name"]]), function["name"]


def test_worker_imports_nothing_outside_the_app(deployed):
    worker, _ = deployed
    assert not FORBIDDEN_PACKAGES & set(worker["top_level"]), sorted(FORBIDDEN_PACKAGES & set(worker["top_level"]))
    app_packages = {name.partition(".")[0] for name in worker["modules"]}
    assert app_packages == {"function_app", "tools", "orchestrations"}, app_packages


def schema_shape(schema: dict) -> dict:
    """Property names with their types (arrays with their item type) and the required names."""
    def kind(prop: dict):
        return ("array", prop["items"]["type"]) if prop.get("type") == "array" else prop.get("type")
    return {"properties": {name: kind(prop) for name, prop in schema.get("properties", {}).items()},
            "required": sorted(schema.get("required", []))}


def binding_shape(binding: dict) -> dict:
    """The input schema the MCP extension builds from a tool trigger binding: the worker's `inputSchema` when
    `useWorkerInputSchema` is set, else one from `toolProperties` (McpToolTriggerAttribute)."""
    if binding.get("useWorkerInputSchema"):
        return schema_shape(json.loads(binding["inputSchema"]))
    properties = json.loads(binding.get("toolProperties") or "[]")
    return {"properties": {p["propertyName"]: ("array", p["propertyType"]) if p.get("isArray") else p["propertyType"]
                           for p in properties},
            "required": sorted(p["propertyName"] for p in properties if p.get("isRequired"))}


async def test_worker_tool_bindings_are_what_the_local_host_serves(deployed, host):
    worker, _ = deployed
    from_worker = {b["toolName"]: binding_shape(b) for f in worker["functions"] for b in f["bindings"]
                   if b["type"] == "mcpToolTrigger"}
    async with connect(host) as client:
        listing = await client.list_tools()
    assert from_worker == {tool.name: schema_shape(tool.input_schema) for tool in listing.tools}
    # An extension older than worker input schemas reads toolProperties: it must describe the same inputs.
    for binding in (b for f in worker["functions"] for b in f["bindings"]
                    if b["type"] == "mcpToolTrigger" and b.get("useWorkerInputSchema") and "toolProperties" in b):
        assert binding_shape({**binding, "useWorkerInputSchema": False}) == from_worker[binding["toolName"]], \
            binding["toolName"]
