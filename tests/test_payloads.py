"""The payload helper (orchestrations/payloads.py): its measures are the engine's, and what it cuts fits,
for every script; and how a model call's input and answer are kept under the limit
(agents/model_payloads.py). The producers that use them are tested against the real host
(test_payload_sizes.py)."""
from __future__ import annotations

import json

import pytest
from agents.run_config import CallModelData, ModelInputData
from azure.durable_functions.models.utils.df_serialization import df_dumps
from pydantic_core import to_json

from host.durable.payloads import activity_input_bytes, activity_result_bytes, extension_json, stored_bytes
from orchestrations.agents.model_payloads import ConversationTooLarge, bounded_answer, bounded_model_input
from orchestrations.job_status import STATUS_BUDGET_BYTES, request_input, set_progress
from orchestrations.payloads import (MODEL_INPUT_BUDGET_BYTES, PAYLOAD_BUDGET_BYTES, cut, fit, input_bytes,
                                     model_input_bytes, result_bytes, status_bytes)
from testing import multibyte

# Every kind of trouble (testing/multibyte.py), and lone surrogates, which JSON carries as escapes.
TEXTS = {**{kind: sample * 60 for kind, sample in multibyte.SAMPLES.items()},
         "lone surrogates": "a\ud800b\udfffc" * 100}
MEASURES = {"result": result_bytes, "input": input_bytes, "model input": model_input_bytes, "status": status_bytes}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_measures_are_the_engines(text):
    """The app's measures agree with the local host's, which follows Azure (a drift would let a
    payload the app thinks fits be refused)."""
    value = {"text": text, "list": [text[:7], 1, None, True]}
    assert result_bytes(value) == stored_bytes(value) == activity_result_bytes(df_dumps(value))
    assert input_bytes(value) == activity_input_bytes(df_dumps(value))
    # a model call's input: the SDK's JSON text of the conversation (pydantic, which refuses lone surrogates),
    # handed over as an activity input
    if "\ud800" not in text:
        assert model_input_bytes(value) == activity_input_bytes(df_dumps(to_json(value).decode()))
    assert status_bytes(value) == len(extension_json(value).encode("utf-16-le", "surrogatepass"))


def test_the_costs_of_one_character():
    """The table in the module docstring."""
    costs = {"a": (1, 1, 1, 2), '"': (2, 4, 8, 4), "\n": (2, 3, 5, 4), "\x01": (6, 7, 9, 12), "日": (3, 7, 7, 2),
             "😀": (4, 14, 14, 4)}
    for character, expected in costs.items():
        assert tuple(measure(character * 2) - measure(character) for measure in MEASURES.values()) == expected


@pytest.mark.parametrize("measure", MEASURES.values(), ids=MEASURES.keys())
@pytest.mark.parametrize("name", TEXTS)
def test_cut_fits_and_splits_no_character(name, measure):
    text = TEXTS[name]
    budget = measure(text) // 3
    shorter = cut(text, budget, measure, what="the page")
    assert budget - 200 < measure(shorter) <= budget  # as much as fits, short of one joined emoji at most
    kept, _, note = shorter.partition("\n[cut: the page has ")
    assert text.startswith(kept) and kept
    assert note.startswith(f"{len(text):,} characters; only the first {len(kept):,} are here")
    before, after = text[len(kept) - 1], text[len(kept)]
    assert before != "\u200d" and (before, after) != ("\r", "\n")
    assert after not in "\u0301\u200d\U0001f3fd\U000e0067\U000e007f\ufe0f"
    json.dumps(shorter)  # still a string JSON can carry


def test_cut_leaves_a_text_that_fits_alone():
    assert cut("short", 100) == "short"
    assert cut("x" * 1000, 10).startswith("\n[cut: this text has 1,000 characters; only the first 0")


