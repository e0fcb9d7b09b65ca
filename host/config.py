"""Everything one running host is configured with, read once at start: the command line, the
environment and the app's host.json. Nothing else in `host/` reads `os.environ` for its own settings.

`python -m host --help` lists the options; README "Configuration of the host" says the same.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from host.durable.config import EngineConfig, Replay
from host.functions.loader import HOST_OVERRIDE_PREFIX, LoadedApp
from host.functions.timeout import SETTING as FUNCTION_TIMEOUT
from host.functions.timeout import FunctionTimeout, parse_function_timeout
from host.http.guard import WILDCARD_BIND
from host.identity.settings import OAuthSettings, split_list
from host.keys import RPC_SECRET

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALLOWED_HOSTS_ENV = "MCP_ALLOWED_HOSTS"
REPLAY_ENV = "LOCAL_HOST_REPLAY"
# The Python worker's thread pool for sync functions: this app setting, else ThreadPoolExecutor's default,
# min(32, processors + 4) (azure-functions-python-worker dispatcher.py _get_sync_tp_max_workers, Python 3.9+).
THREADPOOL_ENV = "PYTHON_THREADPOOL_THREAD_COUNT"
# The Durable extension's default for maxConcurrentOrchestratorFunctions and maxConcurrentActivityFunctions
# outside the Consumption plan: 10 x Environment.ProcessorCount (AzureStorageDurabilityProviderFactory.cs).
DURABLE_CONCURRENCY_PER_PROCESSOR = 10
OAUTH_ISSUER_ENV = "MCP_OAUTH_ISSUER"
OAUTH_AUDIENCE_ENV = "MCP_OAUTH_AUDIENCE"
PRM_SCOPES_ENV = "WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES"  # App Service's setting for the same metadata
TASKHUB_FALLBACK = "TestHubName"

log = logging.getLogger("host")


class SettingError(Exception):
    """A setting the host cannot start with; the message names it and the values it takes."""


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client may hold (issue 8 item 5); seconds and counts.

    header_timeout: from a connection's start (or a new request's first byte) until its request line
    and headers are in, else 408 and the connection closes; body_timeout: from the headers until
    the whole body is in (a false Content-Length gets its 408 here); keep_alive_timeout: how long an
    idle connection stays open between requests; max_connections: open connections (and requests
    in progress) beyond which new requests get 503.
    """

    max_connections: int = 200
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0


@dataclass(frozen=True)
class HostOptions:
    """The command line of `python -m host`."""

    app_dir: Path = PROJECT_ROOT
    state_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 7071
    allowed_hosts: tuple[str, ...] = ()
    limits: ConnectionLimits = ConnectionLimits()
    replay: Replay | None = None  # None: LOCAL_HOST_REPLAY, else kept
    oauth_issuer: str | None = None
    oauth_audiences: tuple[str, ...] = ()


def _positive(kind: type) -> Any:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
        return value

    return parse


