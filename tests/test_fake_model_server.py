"""The fake model server must look like OpenAI to the real clients, or every test built on it proves nothing.

Drives it with the real `openai` client, plain `agents.Runner.run` (no durable orchestrators here:
they replace the global runner), raw HTTP validated against openai's pydantic models, and a
subprocess controlled over `/_fake/*`.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import openai
import pytest
from agents import Agent, ModelSettings, OpenAIProvider, RunConfig, Runner, function_tool
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import BaseModel

from testing.fake_model_server import (
    CLIENT_GAVE_UP,
    STALL_POLL_SECONDS,
    CallStats,
    FakeModelServer,
    ScriptError,
    load_script,
)
from testing.host_process import PROJECT_ROOT

SCRIPT_FOR_LOADING = {"loaded": [{"text": "from a module"}]}


@pytest.fixture(scope="module")
def server():
    with FakeModelServer() as running:
        yield running


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture
def client(fake):
    return AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)


def responses_body(agent: str, text: str = "hi") -> dict:
    return {"model": "gpt-test", "instructions": f"[agent:{agent}] be brief", "input": text}


def chat_body(agent: str, text: str = "hi") -> dict:
    return {"model": "gpt-test", "messages": [{"role": "system", "content": f"[agent:{agent}] be brief"},
                                              {"role": "user", "content": text}]}


# ---------------------------------------------------------------------------------------------
# Wire shapes


def test_responses_wire_shape_validates_strictly(fake):
    fake.script({"a": [{"text": "note", "tool_calls": [{"name": "add", "arguments": {"a": 1}, "call_id": "call_1"}]}]})
    raw = httpx.post(f"{fake.base_url}/responses", json=responses_body("a")).json()
    response = Response.model_validate(raw)  # strict validation, unlike the client's lenient parsing
    message, call = response.output
    assert (message.type, message.content[0].text) == ("message", "note")
    assert (call.type, call.name, call.call_id, json.loads(call.arguments)) == ("function_call", "add", "call_1", {"a": 1})
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens > 0
    assert "namespace" not in raw["output"][1]


def test_chat_completion_wire_shape_validates_strictly(fake):
    fake.script({"a": [{"tool_calls": [{"name": "add", "arguments": '{"a": 1}'}, {"name": "sub", "arguments": {}}]},
                       {"json": {"score": 7}}]})
    first = ChatCompletion.model_validate(httpx.post(f"{fake.base_url}/chat/completions", json=chat_body("a")).json())
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls]
    assert calls == [("add", '{"a": 1}'), ("sub", "{}")]
    assert len({c.id for c in choice.message.tool_calls}) == 2
    second = ChatCompletion.model_validate(
        httpx.post(f"{fake.base_url}/chat/completions", json=chat_body("a", "next")).json())
    assert second.choices[0].finish_reason == "stop"
    assert json.loads(second.choices[0].message.content) == {"score": 7}
    assert second.usage.total_tokens > 0


async def test_openai_client_in_both_apis(fake, client):
    fake.script({"a": [{"text": "one"}, {"text": "two"}]})
    response = await client.responses.create(model="gpt-test", instructions="[agent:a]", input="hi")
    assert response.output_text == "one"
    completion = await client.chat.completions.create(
        model="gpt-test", messages=[{"role": "developer", "content": "[agent:a]"}])
    assert completion.choices[0].message.content == "two"
    models = await client.models.list()
    assert [m.id for m in models.data] == ["a"]
    calls = fake.stats().requests
    assert [c.path for c in calls] == ["/v1/responses", "/v1/chat/completions"]
    assert calls[0].auth == {"authorization": "Bearer test-key"}


async def test_azure_routes_answer_an_azure_client(fake):
    fake.script({"a": [{"text": "by responses"}, {"text": "by chat"}]})
    azure = AsyncAzureOpenAI(azure_endpoint=fake.url, api_key="azure-key", api_version="2025-04-01-preview",
                             max_retries=0)
    assert (await azure.responses.create(model="dep", instructions="[agent:a]", input="x")).output_text == "by responses"
    completion = await azure.chat.completions.create(model="dep", messages=[{"role": "system", "content": "[agent:a]"}])
    assert completion.choices[0].message.content == "by chat"
    calls = fake.stats().requests
    assert [c.path for c in calls] == ["/openai/responses?api-version=2025-04-01-preview",
                                       "/openai/deployments/dep/chat/completions?api-version=2025-04-01-preview"]
    assert calls[0].auth == {"api-key": "azure-key"}


async def test_agent_key_falls_back_to_model_then_to_wildcard(fake, client):
    fake.script({"gpt-planner": [{"text": "by model"}], "*": [{"text": "anyone", "repeat": True}]})
    assert (await client.responses.create(model="gpt-planner", input="x")).output_text == "by model"
    assert (await client.responses.create(model="unknown", input="x")).output_text == "anyone"
    with pytest.raises(openai.InternalServerError, match="'gpt-planner' is exhausted"):
        await client.responses.create(model="gpt-planner", input="y")  # its own script, not the wildcard's
    assert fake.stats().by_agent == {"gpt-planner": 2, "unknown": 1}


# ---------------------------------------------------------------------------------------------
# A plain Agents SDK agent over several turns with a function tool


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Verdict(BaseModel):
    total: int
    ok: bool


def calculator_script():
    return {
        "calc": [
            {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
            lambda request: {"tool_calls": [{"name": "add", "arguments": {"a": int(request.tool_outputs()[-1]), "b": 10}}]},
            lambda request: {"text": f"total {request.tool_outputs()[-1]} after {request.turn_index} turns"},
        ],
        "judge": [lambda request: {"json": {"total": int(request.user_text().split()[1]), "ok": True}}],
    }


@pytest.mark.parametrize("use_responses", [True, False], ids=["responses", "chat_completions"])
async def test_agent_runs_tool_turns_and_structured_output(fake, client, use_responses):
    fake.script(calculator_script())
    config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=use_responses),
                       tracing_disabled=True)
    calc = Agent(name="calc", instructions="[agent:calc] Use the add tool.", tools=[add], model="gpt-test")
    result = await Runner.run(calc, "add things", run_config=config)
    assert result.final_output == "total 15 after 2 turns"

    judge = Agent(name="judge", instructions="[agent:judge] Judge.", output_type=Verdict, model="gpt-test")
    verdict = await Runner.run(judge, result.final_output, run_config=config)
    assert verdict.final_output == Verdict(total=15, ok=True)

    stats = fake.stats()
    api = "responses" if use_responses else "chat_completions"
    assert (stats.total, stats.by_agent, stats.by_status, stats.by_api) == (4, {"calc": 3, "judge": 1}, {200: 4}, {api: 4})
    last_calc_request = stats.bodies("calc")[-1]
    assert "15" in json.dumps(last_calc_request) and "add" in json.dumps(last_calc_request["tools"])
    if use_responses:
        assert stats.bodies("judge")[0]["text"]["format"]["type"] == "json_schema"
    else:
        assert stats.bodies("judge")[0]["response_format"]["type"] == "json_schema"


# ---------------------------------------------------------------------------------------------
# Faults


async def test_429_with_retry_after_reaches_the_client_and_keeps_the_turn(fake, client):
    fake.script({"a": [{"text": "finally"}]})
    fake.fail_next("a", 429, count=2, retry_after=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            await client.responses.create(model="m", instructions="[agent:a]", input="x")
        assert caught.value.response.headers["retry-after"] == "2"
        assert caught.value.response.headers["retry-after-ms"] == "2000"
        assert caught.value.code == "rate_limit_exceeded"
    assert (await client.responses.create(model="m", instructions="[agent:a]", input="x")).output_text == "finally"
    stats = fake.stats()
    assert (stats.total, stats.by_status, stats.by_agent) == (3, {429: 2, 200: 1}, {"a": 3})
    assert [r.status for r in stats.requests] == [429, 429, 200]


async def test_client_retries_honour_retry_after(fake):
    fake.script({"a": [{"text": "after retry"}]})
    fake.fail_next("*", 429, retry_after=0.05)
    retrying = AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=1)
    assert (await retrying.responses.create(model="m", instructions="[agent:a]", input="x")).output_text == "after retry"
    assert fake.stats().by_status == {429: 1, 200: 1}


@pytest.mark.parametrize("status, error", [
    (400, openai.BadRequestError), (401, openai.AuthenticationError), (404, openai.NotFoundError),
    (500, openai.InternalServerError), (503, openai.InternalServerError),
])
async def test_error_statuses_have_openai_error_bodies(fake, client, status, error):
    fake.fail_next("a", status, message=f"boom {status}")
    with pytest.raises(error) as caught:
        await client.chat.completions.create(model="m", messages=[{"role": "system", "content": "[agent:a]"}])
    assert caught.value.status_code == status
    assert caught.value.body["message"] == f"boom {status}" and "type" in caught.value.body


async def test_a_stalled_call_hangs_until_the_client_gives_up_and_keeps_the_turn(fake, client):
    fake.script({"a": [{"text": "answered"}]})
    fake.stall_next("a")
    impatient = AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=openai.Timeout(0.5))
    with pytest.raises(openai.APITimeoutError):
        await impatient.responses.create(model="m", instructions="[agent:a]", input="x")
    assert (await client.responses.create(model="m", instructions="[agent:a]", input="x")).output_text == "answered"
    for _ in range(200):  # the server notices the closed connection on its next poll
        if CLIENT_GAVE_UP in fake.stats().by_status:
            break
        await asyncio.sleep(STALL_POLL_SECONDS)
    assert fake.stats().by_status == {CLIENT_GAVE_UP: 1, 200: 1}


async def test_a_stalled_call_gets_its_answer_late_from_a_patient_client(fake, client):
    fake.script({"a": [{"text": "slowly"}]})
    fake.stall_next("*", seconds=0.2)
    assert (await client.responses.create(model="m", instructions="[agent:a]", input="x")).output_text == "slowly"
    assert fake.stats().by_status == {200: 1}
    with pytest.raises(ValueError, match="positive"):
        fake.stall_next("a", seconds=0)


def test_random_faults_are_seeded_and_counted(fake):
    fake.script({"a": [{"text": "ok", "repeat": True}], "b": [{"text": "ok", "repeat": True}]})
    http = httpx.Client()

    def run() -> list[int]:
        return [http.post(f"{fake.base_url}/responses", json=responses_body("a")).status_code for _ in range(40)]

    fake.fail_randomly(0.3, 429, seed=7, retry_after=1, agents=["a"])
    first = run()
    fake.fail_randomly(0.3, 429, seed=7, retry_after=1, agents=["a"])
    assert run() == first
    assert 4 <= first.count(429) <= 20 and set(first) == {200, 429}
    assert http.post(f"{fake.base_url}/responses", json=responses_body("b")).status_code == 200
    stats = fake.stats()
    assert stats.by_status[429] == 2 * first.count(429) and stats.total == 81
    fake.fail_randomly(0)
    assert set(run()) == {200}


# ---------------------------------------------------------------------------------------------
# Script edges


def test_exhausted_or_missing_script_is_a_clear_500(fake):
    fake.script({"a": [{"text": "only"}]})
    assert httpx.post(f"{fake.base_url}/responses", json=responses_body("a")).status_code == 200
    exhausted = httpx.post(f"{fake.base_url}/responses", json=responses_body("a", "more"))
    assert exhausted.status_code == 500
    assert exhausted.json()["error"]["type"] == "fake_script_error"
    assert "'a' is exhausted after 1 turns" in exhausted.json()["error"]["message"]
    missing = httpx.post(f"{fake.base_url}/chat/completions", json=chat_body("nobody"))
    assert missing.status_code == 500 and "no script for agent 'nobody'" in missing.json()["error"]["message"]


def test_identical_requests_get_the_same_answer_without_using_a_turn(fake):
    def post(text: str) -> dict:
        return httpx.post(f"{fake.base_url}/responses", json=responses_body("a", text)).json()

    fake.script({"a": [{"tool_calls": [{"name": "add", "arguments": {}}]}, {"text": "second"}]})
    first = post("task")
    assert post("task") == first  # ids included: a re-run `run_model` activity sees what the first attempt saw
    assert post("another task")["output"][0]["content"][0]["text"] == "second"
    assert [(c.status, c.repeated) for c in fake.stats().requests] == [(200, False), (200, True), (200, False)]
    fake.script({"a": [{"text": "new script"}]})
    assert post("task")["output"][0]["content"][0]["text"] == "new script"


def test_forgetful_server_answers_identical_requests_from_the_script():
    with FakeModelServer({"a": [{"text": "first"}, {"text": "second"}]}, remember_answers=False) as forgetful:
        replies = [httpx.post(f"{forgetful.base_url}/responses", json=responses_body("a")).json() for _ in range(2)]
    texts = [reply["output"][0]["content"][0]["text"] for reply in replies]
    assert texts == ["first", "second"]


def test_failing_script_callable_is_reported(fake):
    fake.script({"a": [lambda request: {"nonsense": 1}], "b": [lambda request: 1 / 0]})
    bad_turn = httpx.post(f"{fake.base_url}/responses", json=responses_body("a")).json()["error"]["message"]
    assert "unknown keys ['nonsense']" in bad_turn
    raised = httpx.post(f"{fake.base_url}/responses", json=responses_body("b")).json()["error"]["message"]
    assert "ZeroDivisionError" in raised


def test_streaming_and_bad_bodies_get_400(fake):
    fake.script({"a": [{"text": "unused"}]})
    streamed = httpx.post(f"{fake.base_url}/responses", json={**responses_body("a"), "stream": True})
    assert streamed.status_code == 400 and "streaming" in streamed.json()["error"]["message"]
    assert httpx.post(f"{fake.base_url}/responses", content=b"{not json").status_code == 400
    assert fake.stats().by_status == {400: 2}
    assert httpx.post(f"{fake.base_url}/responses", json=responses_body("a")).status_code == 200


@pytest.mark.parametrize("script, problem", [
    ({"a": {"text": "x"}}, "must be a list"),
    ({"a": [{"txt": "x"}]}, "unknown keys"),
    ({"a": [{"repeat": True}]}, "needs one of"),
    ({"a": [{"text": "x", "json": {}}]}, "both text and json"),
    ({"a": [{"tool_calls": []}]}, "non-empty list"),
    ({"a": [{"tool_calls": [{"arguments": {}}]}]}, "string 'name'"),
    ({"a": [{"text": "x", "repeat": True}, {"text": "y"}]}, "last turn"),
])
def test_invalid_scripts_are_refused_when_set(fake, script, problem):
    with pytest.raises(ScriptError, match=problem):
        fake.script(script)


def test_load_script_from_json_file_and_module(tmp_path):
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"x": [{"text": "from json"}]}))
    assert load_script(str(path)) == {"x": [{"text": "from json"}]}
    assert load_script("tests.test_fake_model_server:SCRIPT_FOR_LOADING") == SCRIPT_FOR_LOADING
    with pytest.raises(ScriptError, match="testing.model_scripts.no_such_script"):
        load_script("no_such_script")


# ---------------------------------------------------------------------------------------------
# Standalone process, controlled over HTTP


def test_subprocess_is_controlled_over_http(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"demo": [{"text": "hello from the script"}]}))
    proc = subprocess.Popen([sys.executable, "-m", "testing.fake_model_server", "--port", "0", "--script", str(script)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base_url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        control = base_url.removesuffix("/v1") + "/_fake"
        with httpx.Client(timeout=10) as http:
            first = http.post(f"{base_url}/responses", json=responses_body("demo")).json()
            assert first["output"][0]["content"][0]["text"] == "hello from the script"
            assert http.post(f"{control}/script", json={"demo": [{"json": {"n": 1}}]}).json() == {"ok": True}
            fault = {"agent": "demo", "status": 429, "retry_after": 3}
            assert http.post(f"{control}/fail_next", json=fault).json() == {"ok": True}
            limited = http.post(f"{base_url}/chat/completions", json=chat_body("demo"))
            assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
            answered = http.post(f"{base_url}/chat/completions", json=chat_body("demo")).json()
            assert json.loads(answered["choices"][0]["message"]["content"]) == {"n": 1}
            stats = CallStats.from_json(http.get(f"{control}/stats").json())
            assert (stats.total, stats.by_status, stats.by_agent) == (3, {200: 2, 429: 1}, {"demo": 3})
            assert stats.bodies("demo", status=429)[0]["messages"][1]["content"] == "hi"
            refused = http.post(f"{control}/script", json={"demo": [{"bogus": 1}]})
            assert refused.status_code == 400 and "unknown keys" in refused.json()["error"]
            assert http.post(f"{control}/reset").json() == {"ok": True}
            assert http.get(f"{control}/stats").json()["total"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# A reasoning model


@pytest.fixture
def thinker(server):
    """The module's server answering as a reasoning model for one test."""
    server.reset()
    server.reasoning(True)
    yield server
    server.reasoning(False)


