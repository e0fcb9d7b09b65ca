"""Activity tools by name: the activities an agent step may call as tools (issue 18).

An agent step is a sub-orchestration (`agents/step.py`), which may run on another instance than the
job that asked for it, so its input names its tools and the step finds them here. Every app instance
imports every module at start, so a tool declared at import (`register`: the built-in tools, and each
`@bp.activity_tool` of a job module) is known to every step.

Each tool is the SDK's activity tool (`context.create_activity_tool`): the tool's name and JSON schema
come from the activity's one parameter, its description from the docstring (written for the model),
and each call is a checkpointed activity.
"""
from __future__ import annotations

from typing import Any, Iterable

from azure.functions.decorators.function_app import FunctionBuilder

_TOOLS: dict[str, FunctionBuilder] = {}


def activity_name(activity: FunctionBuilder) -> str:
    """The Durable name of an activity function (its trigger's `activity`, else the function's name)."""
    trigger = activity._function.get_trigger()
    return getattr(trigger, "activity", None) or activity._function.get_function_name()


def register(activity: FunctionBuilder) -> FunctionBuilder:
    """Make an activity function (the object `@bp.activity_trigger` returned) available to agents by name."""
    name = activity_name(activity)
    earlier = _TOOLS.get(name)
    if earlier is not None and earlier is not activity:
        raise ValueError(f"Two activity tools are named '{name}': give one of them another name "
                         f"(@bp.activity_tool(name=...)).")
    _TOOLS[name] = activity
    return activity


def names() -> tuple[str, ...]:
    """Every activity tool's name."""
    return tuple(_TOOLS)


def name_of(tool: Any) -> str:
    """A tool as a step input names it: a registered activity function, or the name of one."""
    if isinstance(tool, str):
        name = tool
    elif isinstance(tool, FunctionBuilder):
        name = activity_name(tool)
    else:
        name = ""
    if name not in _TOOLS:
        raise ValueError(f"{tool!r} is not an activity tool: pass a function declared with @bp.activity_tool "
                         f"or the name of one ({', '.join(_TOOLS)}).")
    return name


def agent_tools(context: Any, names: Iterable[str]) -> list[Any]:
    """The named activity tools for an agent of a durable agent orchestrator (`context`)."""
    return [context.create_activity_tool(_TOOLS[name_of(name)]) for name in names]
