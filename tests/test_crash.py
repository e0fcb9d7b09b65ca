"""Crash safety: SIGKILL the real host at several points, restart it, and check that every instance
goes on, timers fire (late if their time passed while down), and no step whose completion was
recorded in history runs again (counted in the activities' own ledger)."""
from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from host.durable.faults import CRASH_AT
from testing.durable_http import DurableHttp, ledger_counts
from testing.host_process import TEST_APPS as APPS
from testing.host_process import HostProcess


@pytest.fixture
def crash_host(tmp_path):
    host = HostProcess(APPS / "durable_app", tmp_path / "state",
                       env={"STEP_LEDGER": str(tmp_path / "ledger.txt")}).start()
    yield host
    host.stop()


def recorded_steps(api: DurableHttp, host: HostProcess, instance_id: str, run: str) -> dict[int, int]:
    """Steps whose completion the history holds, with how often each had run by then.

    Read the history first, then the ledger: a recorded step wrote its ledger line before its
    result was recorded, so the ledger count is final for it. From here on it must never run again.
    """
    history = api.history(instance_id)
    scheduled = {e["EventId"]: e for e in history if e["EventType"] == 4}
    done = set()
    for event in history:
        if event["EventType"] == 5:
            step = scheduled[event["TaskScheduledId"]]
            if step["Name"] == "record_step":
                done.add(json.loads(step["Input"])["n"])
    counts = ledger_counts(host, run)
    return {step: counts[step] for step in done}


def kill_and_restart(host: HostProcess, api: DurableHttp, instance_id: str, run: str,
                     recorded: dict[int, int]) -> None:
    for step, count in recorded_steps(api, host, instance_id, run).items():
        recorded.setdefault(step, count)
    host.kill()
    host.start()


def finish_and_check(host: HostProcess, api: DurableHttp, instance_id: str, run: str, count: int,
                     recorded: dict[int, int]) -> None:
    status = api.wait(instance_id, timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == list(range(count))
    counts = ledger_counts(host, run)
    assert set(counts) == set(range(count))
    for step, count_when_recorded in recorded.items():
        assert counts[step] == count_when_recorded, (
            f"step {step} ran {counts[step] - count_when_recorded} more time(s) after its result was recorded")


@pytest.mark.parametrize("kill_after", [0.15, 0.45, 0.8])
def test_kill_during_a_chain(crash_host, kill_after):
    api = DurableHttp(crash_host)
    run = f"chain-{uuid.uuid4().hex[:6]}"
    instance_id = api.start("steps", {"run": run, "count": 12, "sleep": 0.1})
    time.sleep(kill_after)
    recorded: dict[int, int] = {}
    kill_and_restart(crash_host, api, instance_id, run, recorded)
    assert len(recorded) < 12, "the chain finished before the kill: the test proved nothing"
    finish_and_check(crash_host, api, instance_id, run, 12, recorded)


def test_kill_during_fan_out(crash_host):
    api = DurableHttp(crash_host)
    run = f"fan-{uuid.uuid4().hex[:6]}"
    instance_id = api.start("parallel_steps", {"run": run, "count": 40, "sleep": 0.5})
    time.sleep(0.8)  # 32 activity threads: the first wave is recorded, the second is running
    recorded: dict[int, int] = {}
    kill_and_restart(crash_host, api, instance_id, run, recorded)
    finish_and_check(crash_host, api, instance_id, run, 40, recorded)


def test_kill_repeatedly_at_random_points(crash_host):
    api = DurableHttp(crash_host)
    run = f"many-{uuid.uuid4().hex[:6]}"
    instance_id = api.start("steps", {"run": run, "count": 30, "sleep": 0.02})
    recorded: dict[int, int] = {}
    for delay in (0.1, 0.23, 0.07, 0.31):
        time.sleep(delay)
        kill_and_restart(crash_host, api, instance_id, run, recorded)
    finish_and_check(crash_host, api, instance_id, run, 30, recorded)


def test_timer_fires_late_after_downtime(crash_host):
    api = DurableHttp(crash_host)
    run = f"timer-{uuid.uuid4().hex[:6]}"
    instance_id = api.start("timer_then_step", {"run": run, "seconds": 1})
    api.wait(instance_id, statuses=("Running",))
    crash_host.kill()
    time.sleep(1.5)  # the timer is due while the host is down
    crash_host.start()
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Completed" and status["output"] == {"n": 0}
    assert ledger_counts(crash_host, run) == {0: 1}


def test_waiting_instance_survives_and_takes_its_event(crash_host):
    api = DurableHttp(crash_host)
    instance_id = api.start("wait_event")
    api.wait(instance_id, statuses=("Running",))
    crash_host.kill()
    crash_host.start()
    assert api.raise_event(instance_id, "go", "after restart").status_code == 202
    assert api.wait(instance_id)["output"] == "after restart"


def test_code_changed_under_a_running_instance_fails_it_clearly(tmp_path):
    state = tmp_path / "state"
    host = HostProcess(APPS / "durable_app", state, env={"VERSIONED_VARIANT": "a"}).start()
    api = DurableHttp(host)
    try:
        instance_id = api.start("versioned")
        api.wait_for_custom_status(instance_id, lambda s: len([e for e in api.history(instance_id)
                                                               if e["EventType"] == 5]) == 1)
        host.kill()
        host.env["VERSIONED_VARIANT"] = "b"
        host.start()
        assert api.raise_event(instance_id, "go", 1).status_code == 202
        status = api.wait(instance_id)
        assert status["runtimeStatus"] == "Failed"
        assert "Non-Deterministic workflow detected" in status["output"]
        other = api.start("chain", 2)
        assert api.wait(other)["output"] == [0, 1]
    finally:
        host.stop()


def test_kill_inside_a_rewind_leaves_the_instance_failed_and_rewindable(tmp_path):
    """Issue 8 item 7: a rewind is one transaction. The host kills itself between rewriting the history and
    re-arming the failed step; after the restart the instance is still Failed (not Running with nothing
    to run, as when these were two transactions), and a second rewind finishes it without re-running steps."""
    run = f"rewind-crash-{uuid.uuid4().hex[:6]}"
    flag = tmp_path / "flag"
    host = HostProcess(APPS / "durable_app", tmp_path / "state",
                       env={"STEP_LEDGER": str(tmp_path / "ledger.txt"), CRASH_AT: "rewind:history-rewritten"}).start()
    api = DurableHttp(host)
    try:
        instance_id = api.start("guarded", {"run": run, "flag": str(flag)})
        assert api.wait(instance_id)["runtimeStatus"] == "Failed"
        flag.write_text("ok")
        with pytest.raises(httpx.HTTPError):
            api.post(instance_id, "rewind")
        assert host.proc.wait(timeout=30) == -9, "the crash point was not reached"
        del host.env[CRASH_AT]
        host.start()
        assert api.status(instance_id)["runtimeStatus"] == "Failed"
        assert api.post(instance_id, "rewind").status_code == 202
        status = api.wait(instance_id)
        assert status["runtimeStatus"] == "Completed" and status["output"] == [0, 1, "guard passed", 2]
        assert ledger_counts(host, run) == {0: 1, 1: 1, 2: 1}
    finally:
        host.stop()
