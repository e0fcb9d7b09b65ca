"""The app's own data (trip bookings) in a small SQLite file: the one module that holds its SQL.

Separate from the Durable state on purpose: this is what the app did in the world, which outlives
purged job histories and is what a booking's idempotency is checked against. The file lives in
`APP_DATA_DIR` (default `.appdata/` next to `function_app.py`); on Azure point it at a mounted share.
"""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

APP_DIR = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "APP_DATA_DIR"
DB_FILE = "app.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    booking_key TEXT PRIMARY KEY,
    reference   TEXT NOT NULL,
    details     TEXT NOT NULL,
    booked_at   TEXT NOT NULL
)"""


def database_path() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or APP_DIR / ".appdata") / DB_FILE


@contextmanager
def _transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One transaction on a short-lived connection: activities run in worker threads, rarely."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        with connection:
            connection.execute(_SCHEMA)
            yield connection
    finally:
        connection.close()


def _booking(row: tuple[str, str, str, str]) -> dict[str, Any]:
    key, reference, details, booked_at = row
    return {"booking_key": key, "reference": reference, "details": json.loads(details), "booked_at": booked_at}


def record_booking(booking_key: str, details: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Book once per key: the first call stores the booking, any later call (a retried or re-run
    activity) returns that same booking unchanged."""
    reference = f"TRIP-{uuid.uuid4().hex[:8].upper()}"
    booked_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with _transaction(path or database_path()) as connection:
        connection.execute("INSERT OR IGNORE INTO bookings (booking_key, reference, details, booked_at) "
                           "VALUES (?, ?, ?, ?)", (booking_key, reference, json.dumps(details), booked_at))
        row = connection.execute("SELECT booking_key, reference, details, booked_at FROM bookings "
                                 "WHERE booking_key = ?", (booking_key,)).fetchone()
    return _booking(row)


def list_bookings(path: Path | None = None) -> list[dict[str, Any]]:
    """Every booking, oldest first."""
    with _transaction(path or database_path()) as connection:
        rows = connection.execute("SELECT booking_key, reference, details, booked_at FROM bookings "
                                  "ORDER BY booked_at, booking_key").fetchall()
    return [_booking(row) for row in rows]