def _replay(text: str) -> Replay:
    try:
        return Replay(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected kept or azure, got {text!r}") from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"ports are 0-65535, got {value}")
    return value


def option_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m host",
        description="Start the local host for a Python v2 function app: its MCP tools at Azure's URLs, its "
                    "Durable orchestrations on SQLite, the Durable HTTP management API.",
        epilog="Environment: MCP_ALLOWED_HOSTS (comma-separated, like --allowed-host); LOCAL_HOST_REPLAY (like "
               "--replay); PYTHON_THREADPOOL_THREAD_COUNT (the worker pool with --replay azure); MCP_EXTENSION_KEY, "
               "DURABLETASK_EXTENSION_KEY, FUNCTIONS_DEFAULT_KEY, FUNCTIONS_MASTER_KEY (else created once in "
               "<state>/keys.json); TASKHUB_NAME when host.json says hubName %TASKHUB_NAME%; MCP_OAUTH_ISSUER, "
               "MCP_OAUTH_AUDIENCE (like the --oauth options) and WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES (the "
               "scopes the protected resource metadata lists, as on Azure). The app's local.settings.json "
               "Values are loaded into the environment first.",
    )
    parser.add_argument("--app", dest="app_dir", type=Path, default=PROJECT_ROOT,
                        help="folder holding function_app.py and host.json (default: this project)")
    parser.add_argument("--port", type=_port, default=7071, help="port to listen on (default: 7071)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface, with --allowed-host)")
    parser.add_argument("--state", dest="state_dir", type=Path, default=None,
                        help="state folder: jobs (SQLite) and keys (default: .durable/ in the app folder)")
    parser.add_argument("--allowed-host", dest="allowed_hosts", action="append", default=[], metavar="NAME",
                        help="a Host name accepted besides loopback and the bind address, e.g. a proxy's "
                             "public name (NAME, NAME:* or NAME:PORT); repeatable")
    parser.add_argument("--replay", type=_replay, default=None, metavar="{kept,azure}",
                        help="kept (default): orchestrators and durable agents are kept alive between episodes; "
                             "azure: every episode replays the orchestrator from the start of its history, "
                             "with the Python worker's thread pool and the Durable extension's concurrency, as "
                             "on Azure (same history; a job started in one mode resumes in the other)")
    oauth = parser.add_argument_group("sign-in", "an OAuth 2.1 resource server, as App Service authentication "
                                                 "is on Azure: callers need a bearer token from the issuer")
    oauth.add_argument("--oauth-issuer", metavar="URL", default=None,
                       help="the authorization server whose access tokens are accepted (its iss; its OpenID "
                            "discovery document names its keys)")
    oauth.add_argument("--oauth-audience", dest="oauth_audiences", action="append", default=[], metavar="AUD",
                       help="an accepted token audience, e.g. api://<client id> (default: this host's own URLs); "
                            "repeatable")
    limits = parser.add_argument_group("connections", "what one client may hold (408 and 503 answers)")
    defaults = ConnectionLimits()
    limits.add_argument("--max-connections", type=_positive(int), default=defaults.max_connections, metavar="N",
                        help="open connections and requests in progress; beyond it requests get 503 "
                             f"(default: {defaults.max_connections})")
    limits.add_argument("--header-timeout", type=_positive(float), default=defaults.header_timeout, metavar="S",
                        help="seconds a client has to send a request's line and headers, then 408 "
                             f"(default: {defaults.header_timeout:g})")
    limits.add_argument("--body-timeout", type=_positive(float), default=defaults.body_timeout, metavar="S",
                        help="seconds a client has to send a request's body once its headers are in, then 408 "
                             f"(default: {defaults.body_timeout:g})")
    limits.add_argument("--keep-alive-timeout", type=_positive(float), default=defaults.keep_alive_timeout,
                        metavar="S", help="seconds an idle connection stays open between requests "
                                          f"(default: {defaults.keep_alive_timeout:g})")
    return parser


def parse_options(argv: list[str] | None = None) -> HostOptions:
    """The command line as options; exits with usage on bad values."""
    args = option_parser().parse_args(argv)
    limits = ConnectionLimits(args.max_connections, args.header_timeout, args.body_timeout, args.keep_alive_timeout)
    return HostOptions(args.app_dir, args.state_dir, args.host, args.port, tuple(args.allowed_hosts), limits,
                       args.replay, args.oauth_issuer, tuple(args.oauth_audiences))


@dataclass
class HostSettings:
    """One running host's settings: options, keys, host.json, and what they imply."""

    app_dir: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 7071
    keys: dict[str, str] = field(default_factory=dict)
    host_config: dict[str, Any] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] = ()
    limits: ConnectionLimits = ConnectionLimits()
    hub_name: str = TASKHUB_FALLBACK
    replay: Replay = Replay.KEPT
    worker_threads: int = 0  # with Replay.AZURE: the worker pool's threads
    oauth: OAuthSettings | None = None  # None: keys, as before (no issuer configured)
    function_timeout: FunctionTimeout = FunctionTimeout()

    @property
    def public_base(self) -> str:
        shown = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::", "localhost") else self.host
        return f"http://{shown}:{self.port}"

    @property
    def local_base(self) -> str:
        """Where code in this process reaches the host: the bind address, or loopback for wildcards."""
        host = "127.0.0.1" if self.host in WILDCARD_BIND else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def rpc_base(self) -> str:
        """The SDK client's rpc base URL: Azure's `/durabletask/` plus the state folder's secret segment
        (host/keys.py says why)."""
        return f"{self.local_base}/durabletask/{self.keys[RPC_SECRET]}/"

    @property
    def mcp_config(self) -> dict[str, Any]:
        return dict((self.host_config.get("extensions") or {}).get("mcp") or {})

    @property
    def mcp_auth_level(self) -> str:
        system = self.mcp_config.get("system") or {}
        return str(system.get("webhookAuthorizationLevel") or "System")

    def engine_config(self) -> EngineConfig:
        """The replay mode; `extensions.durableTask`: maxConcurrentActivityFunctions, with --replay azure also
        maxConcurrentOrchestratorFunctions (both default to the extension's 10 per processor then), and our
        `localHost.maxPayloadBytes`."""
        durable = (self.host_config.get("extensions") or {}).get("durableTask") or {}
        local = durable.get("localHost") or {}
        config = EngineConfig(replay=self.replay)
        if self.replay is Replay.AZURE:
            extension_default = DURABLE_CONCURRENCY_PER_PROCESSOR * processor_count()
            config.max_concurrent_activities = extension_default
            config.max_concurrent_orchestrators = int(durable.get("maxConcurrentOrchestratorFunctions")
                                                      or extension_default)
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