def stateless(agent: str, items, **extra) -> dict:
    """A Responses request as a durable agent sends it with nothing kept server-side."""
    return {"model": "gpt-test", "instructions": f"[agent:{agent}] be brief", "input": items, "store": False,
            "include": ["reasoning.encrypted_content"], "reasoning": {"effort": "low"}, **extra}


def follow_up(first: dict, items: list) -> list:
    """The next turn's input: the first request's input, its answer's output items, then `items`."""
    return [*first["input"], *first["answer"], *items]


def tool_turn(http, base_url: str, agent: str = "t", **extra) -> dict:
    body = stateless(agent, [{"role": "user", "content": "add"}], **extra)
    answer = http.post(f"{base_url}/responses", json=body)
    assert answer.status_code == 200, answer.text
    return {**body, "answer": answer.json()["output"]}


def test_reasoning_answers_carry_encrypted_reasoning_and_reasoning_tokens(thinker):
    thinker.script({"t": [{"tool_calls": [{"name": "add", "arguments": {"a": 1}, "call_id": "c1"}]},
                          {"text": "done", "repeat": True}]})
    with httpx.Client(base_url=thinker.base_url, timeout=10) as http:
        raw = http.post("/responses", json=stateless("t", [{"role": "user", "content": "add"}])).json()
        response = Response.model_validate(raw)
        reasoning, call = response.output
        assert (reasoning.type, reasoning.summary, call.type) == ("reasoning", [], "function_call")
        assert reasoning.id.startswith("rs_") and reasoning.encrypted_content.startswith("gAAAAA")
        usage = response.usage
        assert usage.output_tokens_details.reasoning_tokens > 0
        assert usage.output_tokens > usage.output_tokens_details.reasoning_tokens
        assert usage.total_tokens == usage.input_tokens + usage.output_tokens
        kept = Response.model_validate(http.post("/responses", json={**responses_body("t"), "store": True}).json())
        assert kept.output[0].type == "reasoning" and kept.output[0].encrypted_content is None  # not included
        summarized = http.post("/responses", json={**responses_body("t", "x"), "reasoning": {"summary": "auto"}})
        assert Response.model_validate(summarized.json()).output[0].summary[0].type == "summary_text"
        chat = ChatCompletion.model_validate(http.post("/chat/completions", json=chat_body("t")).json())
        details = chat.usage.completion_tokens_details
        assert details.reasoning_tokens > 0 and chat.usage.completion_tokens > details.reasoning_tokens


