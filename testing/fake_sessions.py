"""A fake of Azure Container Apps dynamic sessions (a Python code interpreter pool) and of the managed
identity endpoint Azure Functions gives an app, speaking real HTTP, for the code swarm's `aca` sandbox.

- `GET /msi/token`: App Service's managed identity protocol (api-version 2019-08-01, header
  `X-IDENTITY-HEADER`), what azure-identity's `ManagedIdentityCredential` calls when `IDENTITY_ENDPOINT` and
  `IDENTITY_HEADER` are set, as they are on Azure Functions. It signs a JWT for the requested resource
  with the caller's client id.
- The pool, at `<url>/subscriptions/<sub>/resourceGroups/<rg>/sessionPools/<pool>` (`pool_endpoint`), with
  the data-plane operations of api-version 2025-10-02-preview (Azure/azure-rest-api-specs,
  Microsoft.App.DynamicSessions): `POST /files` (multipart `file`), `GET /files/{name}/content`,
  `POST /executions` (synchronous), `DELETE /session`. Every call needs `api-version` and an `identifier`
  (4-128 characters) and a bearer token checked as the service does: signature, expiry, audience
  `https://dynamicsessions.io` (else 401), and a principal holding the Session Executor role (else 403).
  A new identifier is a new session: a folder that is the session's `/mnt/data`.
- Code runs in a Python that has no pytest (the base interpreter of this one, not its venv), under
  bubblewrap with no network, `/mnt/data` the session's folder; stdout and stderr are cut at 4096
  characters, the service's default `outputStreamsMaxLength`.
"""
from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from testing.background_server import BackgroundServer

API_VERSION = "2025-10-02-preview"
AUDIENCE = "https://dynamicsessions.io"
POOL_PATH = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-test/sessionPools/code-checks"
IDENTIFIER = re.compile(r"^[a-zA-Z0-9_|}{\[\]:\"';<>?/.,@#$%^&*()\-+=!~`]{4,128}$")
OUTPUT_STREAMS_MAX_LENGTH = 4096


def base_python() -> Path:
    """The interpreter this venv was made from: a Python without the test packages."""
    return Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass
class SessionsState:
    key: str = field(default_factory=lambda: secrets.token_hex(32))
    identity_header: str = field(default_factory=lambda: secrets.token_hex(16))
    executors: set[str] = field(default_factory=set)  # client ids holding the Session Executor role
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fake-sessions-")))
    sessions: dict[str, Path] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (method, operation, identifier)
    deleted: list[str] = field(default_factory=list)

    def session(self, identifier: str) -> Path:
        if identifier not in self.sessions:
            folder = self.root / uuid.uuid4().hex
            folder.mkdir()
            self.sessions[identifier] = folder
        return self.sessions[identifier]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers={"x-ms-error-code": code})


def _execute(folder: Path, code: str, timeout: int) -> tuple[str, str, bool]:
    python = base_python()
    prefix = str(Path(sys.base_prefix).resolve())
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
               "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
               "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
               "--ro-bind", prefix, prefix, "--bind", str(folder), "/mnt/data", "--chdir", "/mnt/data",
               "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--", str(python), "-c", code]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        return (expired.stdout or b"").decode(errors="replace"), (expired.stderr or b"").decode(errors="replace"), True
    return done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"), False


