"""Trip bookings, kept once per key in the app's own store: SQLite locally, Azure Table Storage on Azure.

Separate from the Durable state on purpose: this is what the app did in the world, which outlives
purged job histories and is what a booking's idempotency is checked against. Which store is used is
configuration (`app_data/storage.py`): the `bookings` table of the app's storage account when
`APP_STORAGE` is configured, else `app.db` under `APP_DATA_DIR`.

Both stores book with one atomic insert-if-absent (SQLite `INSERT OR IGNORE`, a Table Storage
insert that fails with 409 when the entity exists) and then read the stored booking, so a retried
or re-run `book_trip` activity, or two racing instances, get the one booking the first made.
A booking is `{"booking_key", "reference", "details", "booked_at"}`.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol
from urllib.parse import quote

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from orchestrations.app_data.storage import (BOOKINGS_TABLE, StorageSettings, make_data_dir, storage_settings,
                                            table_service)

DB_FILE = "app.db"
# Table Storage: a string property holds at most 64 KiB, an entity at most 1 MiB
# (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
# 16,000 characters are at most 64,000 bytes in UTF-16 even when every one is a surrogate pair.
CHUNK_CHARS = 16_000
MAX_DETAILS_BYTES = 960_000  # UTF-16, leaving room for the other properties
ROW_KEY = "booking"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    booking_key TEXT PRIMARY KEY,
    reference   TEXT NOT NULL,
    details     TEXT NOT NULL,
    booked_at   TEXT NOT NULL
)"""


class BookingStore(Protocol):
    def record(self, booking_key: str, details: dict[str, Any]) -> dict[str, Any]:
        """Book once per key: the first call stores the booking, every later call returns it unchanged."""

    def list(self) -> list[dict[str, Any]]:
        """Every booking, oldest first."""


def new_booking(booking_key: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"booking_key": booking_key, "reference": f"TRIP-{uuid.uuid4().hex[:8].upper()}", "details": details,
            "booked_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


class SqliteBookings:
    """Bookings in `app.db` in a local folder: the one place that holds their SQL."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / DB_FILE

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction on a short-lived connection: activities run in worker threads, rarely."""
        make_data_dir(self.path.parent)
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:
                connection.execute(_SCHEMA)
                yield connection
        finally:
            connection.close()

    @staticmethod
    def _booking(row: tuple[str, str, str, str]) -> dict[str, Any]:
        key, reference, details, booked_at = row
        return {"booking_key": key, "reference": reference, "details": json.loads(details), "booked_at": booked_at}

    def record(self, booking_key: str, details: dict[str, Any]) -> dict[str, Any]:
        booking = new_booking(booking_key, details)
        with self._transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO bookings (booking_key, reference, details, booked_at) "
                               "VALUES (?, ?, ?, ?)", (booking_key, booking["reference"], json.dumps(details),
                                                       booking["booked_at"]))
            row = connection.execute("SELECT booking_key, reference, details, booked_at FROM bookings "
                                     "WHERE booking_key = ?", (booking_key,)).fetchone()
        return self._booking(row)

    def list(self) -> list[dict[str, Any]]:
        with self._transaction() as connection:
            rows = connection.execute("SELECT booking_key, reference, details, booked_at FROM bookings "
                                      "ORDER BY booked_at, booking_key").fetchall()
        return [self._booking(row) for row in rows]


class TableBookings:
    """Bookings as entities of the `bookings` table: PartitionKey = the key (escaped), RowKey "booking".

    Keys may not contain `/ \\ # ?` or control characters, so the booking key is percent-encoded;
    the details (JSON) are split over `details_0..n` properties to stay under the 64 KiB property limit.
    """

    def __init__(self, table: TableClient):
        self.table = table
        self._created = False

    def _ensure_table(self) -> None:
        if not self._created:
            try:
                self.table.create_table()
            except ResourceExistsError:
                pass
            self._created = True

    @staticmethod
    def partition_key(booking_key: str) -> str:
        return quote(booking_key, safe="")

    @staticmethod
    def _entity(booking: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(booking["details"], ensure_ascii=False)
        size = len(text.encode("utf-16-le"))
        if size > MAX_DETAILS_BYTES:
            raise ValueError(f"the booking details are {size} bytes in UTF-16; Table Storage keeps at most "
                             f"{MAX_DETAILS_BYTES} per booking")
        chunks = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
        entity = {"PartitionKey": TableBookings.partition_key(booking["booking_key"]), "RowKey": ROW_KEY,
                  "booking_key": booking["booking_key"], "reference": booking["reference"],
                  "booked_at": booking["booked_at"], "details_chunks": len(chunks)}
        entity.update({f"details_{n}": chunk for n, chunk in enumerate(chunks)})
        return entity

    @staticmethod
    def _booking(entity: Mapping[str, Any]) -> dict[str, Any]:
        text = "".join(entity[f"details_{n}"] for n in range(int(entity["details_chunks"])))
        return {"booking_key": entity["booking_key"], "reference": entity["reference"],
                "details": json.loads(text), "booked_at": entity["booked_at"]}

    def record(self, booking_key: str, details: dict[str, Any]) -> dict[str, Any]:
        self._ensure_table()
        try:
            self.table.create_entity(self._entity(new_booking(booking_key, details)))
        except ResourceExistsError:
            pass  # booked before: by an earlier attempt of this activity, or by a racing instance
        return self._booking(self.table.get_entity(self.partition_key(booking_key), ROW_KEY))

    def list(self) -> list[dict[str, Any]]:
        self._ensure_table()
        bookings = [self._booking(entity) for entity in self.table.query_entities(f"RowKey eq '{ROW_KEY}'")]
        return sorted(bookings, key=lambda booking: (booking["booked_at"], booking["booking_key"]))


@lru_cache(maxsize=8)
def _table_bookings(settings: StorageSettings) -> TableBookings:
    return TableBookings(table_service(settings).get_table_client(BOOKINGS_TABLE))


def booking_store(settings: StorageSettings | None = None) -> BookingStore:
    """The bookings store the configuration names (see `app_storage.storage_settings`)."""
    settings = settings or storage_settings()
    return _table_bookings(settings) if settings.kind == "azure" else SqliteBookings(settings.data_dir)


def record_booking(booking_key: str, details: dict[str, Any]) -> dict[str, Any]:
    """Book once per key in the configured store; see `BookingStore.record`."""
    return booking_store().record(booking_key, details)