def test_reasoning_items_must_come_back_whole_and_in_place(thinker):
    """What the real Responses API refuses when a follow-up turn mishandles the reasoning before a function call."""
    thinker.script({"t": [{"tool_calls": [{"name": "add", "arguments": {"a": 1}, "call_id": "c1"}]},
                          {"text": "total 1", "repeat": True}]})
    output = [{"type": "function_call_output", "call_id": "c1", "output": "1"}]
    with httpx.Client(base_url=thinker.base_url, timeout=10) as http:
        first = tool_turn(http, "")
        reasoning, call = first["answer"]
        whole = http.post("/responses", json=stateless("t", follow_up(first, output)))
        assert whole.status_code == 200 and whole.json()["output"][-1]["content"][0]["text"] == "total 1"

        dropped = http.post("/responses", json=stateless("t", [*first["input"], call, *output]))
        assert dropped.status_code == 400 and dropped.json()["error"] == {
            "message": f"Item '{call['id']}' of type 'function_call' was provided without its required 'reasoning' "
                       f"item: '{reasoning['id']}'.", "type": "invalid_request_error", "param": "input", "code": None}
        altered = {**reasoning, "encrypted_content": reasoning["encrypted_content"][:-4] + "AAAA"}
        refused = http.post("/responses", json=stateless("t", [*first["input"], altered, call, *output]))
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_encrypted_content"
        alone = http.post("/responses", json=stateless("t", [*first["input"], reasoning, *output]))
        assert alone.status_code == 400 and "without its required following item" in alone.json()["error"]["message"]
        bare = {key: value for key, value in reasoning.items() if key != "encrypted_content"}
        unkept = http.post("/responses", json=stateless("t", [*first["input"], bare, call, *output]))
        assert unkept.status_code == 404 and unkept.json()["error"]["message"] == (
            f"Item with id '{reasoning['id']}' not found. Items are not persisted when `store` is set to false. Try "
            "again with `store` set to true, or remove this item from your input.")

        # store: false without asking for the encrypted content: nothing to send back that the server can resolve
        plain = tool_turn(http, "", include=[])
        assert plain["answer"][0]["encrypted_content"] is None
        lost = http.post("/responses", json=stateless("t", follow_up(plain, output)))
        assert lost.status_code == 404 and "Items are not persisted" in lost.json()["error"]["message"]

        # kept server-side (store true, the API's default): the bare reference resolves, until the server forgets
        kept = tool_turn(http, "", store=True, include=[])
        assert http.post("/responses", json=stateless("t", follow_up(kept, output))).status_code == 200
        thinker.forget_stored_items()  # stored responses expire (30 days on Azure OpenAI)
        assert http.post("/responses", json=stateless("t", follow_up(kept, output))).status_code == 404


