"""Model configuration from the environment: each provider, the API mode, the missing-config message.

`configure_model()` sets process-wide Agents SDK defaults; the autouse fixture puts them back, so
these tests run in-process. End-to-end checks run a plain `Runner.run` (no durable orchestrator)
against the fake model server with no explicit client, proving the defaults are what the SDK uses.
"""
from __future__ import annotations

import json
import subprocess
import sys

import httpx
import openai
import pytest
from agents import Agent, Runner, trace
from agents.models import _openai_shared, get_default_model
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_provider import OpenAIProvider
from agents.models.openai_responses import OpenAIResponsesModel
from agents.tracing import set_tracing_disabled
from agents.tracing.traces import NoOpTrace
from openai import AsyncAzureOpenAI

from orchestrations.agents import model_config
from orchestrations.agents.model_config import (DEFAULT_MAX_OUTPUT_TOKENS,
                                                ModelNotConfiguredError, apply_model_settings, configure_model,
                                                model_status, require_model)
from orchestrations.agents import run_model
from orchestrations.agents.run_model import provider_message
from testing.fake_model_server import CLIENT_GAVE_UP, FakeModelServer
from testing.host_process import PROJECT_ROOT, project_host
from testing.mcp_client import call, connect, wait_until

MODEL_ENV = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_DEFAULT_MODEL", "OPENAI_API_MODE", "OPENAI_API_VERSION",
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_API_VERSION",
    "AZURE_OPENAI_AD_TOKEN", "OPENAI_AGENTS_DISABLE_TRACING", "MODEL_MAX_OUTPUT_TOKENS", "MODEL_TEMPERATURE",
    "MODEL_REASONING_EFFORT", "MODEL_REQUEST_TIMEOUT_SECONDS",
)


def tracing_enabled() -> bool:
    return not isinstance(trace("probe"), NoOpTrace)


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    """No model variables, and the SDK's global defaults restored afterwards."""
    for name in MODEL_ENV:
        monkeypatch.setenv(name, "")  # recorded, so configure_model's own writes are undone too
        monkeypatch.delenv(name)
    monkeypatch.setattr(model_config, "_current", model_config._current)
    saved = (_openai_shared.get_default_openai_client(), _openai_shared.get_use_responses_by_default(), tracing_enabled())
    yield
    _openai_shared.set_default_openai_client(saved[0])
    _openai_shared.set_use_responses_by_default(saved[1])
    set_tracing_disabled(not saved[2])


@pytest.fixture(scope="module")
def fake():
    with FakeModelServer() as server:
        yield server


def default_client():
    return _openai_shared.get_default_openai_client()


def test_nothing_configured_says_what_to_set():
    before = default_client()
    config = configure_model()
    assert not config.configured
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_MODE=chat_completions", "AZURE_OPENAI_ENDPOINT",
                 "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_KEY", "managed identity"):
        assert name in model_status()
    with pytest.raises(ModelNotConfiguredError) as caught:
        require_model()
    assert str(caught.value) == model_status()
    assert default_client() is before


def test_status_before_configure_model_ran():
    probe = ("from orchestrations.agents.model_config import model_status, require_model\n"
             "print(model_status())\n"
             "require_model()\n")
    ran = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip() == "no model is configured: configure_model() has not run"
    assert "ModelNotConfiguredError: no model is configured: configure_model() has not run" in ran.stderr


def test_openai_with_a_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    config = configure_model()
    assert config.configured and require_model() is config
    # the Agents SDK's default model is a GPT-5 one: a reasoning model at the effort the SDK picks for it
    assert model_status() == (f"configured: openai, model {get_default_model()}, api responses, "
                              f"max output tokens {DEFAULT_MAX_OUTPUT_TOKENS}, reasoning model (effort the model "
                              "default)")
    client = default_client()
    assert (str(client.base_url), client.api_key, client.max_retries) == ("https://api.openai.com/v1/", "sk-test", 0)
    model = OpenAIProvider().get_model(None)
    assert isinstance(model, OpenAIResponsesModel) and model.model == get_default_model()


