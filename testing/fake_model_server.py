"""A scripted, OpenAI-compatible model server on a loopback port: the one fake in the test suite.

Everything the project talks to over the network that is *not* the project is a model server, so
this stands in for OpenAI / Azure OpenAI / Ollama and speaks the real wire format over real HTTP:
the `openai` client, the Agents SDK and the durable `run_model` activity run unmodified against it.

Endpoints (non-streaming; `stream: true` gets a 400 that says so):
  POST /v1/responses          Responses API: `output` items `message` / `function_call`
  POST /v1/chat/completions   Chat Completions: `choices[0].message.content` / `.tool_calls`
  POST /openai/v1/responses, /openai/v1/chat/completions   the same, on Azure OpenAI's v1 API routes
  POST /openai/responses, /openai/deployments/{deployment}/chat/completions   the same, on Azure OpenAI's
                              dated-API routes, so an `AsyncAzureOpenAI` client can be pointed at the server
  GET  /v1/models
  GET  /_fake/stats  POST /_fake/script  /_fake/fail_next  /_fake/fail_randomly  /_fake/stall_next
                     /_fake/reasoning  /_fake/forget_stored_items  /_fake/reset
The `/_fake/*` control routes take the same JSON as the in-process methods of `FakeModelServer`,
so a test can drive a server in another process (`python -m testing.fake_model_server`).

Scripts map an agent key to its turns. The key is the `[agent:NAME]` marker found in the
instructions (Responses `instructions`, or a system/developer message), else the request's
`model`; a `"*"` entry serves any agent that has no script of its own. A turn is a dict:
  {"text": "Hello"}                                    final text message
  {"json": {"score": 90}}                              structured output (the text is the JSON)
  {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}]}
                                                       one or more function calls (arguments: dict or
                                                       raw string; optional "call_id")
  {"text": "...", "tool_calls": [...]}                 both, in that order
  any of the above with "repeat": true                 served again for every later call (last turn only)
  any of the above with "delay": 1.5                   answered after that many seconds (calls in flight
                                                       overlap; `stats().max_in_flight` is the most at once)
or a callable `(ModelRequest) -> turn dict`, so a test can answer from the input it got
(`request.tool_outputs()`, `request.user_text()`). Example, for an agent whose instructions
contain `[agent:planner]`:
  {"planner": [
      {"tool_calls": [{"name": "fetch_url", "arguments": {"url": "http://example.test/"}}]},
      lambda request: {"text": "fetched: " + request.tool_outputs()[-1]},
  ]}
Usage: every answer reports token counts a test can check against what a job recorded: input tokens
about a quarter of the request body's length, a quarter of them cached (`cached_tokens`), output tokens
a quarter of the output's length (both APIs' usage shapes). `stats().usage(agent)` sums what the
server's answers reported, each distinct answer once (see below).

A request identical to one already answered (same API, same JSON body) gets the same answer again
and does not consume a turn, like a deterministic model: so a `run_model` activity that is re-run
after a crash, or retried, sees what the first attempt saw. Setting an agent's script forgets these;
`remember_answers=False` (`--forget-answers`) serves every request from the script instead, for a test
whose code retries with an identical prompt and expects a different answer.

When an agent's turns run out (or it has no script) the server answers 500 with an error whose
type is `fake_script_error` and which names the agent: a test that under-scripts an agent fails
loudly instead of looping on a repeated turn. Opt in to repetition with `"repeat": true`.

A reasoning model (`reasoning=True`, `--reasoning`, `POST /_fake/reasoning {"enabled": true}`) answers as Azure
OpenAI's and OpenAI's GPT-5 and o-series models do, and refuses what they refuse (see `ReasoningModel`): each
Responses answer starts with a `reasoning` item (`encrypted_content` when the request's `include` asks for
`reasoning.encrypted_content`, else null), both APIs count reasoning tokens in `usage`, and a request that drops,
alters or cannot resolve a reasoning item, or sends a parameter reasoning models reject, gets the real API's error.

Faults are served before the script and do not consume a turn: `fail_next(agent, status, count)`
queues failures for one agent (or `"*"` for any), `fail_randomly(probability, ...)` fails a seeded
fraction of calls. Error bodies follow OpenAI's `{"error": {message, type, param, code}}`, and
`retry_after` adds `retry-after` (seconds) and `retry-after-ms` headers.
`stall_next(agent, count, seconds)` makes a model that hangs: the next `count` calls of the agent get no answer
until the client gives up (recorded with status `CLIENT_GAVE_UP`, 499, and no turn used), or, after `seconds`,
the answer a slow model finally gives.

Run standalone: `python -m testing.fake_model_server --port 8001 --script demo` where `--script` is a
JSON file, a module path `package.module[:ATTRIBUTE]` (attribute defaults to `SCRIPT`), or a bare
name looked up as `testing.model_scripts.<name>`.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import importlib
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .background_server import BackgroundServer, listening_socket, uvicorn_server

AGENT_MARKER = re.compile(r"\[agent:([A-Za-z0-9_.\-]+)\]")
ANY_AGENT = "*"
CLIENT_GAVE_UP = 499  # a stalled request whose client closed the connection first (nginx's "client closed request")
STALL_POLL_SECONDS = 0.05
AUTH_HEADERS = ("authorization", "api-key")
RESPONSES = "responses"
CHAT_COMPLETIONS = "chat_completions"
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
ENCRYPTED_REASONING = "reasoning.encrypted_content"

Turn = Union[dict[str, Any], Callable[["ModelRequest"], dict[str, Any]]]


class ScriptError(ValueError):
    """A script the server cannot serve; raised when the script is set, so the test fails at its cause."""


# ---------------------------------------------------------------------------------------------
# What a script callable sees


def _content_text(content: Any) -> str:
    """Text of a message `content`, which both APIs allow to be a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else json.dumps(content)