def create_app(state: SessionsState) -> Starlette:
    def authorize(request: Request) -> tuple[str, Response | None]:
        """The identifier, or the refusal the service gives."""
        if request.query_params.get("api-version") != API_VERSION:
            return "", _error(400, "UnsupportedApiVersion", f"api-version must be {API_VERSION}")
        identifier = request.query_params.get("identifier", "")
        if not IDENTIFIER.match(identifier):
            return "", _error(400, "InvalidIdentifier", "identifier must be 4-128 allowed characters")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "", _error(401, "Unauthorized", "a bearer token is required")
        try:
            claims = jwt.decode(token, state.key, algorithms=["HS256"], audience=AUDIENCE)
        except jwt.InvalidTokenError as error:
            return "", _error(401, "InvalidToken", str(error))
        if claims.get("appid") not in state.executors:
            return "", _error(403, "Forbidden", "the principal lacks the Azure ContainerApps Session Executor role")
        return identifier, None

    async def token(request: Request) -> Response:
        if request.headers.get("x-identity-header") != state.identity_header:
            return JSONResponse({"error": "invalid X-IDENTITY-HEADER"}, status_code=401)
        if request.query_params.get("api-version") != "2019-08-01" or not request.query_params.get("resource"):
            return JSONResponse({"error": "api-version 2019-08-01 and resource are required"}, status_code=400)
        client_id = request.query_params.get("client_id", "system-assigned")
        expires = int(time.time()) + 3600
        signed = jwt.encode({"aud": request.query_params["resource"], "appid": client_id, "exp": expires,
                             "iss": "https://sts.windows.net/fake/"}, state.key, algorithm="HS256")
        return JSONResponse({"access_token": signed, "expires_on": str(expires), "resource":
                             request.query_params["resource"], "token_type": "Bearer", "client_id": client_id})

    async def upload(request: Request) -> Response:
        identifier, refused = authorize(request)
        if refused:
            return refused
        form = await request.form()
        file = form.get("file")
        if file is None or not getattr(file, "filename", None):
            return _error(400, "InvalidFile", "a multipart field 'file' with a file name is required")
        data = await file.read()
        (state.session(identifier) / Path(file.filename).name).write_bytes(data)
        state.calls.append(("POST", "files", identifier))
        return JSONResponse({"name": Path(file.filename).name, "type": "File", "sizeInBytes": len(data),
                             "contentType": "application/octet-stream",
                             "lastModifiedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    async def content(request: Request) -> Response:
        identifier, refused = authorize(request)
        if refused:
            return refused
        target = state.session(identifier) / Path(request.path_params["name"]).name
        state.calls.append(("GET", "content", identifier))
        if not target.is_file():
            return _error(404, "FileNotFound", f"{target.name} does not exist")
        return Response(target.read_bytes(), media_type="application/octet-stream")

    async def execute(request: Request) -> Response:
        identifier, refused = authorize(request)
        if refused:
            return refused
        body = await request.json()
        if (body.get("codeInputType"), body.get("executionType")) != ("Inline", "Synchronous") or \
                not isinstance(body.get("code"), str) or not isinstance(body.get("timeoutInSeconds"), int):
            return _error(400, "InvalidRequest", "codeInputType Inline, executionType Synchronous, code and "
                                                 "timeoutInSeconds are required")
        state.calls.append(("POST", "executions", identifier))
        stdout, stderr, timed_out = _execute(state.session(identifier), body["code"], body["timeoutInSeconds"])
        execution = {"id": uuid.uuid4().hex, "identifier": identifier, "executionType": "Synchronous",
                     "status": "Failed" if timed_out else "Succeeded",
                     "result": {"stdout": stdout[:OUTPUT_STREAMS_MAX_LENGTH], "stderr": stderr[:OUTPUT_STREAMS_MAX_LENGTH],
                                "executionResult": "", "executionTimeInMilliseconds": 0}}
        if timed_out:
            execution["error"] = {"error": {"code": "ExecutionTimeout", "message": "the execution timed out"}}
        return JSONResponse(execution, headers={"operation-id": execution["id"]})

    async def delete_session(request: Request) -> Response:
        identifier, refused = authorize(request)
        if refused:
            return refused
        folder = state.sessions.pop(identifier, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        state.deleted.append(identifier)
        return Response(status_code=204)

    return Starlette(routes=[
        Route("/msi/token", token, methods=["GET"]),
        Route(f"{POOL_PATH}/files", upload, methods=["POST"]),
        Route(f"{POOL_PATH}/files/{{name}}/content", content, methods=["GET"]),
        Route(f"{POOL_PATH}/executions", execute, methods=["POST"]),
        Route(f"{POOL_PATH}/session", delete_session, methods=["DELETE"]),
    ])


class FakeSessions(BackgroundServer):
    """`with FakeSessions() as sessions:`; `sessions.app_settings(client_id)` is what the app needs."""

    name = "fake-sessions"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.state = SessionsState()

    def app(self) -> Starlette:
        return create_app(self.state)

    @property
    def pool_endpoint(self) -> str:
        return f"{self.url}{POOL_PATH}"

    def app_settings(self, client_id: str) -> dict[str, str]:
        """The settings Azure gives the app (identity endpoint) and infra/ sets (pool, client id)."""
        return {"IDENTITY_ENDPOINT": f"{self.url}/msi/token", "IDENTITY_HEADER": self.state.identity_header,
                "AZURE_CLIENT_ID": client_id, "ACA_SESSION_POOL_ENDPOINT": self.pool_endpoint,
                "CHECK_SANDBOX": "aca"}

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.state.root, ignore_errors=True)
