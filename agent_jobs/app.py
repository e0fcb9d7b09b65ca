"""`register_packages`: the app finds its functions by importing its packages (issue 18).

    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    register_run_model(app)
    register_packages(app, "orchestrations", "tools")

imports every module of each package, in the order given, and registers every blueprint found at
module level (a `JobBlueprint`, or any `df.Blueprint` / `func.Blueprint`), once each. So a job is one
module dropped into `orchestrations/`: no list to edit. Job modules come before `tools`, because the
tools' declarations are built from the jobs declared (tools/job_registry.py).

Then it checks what the Functions worker and the Durable extension would otherwise reject later, or
report with a message about a function the user never wrote, and raises `JobDeclarationError` with one
sentence that names the fix: two functions of one name, a job whose orchestrator is not a function of
the app, agents with no `run_model` activity. The same runs on Azure, where the worker imports
function_app.py and indexes it: the checks fail the start there as here.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any, Iterator

from azure.functions.decorators.function_app import DecoratorApi, FunctionBuilder, FunctionRegister

from tools import job_registry
from tools.job_registry import JobDeclarationError

RUN_MODEL = "run_model"  # the activity every durable agent's model calls go to (orchestrations/agents/run_model.py)


def modules(package: str) -> Iterator[ModuleType]:
    """The package and every module below it, imported, in name order."""
    root = importlib.import_module(package)
    yield root
    for info in sorted(pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."),
                       key=lambda found: found.name):
        yield importlib.import_module(info.name)


def register_packages(app: Any, *packages: str) -> None:
    """Register with `app` every blueprint of every module of `packages` (see the module docstring)."""
    registered: set[int] = set()
    for package in packages:
        for module in modules(package):
            for value in list(vars(module).values()):
                if isinstance(value, DecoratorApi) and not isinstance(value, FunctionRegister) \
                        and id(value) not in registered:
                    registered.add(id(value))
                    app.register_functions(value)
    check_app(app)


def _functions(app: Any) -> list[Any]:
    return [builder._function for builder in app._function_builders if isinstance(builder, FunctionBuilder)]


def _where(function: Any) -> str:
    user = function.get_user_function()
    code = getattr(user, "__code__", None)
    line = f":{code.co_firstlineno}" if code else ""
    return f"{getattr(user, '__module__', '?').replace('.', '/')}.py{line}"


def check_app(app: Any) -> None:
    """The start checks of the module docstring; `JobDeclarationError` for the first problem."""
    functions = _functions(app)
    seen: dict[str, Any] = {}
    for function in functions:
        name = function.get_function_name()
        earlier = seen.setdefault(name.lower(), function)
        if earlier is not function:
            raise JobDeclarationError(
                f"Two functions are named '{name}' ({_where(earlier)} and {_where(function)}): each function of an "
                f"app needs its own name; rename one (a job: @bp.job(name=...), an activity: activity=...).")
    orchestrations = {str(getattr(f.get_trigger(), "orchestration", None) or f.get_function_name()).lower()
                      for f in functions if f.get_trigger() and f.get_trigger().get_binding_name() == "orchestrationTrigger"}
    for job in job_registry.jobs():
        if job.orchestrator.lower() not in orchestrations:
            raise JobDeclarationError(
                f"Job '{job.name}' ({job.source}) has a launcher but its orchestrator '{job.orchestrator}' is not a "
                f"function of the app: register the blueprint that declares it (put its module in orchestrations/).")
    activities = {str(getattr(f.get_trigger(), "activity", None) or f.get_function_name()).lower()
                  for f in functions if f.get_trigger() and f.get_trigger().get_binding_name() == "activityTrigger"}
    if job_registry.jobs() and RUN_MODEL not in activities:
        raise JobDeclarationError(
            f"The app's jobs have no '{RUN_MODEL}' activity for their agents' model calls: call "
            f"orchestrations.agents.run_model.register_run_model(app) before register_packages.")