async def test_a_model_server_that_does_not_answer_is_named_in_the_error(monkeypatch):
    """New-user trial: with the model server down a job failed with "model request failed with HTTP None"."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:secret@127.0.0.1:9/v1?token=hidden")
    configure_model()
    with pytest.raises(openai.APIConnectionError) as refused:
        await default_client().models.list()
    message = provider_message(refused.value)
    assert message == "model request failed: no answer from http://127.0.0.1:9/v1/ (Connection error.)", message
    assert provider_message(openai.RateLimitError("slow down", response=httpx.Response(
        429, request=httpx.Request("POST", "http://127.0.0.1:9/v1/responses")), body={"message": "slow down"})) \
        == "model request failed with HTTP 429: slow down"


def test_openai_compatible_server_in_chat_completions_mode(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "llama3.2")
    monkeypatch.setenv("OPENAI_API_MODE", "chat_completions")
    configure_model()
    assert model_status() == ("configured: openai-compatible (http://localhost:11434/v1), model llama3.2, "
                              f"api chat_completions, max output tokens {DEFAULT_MAX_OUTPUT_TOKENS}")
    assert str(default_client().base_url) == "http://localhost:11434/v1/"
    assert _openai_shared.get_use_responses_by_default() is False
    model = OpenAIProvider().get_model(None)
    assert isinstance(model, OpenAIChatCompletionsModel) and model.model == "llama3.2"


def test_invalid_api_mode_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_MODE", "completions")
    assert not configure_model().configured
    assert model_status() == "OPENAI_API_MODE must be one of responses, chat_completions, not 'completions'"


def test_azure_with_an_api_key(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com/")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-prod")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ignored")  # Azure wins when both are set
    configure_model()
    assert model_status() == ("configured: azure-openai (https://contoso.openai.azure.com/, api key), model gpt-prod, "
                              f"api responses, max output tokens {DEFAULT_MAX_OUTPUT_TOKENS}")
    client = default_client()  # the v1 API: the plain OpenAI client, no api-version (Azure's docs' examples)
    assert not isinstance(client, AsyncAzureOpenAI) and client.max_retries == 0
    assert str(client.base_url) == "https://contoso.openai.azure.com/openai/v1/" and not client.default_query
    assert OpenAIProvider().get_model(None).model == "gpt-prod"


def test_azure_with_managed_identity_and_api_version(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-prod")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-03-01-preview")
    monkeypatch.setenv("OPENAI_API_MODE", "chat_completions")
    config = configure_model()
    assert config.provider == "azure-openai (https://contoso.openai.azure.com, managed identity)"
    assert config.api == "chat_completions"
    client = default_client()
    assert client.default_query == {"api-version": "2025-03-01-preview"}
    assert callable(client._azure_ad_token_provider)  # not called: no token is fetched at import
    monkeypatch.delenv("AZURE_OPENAI_API_VERSION")  # the v1 API takes the token as its key, asked per request
    configure_model()
    client = default_client()
    assert str(client.base_url) == "https://contoso.openai.azure.com/openai/v1/" and callable(client._api_key_provider)


def test_azure_without_a_deployment_says_so(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    assert not configure_model().configured
    assert "AZURE_OPENAI_DEPLOYMENT is not" in model_status()


def test_a_failing_client_is_reported_not_raised(monkeypatch):
    def refuse(**kwargs):
        raise ValueError("bad option")

    monkeypatch.setattr(model_config, "AsyncOpenAI", refuse)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert not configure_model().configured
    assert model_status() == "the model client could not be created: bad option"


def test_tracing_is_disabled_unless_asked_for(monkeypatch):
    set_tracing_disabled(False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "false")
    configure_model()
    assert tracing_enabled()
    monkeypatch.delenv("OPENAI_AGENTS_DISABLE_TRACING")
    configure_model()
    assert not tracing_enabled()


# ---------------------------------------------------------------------------------------------
# End to end: the SDK's defaults reach the fake model server


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
async def test_configured_defaults_drive_a_plain_agent(fake, monkeypatch, api):
    fake.reset()
    fake.script({"local": [{"text": f"answered over {api}"}]})
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "llama3.2")
    monkeypatch.setenv("OPENAI_API_MODE", api)
    configure_model()
    result = await Runner.run(Agent(name="local", instructions="[agent:local] Answer."), "hello")
    assert result.final_output == f"answered over {api}"
    (call,) = fake.stats().requests
    assert (call.api, call.body["model"], call.auth) == (api, "llama3.2", {"authorization": "Bearer not-needed"})


async def test_azure_defaults_drive_a_plain_agent(fake, monkeypatch):
    fake.reset()
    fake.script({"gpt-prod": [{"text": "from azure"}, {"text": "from azure chat"}, {"text": "from azure dated"}]})
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.url)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-prod")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    configure_model()
    assert (await Runner.run(Agent(name="a", instructions="Answer."), "hi")).final_output == "from azure"
    monkeypatch.setenv("OPENAI_API_MODE", "chat_completions")
    configure_model()
    assert (await Runner.run(Agent(name="a", instructions="Answer."), "hi")).final_output == "from azure chat"
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-04-01-preview")  # a dated API version, when pinned
    configure_model()
    assert (await Runner.run(Agent(name="a", instructions="Answer."), "hey")).final_output == "from azure dated"
    calls = fake.stats().requests
    assert [call.path for call in calls] == [
        "/openai/v1/responses", "/openai/v1/chat/completions",
        "/openai/deployments/gpt-prod/chat/completions?api-version=2025-04-01-preview"]
    assert [call.auth for call in calls] == [{"authorization": "Bearer azure-key"}] * 2 + [{"api-key": "azure-key"}]


async def test_client_does_not_retry_so_the_durable_policy_owns_backoff(fake, monkeypatch):
    fake.reset()
    fake.script({"local": [{"text": "would succeed on a retry"}]})
    fake.fail_next("local", 429, retry_after=0.01)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    configure_model()
    with pytest.raises(openai.RateLimitError):
        await Runner.run(Agent(name="local", instructions="[agent:local] Answer."), "hello")
    assert fake.stats().by_status == {429: 1}


def test_model_settings_from_the_environment(monkeypatch):
    """Max output tokens (a default cap) and temperature for every agent, filled in where an agent set none
    (issue 9.9); bad values are reported like any other configuration problem."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "gpt-4.1-mini")  # not a reasoning model
    configure_model()
    assert apply_model_settings({"max_tokens": None}) == {"max_tokens": DEFAULT_MAX_OUTPUT_TOKENS}
    monkeypatch.setenv("MODEL_MAX_OUTPUT_TOKENS", "300")
    monkeypatch.setenv("MODEL_TEMPERATURE", "0.2")
    config = configure_model()
    assert (config.max_output_tokens, config.temperature) == (300, 0.2)
    assert model_status().endswith(", max output tokens 300, temperature 0.2")
    assert apply_model_settings({"temperature": None, "top_p": 0.5}) == {"max_tokens": 300, "temperature": 0.2,
                                                                         "top_p": 0.5}
    assert apply_model_settings({"max_tokens": 50, "temperature": 1.0}) == {"max_tokens": 50, "temperature": 1.0}
    monkeypatch.setenv("MODEL_MAX_OUTPUT_TOKENS", "0")
    assert configure_model().max_output_tokens is None and apply_model_settings({}) == {"temperature": 0.2}
    for name, value, message in [
        ("MODEL_MAX_OUTPUT_TOKENS", "lots",
         "MODEL_MAX_OUTPUT_TOKENS must be a whole number (0 for no cap), not 'lots'"),
        ("MODEL_TEMPERATURE", "hot", "MODEL_TEMPERATURE must be a number from 0 to 2, not 'hot'"),
        ("MODEL_TEMPERATURE", "3", "MODEL_TEMPERATURE must be a number from 0 to 2, not '3'"),
        ("MODEL_REQUEST_TIMEOUT_SECONDS", "soon",
         "MODEL_REQUEST_TIMEOUT_SECONDS must be a number of seconds above 0, not 'soon'"),
        ("MODEL_REQUEST_TIMEOUT_SECONDS", "0", "MODEL_REQUEST_TIMEOUT_SECONDS must be a number of seconds above 0, "
         "not '0'"),
        ("MODEL_REASONING_EFFORT", "extreme", "MODEL_REASONING_EFFORT must be one of none, minimal, low, medium, "
         "high, xhigh (or unset for a model that does not reason), not 'extreme'"),
    ]:
        monkeypatch.setenv(name, value)
        assert not configure_model().configured and model_status() == message
        monkeypatch.delenv(name)


