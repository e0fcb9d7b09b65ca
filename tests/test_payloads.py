"""The payload helper (orchestrations/payloads.py): its measures are the engine's, and what it cuts fits,
for every script. The producers that use it are tested against the real host in their own files."""
from __future__ import annotations

import json

import pytest
from pydantic_core import to_json
from azure.durable_functions.models.utils.df_serialization import df_dumps

from host.durable.payloads import activity_input_bytes, activity_result_bytes, extension_json, stored_bytes
from orchestrations.payloads import cut, fit, input_bytes, model_input_bytes, result_bytes, status_bytes
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