def test_reasoning_models_refuse_sampling_parameters_and_max_tokens(thinker):
    thinker.script({"t": [{"text": "ok", "repeat": True}]})
    with httpx.Client(base_url=thinker.base_url, timeout=10) as http:
        hot = http.post("/responses", json={**responses_body("t"), "temperature": 0.2})
        assert hot.status_code == 400 and hot.json()["error"]["param"] == "temperature"
        assert http.post("/responses", json={**responses_body("t"), "temperature": 0.2,
                                             "reasoning": {"effort": "none"}}).status_code == 200
        effort = http.post("/responses", json={**responses_body("t"), "reasoning": {"effort": "extreme"}})
        assert effort.status_code == 400 and effort.json()["error"]["param"] == "reasoning.effort"
        capped = http.post("/chat/completions", json={**chat_body("t"), "max_tokens": 100})
        assert capped.status_code == 400 and capped.json()["error"] == {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                       "'max_completion_tokens' instead.", "type": "invalid_request_error", "param": "max_tokens",
            "code": "unsupported_parameter"}
        assert http.post("/chat/completions", json={**chat_body("t"), "max_completion_tokens": 100}).status_code == 200
        warm = http.post("/chat/completions", json={**chat_body("t"), "temperature": 0.2})
        assert warm.status_code == 400 and warm.json()["error"]["code"] == "unsupported_value"
    thinker.reasoning(False)
    assert httpx.post(f"{thinker.base_url}/chat/completions", json={**chat_body("t"), "max_tokens": 100}).status_code == 200