def test_fit_cuts_the_costliest_strings_first():
    value = {"title": "日本" * 10, "parts": [{"text": "日本語" * 30_000}, {"text": "a" * 50_000}], "n": 3}
    fitted = fit(value, 150_000, input_bytes)
    assert input_bytes(fitted) <= 150_000
    assert fitted["title"] == value["title"] and fitted["n"] == 3  # small parts untouched
    assert "[cut: this text has 90,000 characters" in fitted["parts"][0]["text"]
    assert value["parts"][0]["text"] == "日本語" * 30_000  # the original is not changed
    with pytest.raises(ValueError):
        fit(list(range(100_000)), 1000)


def conversation(*parts: str) -> CallModelData:
    """A task, then a tool call and its result per part."""
    items: list = [{"role": "user", "content": "the task"}]
    for n, part in enumerate(parts):
        items += [{"type": "function_call", "call_id": f"c{n}", "name": "write_file",
                   "arguments": json.dumps({"path": f"f{n}.py", "content": part})},
                  {"type": "function_call_output", "call_id": f"c{n}", "output": part}]
    return CallModelData(model_data=ModelInputData(input=items, instructions="be brief"), agent=None, context=None)


def test_a_conversation_over_a_model_calls_input_loses_its_oldest_parts_first():
    parts = [multibyte.text(kind, 100_000) for kind in ("escapes", "japanese", "emoji", "cyrillic")]
    data = conversation(*parts)
    bounded = bounded_model_input(data)
    assert model_input_bytes({"input": bounded.input, "system_instructions": "be brief"}) <= MODEL_INPUT_BUDGET_BYTES
    assert bounded.input[0] == data.model_data.input[0] and bounded.instructions == "be brief"
    first_call, first_result = bounded.input[1], bounded.input[2]
    assert "[cut: this earlier tool result has " in first_result["output"]
    assert json.loads(first_call["arguments"])["path"] == "f0.py"  # still JSON, only the long content cut
    assert bounded.input[-1] == data.model_data.input[-1]  # the latest result is whole
    assert bounded_model_input(conversation(*parts)).input == bounded.input  # the same on every replay
    small = conversation("short")
    assert bounded_model_input(small) is small.model_data


def test_a_task_too_large_for_a_model_call_fails_with_the_reason():
    data = CallModelData(model_data=ModelInputData(input=[{"role": "user", "content": "日" * 200_000}],
                                                   instructions=None), agent=None, context=None)
    with pytest.raises(ConversationTooLarge, match="the task or the instructions are too long"):
        bounded_model_input(data)


def test_a_model_answer_is_cut_to_one_payload():
    answer = {"output": [{"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": multibyte.text("emoji", 1_000_000)}]}],
              "usage": {"requests": 1}}
    bounded = bounded_answer(answer)
    assert input_bytes(bounded) <= PAYLOAD_BUDGET_BYTES and bounded["usage"] == answer["usage"]
    assert "[cut: this text has " in bounded["output"][0]["content"][0]["text"]
    small = {"output": [{"type": "function_call", "name": "calculate", "arguments": '{"expression": "1+1"}'}]}
    assert bounded_answer(small) == small


class StatusRecorder:
    """Takes the one call job_status makes on an orchestration context."""

    def set_custom_status(self, value):
        self.status = value


def test_custom_status_stays_under_azures_16_kb_in_any_script():
    """An input request whose prompt is 2,000 characters of control characters and emoji was 22,252 bytes
    of UTF-16 as Azure counts it (a control character is a 6-character escape): over Azure's 16 KB, which
    fails the orchestration."""
    context = StatusRecorder()
    request_input(context, "approval", "\x01" * 1000 + "😀" * 1000, schema={"type": "object"})
    assert status_bytes(context.status) <= STATUS_BUDGET_BYTES
    assert context.status["input_request"]["prompt"].startswith("\x01" * 100)
    set_progress(context, "running", '"\\' * 250)
    assert status_bytes(context.status) <= STATUS_BUDGET_BYTES