@dataclass
class ModelRequest:
    """One parsed model call, with accessors that read the same in both APIs."""

    api: str
    agent: str
    model: str
    turn_index: int
    body: dict[str, Any]

    def _messages(self) -> list[dict[str, Any]]:
        if self.api == CHAT_COMPLETIONS:
            return [m for m in self.body.get("messages") or [] if isinstance(m, dict)]
        items = self.body.get("input")
        if isinstance(items, str):
            return [{"role": "user", "content": items}]
        return [item for item in items or [] if isinstance(item, dict)]

    def instructions(self) -> str:
        """The system prompt: Responses `instructions` plus any system/developer messages."""
        parts = [self.body.get("instructions") or ""] if self.api == RESPONSES else []
        parts += [_content_text(m.get("content")) for m in self._messages() if m.get("role") in ("system", "developer")]
        return "\n".join(part for part in parts if part)

    def user_text(self) -> str:
        """The last user message, the usual place a task arrives."""
        users = [_content_text(m.get("content")) for m in self._messages() if m.get("role") == "user"]
        return users[-1] if users else ""

    def tool_outputs(self) -> list[str]:
        """Every tool result sent back so far, oldest first (`function_call_output` / `role: tool`)."""
        if self.api == CHAT_COMPLETIONS:
            return [_content_text(m.get("content")) for m in self._messages() if m.get("role") == "tool"]
        return [_content_text(m.get("output")) for m in self._messages() if m.get("type") == "function_call_output"]


# ---------------------------------------------------------------------------------------------
# Turns: validation and wire shapes


def _validate_turn(agent: str, index: int, turn: Any, is_last: bool) -> None:
    if callable(turn):
        return
    where = f"turn {index} of agent {agent!r}"
    if not isinstance(turn, dict):
        raise ScriptError(f"{where} must be a dict or a callable, got {type(turn).__name__}")
    unknown = set(turn) - {"text", "json", "tool_calls", "repeat", "delay"}
    if unknown:
        raise ScriptError(f"{where} has unknown keys {sorted(unknown)}; use text, json, tool_calls, repeat, delay")
    delay = turn.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise ScriptError(f"{where}: delay must be a number of seconds of at least 0")
    if not ({"text", "json", "tool_calls"} & set(turn)):
        raise ScriptError(f"{where} needs one of text, json, tool_calls")
    if "text" in turn and "json" in turn:
        raise ScriptError(f"{where} has both text and json; a json turn's text is the JSON")
    if "text" in turn and not isinstance(turn["text"], str):
        raise ScriptError(f"{where}: text must be a string")
    calls = turn.get("tool_calls", [])
    if not isinstance(calls, list) or ("tool_calls" in turn and not calls):
        raise ScriptError(f"{where}: tool_calls must be a non-empty list")
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScriptError(f"{where}: each tool call needs a string 'name', got {call!r}")
        if not isinstance(call.get("arguments", {}), (dict, str)):
            raise ScriptError(f"{where}: tool call arguments must be a dict or a JSON string")
    if turn.get("repeat") and not is_last:
        raise ScriptError(f"{where} repeats forever, so it must be the agent's last turn")