@pytest.mark.parametrize("use_responses", [True, False], ids=["responses", "chat_completions"])
async def test_agents_sdk_runs_tool_turns_against_a_reasoning_model(thinker, client, use_responses):
    """The Agents SDK sends the reasoning items back itself; stateless Responses calls need the encrypted content."""
    thinker.script(calculator_script())
    config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=use_responses),
                       tracing_disabled=True)
    settings = ModelSettings(store=False, response_include=["reasoning.encrypted_content"]) if use_responses else \
        ModelSettings(extra_args={"max_completion_tokens": 500})
    calc = Agent(name="calc", instructions="[agent:calc] Use the add tool.", tools=[add], model="gpt-test",
                 model_settings=settings)
    result = await Runner.run(calc, "add things", run_config=config)
    assert result.final_output == "total 15 after 2 turns"
    assert sum(response.usage.output_tokens_details.reasoning_tokens for response in result.raw_responses) > 0
    if use_responses:
        thinker.script(calculator_script())
        forgetful = Agent(name="calc", instructions="[agent:calc] Use the add tool.", tools=[add], model="gpt-test",
                          model_settings=ModelSettings(store=False))
        with pytest.raises(openai.NotFoundError, match="Items are not persisted"):
            await Runner.run(forgetful, "add things", run_config=config)
