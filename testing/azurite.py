"""Azurite, the Azure Storage emulator (npm package `azurite`, installed into node_modules/ by the Makefile),
on free loopback ports with in-memory persistence: the real Blob and Table protocols for the app-data store's
Azure path. No telemetry, nothing written to disk."""
from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .host_process import PROJECT_ROOT, free_port

AZURITE = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# Azurite's documented, fixed development account key (not a secret):
# https://learn.microsoft.com/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_SECONDS = 60


class Azurite:
    """`with Azurite() as storage:` then give the app `APP_STORAGE=storage.connection_string`."""

    def __init__(self) -> None:
        self.blob_port, self.queue_port, self.table_port = free_port(), free_port(), free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="azurite-"))
        self.proc: subprocess.Popen | None = None

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
                f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};")

    def start(self) -> "Azurite":
        if not AZURITE.exists():
            raise RuntimeError(f"{AZURITE} is missing: `make test` installs it (npm ci, from package.json)")
        log = open(self.workdir / "azurite.log", "ab")
        self.proc = subprocess.Popen(
            [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
             "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
             "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
             "--inMemoryPersistence", "--extentMemoryLimit", "512", "--skipApiVersionCheck",
             "--disableTelemetry", "--silent"],
            cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not all(self._listening(port) for port in (self.blob_port, self.table_port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Azurite did not start:\n{(self.workdir / 'azurite.log').read_text()}")
            time.sleep(0.1)
        return self

    @staticmethod
    def _listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