def read_timeout(client) -> tuple[float, float]:
    """(seconds to connect, seconds to wait for the answer) of a model client."""
    timeout = client.timeout
    return (timeout.connect, timeout.read) if isinstance(timeout, openai.Timeout) else (timeout, timeout)


def test_every_model_client_has_a_bounded_request_timeout(monkeypatch):
    """MODEL_REQUEST_TIMEOUT_SECONDS bounds each model request of every provider (a stalled local model held a
    model call for the openai client's default 600 s)."""
    monkeypatch.setenv("MODEL_REQUEST_TIMEOUT_SECONDS", "42.5")
    for provider in ({"OPENAI_API_KEY": "sk-test"}, {"OPENAI_BASE_URL": "http://localhost:11434/v1"},
                     {"AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d",
                      "AZURE_OPENAI_API_KEY": "k"},
                     {"AZURE_OPENAI_API_VERSION": "2025-04-01-preview"}):
        for name, value in provider.items():
            monkeypatch.setenv(name, value)
        config = configure_model()
        assert config.request_timeout == 42.5 and model_status().endswith(", request timeout 42.5 s")
        assert read_timeout(default_client()) == (5.0, 42.5), provider
    monkeypatch.delenv("MODEL_REQUEST_TIMEOUT_SECONDS")
    configure_model()
    assert read_timeout(default_client())[1] == model_config.DEFAULT_REQUEST_TIMEOUT_SECONDS
    assert "request timeout" not in model_status()


