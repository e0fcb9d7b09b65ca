"""A code-swarm job's workspace for people and clients: downloads over HTTP and MCP resources (issue 12, step 6).

- `GET /api/workspaces/{job_id}/zip`: the final tree (branch `integration`) as a zip;
- `GET /api/workspaces/{job_id}/bundle`: the whole history as a git bundle (`git clone job.bundle`): `base`,
  one branch per worker, the merges in order, and `integration` (the merged tree after the fixer) as HEAD.
  Both behind the function key (`x-functions-key` or `?code=`), like every HTTP trigger of the app; the
  links in a job's output carry no key. With sign-in, only the job's owner (or an admin) gets them; another
  person's job answers as one without a workspace (issue 20, tools/caller.py), resources too.
- MCP resources `workspace://{job_id}/files` (the file list with sizes, JSON) and
  `workspace://{job_id}/file/{path}` (one file's text). `{path}` is one URI segment (the MCP extension
  matches a template variable up to the next `/`), so a nested path is percent-encoded:
  `workspace://<job>/file/todo%2Fstorage.py`; the file list gives each file's ready-made `uri`.

- Retention: `remove_expired_workspaces`, a timer trigger (hourly, at minute 17, UTC; on both hosts: the local
  host runs timer triggers too), deletes every workspace whose latest write is older than
  `WORKSPACE_RETENTION_DAYS` (default 30; 0 keeps them forever), local folders or blobs alike (issue 22 §2).
  The job's history stays; its downloads and resources then answer that it has no finished workspace.

No `from __future__ import annotations`: the Functions decorators read real annotations.
"""

import json
import logging
import os
from datetime import timedelta
from urllib.parse import quote, unquote

import azure.durable_functions as df
import azure.functions as func

from orchestrations.app_data.workspaces import JOB_ID, WorkspaceStore, read_branch, remove_expired, workspace_store
from orchestrations.code_swarm.names import BadName, normal_path
from orchestrations.code_swarm.repository import Snapshot, bundle, zip_tree
from orchestrations.code_swarm.workflow import MANIFEST, META_BRANCH

from .caller import Caller, caller_from_headers, caller_of

bp = df.Blueprint()

RETENTION_ENV = "WORKSPACE_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
RETENTION_SCHEDULE = "0 17 * * * *"  # NCRONTAB, UTC: every hour at minute 17
logger = logging.getLogger(__name__)

FILES_URI = "workspace://{job_id}/files"
FILE_URI = "workspace://{job_id}/file/{path}"


class WorkspaceMissing(LookupError):
    """No finished workspace for that job (unknown job, not a code swarm, or not finished yet)."""


def _manifest(store: WorkspaceStore, job_id: str, caller: Caller) -> dict:
    """A finished job's manifest; WorkspaceMissing in the same words for a job that is not the caller's
    (issue 20) as for one that has no workspace."""
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise WorkspaceMissing(f"Malformed job_id {job_id[:80]!r}: expected the id of a run_code_swarm job")
    raw = store.read(job_id, META_BRANCH, MANIFEST) if caller.may_see(job_id) else None
    if raw is None:
        raise WorkspaceMissing(f"Job {job_id} has no finished workspace: it is not a run_code_swarm job, "
                               "or it has not finished yet")
    return json.loads(raw)


def history(store: WorkspaceStore, job_id: str, manifest: dict) -> list[Snapshot]:
    """The snapshots of a finished job in commit order (see `orchestrations/code_swarm.manifest`)."""
    base = manifest["base"]
    snapshots = [Snapshot(base, "base: the starting tree", read_branch(store, job_id, base), [])]
    snapshots += [Snapshot(branch, f"{branch}: the worker's changes", read_branch(store, job_id, branch), [base])
                  for branch in manifest["workers"]]
    previous = base
    for merge in manifest["merges"]:
        snapshots.append(Snapshot(merge["into"], f"merge {merge['branch']}", read_branch(store, job_id, merge["into"]),
                                  [previous, merge["branch"]]))
        previous = merge["into"]
    snapshots.append(Snapshot(manifest["head"], "integration: quality gates and fixes",
                              read_branch(store, job_id, manifest["head"]), [previous]))
    return snapshots


