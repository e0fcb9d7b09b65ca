"""Where the app's own data lives (bookings, idempotency records, code-swarm workspaces), chosen by configuration.

The Durable state is the host's business; this is what the app itself keeps. Two places, one choice:

- **Azure Storage**, when either of these is set (the Functions convention for a connection named
  `APP_STORAGE`, https://learn.microsoft.com/azure/azure-functions/functions-reference#connections):
  - `APP_STORAGE`: a connection string (Azurite in tests: `DefaultEndpointsProtocol=http;AccountName=...`);
  - `APP_STORAGE__tableServiceUri` and `APP_STORAGE__blobServiceUri`: the account's endpoints, reached
    with a managed identity (`APP_STORAGE__clientId`, else `AZURE_CLIENT_ID`, names a user-assigned one;
    `DefaultAzureCredential` otherwise, so `az login` works on a laptop). The identity needs
    "Storage Table Data Contributor" and "Storage Blob Data Contributor" on the account.
  Tables: `bookings`; blob container: `workspaces`.
- **Local files** otherwise: SQLite and folders under `APP_DATA_DIR` (default `.appdata/` next to
  `function_app.py`).

On Azure the app folder is read-only (run from package) and local disk is per instance, so local
files there would fail or split the data between instances (issue 8 item 11). When the app runs on
Azure (`WEBSITE_INSTANCE_ID` is set) with neither setting nor an explicit `APP_DATA_DIR`, asking for
the store raises `StorageNotConfigured` saying what to set, instead of writing where it cannot.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

APP_DIR = Path(__file__).resolve().parents[2]  # the app folder (function_app.py)
PRIVATE_FOLDER = 0o700
DATA_DIR_ENV = "APP_DATA_DIR"
CONNECTION_ENV = "APP_STORAGE"
TABLE_URI_ENV = "APP_STORAGE__tableServiceUri"
BLOB_URI_ENV = "APP_STORAGE__blobServiceUri"
CLIENT_ID_ENV = "APP_STORAGE__clientId"
AZURE_MARKER_ENV = "WEBSITE_INSTANCE_ID"  # set by App Service / Functions on every Azure instance
BOOKINGS_TABLE = "bookings"
WORKSPACES_CONTAINER = "workspaces"


class StorageNotConfigured(RuntimeError):
    """The app's data has nowhere it may be written; the message says what to set."""


@dataclass(frozen=True)
class StorageSettings:
    """The resolved choice: `kind` is "azure" or "local"."""

    kind: str
    data_dir: Path
    connection_string: str | None = None
    table_uri: str | None = None
    blob_uri: str | None = None
    client_id: str | None = None

    @property
    def description(self) -> str:
        """Where the data goes, for logs and errors (never the connection string: it holds the key)."""
        if self.kind == "local":
            return f"local files in {self.data_dir}"
        if self.connection_string:
            return "Azure Storage (APP_STORAGE connection string)"
        return f"Azure Storage ({self.table_uri or self.blob_uri}, managed identity)"


def make_data_dir(path: Path) -> Path:
    """Create the local data folder (and missing parents) 0700 unless it exists; returns it. Bookings and
    generated code are as private as the host's job state (issue 8 item 3); an existing folder, which
    may be the user's own, keeps its mode."""
    path = Path(path)
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
    return path


def storage_settings(env: Mapping[str, str] | None = None) -> StorageSettings:
    """Read the choice from `env` (default: the process environment). Raises `StorageNotConfigured`."""
    env = os.environ if env is None else env
    data_dir = Path(env.get(DATA_DIR_ENV) or APP_DIR / ".appdata")
    connection = (env.get(CONNECTION_ENV) or "").strip()
    table_uri, blob_uri = (env.get(TABLE_URI_ENV) or "").strip(), (env.get(BLOB_URI_ENV) or "").strip()
    if connection:
        return StorageSettings("azure", data_dir, connection_string=connection)
    if table_uri or blob_uri:
        client_id = (env.get(CLIENT_ID_ENV) or env.get("AZURE_CLIENT_ID") or "").strip() or None
        return StorageSettings("azure", data_dir, table_uri=table_uri or None, blob_uri=blob_uri or None,
                               client_id=client_id)
    if env.get(AZURE_MARKER_ENV) and not env.get(DATA_DIR_ENV):
        raise StorageNotConfigured(
            f"the app's data store is not configured: on Azure the app folder is read-only and local disk is "
            f"per instance, so set {TABLE_URI_ENV} and {BLOB_URI_ENV} (managed identity) or {CONNECTION_ENV} "
            f"(a connection string) to the app's storage account")
    return StorageSettings("local", data_dir)


def _credential(settings: StorageSettings) -> Any:
    from azure.identity import (
        DefaultAzureCredential,  # imported only where an identity is used: it is slow to load
    )

    return DefaultAzureCredential(managed_identity_client_id=settings.client_id)


def _service(client_class: Any, settings: StorageSettings, uri: str | None, setting: str) -> Any:
    """A Table or Blob service client: from the connection string, or from the service URI and identity."""
    if settings.connection_string:
        return client_class.from_connection_string(settings.connection_string)
    if not uri:
        raise StorageNotConfigured(f"{setting} is not set: the identity-based APP_STORAGE connection needs both "
                                   f"{TABLE_URI_ENV} and {BLOB_URI_ENV}")
    return client_class(uri, credential=_credential(settings))


@lru_cache(maxsize=8)
def table_service(settings: StorageSettings) -> TableServiceClient:
    """A `TableServiceClient` for the settings, built once per process (it holds the token cache)."""
    return _service(TableServiceClient, settings, settings.table_uri, TABLE_URI_ENV)


@lru_cache(maxsize=8)
def blob_service(settings: StorageSettings) -> BlobServiceClient:
    """A `BlobServiceClient` for the settings, built once per process."""
    return _service(BlobServiceClient, settings, settings.blob_uri, BLOB_URI_ENV)
