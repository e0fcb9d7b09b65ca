"""Load a Python v2 function app the way the Azure Functions Python worker does.

The host never imports the app's modules by name: it is pointed at a folder, loads
`local.settings.json` into the environment (before the import, because apps configure
clients at import time), imports the script, finds exactly one FunctionApp/DFApp and
indexes its functions once (`get_functions()` may only be called once per app object).
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import azure.functions as func


class AppLoadError(Exception):
    """The folder does not hold an app the worker could index."""


@dataclass
class AppFunction:
    """One indexed function: its bindings as the worker sees them, and the callable to invoke."""

    name: str
    trigger: dict[str, Any]
    bindings: list[dict[str, Any]]
    user_function: Callable[..., Any]

    @property
    def trigger_type(self) -> str:
        return self.trigger.get("type", "")

    @property
    def durable_name(self) -> str:
        """Durable functions are addressed by their binding's name, falling back to the function name."""
        for key in ("orchestration", "activity", "entityName"):
            if self.trigger.get(key):
                return str(self.trigger[key])
        return self.name

    def input_bindings(self) -> list[dict[str, Any]]:
        return [b for b in self.bindings if b is not self.trigger and b.get("direction", "IN").upper() == "IN"]


@dataclass
class LoadedApp:
    directory: Path
    host_config: dict[str, Any]
    functions: dict[str, AppFunction]
    orchestrators: dict[str, AppFunction] = field(default_factory=dict)
    activities: dict[str, AppFunction] = field(default_factory=dict)
    entities: dict[str, AppFunction] = field(default_factory=dict)

    def by_trigger(self, trigger_type: str) -> list[AppFunction]:
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def orchestrator(self, name: str) -> AppFunction | None:
        return self.orchestrators.get(name.lower())

    def activity(self, name: str) -> AppFunction | None:
        return self.activities.get(name.lower())

    def extension_config(self, name: str) -> dict[str, Any]:
        return dict((self.host_config.get("extensions") or {}).get(name) or {})


def load_local_settings(app_dir: Path) -> dict[str, str]:
    """Copy `Values` of local.settings.json into os.environ; variables already set win, as with Core Tools."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8-sig")).get("Values") or {}
    except json.JSONDecodeError as exc:
        raise AppLoadError(f"{path} is not valid JSON: {exc}") from exc
    applied = {}
    for key, value in values.items():
        if key not in os.environ and value is not None:
            os.environ[key] = str(value)
            applied[key] = str(value)
    return applied


HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def read_host_config(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "host.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise AppLoadError(f"{path} is not valid JSON: {exc}") from exc


def with_host_overrides(config: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """host.json with the app settings that override it, as Azure applies them: a setting named
    `AzureFunctionsJobHost__extensions__mcp__system__webhookAuthorizationLevel` replaces that value (names
    compared without case; "Override host.json values", learn.microsoft.com/azure/azure-functions/
    functions-host-json#override-hostjson-values). infra/ turns the MCP key off this way when Entra ID signs
    callers in, so host.json stays the single-user default."""
    merged = json.loads(json.dumps(config))
    for name, value in environ.items():
        if not name.lower().startswith(HOST_OVERRIDE_PREFIX.lower()):
            continue
        parts = [part for part in name[len(HOST_OVERRIDE_PREFIX):].split("__") if part]
        if not parts:
            continue
        *parents, leaf = parts
        node = merged
        for part in parents:
            key = next((k for k in node if k.lower() == part.lower()), part)
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[next((k for k in node if k.lower() == leaf.lower()), leaf)] = value
    return merged


def _find_function_app(module: Any) -> func.FunctionRegister:
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise AppLoadError(
            f"{module.__file__} must define exactly one FunctionApp or DFApp at module level, found {len(apps)}"
        )
    return apps[0]


def _index(app_obj: func.FunctionRegister) -> dict[str, AppFunction]:
    functions: dict[str, AppFunction] = {}
    for fn in app_obj.get_functions():
        bindings = [json.loads(raw) for raw in fn.get_raw_bindings()]
        trigger = next((b for b in bindings if str(b.get("type", "")).endswith("Trigger")), None)
        if trigger is None:
            raise AppLoadError(f"function {fn.get_function_name()} has no trigger binding")
        name = fn.get_function_name()
        functions[name] = AppFunction(name, trigger, bindings, fn.get_user_function())
    return functions


def load_error(script: str, app_dir: Path, error: Exception) -> str:
    """One line for an app that raised while it was imported or indexed (the worker fails the app's
    indexing then, with the exception's message): the message, and where in the app folder it was raised.
    The message is the app's own; an app that refuses a mistake says the fix there."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        if path.is_relative_to(app_dir) and "site-packages" not in path.parts:
            where = f" ({path.relative_to(app_dir)}:{frame.lineno})"
    message = " ".join(str(error).split()) or "no message"
    return f"{script} could not be loaded: {type(error).__name__}: {message}{where}"


def load_app(app_dir: Path | str) -> LoadedApp:
    """Import and index the app in `app_dir` (a folder holding function_app.py)."""
    app_dir = Path(app_dir).resolve()
    script = os.environ.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")
    if not (app_dir / script).exists():
        raise AppLoadError(f"{app_dir} has no {script}")
    load_local_settings(app_dir)
    host_config = with_host_overrides(read_host_config(app_dir), dict(os.environ))
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    try:
        module = importlib.import_module(Path(script).stem)
        functions = _index(_find_function_app(module))
    except AppLoadError:
        raise
    except Exception as error:  # the app's own code refused to load, or the library refused to index it
        raise AppLoadError(load_error(script, app_dir, error)) from error
    loaded = LoadedApp(app_dir, host_config, functions)
    for f in functions.values():
        key = f.durable_name.lower()
        if f.trigger_type == "orchestrationTrigger":
            loaded.orchestrators[key] = f
        elif f.trigger_type == "activityTrigger":
            loaded.activities[key] = f
        elif f.trigger_type == "entityTrigger":
            loaded.entities[key] = f
    return loaded