def _error(status: int, message: str) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"error": message}), status_code=status, mimetype="application/json")


@bp.route(route="workspaces/{job_id}/{kind}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def download_workspace(req: func.HttpRequest) -> func.HttpResponse:
    """Download a finished code-swarm job's tree: `kind` is `zip` or `bundle`."""
    job_id, kind = req.route_params.get("job_id", ""), req.route_params.get("kind", "")
    if kind not in ("zip", "bundle"):
        return _error(404, f"Unknown download {kind[:40]!r}: use zip or bundle")
    store = workspace_store()
    try:
        manifest = _manifest(store, job_id, caller_from_headers(req.headers))
        if kind == "zip":
            body = zip_tree(read_branch(store, job_id, manifest["head"]), f"code-swarm-{job_id}")
        else:
            body = bundle(history(store, job_id, manifest), manifest["head"])
    except WorkspaceMissing as error:
        return _error(404, str(error))
    filename = f"code-swarm-{job_id}.{'zip' if kind == 'zip' else 'bundle'}"
    return func.HttpResponse(body, status_code=200, mimetype="application/zip" if kind == "zip" else
                             "application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _uri_parts(context: str, marker: str) -> tuple[list[str], Caller]:
    """The template values of a resource request, from the `uri` in the invocation context, and who asks."""
    call = json.loads(context)
    rest = call["uri"].split("://", 1)[1]
    return (rest.split(marker, 1) if marker else [rest]), caller_of(call)


@bp.mcp_resource_trigger(arg_name="context", uri=FILES_URI, resource_name="workspace_files",
                         title="Code swarm workspace files",
                         description="The files of a finished run_code_swarm job's final tree, with sizes and "
                                     "the URI of each file.",
                         mime_type="application/json")
def workspace_files(context: str) -> str:
    (job_id, *_), caller = _uri_parts(context, "/files")
    store = workspace_store()
    manifest = _manifest(store, job_id, caller)
    files = store.files(job_id, manifest["head"])
    return json.dumps({"job_id": job_id, "branch": manifest["head"], "files": [
        {"path": path, "size": size, "uri": f"workspace://{job_id}/file/{quote(path, safe='')}"}
        for path, size in files.items()]}, indent=1)


@bp.mcp_resource_trigger(arg_name="context", uri=FILE_URI, resource_name="workspace_file",
                         title="Code swarm workspace file",
                         description="One file of a finished run_code_swarm job's final tree; the path is "
                                     "percent-encoded (todo%2Fstorage.py).",
                         mime_type="text/plain")
def workspace_file(context: str) -> str:
    (job_id, raw_path), caller = _uri_parts(context, "/file/")
    store = workspace_store()
    manifest = _manifest(store, job_id, caller)
    try:
        path = normal_path(unquote(raw_path))
    except BadName as error:
        raise WorkspaceMissing(f"Bad path: {error}") from None
    data = store.read(job_id, manifest["head"], path)
    if data is None:
        raise WorkspaceMissing(f"Job {job_id} has no file {path}; read workspace://{job_id}/files for the list")
    return data.decode("utf-8", errors="replace")


def retention_days() -> float:
    """`WORKSPACE_RETENTION_DAYS` (days, fractions allowed; 0 keeps workspaces forever), default 30."""
    raw = os.environ.get(RETENTION_ENV, "").strip()
    try:
        days = float(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        logger.warning("%s=%.40r is not a number of days; using %s", RETENTION_ENV, raw, DEFAULT_RETENTION_DAYS)
        days = DEFAULT_RETENTION_DAYS
    return max(days, 0)


@bp.timer_trigger(schedule=RETENTION_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True)
def remove_expired_workspaces(timer: func.TimerRequest) -> None:
    """Delete the code-swarm workspaces not written to for `WORKSPACE_RETENTION_DAYS`."""
    days = retention_days()
    if days:
        removed = remove_expired(workspace_store(), timedelta(days=days))
        if removed:
            logger.info("removed %d workspaces older than %g days", len(removed), days)
