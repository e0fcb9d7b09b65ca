"""The host's edge against a hostile web page and a hostile client (issue 8 items 1, 3, 4, 5).

Every endpoint reachable without a key (the SDK's rpc base `/durabletask/`, health, progress URLs,
anonymous triggers) refuses a foreign Host (DNS rebinding) or Origin (CSRF), and state-changing
requests with a non-JSON content type; each refused request must leave every job as it was.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from azure.durable_functions import DurableOrchestrationClient

from testing.durable_http import DurableHttp
from testing.host_process import PROJECT_ROOT, TEST_APPS, HostProcess

FOREIGN = {
    "foreign Host": ({"host": "evil.example"}, 421),
    "foreign Host with loopback port": ({"host": "evil.example:7071"}, 421),
    "foreign Origin": ({"origin": "http://evil.example"}, 403),
    "opaque Origin": ({"origin": "null"}, 403),
    "malformed Origin": ({"origin": "http://[::1"}, 403),
    "malformed Host": ({"host": "[::1"}, 421),
}
TEXT_PLAIN = ({"content-type": "text/plain"}, 415)
ATTACKS = {**FOREIGN, "text/plain body": TEXT_PLAIN}


class Jobs:
    """A few jobs in known states, and what must hold for them after the attacks."""

    def __init__(self, api: DurableHttp):
        self.api = api
        self.waiting = api.start("wait_event")
        self.suspended = api.start("wait_event")
        api.wait(self.waiting, ("Running",))
        api.wait(self.suspended, ("Running",))
        assert api.post(self.suspended, "suspend").status_code == 202
        api.wait(self.suspended, ("Suspended",))
        self.failed = api.start("always_fails")
        api.wait(self.failed, ("Failed",))
        self.completed = api.start("chain", 1)
        api.wait(self.completed, ("Completed",))

    def count(self) -> int:
        response = self.api.client.get(f"{self.api.base}/instances", params={"top": 1000})
        assert response.status_code == 200
        return len(response.json())

    def assert_unchanged(self, count_before: int) -> None:
        api = self.api
        assert self.count() == count_before
        assert api.status(self.waiting)["runtimeStatus"] == "Running"
        assert api.status(self.suspended)["runtimeStatus"] == "Suspended"
        assert api.status(self.failed)["runtimeStatus"] == "Failed"
        assert api.status(self.completed)["runtimeStatus"] == "Completed"
        assert api.client.get(f"{api.base}/instances/forged-id").status_code == 404


def rpc_requests(host: HostProcess, jobs: Jobs, rpc: str | None = None) -> list[tuple[str, str, dict]]:
    """(method, url, httpx kwargs) for every state-changing route of the keyless rpc base (`rpc`, by
    default the real one with its secret segment), and an anonymous HTTP trigger."""
    base = host.base_url
    rpc = (rpc or host.rpc_base_url).rstrip("/")
    return [
        ("POST", f"{rpc}/orchestrators/chain", {"content": b"1"}),
        ("POST", f"{rpc}/orchestrators/wait_event/forged-id", {"content": b"null"}),
        ("POST", f"{rpc}/instances/{jobs.waiting}/raiseEvent/go", {"content": b'"from evil"'}),
        ("POST", f"{rpc}/instances/{jobs.waiting}/terminate?reason=evil", {}),
        ("POST", f"{rpc}/instances/{jobs.waiting}/suspend?reason=evil", {}),
        ("POST", f"{rpc}/instances/{jobs.suspended}/resume?reason=evil", {}),
        ("POST", f"{rpc}/instances/{jobs.failed}/rewind?reason=evil", {}),
        ("POST", f"{rpc}/instances/{jobs.completed}/restart", {}),
        ("DELETE", f"{rpc}/instances/{jobs.completed}", {}),
        ("DELETE", f"{rpc}/instances/?createdTimeFrom=2000-01-01T00:00:00Z", {}),
        ("POST", f"{base}/api/orchestrators/chain", {"content": b"1"}),  # an anonymous HTTP trigger
    ]


@pytest.fixture(scope="module")
def jobs(api) -> Jobs:
    return Jobs(api)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_keyless_state_changing_routes_refuse_foreign_pages_and_change_nothing(durable_host, api, jobs, attack):
    headers, status = ATTACKS[attack]
    before = jobs.count()
    for method, url, kwargs in rpc_requests(durable_host, jobs):
        if attack == "text/plain body" and "/api/" in url:
            continue  # an app's own anonymous trigger decides which bodies it takes, as on Azure
        sent = {"content-type": "application/json", **headers}
        response = httpx.request(method, url, headers=sent, timeout=30, **kwargs)
        assert response.status_code == status, (method, url, response.status_code, response.text)
    jobs.assert_unchanged(before)
    assert api.raise_event(jobs.waiting, "go", "from the owner").status_code == 202
    assert api.wait(jobs.waiting)["output"] == "from the owner"  # no forged event reached the job
    jobs.waiting = api.start("wait_event")


@pytest.mark.parametrize("attack", list(FOREIGN))
def test_keyless_reads_refuse_foreign_pages(durable_host, jobs, attack):
    headers, status = FOREIGN[attack]
    base, rpc = durable_host.base_url, durable_host.rpc_base_url
    for url in (f"{rpc}instances/", f"{rpc}instances/{jobs.completed}?showInput=true", f"{base}/admin/host/ping"):
        response = httpx.get(url, headers=headers, timeout=30)
        assert response.status_code == status, (url, response.text)
        assert jobs.completed not in response.text


RPC_GUESSES = {
    "Azure's rpc path, no secret": lambda host: "/durabletask/",
    "a wrong secret": lambda host: "/durabletask/not-the-secret/",
    "another key as the secret": lambda host: f"/durabletask/{host.durable_key}/",
}


@pytest.mark.parametrize("guess", list(RPC_GUESSES))
async def test_the_rpc_base_is_unusable_without_its_secret(durable_host, jobs, guess):
    """Every local user passes a loopback check, so the keyless rpc base was open to all of them:
    `curl localhost:<port>/durabletask/instances` listed every job with its output. Without the secret
    segment only the state folder holds, each route answers 401 saying where to go, shows no job and
    changes nothing; the SDK client, unmodified, gets nothing either."""
    rpc = durable_host.base_url + RPC_GUESSES[guess](durable_host)
    before = jobs.count()
    reads = [("GET", f"{rpc}instances", {}), ("GET", f"{rpc}instances/", {}),
             ("GET", f"{rpc}instances/{jobs.completed}?showInput=true", {}), ("GET", rpc, {})]
    for method, url, kwargs in reads + rpc_requests(durable_host, jobs, rpc):
        if "/api/" in url:
            continue
        response = httpx.request(method, url, headers={"content-type": "application/json"}, timeout=30, **kwargs)
        assert response.status_code == 401, (method, url, response.status_code, response.text)
        assert "/runtime/webhooks/durabletask/" in response.json()["Message"], response.text
        assert jobs.completed not in response.text and jobs.waiting not in response.text
    jobs.assert_unchanged(before)
    client = DurableOrchestrationClient(json.dumps({"taskHubName": "EngineTests", "creationUrls": {},
                                                    "managementUrls": {}, "rpcBaseUrl": rpc}))
    with pytest.raises(Exception, match="unexpected status code 401"):
        await client.get_status(jobs.completed, show_input=True)


def test_the_rpc_secret_is_private_and_found_under_the_right_secret_only(durable_host):
    state = durable_host.state_dir
    assert stat.S_IMODE((state / "keys.json").stat().st_mode) == 0o600
    assert durable_host.rpc_base_url.startswith(f"{durable_host.base_url}/durabletask/")
    secret = durable_host.rpc_base_url.rstrip("/").rsplit("/", 1)[1]
    assert len(secret) >= 40 and secret not in durable_host.log()  # not in the banner or any log line
    unknown = httpx.get(f"{durable_host.rpc_base_url}no-such-route", timeout=30)
    assert unknown.status_code == 404, unknown.text


def lan_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


def test_functions_reach_the_rpc_base_when_the_host_binds_one_address(tmp_path):
    """`--host <LAN address>`: the rpc base was always 127.0.0.1, where nothing listened, so every
    durable client call of every function failed ('All connection attempts failed')."""
    # Without a LAN address, another loopback address shows the same fault: Linux binds all of 127/8, and
    # nothing listens on 127.0.0.1 when the host is bound to 127.0.0.2.
    address = lan_address() or "127.0.0.2"
    with HostProcess(TEST_APPS / "durable_app", tmp_path / "state", address=address) as host:
        started = httpx.post(f"{host.base_url}/api/orchestrators/chain", json=2, timeout=30)
        assert started.status_code == 202, started.text
        assert DurableHttp(host).wait(started.json()["id"])["output"] == [0, 1]
        assert host.rpc_base_url.startswith(f"http://{address}:{host.port}/durabletask/")


def test_health_and_progress_routes_are_guarded(durable_host):
    base = durable_host.base_url
    assert httpx.post(f"{base}/admin/host/ping", content=b"x", headers={"content-type": "text/plain"},
                      timeout=30).status_code == 415
    progress = f"{base}/runtime/webhooks/mcp/progress/some-token"
    assert httpx.post(progress, json={"progress": 1}, headers={"host": "evil.example"}, timeout=30).status_code == 421
    assert httpx.get(f"{base}/admin/host/ping", timeout=30).status_code == 200


def test_the_sdk_client_and_local_pages_still_get_through(durable_host, api, jobs):
    """What the guard must not break: the SDK's own requests (JSON or no body, no Origin) and a page
    served from a loopback origin."""
    rpc = durable_host.rpc_base_url.rstrip("/")
    started = httpx.post(f"{rpc}/orchestrators/wait_event", json=None, timeout=30,
                         headers={"origin": "http://localhost:3000"})
    assert started.status_code == 202, started.text
    instance_id = started.json()["id"]
    api.wait(instance_id, ("Running",))
    assert httpx.post(f"{rpc}/instances/{instance_id}/terminate?reason=done", timeout=30).status_code == 202
    assert api.wait(instance_id)["runtimeStatus"] == "Terminated"
    refused = httpx.get(f"{durable_host.base_url}/runtime/webhooks/durabletask/instances", timeout=30,
                        headers={"x-functions-key": api.host.durable_key, "host": "evil.example"})
    assert refused.status_code == 421  # a key does not make a foreign Host acceptable either


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of the folder ('.') and of everything in it, by relative path."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_state_folder_is_private_including_one_left_by_an_earlier_version(tmp_path):
    """Issue 8 item 3: jobs hold inputs and outputs; keys purge them. Nobody else may read either."""
    state = tmp_path / "state"  # the test harness creates it 0755
    host = HostProcess(TEST_APPS / "durable_app", state, env={"MCP_EXTENSION_KEY": ""})  # one key goes to keys.json
    with host:
        DurableHttp(host).wait(DurableHttp(host).start("chain", 2))
        found = modes(state)
    assert {"durable.sqlite", "durable.sqlite-wal", "durable.sqlite-shm", "keys.json"} <= set(found), found
    assert found.pop(".") == 0o700
    assert all(mode == 0o600 for mode in found.values()), found

    old_folder = tmp_path / "earlier"  # as an earlier version left it: world-readable everything
    shutil.copytree(state, old_folder / "state")
    (old_folder / "state" / "appdata").mkdir()
    (old_folder / "state" / "appdata" / "bookings.sqlite").write_text("x")
    for path in [old_folder / "state", *(old_folder / "state").rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    with HostProcess(TEST_APPS / "durable_app", old_folder / "state", env={"MCP_EXTENSION_KEY": ""}):
        found = modes(old_folder / "state")
    # the folder is 0700, so nobody else reaches what is in it; the host changes only its own files
    assert found.pop(".") == 0o700 and found.pop("appdata") == 0o755 and found.pop("appdata/bookings.sqlite") == 0o644
    assert all(mode == 0o600 for mode in found.values()), found


def test_a_state_path_that_is_no_state_folder_is_refused_and_left_as_it_was(tmp_path):
    """New-user trial: `--state /etc/passwd` made the file 0700 before failing with a traceback, and
    `--state <a folder of yours>` made every file in it 0600 (executables too). A file, a folder of other
    files, and a path the host cannot create are refused in one line, and nothing changes."""
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(project / "run.sh", 0o755)
    (project / "sub" / "notes.txt").write_text("mine")
    os.chmod(project / "sub" / "notes.txt", 0o644)
    os.chmod(project, 0o755)
    before = modes(project)
    for state, reason in [(project / "run.sh", "is not a folder"), (project, "holds other files"),
                          (Path("/proc/no-such-state"), "cannot be used")]:
        result = subprocess.run([sys.executable, "-m", "host", "--app", str(TEST_APPS / "durable_app"),
                                 "--state", str(state), "--port", "0"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 2, result
        assert result.stderr.startswith(f"error: --state {state} ") and reason in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert modes(project) == before
    holder = tmp_path / "states"  # only folders in it (the demo keeps .durable/demo/ in .durable/): accepted,
    (holder / "demo").mkdir(parents=True)  # and what is below is left as it was
    (holder / "demo" / "notes.txt").write_text("mine")
    os.chmod(holder / "demo" / "notes.txt", 0o644)
    with HostProcess(TEST_APPS / "durable_app", holder):
        found = modes(holder)
    assert found["."] == 0o700 and found["demo/notes.txt"] == 0o644 and found["durable.sqlite"] == 0o600


@pytest.fixture(scope="module")
def strict_host(tmp_path_factory):
    """A host with short request deadlines and a small connection limit (issue 8 item 5)."""
    host = HostProcess(TEST_APPS / "durable_app", tmp_path_factory.mktemp("strict"),
                       args=["--header-timeout", "1", "--body-timeout", "1", "--max-connections", "4"])
    with host:
        yield host


def connect(host: HostProcess, first_bytes: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", host.port), timeout=60)  # the timeout only guards a hang
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with sock:
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_connections_that_never_finish_their_request_are_answered_and_closed(strict_host):
    idle = connect(strict_host)
    half_head = connect(strict_host, b"GET /admin/host/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    rpc_path = strict_host.rpc_base_url.removeprefix(strict_host.base_url).encode()
    short_body = connect(strict_host, b"POST " + rpc_path + b"orchestrators/chain/short-body HTTP/1.1\r\n"
                                      b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                      b"Content-Length: 100\r\n\r\n[1, 2")
    assert read_until_closed(idle) == b""
    assert read_until_closed(half_head).startswith(b"HTTP/1.1 408 ")
    assert read_until_closed(short_body).startswith(b"HTTP/1.1 408 ")
    trickle = connect(strict_host)
    with pytest.raises(OSError):  # a header trickled a byte at a time meets the same deadline
        for byte in b"GET /admin/host/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 1000:
            trickle.sendall(bytes([byte]))
            time.sleep(0.05)
    trickle.close()
    api = DurableHttp(strict_host)
    assert api.client.get(f"{api.base}/instances/short-body").status_code == 404
    assert api.wait(api.start("chain", 2))["output"] == [0, 1]


def test_connection_limit_answers_503_and_slow_clients_cannot_hold_it(strict_host):
    ping = f"{strict_host.base_url}/admin/host/ping"
    held = [connect(strict_host, b"GET /admin/host/ping HTTP/1.1\r\n") for _ in range(4)]
    refused = httpx.get(ping, timeout=60)
    assert refused.status_code == 503
    for sock in held:
        read_until_closed(sock)  # the header deadline frees them
    assert httpx.get(ping, timeout=60).status_code == 200
