"""Start the real host in a subprocess on a free loopback port, and kill it the hard way when a test asks.

The host's replay mode (`--replay`, README "Durable agents on the local host") is the test's own when it
names one, else LOCAL_HOST_REPLAY's (`make test-azure` sets it to `azure`, so the same tests run the way
Azure runs orchestrators), else the host's default."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_APPS = PROJECT_ROOT / "tests" / "apps"
REPLAY_ENV = "LOCAL_HOST_REPLAY"
TEST_KEYS = {
    "MCP_EXTENSION_KEY": "test-mcp-key",
    "DURABLETASK_EXTENSION_KEY": "test-durable-key",
    "FUNCTIONS_DEFAULT_KEY": "test-function-key",
    "FUNCTIONS_MASTER_KEY": "test-master-key",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HostProcess:
    """One `python -m host` process; `restart()` keeps the port and the state folder."""

    def __init__(self, app_dir: Path, state_dir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 args: list[str] | None = None, address: str = "127.0.0.1", own_group: bool = False,
                 replay: str | None = None):
        self.app_dir = Path(app_dir)
        self.own_group = own_group  # a process group of its own, as a shell runs a command (see interrupt)
        self.address = address  # the bind address (`--host`)
        self.replay = replay or os.environ.get(REPLAY_ENV) or None  # kept | azure; None: the host's default
        self.args = ["--host", address, *(["--replay", self.replay] if self.replay else []), *(args or [])]
        # (`python -m host` options besides app, state and port)
        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        self.env = {**os.environ, **TEST_KEYS, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.state_dir.with_name(self.state_dir.name + ".log")  # beside it: the host makes only a
        # new or empty folder, or one it made, its state folder (host/state_folder.py)

    @property
    def base_url(self) -> str:
        return f"http://[{self.address}]:{self.port}" if ":" in self.address else f"http://{self.address}:{self.port}"

    @property
    def durable_key(self) -> str:
        return self.env["DURABLETASK_EXTENSION_KEY"]

    @property
    def mcp_key(self) -> str:
        return self.env["MCP_EXTENSION_KEY"]

    @property
    def rpc_base_url(self) -> str:
        """The SDK client's rpc base, as the host hands it to functions: its secret segment is read
        from the state folder's keys.json, as only the host's own user can."""
        secret = json.loads((self.state_dir / "keys.json").read_text())["durabletask_rpc"]
        return f"{self.base_url}/durabletask/{secret}/"

    def start(self, timeout: float = 180) -> "HostProcess":
        """Start the host and wait for its health check; `timeout` is generous because a loaded machine
        (parallel test runs on 2 cores) has taken over 100 s to import the app."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "host", "--app", str(self.app_dir), "--state", str(self.state_dir),
             "--port", str(self.port), *self.args],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=self.own_group,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"host exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/admin/host/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()  # not left running: a fixture whose start failed never stops it
        raise RuntimeError(f"host did not start in {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def interrupt(self) -> None:
        """Ctrl+C: SIGINT, to the whole process group when the host has its own (as a terminal sends it)."""
        if self.own_group:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGINT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> "HostProcess":
        self.kill()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "HostProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def project_host(state: Path, model, site=None, replay: str | None = None, **env: str) -> HostProcess:
    """The project's own app on a host whose model is the fake model server `model`; `site` (a
    CountingSite) is the one address fetch_url may read besides public ones."""
    return HostProcess(PROJECT_ROOT, state, replay=replay, env={
        "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key", "OPENAI_DEFAULT_MODEL": "fake-model",
        "FETCH_URL_ALLOWED_HOSTS": site.base.removeprefix("http://") if site else "",
        "MODEL_MAX_RETRY_DELAY_SECONDS": "2", **env})
