"""Azure's sandbox for generated tests: Azure Container Apps dynamic sessions (issue 22 §2).

A code interpreter session pool (`infra/app/sessions.bicep`; Hyper-V isolated, no network egress, made
for LLM-generated code) is reached over its data-plane REST API, api-version `API_VERSION`
(Azure/azure-rest-api-specs, specification/app/data-plane/Microsoft.App.DynamicSessions), at the pool's
management endpoint `ACA_SESSION_POOL_ENDPOINT`, with a Microsoft Entra token for the audience
`https://dynamicsessions.io` from the app's managed identity (`AZURE_CLIENT_ID` names the user-assigned
one; the identity holds "Azure ContainerApps Session Executor" on the pool).

One check run is one new session (a fresh identifier: nothing a tree's tests leave behind reaches
another job), deleted afterwards:
1. `POST /files`: the request (the tree and the limits, as `sandbox_runner.run` takes them) and the
   packages pytest needs, taken from this app's own environment (the interpreter image need not have
   pytest, and the session has no network to install it);
2. `POST /executions`, synchronous: the runner's text, which runs pytest under the limits and writes its
   result into the session's `/mnt/data`;
3. `GET /files/{name}/content`: the result, read up to `MAX_RESULT_BYTES`;
4. `DELETE /session`.
"""
from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from orchestrations.code_swarm import sandbox_runner
from orchestrations.code_swarm.checks import ACA_ENDPOINT_ENV
API_VERSION = "2025-10-02-preview"
TOKEN_SCOPE = "https://dynamicsessions.io/.default"
DATA = "/mnt/data"
MAX_RESULT_BYTES = 1 << 20
MAX_EXECUTION_SECONDS = 220  # a code execution's limit (learn.microsoft.com, container-apps/sessions-code-interpreter)
REQUEST, DEPENDENCIES, RESULT = "request.json", "pydeps.zip", "result.json"
TEST_PACKAGES = ("pytest",)
RUNNER = Path(sandbox_runner.__file__).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _credential() -> Any:
    from azure.identity import DefaultAzureCredential  # slow to import: only where a pool is used

    return DefaultAzureCredential()


def _distribution_closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions `names` need, their own requirements included (extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = re.split(r"[^A-Za-z0-9._-]", pending.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in found:
            continue
        try:
            found[name] = distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:  # a requirement for another Python version or platform
            continue
        pending += [requirement for requirement in distribution.requires or () if "extra ==" not in requirement]
    return list(found.values())


@lru_cache(maxsize=1)
def test_packages() -> bytes:
    """pytest and what it imports, from this environment, as a zip to unpack and put on the path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for distribution in _distribution_closure(TEST_PACKAGES):
            for file in distribution.files or ():
                if file.parts[0] not in ("..", "bin") and "__pycache__" not in file.parts:
                    archive.write(file.locate(), file.as_posix())
    return buffer.getvalue()


def _execution_code() -> str:
    """What the session runs: the runner's text as a module of its own (in the session's Jupyter kernel
    `__name__` is `__main__`, and the runner's own entry point would read the kernel's arguments)."""
    return (f"import json\nrunner = {{'__name__': 'sandbox_runner'}}\n"
            f"exec(compile({RUNNER!r}, 'sandbox_runner.py', 'exec'), runner)\n"
            f"result = runner['run'](json.load(open('{DATA}/{REQUEST}')))\n"
            f"open('{DATA}/{RESULT}', 'w').write(json.dumps(result))\n")


def _failure(reason: str) -> dict[str, Any]:
    return {"exit_code": None, "output": "", "timed_out": False, "output_bytes": 0,
            "killed": f"the Azure Container Apps session failed: {reason}"}


def _error_of(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        detail = f"{error.get('code')}: {error.get('message')}"[:300]
    except ValueError:
        detail = response.text[:300]
    return f"HTTP {response.status_code} from {response.request.url.path.rsplit('/', 1)[-1]} ({detail})"


def _bounded(response: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk[:limit - len(data)]
        if len(data) >= limit:
            break
    return bytes(data)


def run(files: dict[str, bytes], request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """`sandbox_runner.run` on `files` in a new session of the pool; its result, or one whose `killed` says
    why there is none (the service's answer, never the token)."""
    endpoint = os.environ[ACA_ENDPOINT_ENV].strip().rstrip("/")
    identifier = f"code-swarm-checks-{uuid.uuid4().hex}"
    payload = {**request, "pythonpath": [f"{DATA}/{DEPENDENCIES}"],
               "files": {path: data.decode("utf-8", errors="replace") for path, data in files.items()}}
    params = {"api-version": API_VERSION, "identifier": identifier}
    token = _credential().get_token(TOKEN_SCOPE).token
    seconds = int(min(timeout, MAX_EXECUTION_SECONDS))
    with httpx.Client(base_url=endpoint, headers={"Authorization": f"Bearer {token}"}, params=params,
                      timeout=httpx.Timeout(30, read=seconds + 30)) as client:
        try:
            for name, data in ((REQUEST, json.dumps(payload).encode()), (DEPENDENCIES, test_packages())):
                uploaded = client.post("/files", files={"file": (name, data, "application/octet-stream")})
                if uploaded.status_code != 200:
                    return _failure(_error_of(uploaded))
            executed = client.post("/executions", json={"codeInputType": "Inline", "executionType": "Synchronous",
                                                        "code": _execution_code(), "timeoutInSeconds": seconds})
            if executed.status_code != 200:
                return _failure(_error_of(executed))
            execution = executed.json()
            if execution.get("status") != "Succeeded":
                stderr = ((execution.get("result") or {}).get("stderr") or "")[-500:]
                return _failure(f"the execution ended {execution.get('status')}: "
                                f"{(execution.get('error') or {}).get('error', {}).get('message') or stderr}")
            with client.stream("GET", f"/files/{RESULT}/content") as downloaded:
                if downloaded.status_code != 200:
                    downloaded.read()
                    return _failure(_error_of(downloaded))
                return json.loads(_bounded(downloaded, MAX_RESULT_BYTES))
        except (httpx.HTTPError, ValueError) as error:
            return _failure(f"{type(error).__name__}: {str(error)[:300]}")
        finally:
            try:
                client.delete("/session")
            except httpx.HTTPError:
                pass  # the pool ends idle sessions by itself (its cooldown period)
