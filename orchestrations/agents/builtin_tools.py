"""Built-in agent tools, as Durable activities an orchestrator hands to an agent by name.

An orchestrator turns them into agent tools with `context.create_activity_tool(BUILTIN_TOOLS[name])`:
the tool's name and JSON schema come from the activity's Python signature (so each takes one
parameter whose name is the activity's `input_name`, e.g. `{url: string}`), and its description
from the activity's docstring, which is therefore written for the model.

Expected failures (a refused or unreachable URL, a malformed expression) come back as the tool's
result, text starting with "Error:", instead of raising: an exception in an activity tool would be
retried by the durable retry policy (5 attempts, backoff from 2 s) although it cannot succeed, and
would then fail the whole agent run, while the model can read the error and change its plan.
Unexpected exceptions (bugs) still raise, so they are visible.

The logic lives in plain functions (`calculate_expression`, `fetch_url_text`) that need no host.
"""
from __future__ import annotations

import ast
import ipaddress
import math
import operator
import os
import socket
import time
from typing import Callable, Collection

import azure.durable_functions as df
import httpx
from azure.functions.decorators.function_app import FunctionBuilder

from orchestrations.agents import activity_tools
from orchestrations.payloads import MODEL_TEXT_BUDGET_BYTES, cut, model_input_bytes

bp = df.Blueprint()


class ToolError(Exception):
    """An expected failure whose message is shown to the model."""


# ---------------------------------------------------------------------------------------------
# calculate: arithmetic on an AST walk, never eval

MAX_EXPRESSION_LENGTH = 500
MAX_EXPONENT = 10_000
MAX_RESULT_DIGITS = 1_000  # far below CPython's 4300-digit int-to-str limit
_MAX_RESULT_BITS = int(MAX_RESULT_DIGITS * math.log2(10))

_BINARY_OPERATORS: dict[type, Callable] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY_OPERATORS: dict[type, Callable] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_ROUND_DIGITS = 100


