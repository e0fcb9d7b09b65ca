"""What keeps an agent step going, or ends it cleanly, when a model makes the mistakes small models make
(issue 22 §1, faults 6 and 7; the run-level counterpart of `structured.py`).

- **Repetition.** A model that repeats the same tool call and gets the same result learns nothing new: a
  fixer alternated two calls 40 times (10 minutes and 261k prompt tokens in one round). `RepetitionGuard`
  wraps each tool: the second time a call (name and arguments) returns the same result, the result comes
  back with a note saying so and what to do instead; the third time, the step ends with what it has
  (`stopped`), instead of running to the turn limit. Calls and results are replayed from the history, so
  the guard decides the same on every replay.
- **Unknown tools.** A small model "calls" the functions of its contract as if they were tools. The Agents
  SDK would end the run (`ModelBehaviorError`); with `run_config` the call is answered with the tools it has
  and what to do instead, and the run goes on.
- **The turn limit.** `max_turns_handler` ends a step that used all its turns with what it has, and says so,
  instead of failing it (`MaxTurnsExceeded` failed the whole job).
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

from agents import FunctionTool, RunConfig, RunContextWrapper, ToolsToFinalOutputResult
from agents.run_config import ToolErrorFormatterArgs
from agents.run_error_handlers import RunErrorHandlerInput, RunErrorHandlerResult

from orchestrations.agents.context_budget import cut, tool_result_chars

NUDGE_AT = 2  # the same call with the same result, for the second time: a note
STOP_AT = 3  # for the third time: the step ends


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except ValueError:
        return arguments or ""


class RepetitionGuard:
    """Counts (tool, arguments, result) across one agent step; see the module docstring."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, str]] = Counter()
        self.stopped: str | None = None

    def note(self, name: str, arguments: str, result: Any) -> Any:
        """The result the model gets for this call: the tool's own, with a note when it is a repeat."""
        key = (name, _canonical(arguments), str(result))
        self.seen[key] += 1
        count = self.seen[key]
        if count < NUDGE_AT:
            return result
        if count >= STOP_AT and self.stopped is None:
            self.stopped = (f"it repeated the call {name}({key[1][:200]}) {count} times with the same result, "
                            f"so the step was ended")
        return (f"{result}\n\n[Note: you already called {name} with these arguments and got this same result "
                f"{count - 1} time(s). Repeating it changes nothing: do something else (change a file, call "
                f"another tool) or give your final answer now.]")

    def watch(self, tools: list[FunctionTool]) -> list[FunctionTool]:
        """The tools, each reporting its calls to this guard, their text results cut to what fits the model's
        context (`context_budget.tool_result_chars`)."""
        def watched(tool: FunctionTool) -> FunctionTool:
            async def invoke(ctx: RunContextWrapper[Any], arguments: str) -> Any:
                result = await tool.on_invoke_tool(ctx, arguments)
                if isinstance(result, str):
                    result = cut(result, tool_result_chars(), f"{tool.name} result")
                return self.note(tool.name, arguments, result)
            return dataclasses.replace(tool, on_invoke_tool=invoke)
        return [watched(tool) for tool in tools]

    def tool_use_behavior(self, context: RunContextWrapper[Any], results: list[Any]) -> ToolsToFinalOutputResult:
        """The Agents SDK's `tool_use_behavior`: run the model again, unless the guard stopped the step."""
        if self.stopped:
            return ToolsToFinalOutputResult(is_final_output=True, final_output=f"(stopped: {self.stopped})")
        return ToolsToFinalOutputResult(is_final_output=False)


def run_config(tool_names: list[str], hint: str | None = None) -> RunConfig:
    """A `RunConfig` under which a call to a tool that does not exist is answered, not fatal."""
    def formatter(args: ToolErrorFormatterArgs) -> str | None:
        if args.kind != "tool_not_found":
            return None
        tools = ", ".join(tool_names) if tool_names else "none"
        return (f"Error: there is no tool named {args.tool_name!r}. Your tools are: {tools}. "
                f"{hint or 'Call one of them with JSON arguments, or give your final answer as text.'}")
    return RunConfig(tool_not_found_behavior="return_error_to_model", tool_error_formatter=formatter)


def max_turns_handler(stopped: dict[str, str]) -> Any:
    """An `error_handlers["max_turns"]` that ends the step with a note instead of failing it; records why in
    `stopped["reason"]`."""
    def handle(data: RunErrorHandlerInput[Any]) -> RunErrorHandlerResult:
        stopped["reason"] = f"it used all its turns ({data.error})"
        return RunErrorHandlerResult(final_output=f"(stopped: {stopped['reason']})", include_in_history=False)
    return handle