def validate_script(script: Mapping[str, Sequence[Turn]]) -> dict[str, list[Turn]]:
    """Check a script up front so a typo fails where it was written, not in the middle of a run."""
    if not isinstance(script, Mapping):
        raise ScriptError(f"a script maps agent names to lists of turns, got {type(script).__name__}")
    checked: dict[str, list[Turn]] = {}
    for agent, turns in script.items():
        if not isinstance(turns, (list, tuple)):
            raise ScriptError(f"the turns of agent {agent!r} must be a list, got {type(turns).__name__}")
        for index, turn in enumerate(turns):
            _validate_turn(agent, index, turn, index == len(turns) - 1)
        checked[str(agent)] = list(turns)
    return checked


def _text_of(turn: dict[str, Any]) -> str | None:
    if "json" in turn:
        return json.dumps(turn["json"])
    return turn.get("text")


def _tool_calls_of(turn: dict[str, Any]) -> list[dict[str, str]]:
    """Normalised calls: every call gets a call_id and string arguments, as on the wire."""
    calls = []
    for call in turn.get("tool_calls", []):
        arguments = call.get("arguments", {})
        calls.append({
            "call_id": call.get("call_id") or f"call_{uuid.uuid4().hex[:24]}",
            "name": call["name"],
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        })
    return calls