def _round(value: int | float, ndigits: int | None = None) -> int | float:
    """`round` with a bounded `ndigits`: `round(5, -10**8)` would otherwise compute 10**(10**8)."""
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS):
        raise ToolError(f"round() takes a whole number of digits between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    return round(value, ndigits)


_FUNCTIONS: dict[str, Callable] = {
    "sqrt": math.sqrt, "abs": abs, "round": _round, "min": min, "max": max, "floor": math.floor, "ceil": math.ceil,
    "log": math.log, "log10": math.log10, "exp": math.exp, "sin": math.sin, "cos": math.cos, "tan": math.tan,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _check_power(base: float, exponent: float) -> None:
    """Refuse a power before computing it when its result would be huge (`9**9**9` must not hang)."""
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponent {exponent:g} is too large (the limit is {MAX_EXPONENT})")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > MAX_RESULT_DIGITS:
        raise ToolError(f"the result would have more than {MAX_RESULT_DIGITS} digits")


def _checked(value: int | float | complex) -> int | float:
    if isinstance(value, complex):
        raise ToolError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number")
    if isinstance(value, int) and value.bit_length() > _MAX_RESULT_BITS:
        raise ToolError(f"the result would have more than {MAX_RESULT_DIGITS} digits")
    return value


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(f"unknown name {node.id!r}; known constants: {', '.join(_CONSTANTS)}")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        return _checked(_UNARY_OPERATORS[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(_BINARY_OPERATORS[type(node.op)](left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = _FUNCTIONS.get(node.func.id)
        if function is None:
            raise ToolError(f"unknown function {node.func.id!r}; known functions: {', '.join(_FUNCTIONS)}")
        return _checked(function(*[_evaluate(arg) for arg in node.args]))
    if isinstance(node, ast.Constant):
        raise ToolError(f"only numbers are allowed, not {node.value!r}")
    raise ToolError(f"unsupported syntax: {ast.unparse(node)!r}; use numbers, + - * / // % **, parentheses "
                    "and the listed functions")


def _format_number(value: int | float) -> str:
    return str(value) if isinstance(value, int) else format(value, ".15g")


def calculate_expression(expression: str) -> str:
    """The value of an arithmetic expression as text, or "Error: ..." saying what is not allowed."""
    if not isinstance(expression, str) or not expression.strip():
        return "Error: give an arithmetic expression as a non-empty string, e.g. '(2 + 3) * 4'"
    if len(expression) > MAX_EXPRESSION_LENGTH:
        return f"Error: the expression is longer than {MAX_EXPRESSION_LENGTH} characters"
    try:
        return _format_number(_evaluate(ast.parse(expression.strip(), mode="eval")))
    except SyntaxError as exc:
        return f"Error: invalid expression ({exc.msg})"
    except ToolError as exc:
        return f"Error: {exc}"
    except ZeroDivisionError:
        return "Error: division by zero"
    except OverflowError:
        return "Error: the result is too large"
    except (ValueError, TypeError) as exc:  # math domain errors, wrong argument counts
        return f"Error: {exc}"
    except RecursionError:
        return "Error: the expression is nested too deeply"


# ---------------------------------------------------------------------------------------------
# fetch_url: http(s) GET that cannot be pointed at the host's own network

FETCH_TIMEOUT_SECONDS = 10.0
FETCH_MAX_BYTES = 1_000_000
FETCH_MAX_REDIRECTS = 5
MAX_URL_CHARS = 8_000
ALLOWED_HOSTS_ENV = "FETCH_URL_ALLOWED_HOSTS"
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded")
_HEADERS = {"User-Agent": "durable-agent-tools fetch_url", "Accept": "text/html, text/*, application/json, */*;q=0.5"}


def allowed_hosts_from_env() -> set[str]:
    """`FETCH_URL_ALLOWED_HOSTS`: comma-separated `host` or `host:port` that may be private (tests, intranets)."""
    return {entry.strip().lower() for entry in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if entry.strip()}


def _is_allowed(host: str, port: int, allowed: Collection[str]) -> bool:
    return bool({host, f"{host}:{port}", f"[{host}]:{port}"} & set(allowed))


def _address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address must not be fetched, also looking inside IPv6 forms that embed an IPv4 address."""
    embedded = [getattr(address, name, None) for name in ("ipv4_mapped", "sixtofour")]
    embedded += list(getattr(address, "teredo", None) or ())
    for candidate in [*[a for a in embedded if a is not None], address]:
        for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
            if getattr(candidate, f"is_{kind}"):
                return kind.replace("_", "-")
        if not candidate.is_global:
            return "non-public"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve host {host!r} ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked_addresses(url: httpx.URL, allowed: Collection[str]) -> list[str]:
    """The addresses to connect to, after refusing any that is not public (unless the host is allow-listed)."""
    if url.scheme not in ("http", "https"):
        raise ToolError(f"only http and https URLs can be fetched, not {url.scheme or 'a relative URL'!r}")
    host = url.raw_host.decode("ascii").lower()
    if not host:
        raise ToolError("the URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not _is_allowed(host, port, allowed):
        for address in addresses:
            problem = _address_problem(ipaddress.ip_address(address.split("%")[0]))
            if problem:
                raise ToolError(f"refused to fetch {host}: {address} is a {problem} address")
    return addresses


def _get_pinned(client: httpx.Client, url: httpx.URL, addresses: list[str], timeout: float) -> httpx.Response:
    """GET `url` from one of the checked addresses, so a second DNS answer cannot swap in another one.

    The Host header and TLS server name stay the original host, so virtual hosts and certificates work.
    """
    host = url.raw_host.decode("ascii")
    last_error: httpx.TransportError | None = None
    for address in addresses:
        request = client.build_request(
            "GET", url.copy_with(host=address), headers={**_HEADERS, "Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": host}, timeout=httpx.Timeout(timeout))
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as exc:
            last_error = exc
    raise ToolError(f"cannot connect to {host} ({last_error})")


def _read_limited(response: httpx.Response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > max_bytes:
            return bytes(body[:max_bytes]), True
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the total time limit ran out while reading the body")
    return bytes(body), False


def _describe(url: httpx.URL, response: httpx.Response, body: bytes, truncated: bool, max_bytes: int) -> str:
    content_type = response.headers.get("content-type", "")
    header = f"HTTP {response.status_code} {response.reason_phrase} from {url} ({content_type or 'no content type'})"
    if content_type and not any(marker in content_type.lower() for marker in _TEXT_TYPES):
        return f"{header}\n\n[binary content of {len(body)}{'+' if truncated else ''} bytes, not shown]"
    note = f"\n\n[truncated: the response is longer than {max_bytes} bytes; only the first {max_bytes} were read]" \
        if truncated else ""
    room = MODEL_TEXT_BUDGET_BYTES - model_input_bytes(f"{header}\n\n{note}")
    text = cut(body.decode(response.encoding or "utf-8", errors="replace"), room, model_input_bytes, "the page")
    return f"{header}\n\n{text}{note}"


def fetch_url_text(url: str, *, timeout: float = FETCH_TIMEOUT_SECONDS, max_bytes: int = FETCH_MAX_BYTES,
                   allowed_hosts: Collection[str] | None = None) -> str:
    """GET an http(s) URL and return a status line and the body text, or "Error: ..." saying why not.

    The text is cut, saying so, to `MODEL_TEXT_BUDGET_BYTES` as it weighs in the model's next input
    (`payloads.model_input_bytes`: a Japanese page of 637 KB would be 1.5 MB there), so the tool's
    result and the conversation that carries it stay under the Durable payload limit (issue 21 §2).

    Redirects are followed by hand, at most `FETCH_MAX_REDIRECTS`, so every hop's addresses are
    checked; `timeout` bounds the whole fetch, redirects and body included.
    """
    if len(url) > MAX_URL_CHARS:
        return f"Error: the URL is longer than {MAX_URL_CHARS:,} characters"
    allowed = allowed_hosts_from_env() if allowed_hosts is None else {h.lower() for h in allowed_hosts}
    deadline = time.monotonic() + timeout
    try:
        current = httpx.URL(url.strip())
        with httpx.Client(follow_redirects=False) as client:
            for _ in range(FETCH_MAX_REDIRECTS + 1):
                addresses = _checked_addresses(current, allowed)
                response = _get_pinned(client, current, addresses, max(deadline - time.monotonic(), 0.001))
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECT_STATUSES and location:
                        current = current.join(location)
                        continue
                    body, truncated = _read_limited(response, max_bytes, deadline)
                    return _describe(current, response, body, truncated, max_bytes)
                finally:
                    response.close()
        raise ToolError(f"more than {FETCH_MAX_REDIRECTS} redirects")
    except ToolError as exc:
        return f"Error: {exc}"
    except httpx.InvalidURL as exc:
        return f"Error: invalid URL {url!r} ({exc})"
    except httpx.TimeoutException:
        return f"Error: fetching {url} took longer than {timeout:g} seconds"
    except httpx.HTTPError as exc:
        return f"Error: fetching {url} failed ({type(exc).__name__}: {exc})"


# ---------------------------------------------------------------------------------------------
# The activities. Their docstrings are the tool descriptions the model reads.


@bp.activity_trigger(input_name="url")
def fetch_url(url: str) -> str:
    """Fetch a public web page or API over http(s) and return its status line and text (a long text is cut,
    saying so).

    Private, loopback and link-local addresses are refused. Errors are returned as text starting with "Error:".
    """
    return fetch_url_text(url)


@bp.activity_trigger(input_name="expression")
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression, e.g. "(2 + 3) * 4 ** 2 / sqrt(16)".

    Supports numbers, + - * / // % **, parentheses, pi, e and sqrt, abs, round, min, max, floor, ceil,
    log, log10, exp, sin, cos, tan. Errors are returned as text starting with "Error:".
    """
    return calculate_expression(expression)


BUILTIN_TOOLS: dict[str, FunctionBuilder] = {"fetch_url": activity_tools.register(fetch_url),
                                             "calculate": activity_tools.register(calculate)}