def test_a_model_call_that_never_answers_ends_within_azures_function_timeout(monkeypatch):
    """With the defaults, run_model's worst case against a model that never answers (MODEL_MAX_ATTEMPTS request
    timeouts and the longest waits between them) ends within the function timeout of Flex Consumption (host.json
    sets none, so Azure's default applies): past it Azure stops the execution and restarts the worker process,
    with every other function it runs (MS Learn "Function app timeout duration"). 6 x 600 s did not fit."""
    facts = json.loads((PROJECT_ROOT / "tests" / "data" / "azure_facts.json").read_text(encoding="utf-8"))
    host_json = json.loads((PROJECT_ROOT / "host.json").read_text(encoding="utf-8"))
    assert "functionTimeout" not in host_json, "the limit is then host.json's functionTimeout"
    limit = facts["function_timeout"]["flex_consumption_default_minutes"] * 60
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")  # as infra/ configures it
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "agents")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    configure_model()
    connect_seconds, answer_seconds = read_timeout(default_client())
    attempts, longest_wait = run_model.MAX_ATTEMPTS, run_model.MAX_DELAY_SECONDS
    worst = attempts * (connect_seconds + answer_seconds) + (attempts - 1) * longest_wait
    assert worst < limit, f"{attempts} x ({connect_seconds:g} + {answer_seconds:g}) s + {attempts - 1} x " \
                          f"{longest_wait:g} s is more than {limit} s"


async def test_a_model_that_hangs_is_given_up_on_and_asked_again(tmp_path, model, site):
    """A model server that takes a request and never answers: the host's model call gives up after
    MODEL_REQUEST_TIMEOUT_SECONDS, says so in its log, asks again, and the job completes (before: the call
    waited the openai client's 600 s)."""
    model.reset()
    model.script({"stalled-model": [{"text": "answered when asked again"}]})
    model.stall_next("stalled-model")
    host = project_host(tmp_path / "state", model, site, MODEL_REQUEST_TIMEOUT_SECONDS="5").start()
    try:
        async with connect(host) as client:
            job = await call(client, "run_agent", task="answer", model="stalled-model")
            done = await wait_until(client, job["job_id"], timeout=120)
    finally:
        host.stop()
    assert done["status"] == "completed" and done["output"]["final_output"] == "answered when asked again", done
    assert model.stats().by_status.get(CLIENT_GAVE_UP, 0) >= 1, model.stats().by_status
    assert f"model call failed (model request failed: no answer from {model.base_url}/ within 5 s " \
           "(MODEL_REQUEST_TIMEOUT_SECONDS)); retry 1 of 5 in " in host.log()
    assert "request timeout 5 s" in host.log()


