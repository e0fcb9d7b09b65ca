"""A full disk under the state folder (issue 8, item 6): the real host on a small tmpfs that a test fills.

A request that cannot be made durable gets a clear 503, health says why, running jobs wait instead of
failing, and once space is free the host goes on by itself with nothing committed lost and no recorded
step run again."""
from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from testing.durable_http import DurableHttp, ledger_counts
from testing.host_process import TEST_APPS, TEST_KEYS, HostProcess, project_host
from testing.mcp_client import connect

TMPFS_SIZE = "8m"
MAX_TRIES = 500  # requests sent into the full disk before one must be refused


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount(8)): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses; the caller deletes it to free the space."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError:
            pass
    return filler


def health(host: HostProcess) -> httpx.Response:
    return httpx.get(f"{host.base_url}/admin/host/ping", timeout=30)


def test_a_full_disk_fails_requests_clearly_and_the_host_recovers(small_disk, tmp_path):
    host = HostProcess(TEST_APPS / "durable_app", small_disk / "state", env={"STEP_LEDGER": str(tmp_path / "ledger")})
    host.log_path = tmp_path / "host.log"  # the host's own log is not what this test fills
    host.start()
    api = DurableHttp(host)
    try:
        done = api.start("hello_sequence")
        before = api.wait(done)
        waiting = api.start("wait_event")
        api.wait(waiting, statuses=("Running",))
        run = f"disk-{uuid.uuid4().hex[:6]}"
        chain = api.start("steps", {"run": run, "count": 30, "sleep": 0.05})
        filler = fill(small_disk)
        refused = refuse_a_start(api)
        assert refused.status_code == 503, refused.text
        assert "disk is full" in refused.json()["Message"]
        assert api.raise_event(waiting, "go", "late").status_code == 503
        sick = health(host)
        assert sick.status_code == 503 and "disk is full" in sick.text
        assert api.status(done)["output"] == before["output"]  # reads go on
        filler.unlink()
        assert health(host).status_code == 200
        assert api.raise_event(waiting, "go", "after").status_code == 202
        assert api.wait(waiting)["output"] == "after"
        finished = api.wait(chain, timeout=120)
        assert finished["runtimeStatus"] == "Completed" and finished["output"] == list(range(30))
        # results that could not be recorded were kept and recorded later: no step ran twice
        assert ledger_counts(host, run) == {n: 1 for n in range(30)}
        assert api.wait(api.start("chain", 3))["output"] == [0, 1, 2]
        assert api.status(done)["output"] == before["output"]
    finally:
        host.stop()


def refuse_a_start(api: DurableHttp) -> httpx.Response:
    """Start jobs until one is refused (the WAL may still have room for a few commits)."""
    for _ in range(MAX_TRIES):
        response = api.client.post(f"{api.base}/orchestrators/chain", json=2)
        if response.status_code != 202:
            return response
    pytest.fail(f"{MAX_TRIES} starts were accepted on a full disk")


def test_a_host_restarted_on_a_full_disk_serves_and_recovers(small_disk, tmp_path):
    host = HostProcess(TEST_APPS / "durable_app", small_disk / "state")
    host.log_path = tmp_path / "host.log"
    host.start()
    api = DurableHttp(host)
    try:
        waiting = api.start("wait_event")
        api.wait(waiting, statuses=("Running",))
        filler = fill(small_disk)
        assert refuse_a_start(api).status_code == 503
        host.restart()  # SIGKILL, and start again on the full disk: opening the state needs no space
        assert api.status(waiting)["runtimeStatus"] == "Running"
        assert refuse_a_start(api).status_code == 503
        filler.unlink()
        assert health(host).status_code == 200
        assert api.raise_event(waiting, "go", "after restart").status_code == 202
        assert api.wait(waiting)["output"] == "after restart"
    finally:
        host.stop()


async def test_a_launch_on_a_full_disk_says_why_in_one_sentence(small_disk, tmp_path, model):
    """The Durable client raises the management API's JSON body; the tool shows its Message as one
    sentence and says to try again later, over MCP and from the HTTP starter."""
    model.reset()
    model.script({"*": [{"text": "ok", "repeat": True}]})
    host = project_host(small_disk / "state", model)
    host.log_path = tmp_path / "host.log"
    host.start()
    try:
        filler = fill(small_disk)
        async with connect(host) as client:
            for _ in range(MAX_TRIES):
                result = await client.call_tool("run_agent", {"task": "hello"})
                if result.is_error:
                    break
            refused = result.content[0].text
            started = httpx.post(f"{host.base_url}/api/jobs/run_agent", json={"task": "hello"}, timeout=30,
                                 headers={"x-functions-key": TEST_KEYS["FUNCTIONS_DEFAULT_KEY"]})
            filler.unlink()
            assert not (await client.call_tool("run_agent", {"task": "hello"})).is_error
    finally:
        host.stop()
    assert refused.startswith("No job was started: The state database could not be written") and \
        refused.endswith(". Try again later."), refused
    assert "{" not in refused and "Message" not in refused
    assert started.status_code == 503 and started.json()["error"].startswith("No job was started: The state")
