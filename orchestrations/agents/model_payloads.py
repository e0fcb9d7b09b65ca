"""A model call's input and answer stay under the Durable payload limit (issue 21 §2).

Every model call is the `run_model` activity: its input is the whole conversation so far (the SDK's
JSON text of it, escaped again as an activity input: `payloads.model_input_bytes`), its result the
model's answer. Both are Durable payloads, so both are bounded here, in the orchestrator before the
call is scheduled and in the activity before the answer is returned.

The conversation of a long agent run legitimately grows past what one payload can carry (each tool
result may take `MODEL_TEXT_BUDGET_BYTES`). Before each call, `bounded_model_input` (the SDK's
`call_model_input_filter`) cuts the oldest tool results, tool-call arguments and answers to a
short beginning with a note, oldest first, until the input fits `MODEL_INPUT_BUDGET_BYTES`: the
model keeps the task, its latest steps and what it did before, in short; it can call a tool again
for what was cut. The first message (the task) is never cut: when it and the instructions alone do
not fit, the run fails with `ConversationTooLarge`, which says so (a model would refuse such an
input too), instead of the engine's refusal of an oversized activity input. Deterministic: the same
conversation is cut the same way on every replay.

An answer over `PAYLOAD_BUDGET_BYTES` (only possible with `MODEL_MAX_OUTPUT_TOKENS=0`) has its text
cut with a note; a tool call whose arguments could not be handed to the tool's activity fails the
call with `AnswerTooLarge`, saying why (cutting them would run the tool on something else).
"""
from __future__ import annotations

import json
from typing import Any

from agents.run_config import CallModelData, ModelInputData
from pydantic_core import to_json

from orchestrations.payloads import (MODEL_INPUT_BUDGET_BYTES, PAYLOAD_BUDGET_BYTES, cut, fit, input_bytes,
                                     model_input_bytes)

EARLIER_PART_BYTES = 2_000  # what is left of an earlier tool result, tool-call arguments or answer


class ConversationTooLarge(ValueError):
    """The task and instructions alone are over what one model call's input can carry."""


class AnswerTooLarge(ValueError):
    """A model's tool call whose arguments are over what one activity input can carry."""


def _conversation_bytes(items: list[Any], instructions: str | None) -> int:
    return model_input_bytes({"input": items, "system_instructions": instructions})


def _shortened(item: dict[str, Any]) -> dict[str, Any]:
    """An earlier item cut to `EARLIER_PART_BYTES`: a tool result, a tool call's arguments (still JSON:
    the strings inside are cut) or the text of an answer."""
    kind = item.get("type")
    if kind == "function_call_output" and isinstance(item.get("output"), str):
        return {**item, "output": cut(item["output"], EARLIER_PART_BYTES, model_input_bytes, "this earlier tool result")}
    if kind == "function_call" and isinstance(item.get("arguments"), str):
        try:
            arguments = json.dumps(fit(json.loads(item["arguments"]), EARLIER_PART_BYTES, model_input_bytes))
        except ValueError:  # not JSON, or JSON with too many small parts: cut as text
            arguments = cut(item["arguments"], EARLIER_PART_BYTES, model_input_bytes, "these earlier arguments")
        return {**item, "arguments": arguments}
    if item.get("role") == "assistant" and isinstance(item.get("content"), (str, list)):
        return {**item, "content": fit(item["content"], EARLIER_PART_BYTES, model_input_bytes)}
    return item


def bounded_model_input(data: CallModelData[Any]) -> ModelInputData:
    """The model input with its oldest parts cut until it fits (see the module docstring);
    `ConversationTooLarge` when even the first message and the instructions do not."""
    items, instructions = data.model_data.input, data.model_data.instructions
    size = _conversation_bytes(items, instructions)
    if size <= MODEL_INPUT_BUDGET_BYTES:
        return data.model_data
    items = json.loads(to_json(items))  # plain JSON data, as the SDK sends it
    for index in range(1, len(items)):
        items[index] = _shortened(items[index])
        size = _conversation_bytes(items, instructions)
        if size <= MODEL_INPUT_BUDGET_BYTES:
            return ModelInputData(input=items, instructions=instructions)
    raise ConversationTooLarge(
        f"the agent's conversation is {size:,} bytes as a model call's input even with every earlier tool "
        f"result cut, over the {MODEL_INPUT_BUDGET_BYTES:,} one Durable payload can carry: the task or the "
        f"instructions are too long")


def _tool_input_bytes(arguments: str) -> int:
    """A tool call's arguments as its activity's input (the SDK passes the parsed value)."""
    try:
        return input_bytes(json.loads(arguments))
    except ValueError:
        return input_bytes(arguments)


def bounded_answer(response: dict[str, Any]) -> dict[str, Any]:
    """A model's answer (the SDK's `ModelResponse` as data, which `run_model` returns as JSON text: it
    weighs `input_bytes`) under `PAYLOAD_BUDGET_BYTES`: the text of its messages cut with a note when
    over; `AnswerTooLarge` for a tool call whose arguments no activity input can carry."""
    for item in response.get("output") or []:
        arguments = item.get("arguments") if item.get("type") == "function_call" else None
        if isinstance(arguments, str) and _tool_input_bytes(arguments) > PAYLOAD_BUDGET_BYTES:
            raise AnswerTooLarge(
                f"the model called {item.get('name')} with arguments of {_tool_input_bytes(arguments):,} bytes as "
                f"the tool's activity input, over the {PAYLOAD_BUDGET_BYTES:,} one Durable payload can carry; "
                f"lower MODEL_MAX_OUTPUT_TOKENS")
    if input_bytes(response) <= PAYLOAD_BUDGET_BYTES:
        return response
    output = response["output"]
    others = input_bytes({**response, "output": [item for item in output if item.get("type") != "message"]})
    messages = iter(fit([item for item in output if item.get("type") == "message"],
                        max(0, PAYLOAD_BUDGET_BYTES - others), input_bytes))
    return {**response, "output": [next(messages) if item.get("type") == "message" else item for item in output]}
