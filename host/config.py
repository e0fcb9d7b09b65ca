"""What one running host needs to know: where it listens, where state lives, its keys and the app's host.json."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from host.durable.config import EngineConfig
from host.functions.loader import LoadedApp

DEFAULT_ALLOWED_HOSTS_ENV = "MCP_ALLOWED_HOSTS"


@dataclass
class HostSettings:
    app_dir: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 7071
    keys: dict[str, str] = field(default_factory=dict)
    host_config: dict[str, Any] = field(default_factory=dict)

    @property
    def public_base(self) -> str:
        shown = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::", "localhost") else self.host
        return f"http://{shown}:{self.port}"

    @property
    def rpc_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/durabletask/"

    @property
    def hub_name(self) -> str:
        durable = (self.host_config.get("extensions") or {}).get("durableTask") or {}
        hub = str(durable.get("hubName") or "TestHubName")
        if hub.startswith("%") and hub.endswith("%"):
            hub = os.environ.get(hub.strip("%"), "TestHubName")
        return hub

    @property
    def mcp_config(self) -> dict[str, Any]:
        return dict((self.host_config.get("extensions") or {}).get("mcp") or {})

    @property
    def mcp_auth_level(self) -> str:
        system = self.mcp_config.get("system") or {}
        return str(system.get("webhookAuthorizationLevel") or "System")

    @property
    def allowed_hosts(self) -> list[str]:
        """Host headers accepted besides loopback (DNS-rebinding protection), e.g. a proxy's public name."""
        extra = [h.strip() for h in os.environ.get(DEFAULT_ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
        return extra

    def engine_config(self) -> EngineConfig:
        """`extensions.durableTask`: maxConcurrentActivityFunctions, and our `localHost.maxPayloadBytes`."""
        durable = (self.host_config.get("extensions") or {}).get("durableTask") or {}
        local = durable.get("localHost") or {}
        config = EngineConfig()
        config.max_concurrent_activities = int(durable.get("maxConcurrentActivityFunctions")
                                               or config.max_concurrent_activities)
        config.max_payload_bytes = int(local.get("maxPayloadBytes") or config.max_payload_bytes)
        return config

    def durable_client_binding(self) -> dict[str, Any]:
        """The `durableClient` binding JSON the Durable extension passes to functions (BindingHelper.cs)."""
        base = f"{self.public_base}/runtime/webhooks/durabletask"
        code = quote(self.keys.get("durabletask_extension", ""), safe="")
        common = f"taskHub={self.hub_name}&connection=Storage&code={code}"
        instance = f"{base}/instances/INSTANCEID"
        return {
            "taskHubName": self.hub_name,
            "connectionName": "Storage",
            "creationUrls": {
                "createNewInstancePostUri": f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]?code={code}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]?timeout={{timeoutInSeconds}}"
                    f"&pollingInterval={{intervalInSeconds}}&code={code}"
                ),
            },
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{instance}?{common}",
                "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{common}",
                "terminatePostUri": f"{instance}/terminate?reason={{text}}&{common}",
                "rewindPostUri": f"{instance}/rewind?reason={{text}}&{common}",
                "purgeHistoryDeleteUri": f"{instance}?{common}",
                "restartPostUri": f"{instance}/restart?{common}",
                "suspendPostUri": f"{instance}/suspend?reason={{text}}&{common}",
                "resumePostUri": f"{instance}/resume?reason={{text}}&{common}",
            },
            "baseUrl": base,
            "requiredQueryStringParameters": f"code={code}",
            "rpcBaseUrl": self.rpc_base,
            "httpBaseUrl": None,
        }


def settings_for(app: LoadedApp, state_dir: Path, host: str, port: int, keys: dict[str, str]) -> HostSettings:
    return HostSettings(app.directory, state_dir, host, port, keys, app.host_config)
