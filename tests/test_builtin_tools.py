"""Built-in tools: the safe calculator, the SSRF-guarded fetch against a real loopback HTTP server, the registry."""
from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from azure.durable_functions.openai_agents.context import DurableAIAgentContext

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS, FETCH_MAX_REDIRECTS, calculate_expression, fetch_url_text
from testing.loopback_http import LoopbackHTTPServer

# ---------------------------------------------------------------------------------------------
# calculate


@pytest.mark.parametrize("expression, expected", [
    ("2 + 3 * 4", "14"), ("(2 + 3) * 4", "20"), ("7 / 2", "3.5"), ("7 // 2", "3"), ("-7 % 3", "2"),
    ("2 ** 10", "1024"), ("-2 ** 2", "-4"), ("+3 - -1", "4"), ("0.1 + 0.2", "0.3"), ("sqrt(16) + abs(-2)", "6"),
    ("round(2.567, 2)", "2.57"), ("min(4, 2, 8) + max(1, 9)", "11"), ("floor(2.7) + ceil(2.1)", "5"),
    ("round(pi, 4)", "3.1416"), ("log10(1000)", "3"), ("2 ** 3000 % 1000", "376"), ("1e3 * 2", "2000"),
])
def test_calculate_valid(expression, expected):
    assert calculate_expression(expression) == expected


@pytest.mark.parametrize("expression, problem", [
    ("1 / 0", "division by zero"), ("5 % 0", "division by zero"), ("sqrt(-1)", "math domain error"),
    ("x + 1", "unknown name 'x'"), ("__import__('os').system('true')", "unsupported syntax"),
    ("open('/etc/passwd')", "unknown function 'open'"), ("'a' * 3", "only numbers"), ("True + 1", "only numbers"),
    ("[1, 2]", "unsupported syntax"), ("(1).real", "unsupported syntax"), ("1 << 3", "unsupported syntax"),
    ("lambda: 1", "unsupported syntax"), ("round(1, ndigits=2)", "unsupported syntax"), ("2 +", "invalid expression"),
    ("(-8) ** 0.5", "not a real number"), ("1e308 * 10", "not a finite number"), ("min()", "at least 1 argument"),
    ("", "non-empty"),
])
def test_calculate_refuses_with_a_clear_error(expression, problem):
    result = calculate_expression(expression)
    assert result.startswith("Error: ") and problem in result, result


@pytest.mark.parametrize("expression, problem", [
    ("9 ** 9 ** 9", "exponent"), ("10 ** 10 ** 10", "exponent"), ("2 ** 9999", "more than 1000 digits"),
    ("(10 ** 999) * (10 ** 999)", "more than 1000 digits"), ("round(5, -100000000)", "round()"),
    ("exp(10 ** 900)", "too large"), ("1" * 501, "longer than 500"), ("-" * 499 + "1", None),
    ("(" * 200 + "1" + ")" * 200, None),
])
def test_calculate_resists_denial_of_service(expression, problem):
    started = time.monotonic()
    result = calculate_expression(expression)
    assert time.monotonic() - started < 1
    if problem:
        assert result.startswith("Error: ") and problem in result, result


# ---------------------------------------------------------------------------------------------
# fetch_url against a real loopback server


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8", **headers: str):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path == "/text":
            self._send(200, "héllo wörld".encode())
        elif path == "/host":
            self._send(200, self.headers["Host"].encode())
        elif path == "/big":
            self._send(200, b"a" * 3000)
        elif path == "/json":
            self._send(200, b'{"ok": true}', "application/json")
        elif path == "/png":
            self._send(200, b"\x89PNG\r\n" + bytes(100), "image/png")
        elif path == "/missing":
            self._send(404, b"no such page")
        elif path == "/slow":
            time.sleep(2)
            self._send(200, b"too late")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(20):
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the fetch gave up, as it should
        elif path.startswith("/redirect-to?"):
            self._send(302, b"", Location=path.split("?", 1)[1])
        elif path == "/loop":
            self._send(301, b"", Location="/loop")
        else:
            self._send(500, b"unexpected path")


@pytest.fixture(scope="module")
def web():
    server = LoopbackHTTPServer(Handler).start()
    yield f"127.0.0.1:{server.port}"
    server.close()


def test_a_client_that_gives_up_leaves_no_traceback(capfd):
    """The test sites' late writes to a client that left (a fetch that timed out) print nothing."""
    answer, answered = threading.Event(), threading.Event()

    class Late(BaseHTTPRequestHandler):
        def do_GET(self):
            answer.wait(10)
            try:
                self.send_response(200)
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"x" * 65536)
            finally:
                answered.set()

        def log_message(self, *args):
            pass

    server = LoopbackHTTPServer(Late).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        answer.set()
        assert answered.wait(10)
    finally:
        server.close()
    assert "Traceback" not in capfd.readouterr().err