def hub_name(host_config: dict[str, Any]) -> str:
    """host.json `extensions.durableTask.hubName`; `%NAME%` reads the environment, as Azure does."""
    durable = (host_config.get("extensions") or {}).get("durableTask") or {}
    hub = str(durable.get("hubName") or TASKHUB_FALLBACK)
    if hub.startswith("%") and hub.endswith("%"):
        hub = os.environ.get(hub.strip("%")) or TASKHUB_FALLBACK
    return hub


def function_timeout(host_config: dict[str, Any]) -> FunctionTimeout:
    """host.json `functionTimeout` (after its `AzureFunctionsJobHost__functionTimeout` override, as on Azure);
    Flex Consumption's 30 minutes when unset. SettingError naming where the value came from and the format
    for one the host cannot start with (`host/functions/timeout.py`)."""
    key = next((name for name in host_config if name.lower() == FUNCTION_TIMEOUT.lower()), FUNCTION_TIMEOUT)
    try:
        return FunctionTimeout(parse_function_timeout(host_config.get(key)))
    except ValueError as exc:
        override = HOST_OVERRIDE_PREFIX + FUNCTION_TIMEOUT
        source = (override if any(name.lower() == override.lower() for name in os.environ)
                  else f"host.json {FUNCTION_TIMEOUT}")
        raise SettingError(f"{source} {exc}") from None


def processor_count() -> int:
    """The processors this process may run on (.NET's Environment.ProcessorCount)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def replay_mode(option: Replay | None) -> Replay:
    """--replay, else LOCAL_HOST_REPLAY, else kept; SettingError for a value it does not know."""
    if option is not None:
        return option
    text = os.environ.get(REPLAY_ENV, "").strip().lower()
    try:
        return Replay(text) if text else Replay.KEPT
    except ValueError:
        raise SettingError(f"{REPLAY_ENV}={text!r}: expected kept or azure") from None


def worker_threads() -> int:
    """PYTHON_THREADPOOL_THREAD_COUNT as the worker reads it: an integer of at least 1, else (with a
    warning, as the worker gives) ThreadPoolExecutor's default, min(32, processors + 4)."""
    text = os.environ.get(THREADPOOL_ENV, "").strip()
    try:
        count = int(text) if text else 0
    except ValueError:
        count = 0
    if count >= 1:
        return count
    if text:
        log.warning("%s must be an integer of at least 1 (got %r): using the default", THREADPOOL_ENV, text)
    processors = getattr(os, "process_cpu_count", os.cpu_count)() or 1  # 3.13+: process_cpu_count
    return min(32, processors + 4)


def settings_for(app: LoadedApp, state_dir: Path, options: HostOptions, keys: dict[str, str]) -> HostSettings:
    """Settings for a loaded app; read after the app's local.settings.json Values reached the environment.
    Raises SettingError for a setting the host cannot start with."""
    from_env = tuple(h.strip() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip())
    replay = replay_mode(options.replay)
    return HostSettings(app.directory, state_dir, options.host, options.port, keys, app.host_config,
                        from_env + options.allowed_hosts, options.limits, hub_name(app.host_config), replay,
                        worker_threads() if replay is Replay.AZURE else 0, oauth_settings(options),
                        function_timeout(app.host_config))


def oauth_settings(options: HostOptions) -> OAuthSettings | None:
    """The resource server's settings: the command line wins over the environment; None without an issuer.
    OAuthSettingsError for an issuer that cannot work."""
    issuer = options.oauth_issuer or os.environ.get(OAUTH_ISSUER_ENV, "").strip()
    if not issuer:
        return None
    audiences = options.oauth_audiences or split_list(os.environ.get(OAUTH_AUDIENCE_ENV))
    return OAuthSettings(issuer, tuple(audiences), split_list(os.environ.get(PRM_SCOPES_ENV)))
