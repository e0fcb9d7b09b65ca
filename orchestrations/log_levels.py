"""The app's log says what its jobs do, at most one INFO line per job step: libraries that log more at
INFO are set to WARNING here (their warnings and errors still show), on both hosts (the Azure Python
worker forwards every logger at INFO and above to the host's log and Application Insights).

- `httpx2` (the HTTP client of openai 3.x and the Agents SDK): "HTTP Request: POST .../responses
  200 OK" for every model request; `httpx` the same for clients on httpx.
- `azure.functions.DurableFunctions`: "df_loads was called without expected_type" once per process.
  It comes from azure-functions' own activity-trigger converter, which cannot pass a type (the
  worker does not hand it the parameter's annotation: see the comment in
  `azure/functions/durable_functions.py`, `ActivityTriggerConverter.decode`), not from the app.
"""
from __future__ import annotations

import logging

QUIET_AT_INFO = ("httpx2", "httpx", "azure.functions.DurableFunctions")


def quiet_library_logs() -> None:
    """Set the loggers of `QUIET_AT_INFO` to WARNING."""
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(logging.WARNING)
