"""Azure's own Python worker indexes what we deploy, and sees the functions and MCP tools the local host serves.

The file set is what .funcignore keeps; the venv holds only requirements.txt, for the Python version infra/
deploys; the worker is `azure-functions-runtime`, the worker library Azure runs for Python 3.13+ (issue 13).
"""
from __future__ import annotations

import inspect
import json
import os

import pytest
from packaging.requirements import Requirement

from testing import deploy, infra
from testing.host_process import PROJECT_ROOT
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
    assert {"function_app.py", "host.json", "requirements.txt", "agent_jobs", "tools", "orchestrations"} <= files
    assert not files & (FORBIDDEN_PACKAGES | {".venv", ".git", ".durable", ".appdata", "node_modules"}), files
    assert not any(name.startswith(".venv") for name in files), files


def test_funcignore_drops_docs_caches_editor_folders_and_azd_environments(tmp_path):
    """Issue 17: what no deploy should carry, in any folder of a working copy: azd's environments (their .env
    holds the deployment's settings), caches, editor folders, docs."""
    (tmp_path / ".funcignore").write_text((PROJECT_ROOT / ".funcignore").read_text(encoding="utf-8"))
    kept = ["function_app.py", "host.json", "requirements.txt", "tools/jobs.py", "orchestrations/agent.py"]
    dropped = [".azure/dev/.env", ".azure/config.json", "README.md", "docs/design.md", ".vscode/settings.json",
               ".idea/workspace.xml", "tools/__pycache__/jobs.cpython-313.pyc", ".pytest_cache/v/cache/nodeids",
               ".ruff_cache/0.17.6/123", ".mypy_cache/3.13/x.json", "tools/jobs.py~", "tools/.jobs.py.swp",
               ".DS_Store", ".python_packages/lib/site-packages/x.py", "local.settings.json", ".coverage"]
    for name in kept + dropped:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert sorted(path.as_posix() for path in deploy.deployable_files(tmp_path)) == sorted(kept)


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
    assert app_packages == {"function_app", "agent_jobs", "tools", "orchestrations"}, app_packages


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


# A remote build on another Python than the app's runtime: Flex Consumption ran Python 3.11 for 3.13 apps
# (Azure/azure-dev#8538). 3.11 is the build Python that issue reports; any other supported version would do.
OTHER_BUILD_PYTHON = {"3.13": "3.11", "3.12": "3.11", "3.11": "3.13", "3.10": "3.13"}


def test_packages_built_for_another_python_fail_naming_both_versions(tmp_path_factory):
    """The 3.11 build succeeds (the markers pick azure-functions 1.x, pip fetches cp311 wheels); Azure's 3.13
    worker then indexed zero functions with "ImportError: cannot import name 'ArgsKwargs' from
    'pydantic_core._pydantic_core' ... Please check the requirements.txt file". The app now says which Python
    built its packages, which one runs them, and where the build's Python shows."""
    version = infra.parameter(infra.MAIN_BICEP, "pythonVersion").default
    build = OTHER_BUILD_PYTHON[version]
    python = deploy.deploy_venv(version)
    app = deploy.with_packages(deploy.stage(tmp_path_factory.mktemp("wwwroot")), deploy.remote_build(build))
    worker = deploy.worker_index(python, app, azure_environment())
    assert worker["status"] == "Failure" and worker["functions"] == []
    error = worker["error"]
    assert error.startswith("PackagesBuiltForAnotherPython: "), error
    assert f"built for Python {build} (" in error and f"but Python {version} runs the app" in error, error
    assert "az functionapp log deployment show" in error and "Azure/azure-dev#8538" in error, error


def test_azure_runs_the_worker_that_indexed_the_app(deployed):
    """requirements.txt pins the worker library for Python 3.13+ (runtime versioning, MS Learn "Python 3.13+
    changes"); without the pin Azure runs whichever version it defaults to, not the one indexed here."""
    worker, _ = deployed
    pins = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        requirement = line.partition("#")[0].strip()
        if requirement:
            parsed = Requirement(requirement)
            pins[parsed.name] = (str(parsed.specifier), str(parsed.marker))
    assert pins[deploy.WORKER_PACKAGE] == (f"=={worker['worker']}", 'python_version >= "3.13"')
