"""How every benchmark reports a figure: the median with the spread over runs (the machine is noisy), and
the disk's SQLite commit rate measured in the same run (it swings from ~300 to ~5,000 commits/s here)."""
from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    fmt = f"{{:,.{digits}f}}"
    suffix = f" {unit}" if unit else ""
    return (f"median {fmt.format(statistics.median(values))}{suffix} (min {fmt.format(min(values))}, "
            f"max {fmt.format(max(values))}, n={len(values)})")


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(0, int(len(sorted_values) * fraction) - 1)]


def sqlite_commit_rate(directory: Path | None = None, seconds: float = 0.5) -> float:
    """Single-row commits per second of SQLite in WAL mode with synchronous=FULL, in `directory` (the state
    folder's disk), over `seconds`: what every durable step waits for."""
    with tempfile.TemporaryDirectory(dir=directory) as folder:
        conn = sqlite3.connect(Path(folder) / "commit-rate.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (n INTEGER)")
        count, end = 0, time.perf_counter() + seconds
        start = time.perf_counter()
        while time.perf_counter() < end:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (count,))
            conn.execute("COMMIT")
            count += 1
        elapsed = time.perf_counter() - start
        conn.close()
    return count / elapsed


def with_disk(figure: str, rates: list[float]) -> str:
    """A figure line, with the commit rates measured beside it."""
    return f"{figure}; disk: {spread(rates, 'commits/s')}"