def _token_count(payload: Any) -> int:
    """A stable stand-in for token counting (about four characters per token), never zero."""
    return max(1, len(json.dumps(payload)) // 4)


def _cached_count(input_tokens: int) -> int:
    """A stable stand-in for prompt caching: a quarter of the input tokens."""
    return input_tokens // 4


def render_responses(turn: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    """A `Response` object as `POST /v1/responses` returns it (validated against openai's model in the tests)."""
    output: list[dict[str, Any]] = []
    text = _text_of(turn)
    if text is not None:
        output.append({
            "type": "message", "id": f"msg_{uuid.uuid4().hex}", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        })
    for call in _tool_calls_of(turn):
        output.append({"type": "function_call", "id": f"fc_{uuid.uuid4().hex}", "status": "completed", **call})
    input_tokens, output_tokens = _token_count(request.body), _token_count(output)
    return {
        "id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": time.time(), "completed_at": time.time(),
        "status": "completed", "model": request.model, "output": output,
        "parallel_tool_calls": bool(request.body.get("parallel_tool_calls", True)), "tool_choice": "auto", "tools": [],
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": _cached_count(input_tokens), "cache_write_tokens": 0},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def render_chat_completion(turn: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    """A `ChatCompletion` object as `POST /v1/chat/completions` returns it."""
    calls = _tool_calls_of(turn)
    message: dict[str, Any] = {"role": "assistant", "content": _text_of(turn), "refusal": None}
    if calls:
        message["tool_calls"] = [
            {"id": c["call_id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ]
    prompt_tokens, completion_tokens = _token_count(request.body), _token_count(message)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop", "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": _cached_count(prompt_tokens)},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


RENDERERS = {RESPONSES: render_responses, CHAT_COMPLETIONS: render_chat_completion}
USAGE_FIELDS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens")


def answer_usage(api: str, body: Any) -> dict[str, int] | None:
    """The token counts an answer body reports, in one shape for both APIs (None for an error body)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    if api == CHAT_COMPLETIONS:
        return {"input_tokens": usage.get("prompt_tokens", 0),
                "cached_tokens": (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "reasoning_tokens": (usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)}
    return {"input_tokens": usage.get("input_tokens", 0),
            "cached_tokens": (usage.get("input_tokens_details") or {}).get("cached_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "reasoning_tokens": (usage.get("output_tokens_details") or {}).get("reasoning_tokens", 0)}


# ---------------------------------------------------------------------------------------------
# Errors in OpenAI's shape

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class Reply:
    """What the server sends back: a status, a JSON body and any extra headers.

    `repeated` marks the stored answer to a request seen before.
    """

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    repeated: bool = False
    delay: float = 0.0


def error_reply(status: int, message: str, *, retry_after: float | None = None, kind: str | None = None) -> Reply:
    """An OpenAI-style error; `retry_after` sets both headers the openai client honours."""
    error_type, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    headers = {}
    if retry_after is not None:
        headers = {"retry-after": f"{retry_after:g}", "retry-after-ms": str(int(retry_after * 1000))}
    body = {"error": {"message": message, "type": kind or error_type, "param": None, "code": code}}
    return Reply(status, body, headers)


# ---------------------------------------------------------------------------------------------
# A reasoning model: what it adds to answers and what it refuses


@dataclass(frozen=True)
class IssuedReasoning:
    """A reasoning item the server answered with: its encrypted content, whether the server kept it
    (`store` was not false), and the id of the item that followed it in that answer."""

    encrypted_content: str
    stored: bool
    following: str | None


def _invalid(message: str, param: str | None, code: str | None = None, status: int = 400) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


class ReasoningModel:
    """How a reasoning model (GPT-5 family, o-series) answers and what it refuses, as the real APIs do.

    Answers: a Responses answer starts with a `reasoning` item (id `rs_...`, `summary` [], `encrypted_content`
    only when the request's `include` has `reasoning.encrypted_content`: Azure OpenAI Responses API, "Encrypted
    Reasoning Items"); `usage.output_tokens_details.reasoning_tokens` (Responses) and
    `usage.completion_tokens_details.reasoning_tokens` (Chat Completions) count the hidden tokens, which
    `output_tokens` / `completion_tokens` include.

    Refusals, each with the real API's status and error body:
    - a reasoning item sent back without `encrypted_content` that the server did not keep (`store: false`):
      404 "Item with id 'rs_...' not found. Items are not persisted when `store` is set to false. ...";
    - a reasoning item whose `encrypted_content` is not the one issued: 400 `invalid_encrypted_content`;
    - a reasoning item not followed by the item that followed it in the answer: 400 "... of type 'reasoning'
      was provided without its required following item.";
    - an item of an answer sent back without the reasoning item that preceded it: 400 "Item 'fc_...' of type
      'function_call' was provided without its required 'reasoning' item: 'rs_...'.";
    - `temperature` / `top_p` unless the reasoning effort is `none`, `max_tokens` on Chat Completions (reasoning
      models take `max_completion_tokens`), an unknown reasoning effort (Azure OpenAI reasoning models, "Not
      Supported" and footnote 2: only `max_completion_tokens` on Chat Completions).
    Not thread-safe: `FakeModelState` calls it under its lock.
    """

    def __init__(self) -> None:
        self.issued: dict[str, IssuedReasoning] = {}
        self.needs_reasoning: dict[str, str] = {}  # id of an answer's item -> the reasoning item before it

    def forget_stored(self) -> None:
        """Drop what the server kept (stored responses expire: 30 days on Azure OpenAI, or another account)."""
        self.issued = {rs: replace(item, stored=False) for rs, item in self.issued.items()}

    def refusal(self, api: str, body: dict[str, Any]) -> Reply | None:
        if api == CHAT_COMPLETIONS:
            effort = body.get("reasoning_effort")
            if "max_tokens" in body:
                return _invalid("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                                "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
            if body.get("temperature") not in (None, 1) and effort != "none":
                return _invalid(f"Unsupported value: 'temperature' does not support {body['temperature']} with this "
                                "model. Only the default (1) value is supported.", "temperature", "unsupported_value")
            return self._effort_refusal(effort, "reasoning_effort")
        effort = (body.get("reasoning") or {}).get("effort")
        for name in ("temperature", "top_p"):
            if body.get(name) is not None and effort != "none":
                return _invalid(f"Unsupported parameter: '{name}' is not supported with this model.", name)
        return self._effort_refusal(effort, "reasoning.effort") or self._input_refusal(body.get("input"))

    @staticmethod
    def _effort_refusal(effort: Any, param: str) -> Reply | None:
        if effort is None or effort in REASONING_EFFORTS:
            return None
        return _invalid(f"Invalid value: '{effort}'. Supported values are: "
                        f"{', '.join(repr(e) for e in REASONING_EFFORTS)}.", param, "invalid_value")

    def _input_refusal(self, items: Any) -> Reply | None:
        if not isinstance(items, list):
            return None
        seen: set[str] = set()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            item_id, kind = item.get("id"), item.get("type")
            if kind == "reasoning":
                issued = self.issued.get(item_id)
                encrypted = item.get("encrypted_content")
                if encrypted and (issued is None or issued.encrypted_content != encrypted):
                    return _invalid(f"The encrypted content for item {item_id} could not be verified. Reason: "
                                    "Encrypted content could not be decrypted or parsed.", None,
                                    "invalid_encrypted_content")
                if not encrypted and (issued is None or not issued.stored):
                    return _invalid(f"Item with id '{item_id}' not found. Items are not persisted when `store` is "
                                    "set to false. Try again with `store` set to true, or remove this item from "
                                    "your input.", "input", status=404)
                following = items[index + 1] if index + 1 < len(items) else None
                if issued.following and not (isinstance(following, dict) and following.get("id") == issued.following):
                    return _invalid(f"Item '{item_id}' of type 'reasoning' was provided without its required "
                                    "following item.", "input")
            elif item_id in self.needs_reasoning and self.needs_reasoning[item_id] not in seen:
                return _invalid(f"Item '{item_id}' of type '{kind}' was provided without its required 'reasoning' "
                                f"item: '{self.needs_reasoning[item_id]}'.", "input")
            if isinstance(item_id, str):
                seen.add(item_id)
        return None

    def answer(self, api: str, body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        """`answer` (a rendered Responses or Chat Completions body) as a reasoning model gives it."""
        usage = answer["usage"]
        if api == CHAT_COMPLETIONS:
            reasoning_tokens = 2 * usage["completion_tokens"] + 16
            usage["completion_tokens_details"]["reasoning_tokens"] = reasoning_tokens
            usage["completion_tokens"] += reasoning_tokens
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            return answer
        rs_id = f"rs_{uuid.uuid4().hex}"
        wanted = ENCRYPTED_REASONING in (body.get("include") or [])
        encrypted = "gAAAAA" + base64.urlsafe_b64encode(hashlib.sha512(rs_id.encode()).digest() * 4).decode()
        output = answer["output"]
        self.issued[rs_id] = IssuedReasoning(encrypted, body.get("store") is not False,
                                             output[0]["id"] if output else None)
        self.needs_reasoning.update({item["id"]: rs_id for item in output})
        summary = [] if not (body.get("reasoning") or {}).get("summary") else [
            {"type": "summary_text", "text": f"**Planning the answer**\n\nReasoned over {len(output)} output items."}]
        output.insert(0, {"type": "reasoning", "id": rs_id, "summary": summary,
                          "encrypted_content": encrypted if wanted else None})
        reasoning_tokens = 2 * usage["output_tokens"] + 16
        usage["output_tokens_details"]["reasoning_tokens"] = reasoning_tokens
        usage["output_tokens"] += reasoning_tokens
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        return answer


# ---------------------------------------------------------------------------------------------
# Faults, accounting and the script cursor: the server's whole state


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: float | None = None
    message: str | None = None

    def reply(self, agent: str) -> Reply:
        message = self.message or f"fake model server: injected {self.status} for agent {agent!r}"
        return error_reply(self.status, message, retry_after=self.retry_after)


@dataclass
class RandomFaults:
    probability: float
    fault: Fault
    rng: random.Random
    agents: frozenset[str] | None


@dataclass(frozen=True)
class RecordedCall:
    """One request the server answered, in arrival order, with its URL path and query, its auth headers,
    and the token counts its answer reported (`usage`, None for an error)."""

    seq: int
    api: str
    agent: str | None
    status: int
    body: Any
    path: str = ""
    auth: dict[str, str] = field(default_factory=dict)
    repeated: bool = False
    usage: dict[str, int] | None = None


@dataclass
class CallStats:
    """Counts of every call; `by_status` keys are ints in-process and strings in the JSON form."""

    total: int
    by_agent: dict[str, int]
    by_status: dict[int, int]
    by_api: dict[str, int]
    requests: list[RecordedCall]
    max_in_flight: int = 0

    def bodies(self, agent: str | None = None, status: int | None = 200) -> list[Any]:
        """Request bodies, optionally for one agent, by default only those answered with 200."""
        return [r.body for r in self.requests
                if (agent is None or r.agent == agent) and (status is None or r.status == status)]

    def usage(self, agent: str | None = None, *, repeated: bool = False) -> dict[str, int]:
        """Token counts and `model_calls` summed over the answers (for one agent, or all), each distinct answer
        once: a request identical to an earlier one (a model call run again after a crash, before its result
        was recorded) got the stored answer (`repeated`), and is counted only with `repeated=True`."""
        total = {name: 0 for name in (*USAGE_FIELDS, "model_calls")}
        for call in self.requests:
            if call.usage is None or (agent is not None and call.agent != agent) or (call.repeated and not repeated):
                continue
            for name in USAGE_FIELDS:
                total[name] += call.usage.get(name, 0)
            total["model_calls"] += 1
        return total

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "by_status": {str(k): v for k, v in self.by_status.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CallStats":
        return cls(
            total=data["total"], by_agent=dict(data["by_agent"]), by_api=dict(data["by_api"]),
            by_status={int(k): v for k, v in data["by_status"].items()},
            requests=[RecordedCall(**r) for r in data["requests"]], max_in_flight=data.get("max_in_flight", 0),
        )


class FakeModelState:
    """Script, faults and counters behind one lock: the HTTP layer and the test thread both use it."""

    def __init__(self, script: Mapping[str, Sequence[Turn]] | None = None, *, remember_answers: bool = True,
                 reasoning: bool = False):
        self._lock = threading.Lock()
        self.remember_answers = remember_answers
        self.reasoning = reasoning  # the kind of model served: kept by reset()
        self.reset()
        if script:
            self.set_script(script)

    def reset(self) -> None:
        """Forget scripts, faults, stalls, stored answers, issued reasoning items and counts."""
        with self._lock:
            self._reasoning = ReasoningModel()
            self._script: dict[str, list[Turn]] = {}
            self._served: Counter[str] = Counter()
            self._answers: dict[str, dict[str, dict[str, Any]]] = {}  # script key -> request -> answer body
            self._faults: dict[str, deque[Fault]] = {}
            self._stalls: dict[str, deque[float]] = {}
            self._random: RandomFaults | None = None
            self._calls: list[RecordedCall] = []
            self._in_flight = 0
            self._max_in_flight = 0

    def set_script(self, script: Mapping[str, Sequence[Turn]]) -> None:
        """Set the turns of the agents named (others keep theirs); each named agent starts from its first turn."""
        checked = validate_script(script)
        with self._lock:
            for agent, turns in checked.items():
                self._script[agent] = turns
                self._served[agent] = 0
                self._answers.pop(agent, None)

    def fail_next(self, agent: str, status: int = 429, count: int = 1, *,
                  retry_after: float | None = None, message: str | None = None) -> None:
        """The next `count` calls of `agent` (`"*"`: of any agent) fail with `status`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a fault needs an HTTP error status (400-599), got {status}")
        with self._lock:
            self._faults.setdefault(agent, deque()).extend([Fault(status, retry_after, message)] * count)

    def fail_randomly(self, probability: float, status: int = 429, *, seed: int = 0,
                      retry_after: float | None = None, agents: Iterable[str] | None = None) -> None:
        """Fail this fraction of calls (of `agents`, default all) with a seeded, repeatable sequence; 0 turns it off."""
        if not 0 <= probability <= 1:
            raise ValueError(f"probability must be within 0..1, got {probability}")
        with self._lock:
            self._random = None if probability == 0 else RandomFaults(
                probability, Fault(status, retry_after), random.Random(seed), frozenset(agents) if agents else None)

    def stall_next(self, agent: str, count: int = 1, seconds: float = 600.0) -> None:
        """The next `count` calls of `agent` (`"*"`: of any agent) hang: no answer for `seconds` (default the
        openai client's own timeout, 600 s), or none at all when the client gives up first."""
        if not (isinstance(seconds, (int, float)) and seconds > 0):
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        with self._lock:
            self._stalls.setdefault(agent, deque()).extend([float(seconds)] * count)

    def take_stall(self, agent: str) -> float | None:
        """How long to hold this call of `agent` before answering, if it is one to stall."""
        with self._lock:
            for key in (agent, ANY_AGENT):
                queue = self._stalls.get(key)
                if queue:
                    return queue.popleft()
        return None

    def set_reasoning(self, enabled: bool) -> None:
        """Serve a reasoning model (True) or a plain one (False) from now on."""
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be true or false, got {enabled!r}")
        with self._lock:
            self.reasoning = enabled

    def forget_stored_items(self) -> None:
        """Forget the reasoning items kept server-side, as when stored responses expire (30 days on Azure
        OpenAI) or the deployment moves: only encrypted reasoning sent back still resolves."""
        with self._lock:
            self._reasoning.forget_stored()

    def scripted_agents(self) -> list[str]:
        with self._lock:
            return sorted(self._script)

    def stats(self) -> CallStats:
        with self._lock:
            calls, most = list(self._calls), self._max_in_flight
        return CallStats(
            total=len(calls),
            by_agent=dict(Counter(c.agent for c in calls if c.agent is not None)),
            by_status=dict(Counter(c.status for c in calls)),
            by_api=dict(Counter(c.api for c in calls)),
            requests=calls,
            max_in_flight=most,
        )

    def in_flight(self, change: int) -> None:
        """A model request begins (+1) or ends (-1); the most at once is `stats().max_in_flight`."""
        with self._lock:
            self._in_flight += change
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def record(self, api: str, agent: str | None, reply: Reply, body: Any, request: Request) -> Reply:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        auth = {name: request.headers[name] for name in AUTH_HEADERS if name in request.headers}
        with self._lock:
            seq = len(self._calls) + 1
            self._calls.append(RecordedCall(seq, api, agent, reply.status, body, path, auth, reply.repeated,
                                            answer_usage(api, reply.body) if reply.status == 200 else None))
        return reply

    def _take_fault(self, agent: str) -> Fault | None:
        for key in (agent, ANY_AGENT):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        chance = self._random
        if chance and (chance.agents is None or agent in chance.agents) and chance.rng.random() < chance.probability:
            return chance.fault
        return None

    def _script_key(self, agent: str) -> str:
        return agent if agent in self._script else ANY_AGENT

    def _take_turn(self, agent: str) -> tuple[int, Turn] | str:
        """The turn to serve and its index, or why there is none."""
        key = self._script_key(agent)
        turns = self._script.get(key)
        if turns is None:
            return f"no script for agent {agent!r}; scripted agents: {sorted(self._script)}"
        index = self._served[key]
        if index >= len(turns):
            last = turns[-1] if turns else None
            if isinstance(last, dict) and last.get("repeat"):
                return len(turns) - 1, last
            return f"the script of agent {agent!r} is exhausted after {len(turns)} turns"
        self._served[key] += 1
        return index, turns[index]

    def answer(self, api: str, body: dict[str, Any], agent: str, model: str) -> Reply:
        """Serve one model call: a queued or random fault first, else a repeated answer, else the next turn."""
        request_key = api + json.dumps(body, sort_keys=True)
        with self._lock:
            fault = self._take_fault(agent)
            if fault:
                return fault.reply(agent)
            refusal = self._reasoning.refusal(api, body) if self.reasoning else None
            if refusal:
                return refusal
            script_key = self._script_key(agent)
            seen = self._answers.get(script_key, {}).get(request_key) if self.remember_answers else None
            if seen is not None:
                return Reply(200, seen, repeated=True)
            taken = self._take_turn(agent)
        if isinstance(taken, str):
            return error_reply(500, f"fake model server: {taken}", kind="fake_script_error")
        index, turn = taken
        request = ModelRequest(api=api, agent=agent, model=model, turn_index=index, body=body)
        if callable(turn):
            try:
                turn = turn(request)
                _validate_turn(agent, index, turn, is_last=True)
            except Exception as exc:  # a broken test callable must show up as a readable error
                return error_reply(500, f"fake model server: script callable of agent {agent!r} failed: {exc!r}",
                                   kind="fake_script_error")
        rendered = RENDERERS[api](turn, request)
        with self._lock:
            reply = Reply(200, self._reasoning.answer(api, body, rendered) if self.reasoning else rendered,
                          delay=float(turn.get("delay", 0)))
            self._answers.setdefault(script_key, {})[request_key] = reply.body
        return reply


def agent_key(api: str, body: dict[str, Any]) -> str:
    """`[agent:NAME]` from the instructions, else the requested model name."""
    probe = ModelRequest(api=api, agent="", model="", turn_index=0, body=body)
    match = AGENT_MARKER.search(probe.instructions())
    return match.group(1) if match else str(body.get("model") or "")


# ---------------------------------------------------------------------------------------------
# HTTP


async def _client_gave_up(request: Request, seconds: float) -> bool:
    """Hold a request up to `seconds`; True as soon as its client closes the connection."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(STALL_POLL_SECONDS)
    return False


def _json_response(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def create_app(state: FakeModelState) -> Starlette:
    """The ASGI app: model endpoints plus the `/_fake` control routes over the given state."""

    def model_endpoint(api: str) -> Callable:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                body = json.loads(await request.body())
            except ValueError as exc:
                reply = error_reply(400, f"request body is not JSON: {exc}")
                return _json_response(state.record(api, None, reply, None, request))
            if not isinstance(body, dict):
                reply = error_reply(400, "request body must be a JSON object")
                return _json_response(state.record(api, None, reply, body, request))
            agent = agent_key(api, body)
            stall = state.take_stall(agent)
            if stall is not None and await _client_gave_up(request, stall):
                reply = error_reply(CLIENT_GAVE_UP, f"fake model server: the client gave up on stalled agent {agent!r}")
                return _json_response(state.record(api, agent, reply, body, request))
            state.in_flight(+1)
            try:
                if body.get("stream"):
                    reply = error_reply(400, "the fake model server does not implement streaming; send stream=false")
                else:
                    reply = state.answer(api, body, agent, str(body.get("model") or "fake-model"))
                if reply.delay:
                    await asyncio.sleep(reply.delay)
            finally:
                state.in_flight(-1)
            return _json_response(state.record(api, agent, reply, body, request))
        return endpoint

    async def models(request: Request) -> JSONResponse:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in state.scripted_agents()]
        return JSONResponse({"object": "list", "data": data})

    async def control(request: Request) -> JSONResponse:
        action = request.path_params["action"]
        if request.method == "GET" and action == "stats":
            return JSONResponse(state.stats().to_json())
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            return JSONResponse({"error": f"control body is not JSON: {exc}"}, status_code=400)
        handlers: dict[str, Callable[[], None]] = {
            "script": lambda: state.set_script(payload),
            "fail_next": lambda: state.fail_next(**payload),
            "fail_randomly": lambda: state.fail_randomly(**payload),
            "stall_next": lambda: state.stall_next(**payload),
            "reasoning": lambda: state.set_reasoning(**payload),
            "forget_stored_items": state.forget_stored_items,
            "reset": state.reset,
        }
        if request.method != "POST" or action not in handlers:
            return JSONResponse({"error": f"unknown control route {request.method} /_fake/{action}"}, status_code=404)
        try:
            handlers[action]()
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    return Starlette(routes=[
        Route("/v1/responses", model_endpoint(RESPONSES), methods=["POST"]),
        Route("/v1/chat/completions", model_endpoint(CHAT_COMPLETIONS), methods=["POST"]),
        Route("/openai/v1/responses", model_endpoint(RESPONSES), methods=["POST"]),
        Route("/openai/v1/chat/completions", model_endpoint(CHAT_COMPLETIONS), methods=["POST"]),
        Route("/openai/responses", model_endpoint(RESPONSES), methods=["POST"]),
        Route("/openai/deployments/{deployment}/chat/completions", model_endpoint(CHAT_COMPLETIONS), methods=["POST"]),
        Route("/v1/models", models),
        Route("/_fake/{action}", control, methods=["GET", "POST"]),
    ])


class FakeModelServer(BackgroundServer):
    """The fake server in a background thread, for pytest fixtures.

    `with FakeModelServer(script) as server:` then point a client at `server.base_url`
    (`http://127.0.0.1:<port>/v1`). The control methods act on the live state directly, so script
    callables work; the same state is reachable over `/_fake/*` for other processes.
    """

    name = "fake model server"

    def __init__(self, script: Mapping[str, Sequence[Turn]] | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 remember_answers: bool = True, reasoning: bool = False):
        self.state = FakeModelState(script, remember_answers=remember_answers, reasoning=reasoning)
        super().__init__(host, port)

    def app(self) -> Starlette:
        return create_app(self.state)

    @property
    def base_url(self) -> str:
        """What `OPENAI_BASE_URL` / `AsyncOpenAI(base_url=...)` needs."""
        return f"{self.url}/v1"

    def script(self, turns_by_agent: Mapping[str, Sequence[Turn]]) -> None:
        """Set the turns of the agents named; see the module docstring for the turn format."""
        self.state.set_script(turns_by_agent)

    def fail_next(self, agent: str, status: int = 429, count: int = 1, *,
                  retry_after: float | None = None, message: str | None = None) -> None:
        self.state.fail_next(agent, status, count, retry_after=retry_after, message=message)

    def fail_randomly(self, probability: float, status: int = 429, *, seed: int = 0,
                      retry_after: float | None = None, agents: Iterable[str] | None = None) -> None:
        self.state.fail_randomly(probability, status, seed=seed, retry_after=retry_after, agents=agents)

    def stall_next(self, agent: str, count: int = 1, seconds: float = 600.0) -> None:
        self.state.stall_next(agent, count, seconds)

    def reasoning(self, enabled: bool = True) -> None:
        """Answer as a reasoning model (see `ReasoningModel`), or as a plain one with False."""
        self.state.set_reasoning(enabled)

    def forget_stored_items(self) -> None:
        self.state.forget_stored_items()

    def stats(self) -> CallStats:
        return self.state.stats()

    def reset(self) -> None:
        self.state.reset()


# ---------------------------------------------------------------------------------------------
# Standalone


def load_script(spec: str) -> dict[str, list[Turn]]:
    """A script from a JSON file, `package.module[:ATTRIBUTE]` (default `SCRIPT`), or a name in `testing.model_scripts`."""
    path = Path(spec)
    if spec.endswith(".json") or path.is_file():
        return validate_script(json.loads(path.read_text()))
    module_name, _, attribute = spec.partition(":")
    if "." not in module_name:
        module_name = f"testing.model_scripts.{module_name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ScriptError(f"cannot load script {spec!r}: no module {module_name!r} ({exc})") from exc
    return validate_script(getattr(module, attribute or "SCRIPT"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m testing.fake_model_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on the first line)")
    parser.add_argument("--script", help="JSON file, package.module[:ATTRIBUTE], or a name in testing.model_scripts")
    parser.add_argument("--forget-answers", action="store_true", help="serve identical requests from the script too")
    parser.add_argument("--reasoning", action="store_true", help="answer as a reasoning model (GPT-5 family)")
    args = parser.parse_args(argv)
    state = FakeModelState(load_script(args.script) if args.script else None, remember_answers=not args.forget_answers,
                           reasoning=args.reasoning)
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        raise SystemExit(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                         f"pick another --port (0 picks a free one)") from None
    host, port = sock.getsockname()[:2]
    print(f"fake model server listening on http://{host}:{port}/v1", flush=True)
    uvicorn_server(create_app(state)).run(sockets=[sock])


if __name__ == "__main__":
    main()
