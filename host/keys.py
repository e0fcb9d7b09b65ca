"""The host's secrets: Azure's system keys (read from the environment or created once in the state folder), and
the secret path segment of the rpc base URL, which only the state folder holds.

The Durable extension's rpc base (the `durableClient` binding's `rpcBaseUrl`) takes no key: on Azure it
listens on a port only the host's own worker can reach. On a shared machine every local user passes a
loopback check, so the local host puts an unguessable segment in the URL instead
(`/durabletask/<rpc secret>/`): the SDK's `DurableOrchestrationClient` appends its paths to the base
unchanged, and nobody without read access to `<state>/keys.json` (0600) can use it.
"""
from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path

from host.state_folder import make_private_folder, write_private_file

KEY_NAMES = {
    "mcp_extension": "MCP_EXTENSION_KEY",
    "durabletask_extension": "DURABLETASK_EXTENSION_KEY",
    "default": "FUNCTIONS_DEFAULT_KEY",
    "master": "FUNCTIONS_MASTER_KEY",
}
RPC_SECRET = "durabletask_rpc"  # in keys.json only: no environment variable sets it


def load_keys(state_dir: Path) -> dict[str, str]:
    """Environment variables win; otherwise keys persist in <state>/keys.json so configured clients keep working.

    The result also holds `RPC_SECRET`, always from (or created in) keys.json.
    """
    path = Path(state_dir) / "keys.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    keys: dict[str, str] = {}
    for name, env in [*KEY_NAMES.items(), (RPC_SECRET, None)]:
        if env and os.environ.get(env):
            keys[name] = os.environ[env]
            continue
        if not stored.get(name):
            stored[name] = secrets.token_urlsafe(32)
            changed = True
        keys[name] = stored[name]
    if changed:
        make_private_folder(path.parent)
        write_private_file(path, json.dumps(stored, indent=2))
    return keys


def key_matches(presented: str | None, *accepted: str) -> bool:
    """Constant-time comparison against each accepted key."""
    if not presented:
        return False
    ok = False
    for key in accepted:
        ok |= hmac.compare_digest(presented.encode(), key.encode())
    return ok


def presented_key(headers, query_params) -> str | None:
    return headers.get("x-functions-key") or query_params.get("code")
