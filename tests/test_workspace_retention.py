"""Issue 22 §2: workspaces older than WORKSPACE_RETENTION_DAYS are removed on both hosts, by a timer trigger
(`remove_expired_workspaces`, hourly); the local host runs timer triggers on their NCRONTAB schedules as the
Functions host does, and Azure's admin endpoint runs one on demand."""
from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from host.timer_triggers import Schedule, ScheduleError
from orchestrations.app_data.storage import blob_service, storage_settings
from orchestrations.app_data.workspaces import BlobWorkspaces, LocalWorkspaces, remove_expired
from testing.host_process import TEST_APPS, TEST_KEYS, HostProcess, project_host

UTC = timezone.utc


def test_ncrontab_schedules():
    start = datetime(2026, 12, 7, 10, 16, 59, 500000, tzinfo=UTC)
    assert Schedule("0 17 * * * *").next_after(start) == datetime(2026, 12, 7, 10, 17, 0, tzinfo=UTC)
    assert Schedule("0 17 * * * *").next_after(start.replace(minute=17)) == datetime(2026, 12, 7, 11, 17, tzinfo=UTC)
    assert Schedule("*/15 * * * * *").next_after(start) == datetime(2026, 12, 7, 10, 17, 0, tzinfo=UTC)
    assert Schedule("0 30 9 * * 1-5").next_after(datetime(2026, 12, 5, 12, tzinfo=UTC)) == \
        datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # Saturday -> Monday
    assert Schedule("0 0 0 29 2 *").next_after(start) == datetime(2028, 2, 29, tzinfo=UTC)
    for bad, reason in (("0 17 * * *", "has 5 fields"), ("0 61 * * * *", "outside 0-59"), ("0 0 * * MON *", "use *")):
        with pytest.raises(ScheduleError, match=reason):
            Schedule(bad)


def test_the_local_host_runs_timer_triggers(tmp_path):
    ledger = tmp_path / "ticks.txt"
    host = HostProcess(TEST_APPS / "durable_app", tmp_path / "state", env={"TICK_LEDGER": str(ledger)}).start(300)
    try:
        deadline = time.monotonic() + 120
        while len(ledger.read_text().splitlines() if ledger.exists() else []) < 2:
            assert time.monotonic() < deadline, host.log()[-2000:]
            time.sleep(0.2)
    finally:
        host.stop()
    assert ledger.read_text().splitlines()[0] == "tick past_due=False"


@pytest.fixture(params=["local", "blob"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalWorkspaces(tmp_path)
    # A container of its own: the Azurite every test shares holds other tests' workspaces, which this test's
    # clock (30 days on) would expire too.
    service = blob_service(storage_settings({"APP_STORAGE": request.getfixturevalue("azurite").connection_string}))
    return BlobWorkspaces(service.get_container_client(f"retention-{uuid.uuid4().hex[:12]}"))


def test_workspaces_older_than_the_retention_are_removed(store, tmp_path):
    old, new = f"old-{tmp_path.name[-20:]}", f"new-{tmp_path.name[-20:]}"
    store.write(old, "integration", "a.py", b"a = 1\n")
    time.sleep(1.1)  # blob times have whole seconds
    store.write(new, "integration", "a.py", b"a = 1\n")
    written = store.last_writes()
    retention = timedelta(days=30)
    assert remove_expired(store, retention, now=written[new] + retention) == [old]
    assert store.files(old, "integration") == {} and store.files(new, "integration") == {"a.py": 6}
    assert remove_expired(store, retention, now=written[new] + retention) == []


def test_the_retention_timer_removes_old_workspaces_on_the_host(tmp_path, model):
    """Run through the host as on Azure (`POST /admin/functions/<name>` with the master key): a workspace
    last written 40 days ago goes, one written now stays."""
    data = tmp_path / "appdata"
    workspaces = LocalWorkspaces(data)
    workspaces.write("old-job", "integration", "a.py", b"a = 1\n")
    workspaces.write("new-job", "integration", "a.py", b"a = 1\n")
    forty_days_ago = time.time() - 40 * 86400
    for path in (data / "workspaces" / "old-job").rglob("*"):
        os.utime(path, (forty_days_ago, forty_days_ago))
    os.utime(data / "workspaces" / "old-job", (forty_days_ago, forty_days_ago))
    host = project_host(tmp_path / "state", model, APP_DATA_DIR=str(data), WORKSPACE_RETENTION_DAYS="30").start(300)
    try:
        url = f"{host.base_url}/admin/functions/remove_expired_workspaces"
        assert httpx.post(url, json={}, timeout=60).status_code == 401
        assert httpx.post(url, json={}, headers={"x-functions-key": TEST_KEYS["FUNCTIONS_MASTER_KEY"]},
                          timeout=60).status_code == 202
    finally:
        host.stop()
    assert sorted(workspaces.last_writes()) == ["new-job"]