def test_reasoning_model_settings(monkeypatch):
    """Issue 17 §2: a reasoning model's calls carry the effort, go stateless with the encrypted reasoning on the
    Responses API, cap output with max_completion_tokens on Chat Completions, and get no temperature unless the
    effort is none (reasoning models refuse one: Azure OpenAI reasoning models, "Not Supported")."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "agents")  # on Azure the name says nothing about the model
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    assert not configure_model().reasoning and apply_model_settings({}) == {"max_tokens": DEFAULT_MAX_OUTPUT_TOKENS}
    monkeypatch.setenv("MODEL_REASONING_EFFORT", "low")
    monkeypatch.setenv("MODEL_TEMPERATURE", "0.2")
    config = configure_model()
    assert (config.reasoning, config.reasoning_effort) == (True, "low")
    assert model_status().endswith(f", max output tokens {DEFAULT_MAX_OUTPUT_TOKENS}, reasoning model (effort low), "
                                   "temperature 0.2 (sent only with reasoning effort none: reasoning models refuse "
                                   "it otherwise)")
    stateless = {"store": False, "response_include": ["reasoning.encrypted_content"]}
    assert apply_model_settings({"reasoning": None, "temperature": None}) == {
        "max_tokens": DEFAULT_MAX_OUTPUT_TOKENS, "reasoning": {"effort": "low"}, "temperature": None, **stateless}
    # what an agent set itself stays: its effort (temperature with effort none), its store, its includes
    assert apply_model_settings({"reasoning": {"effort": "none", "summary": "auto"}}) == {
        "max_tokens": DEFAULT_MAX_OUTPUT_TOKENS, "reasoning": {"effort": "none", "summary": "auto"},
        "temperature": 0.2, **stateless}
    assert apply_model_settings({"store": True, "response_include": ["file_search_call.results"]}) == {
        "max_tokens": DEFAULT_MAX_OUTPUT_TOKENS, "reasoning": {"effort": "low"}, "store": True,
        "response_include": ["file_search_call.results"]}
    monkeypatch.setenv("OPENAI_API_MODE", "chat_completions")
    configure_model()
    assert apply_model_settings({"max_tokens": 300, "extra_args": {"seed": 1}}) == {
        "max_tokens": None, "extra_args": {"max_completion_tokens": 300, "seed": 1}, "reasoning": {"effort": "low"}}
    # names the Agents SDK knows as GPT-5 models, and o-series names, are reasoning models without the setting
    monkeypatch.delenv("MODEL_REASONING_EFFORT")
    for name, reasons in [("gpt-5.4-mini", True), ("o3", True), ("gpt-5-chat-latest", False), ("llama3.2", False)]:
        monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", name)
        assert configure_model().reasoning is reasons, name


def test_configure_model_logs_one_line_without_secrets(monkeypatch, caplog):
    """Which model is configured, with the base URL stripped of credentials and query (issue 9.10)."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:s3cret@localhost:11434/v1?api-key=s3cret")
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "llama3.2")
    with caplog.at_level("INFO", logger="orchestrations.agents.model_config"):
        configure_model()
    assert [r.getMessage() for r in caplog.records] == [
        "model configured: openai-compatible (http://localhost:11434/v1), model llama3.2, api responses, "
        f"max output tokens {DEFAULT_MAX_OUTPUT_TOKENS}"]
    caplog.clear()
    monkeypatch.delenv("OPENAI_BASE_URL")
    with caplog.at_level("INFO", logger="orchestrations.agents.model_config"):
        configure_model()
    [record] = caplog.records
    assert record.levelname == "WARNING" and record.getMessage().startswith("model: no model is configured: set ")