def fetch(url: str, web: str, **kwargs) -> str:
    return fetch_url_text(url, allowed_hosts=[web], **kwargs)


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://127.9.9.9:8080/x", "loopback"),
    ("http://10.1.2.3/", "10.1.2.3 is a private address"),
    ("http://192.168.0.1/", "private"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
    ("http://[::1]:8080/", "::1 is a loopback address"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://localhost/", "refused to fetch localhost"),
])
def test_fetch_refuses_non_public_addresses(url, kind):
    result = fetch_url_text(url, allowed_hosts=[])
    assert result.startswith("Error: refused") and kind in result, result


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.com/x", "only http and https"), ("file:///etc/passwd", "only http and https"),
    ("example.com", "only http and https"), ("http:///path", "no host"),
    ("http://no-such-host.invalid/", "cannot resolve host"),
])
def test_fetch_refuses_bad_urls(url, problem):
    result = fetch_url_text(url, allowed_hosts=[])
    assert result.startswith("Error: ") and problem in result, result


def test_allow_list_opens_one_host_and_port(web):
    assert "héllo wörld" in fetch(f"http://{web}/text", web)
    port = web.split(":")[1]
    assert fetch_url_text(f"http://{web}/text", allowed_hosts=["127.0.0.1:1"]).startswith("Error: refused")
    assert "héllo wörld" in fetch_url_text(f"http://{web}/text", allowed_hosts=["127.0.0.1"])
    # a host name is resolved once and the checked address is used, with the original Host header
    assert fetch_url_text(f"http://localhost:{port}/host", allowed_hosts=[f"localhost:{port}"]).endswith(f"localhost:{port}")


def test_allow_list_comes_from_the_environment(web, monkeypatch):
    monkeypatch.setenv("FETCH_URL_ALLOWED_HOSTS", f"example.com, {web}")
    assert fetch_url_text(f"http://{web}/text").startswith("HTTP 200 OK")
    monkeypatch.setenv("FETCH_URL_ALLOWED_HOSTS", "")
    assert fetch_url_text(f"http://{web}/text").startswith("Error: refused")


def test_result_shows_status_type_and_text(web):
    assert fetch(f"http://{web}/json", web) == f'HTTP 200 OK from http://{web}/json (application/json)\n\n{{"ok": true}}'
    missing = fetch(f"http://{web}/missing", web)
    assert missing.startswith("HTTP 404 Not Found") and missing.endswith("no such page")
    binary = fetch(f"http://{web}/png", web)
    assert "image/png" in binary and "binary content of 106 bytes, not shown" in binary and "PNG" not in binary


def test_large_bodies_are_truncated_with_a_note(web):
    result = fetch(f"http://{web}/big", web, max_bytes=1000)
    body = result.split("\n\n")[1]
    assert body == "a" * 1000
    assert "[truncated: the response is longer than 1000 bytes" in result
    assert "truncated" not in fetch(f"http://{web}/big", web, max_bytes=3000)


def test_timeout_bounds_the_whole_fetch(web):
    for path in ("/slow", "/trickle"):  # no answer at all / an answer that never finishes
        # the site answers after 2 s (or trickles for 2 s): only a fetch cut at 0.5 s says this
        result = fetch(f"http://{web}{path}", web, timeout=0.5)
        assert result == f"Error: fetching http://{web}{path} took longer than 0.5 seconds"


def test_redirects_are_followed_and_each_hop_is_checked(web):
    followed = fetch(f"http://{web}/redirect-to?/text", web)
    assert followed.startswith(f"HTTP 200 OK from http://{web}/text") and "héllo wörld" in followed
    to_private = fetch(f"http://{web}/redirect-to?http://169.254.169.254/latest", web)
    assert to_private.startswith("Error: refused to fetch 169.254.169.254")
    to_other_port = fetch(f"http://{web}/redirect-to?http://127.0.0.1:1/", web)
    assert to_other_port.startswith("Error: refused to fetch 127.0.0.1")
    assert fetch(f"http://{web}/loop", web) == f"Error: more than {FETCH_MAX_REDIRECTS} redirects"


def test_unreachable_allowed_host_is_a_readable_error():
    result = fetch_url_text("http://127.0.0.1:1/", allowed_hosts=["127.0.0.1:1"])
    assert result.startswith("Error: cannot connect to 127.0.0.1"), result


# ---------------------------------------------------------------------------------------------
# The activities as agent tools, and the registry


@pytest.mark.parametrize("name, parameter", [("fetch_url", "url"), ("calculate", "expression")])
def test_activities_become_tools_with_a_one_string_schema(name, parameter):
    activity = BUILTIN_TOOLS[name]
    tool = DurableAIAgentContext(None, None, None).create_activity_tool(activity)
    assert tool.name == name
    assert tool.params_json_schema["properties"] == {parameter: {"title": parameter.title(), "type": "string"}}
    assert tool.params_json_schema["required"] == [parameter]
    assert tool.description.startswith(("Fetch a public web page", "Evaluate an arithmetic expression"))
    # the tool passes the argument named like the trigger's input to the activity of that name
    assert (activity._function._name, activity._function._trigger.name) == (name, parameter)


def test_calculate_activity_runs_the_plain_logic():
    assert BUILTIN_TOOLS["calculate"]._function._func("6 * 7") == "42"
