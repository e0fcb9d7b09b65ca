"""Plain-HTTP access to a host's Durable management API, and the step ledger the engine test app writes."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx

from .host_process import HostProcess


class DurableHttp:
    """Plain-HTTP access to a host's Durable management API (the public webhook, with its key)."""

    def __init__(self, host: HostProcess):
        self.host = host
        self.base = f"{host.base_url}/runtime/webhooks/durabletask"
        self.client = httpx.Client(headers={"x-functions-key": host.durable_key}, timeout=30)

    def start(self, name: str, payload=None, instance_id: str | None = None) -> str:
        url = f"{self.base}/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
        response = self.client.post(url, json=payload)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def status(self, instance_id: str, **params) -> dict:
        response = self.client.get(f"{self.base}/instances/{instance_id}", params=params)
        assert response.status_code in (200, 202), (response.status_code, response.text)
        return response.json()

    def instances(self, **params) -> list[dict]:
        """One page of the instance list; params as the management API takes them (instanceIdPrefix,
        runtimeStatus as comma-separated names, top)."""
        response = self.client.get(f"{self.base}/instances", params=params)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def wait(self, instance_id: str, statuses=("Completed", "Failed", "Terminated"), timeout: float = 30) -> dict:
        deadline = time.time() + timeout
        while True:
            status = self.status(instance_id)
            if status["runtimeStatus"] in statuses:
                return status
            if time.time() > deadline:
                raise AssertionError(f"{instance_id} still {status['runtimeStatus']} after {timeout}s: {status}")
            time.sleep(0.05)

    def wait_for_custom_status(self, instance_id: str, predicate, timeout: float = 30) -> dict:
        deadline = time.time() + timeout
        while True:
            status = self.status(instance_id)
            if predicate(status):
                return status
            if time.time() > deadline:
                raise AssertionError(f"{instance_id}: condition not met after {timeout}s: {status}")
            time.sleep(0.05)

    def raise_event(self, instance_id: str, event: str, data) -> httpx.Response:
        return self.client.post(f"{self.base}/instances/{instance_id}/raiseEvent/{event}", json=data)

    def post(self, instance_id: str, action: str, **params) -> httpx.Response:
        return self.client.post(f"{self.base}/instances/{instance_id}/{action}", params=params)

    def history(self, instance_id: str) -> list[dict]:
        """The raw history the orchestrator replays (event ids, scheduling events), read from the host's
        store: the management API shows Azure's rewritten form instead (see management_history)."""
        database = sqlite3.connect(f"file:{self.host.state_dir / 'durable.sqlite'}?mode=ro", uri=True)
        try:
            rows = database.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
            return [json.loads(event) for (event,) in rows]
        finally:
            database.close()

    def management_history(self, instance_id: str) -> list[dict]:
        """`historyEvents` as the management API shows them, in the Durable extension's shape."""
        return self.status(instance_id, showHistory="true", showHistoryOutput="true")["historyEvents"]


def ledger_counts(host: HostProcess, run: str) -> dict[int, int]:
    path = Path(host.env["STEP_LEDGER"])
    counts: dict[int, int] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, n = line.rpartition(":")
            if name == run:
                counts[int(n)] = counts.get(int(n), 0) + 1
    return counts
