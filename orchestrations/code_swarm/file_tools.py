"""The code swarm's workspace operations as Durable activities (issue 12, step 2).

Agent tools: `list_files`, `read_file`, `write_file`, `delete_file`, `search_files`, `run_checks`. An
agent never names the job or the branch: `agent_tools(context, job_id, branch)` binds them in the
orchestrator, so a worker can only touch its own branch of its own job's workspace. Each call is an
activity (checkpointed, retried by the host), idempotent (a replayed or retried write leaves the same
tree) and bounded (`MAX_FILES`, `MAX_FILE_BYTES`, `MAX_WORKSPACE_BYTES`, path rules from
`code_names.normal_path`). Expected failures come back as the tool's text result starting with
"Error:", so the model can read them and change its plan (see builtin_tools.py for why).

Workflow steps: `workspace_fork`, `workspace_changes`, `workspace_merge`, `workspace_write_files`,
`workspace_checks`, `workspace_tree`, called by the orchestrators in `code_swarm/workflow.py`.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable, Optional

import azure.durable_functions as df
from agents import FunctionTool, RunContextWrapper
from pydantic import BaseModel

from orchestrations.app_data.workspaces import WorkspaceStore, WorkspaceStoreError, read_branch, workspace_store
from orchestrations.code_swarm import checks as code_checks
from orchestrations.code_swarm import pattern_search
from orchestrations.code_swarm.crash_points import crash_point
from orchestrations.code_swarm.names import BadName, normal_path
from orchestrations.code_swarm.repository import three_way_merge
from orchestrations.payloads import MODEL_TEXT_BUDGET_BYTES, PAYLOAD_BUDGET_BYTES, cut, model_input_bytes, result_bytes

bp = df.Blueprint()
logger = logging.getLogger(__name__)

MAX_FILES = 200
MAX_FILE_BYTES = 200_000
MAX_WORKSPACE_BYTES = 2_000_000
MAX_SEARCH_HITS = 100
MAX_PATTERN_CHARS = 200
# The conflicts' texts one merge returns (its result is a payload; room is left for the rest of it).
MAX_CONFLICTS_BYTES = PAYLOAD_BUDGET_BYTES - 50_000


class ToolCall(BaseModel):
    """What a file-tool activity receives: the model's arguments plus the job and branch the
    orchestrator bound (the model never sets those)."""

    job_id: Optional[str] = None
    branch: Optional[str] = None
    path: Optional[str] = None
    content: Optional[str] = None
    pattern: Optional[str] = None


class LimitExceeded(ValueError):
    """A workspace limit; the message names it."""


def _path(call: dict[str, Any]) -> str:
    return normal_path(call.get("path"))


def _store() -> WorkspaceStore:
    return workspace_store()


def check_place(paths: Iterable[str], path: str) -> None:
    """Refuse a file where the workspace has a folder of that name, or under a name that is a file (issue 22
    §3.5: `todo` beside `todo/x.py` cannot be: the local store raised, the blob store took it and broke the merge)."""
    inside = sorted(other for other in paths if other.startswith(path + "/"))
    if inside:
        raise BadName(f"{path} is a folder (it holds {', '.join(inside[:3])}{' ...' if len(inside) > 3 else ''}); "
                      f"write a file inside it, or pick another name")
    names = set(paths)
    for folder in (path.rsplit("/", depth)[0] for depth in range(1, path.count("/") + 1)):
        if folder in names:
            raise BadName(f"{folder} is a file, so {path} cannot be inside it; pick another path, or delete "
                          f"{folder} first")


def check_write(sizes: dict[str, int], path: str, size: int) -> None:
    """Refuse a write that would break a workspace limit or put a file where a folder is, saying which."""
    check_place(sizes, path)
    if size > MAX_FILE_BYTES:
        raise LimitExceeded(f"{path} would be {size} bytes; a file may have at most {MAX_FILE_BYTES}")
    if path not in sizes and len(sizes) >= MAX_FILES:
        raise LimitExceeded(f"the workspace already has {len(sizes)} files; the limit is {MAX_FILES}")
    total = sum(sizes.values()) - sizes.get(path, 0) + size
    if total > MAX_WORKSPACE_BYTES:
        raise LimitExceeded(f"the workspace would hold {total} bytes; the limit is {MAX_WORKSPACE_BYTES}")


def _for_the_model(result: str) -> str:
    """A tool result cut, saying so, to what the conversation can carry (issue 21 §2: a file of 200 kB
    can weigh over 1 MB in the model's next input)."""
    return cut(result, MODEL_TEXT_BUDGET_BYTES, model_input_bytes, "this tool result")


def _tool(operation):
    """Turn every failure into an "Error: ..." result the model can act on, never an exception (issue 22
    §3.5: a raised error made the worker a gap and put the host's paths in the job's output). Expected
    ones (bad path, limit, missing file) say what to change; anything else says the workspace failed, by
    the error's kind only (its text may hold host paths), and is logged in full. A result is bounded
    (`_for_the_model`)."""
    def run(call: dict[str, Any]) -> str:
        try:
            return _for_the_model(operation(call))
        except (BadName, LimitExceeded, UnicodeDecodeError, WorkspaceStoreError) as error:
            return f"Error: {error}"
        except Exception as error:
            logger.exception("file tool %s failed", operation.__name__)
            return (f"Error: the workspace failed ({type(error).__name__}); your files are as they were before "
                    "this call: try again, or go on without it")
    run.__doc__ = operation.__doc__
    return run


@_tool
def list_files(call: dict[str, Any]) -> str:
    sizes = _store().files(call["job_id"], call["branch"])
    if not sizes:
        return "The workspace is empty."
    return "\n".join(f"{path} ({size} bytes)" for path, size in sizes.items())


def _missing(call: dict[str, Any], path: str) -> str:
    inside = [other for other in _store().files(call["job_id"], call["branch"]) if other.startswith(path + "/")]
    if inside:
        return f"Error: {path} is a folder, not a file; it holds {', '.join(inside[:5])}{' ...' if len(inside) > 5 else ''}"
    return f"Error: {path} does not exist; list_files shows what does"


@_tool
def read_file(call: dict[str, Any]) -> str:
    path = _path(call)
    data = _store().read(call["job_id"], call["branch"], path)
    if data is None:
        return _missing(call, path)
    return data.decode("utf-8")


@_tool
def write_file(call: dict[str, Any]) -> str:
    path, content = _path(call), call.get("content")
    if not isinstance(content, str):
        return ('Error: content must be the whole file as one JSON string, lines joined with \\n, e.g. '
                '{"path": "todo/storage.py", "content": "import json\\n\\n\\ndef load(path):\\n    ..."}')
    data = content.encode("utf-8")
    store = _store()
    check_write(store.files(call["job_id"], call["branch"]), path, len(data))
    store.write(call["job_id"], call["branch"], path, data)
    crash_point("write_file")
    renamed = f" (normalised from {call.get('path')!r})" if path != call.get("path") else ""
    return f"Wrote {path}{renamed}: {len(data)} bytes."


@_tool
def delete_file(call: dict[str, Any]) -> str:
    path = _path(call)
    existed = _store().delete(call["job_id"], call["branch"], path)
    if not existed and (missing := _missing(call, path)).startswith(f"Error: {path} is a folder"):
        return f"{missing}: delete its files one by one"
    return f"Deleted {path}." if existed else f"{path} was not there (nothing to delete)."


@_tool
def search_files(call: dict[str, Any]) -> str:
    pattern = call.get("pattern")
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_CHARS:
        return f"Error: pattern must be a regular expression of 1-{MAX_PATTERN_CHARS} characters"
    found = pattern_search.search(pattern, read_branch(_store(), call["job_id"], call["branch"]), MAX_SEARCH_HITS)
    if found.error is not None:
        return f"Error: invalid regular expression ({found.error})"
    hits = [f"{path}:{number}: {line}" for path, number, line in found.hits]
    if found.stopped:
        return "\n".join([*hits, f"Error: {found.stopped}, with {len(hits)} matches found; the pattern backtracks too "
                                  "much (nested repeats such as (a+)+): use a simpler one, e.g. a plain word"])
    if len(hits) >= MAX_SEARCH_HITS:
        hits.append(f"(stopped at {MAX_SEARCH_HITS} matches)")
    return "\n".join(hits) if hits else "No matches."


def checks_of(job_id: str, branch: str) -> dict[str, Any]:
    files = read_branch(_store(), job_id, branch)
    crash_point("checks")
    return code_checks.run_checks(files)


# ---------------------------------------------------------------------------------------------
# The activities. The agent-facing ones' docstrings are written for the model.


@bp.activity_trigger(input_name="call", activity="list_files")
def list_files_activity(call: ToolCall) -> str:
    """List every file of your workspace with its size in bytes."""
    return list_files(call)


@bp.activity_trigger(input_name="call", activity="read_file")
def read_file_activity(call: ToolCall) -> str:
    """Read one file of your workspace; `path` is relative to the workspace root, e.g. 'todo/storage.py'."""
    return read_file(call)


@bp.activity_trigger(input_name="call", activity="write_file")
def write_file_activity(call: ToolCall) -> str:
    """Create or replace one file with its whole `content`. Paths are relative ('todo/storage.py'); names
    are normalised (lower case, hyphens become underscores). Limits: 200 files, 200 kB a file."""
    return write_file(call)


@bp.activity_trigger(input_name="call", activity="delete_file")
def delete_file_activity(call: ToolCall) -> str:
    """Delete one file of your workspace."""
    return delete_file(call)


@bp.activity_trigger(input_name="call", activity="search_files")
def search_files_activity(call: ToolCall) -> str:
    """Search every file of your workspace for a regular expression `pattern`; returns path:line: text."""
    return search_files(call)


@_tool
def run_checks(call: dict[str, Any]) -> str:
    return json.dumps(checks_of(call["job_id"], call["branch"]), indent=1)


@bp.activity_trigger(input_name="call", activity="run_checks")
def run_checks_activity(call: ToolCall) -> str:
    """Run the quality checks on your workspace: every Python file parses, `ruff check`, and the tests
    (pytest, in a sandbox where this host has one). Returns the results as JSON."""
    return run_checks(call)


AGENT_TOOLS = {"list_files": list_files_activity, "read_file": read_file_activity,
               "write_file": write_file_activity, "delete_file": delete_file_activity,
               "search_files": search_files_activity, "run_checks": run_checks_activity}


class _PathArgs(BaseModel):
    path: str


class _WriteArgs(BaseModel):
    path: str
    content: str


class _SearchArgs(BaseModel):
    pattern: str


class _NoArgs(BaseModel):
    pass


TOOL_ARGUMENTS: dict[str, type[BaseModel]] = {
    "list_files": _NoArgs, "read_file": _PathArgs, "write_file": _WriteArgs, "delete_file": _PathArgs,
    "search_files": _SearchArgs, "run_checks": _NoArgs}


ARGUMENT_ALIASES = {"file_path": "path", "filename": "path", "file": "path", "text": "content", "code": "content"}


def model_arguments(given: Any) -> dict[str, Any]:
    """A file tool's arguments as a model sends them, in the tool's own names: `file_path`/`filename` for
    `path`, `text`/`code` for `content`, and content sent as a list of lines joined into the file's text
    (issue 22 §1, fault 8: the model only repeated the error it got)."""
    given = dict(given) if isinstance(given, dict) else {}
    for alias, name in ARGUMENT_ALIASES.items():
        if alias in given and name not in given:
            given[name] = given.pop(alias)
    lines = given.get("content")
    if isinstance(lines, list) and all(isinstance(line, str) for line in lines):
        given["content"] = "".join(lines) if all(line.endswith("\n") for line in lines) else "\n".join(lines) + "\n"
    return given


def agent_tools(context: Any, job_id: str, branch: str) -> list[FunctionTool]:
    """The file tools for one agent, bound to one branch of one job's workspace.

    Each is the SDK's activity tool (`context.create_activity_tool`, so the call is a checkpointed
    activity) behind the model-facing arguments only; the job and branch are added here."""
    tools = []
    for name, activity in AGENT_TOOLS.items():
        inner = context.create_activity_tool(activity)
        arguments = TOOL_ARGUMENTS[name]
        schema = arguments.model_json_schema()
        schema.pop("title", None)
        schema.update({"additionalProperties": False, "required": list(schema.get("properties", {}))})

        async def invoke(ctx: RunContextWrapper[Any], raw: str, inner: FunctionTool = inner,
                         arguments: type[BaseModel] = arguments) -> Any:
            try:
                given = json.loads(raw or "{}")
            except ValueError:
                return f"Error: the arguments are not JSON; send an object with {', '.join(arguments.model_fields)}"
            given = model_arguments(given)
            wrong = [name for name in arguments.model_fields if name in given and not isinstance(given[name], str)]
            if wrong:  # the activity's input would not validate: say what to send instead of failing the step
                return (f"Error: {', '.join(wrong)} must be a string; send an object with "
                        f"{', '.join(f'{name} (string)' for name in arguments.model_fields)}")
            bound = {**given, "job_id": job_id, "branch": branch}
            return await inner.on_invoke_tool(ctx, json.dumps({"call": bound}))

        tools.append(FunctionTool(name=name, description=inner.description, params_json_schema=schema,
                                  on_invoke_tool=invoke, strict_json_schema=True))
    return tools


# ---------------------------------------------------------------------------------------------
# Workflow steps


@bp.activity_trigger(input_name="step")
def workspace_fork(step: dict) -> dict:
    """`{job_id, target, source?, source_job?}`: make branch `target` a copy of `source` (of this job, or of
    `source_job`'s workspace), or empty. Idempotent: the target is replaced whole."""
    files = read_branch(_store(), step.get("source_job") or step["job_id"], step["source"]) \
        if step.get("source") else {}
    _store().replace_branch(step["job_id"], step["target"], files)
    return {"branch": step["target"], "files": len(files)}


@bp.activity_trigger(input_name="step")
def workspace_changes(step: dict) -> dict:
    """`{job_id, branch, base}` -> what the branch changed against `base`, and its Python files that do not parse."""
    store = _store()
    ours, base = read_branch(store, step["job_id"], step["branch"]), read_branch(store, step["job_id"], step["base"])
    changed = {path: data for path, data in ours.items() if base.get(path) != data}
    return {"added": sorted(p for p in changed if p not in base), "modified": sorted(p for p in changed if p in base),
            "deleted": sorted(p for p in base if p not in ours),
            "parse_errors": code_checks.parse_errors(changed)}


@bp.activity_trigger(input_name="step")
def workspace_merge(step: dict) -> dict:
    """`{job_id, base, ours, theirs, into}`: git's three-way merge of branch `theirs` into `ours`, stored as
    branch `into` (conflicted files with their markers until resolved). Returns the conflicts' three sides;
    a file/folder clash (`clash`: the folder was kept) is a conflict no integrator can resolve in one file."""
    store = _store()
    job = step["job_id"]
    result = three_way_merge(read_branch(store, job, step["base"]), read_branch(store, job, step["ours"]),
                             read_branch(store, job, step["theirs"]))
    store.replace_branch(job, step["into"], result.files)
    crash_point("merge")
    conflicts, budget = [], MAX_CONFLICTS_BYTES  # bytes as the payload counts them, for any script
    for conflict in result.conflicts:
        budget -= result_bytes(conflict.__dict__)
        conflicts.append({**conflict.__dict__, "too_large": False} if budget >= 0 else
                         {"path": conflict.path, "base": None, "ours": None, "theirs": None, "marked": None,
                          "clash": conflict.clash, "too_large": True})
    return {"into": step["into"], "files": len(result.files), "conflicts": conflicts}


@bp.activity_trigger(input_name="step")
def workspace_write_files(step: dict) -> dict:
    """`{job_id, branch, files: {path: text}}`: write several files (a merge resolution, the manifest)."""
    store = _store()
    for path, text in step["files"].items():
        store.write(step["job_id"], step["branch"], normal_path(path), text.encode("utf-8"))
    return {"written": sorted(step["files"])}


@bp.activity_trigger(input_name="step")
def workspace_checks(step: dict) -> dict:
    """`{job_id, branch}`: the quality gates on a branch (see code_checks.run_checks)."""
    return checks_of(step["job_id"], step["branch"])


@bp.activity_trigger(input_name="step")
def workspace_tree(step: dict) -> list:
    """`{job_id, branch}` -> `[{path, size}]`."""
    return [{"path": path, "size": size} for path, size in _store().files(step["job_id"], step["branch"]).items()]


@bp.activity_trigger(input_name="step")
def workspace_snapshot_text(step: dict) -> str:
    """`{job_id, branch, limit}` -> every file as `=== path ===` and its text, cut at `limit` characters and
    at `MODEL_TEXT_BUDGET_BYTES` as it weighs in the judge's prompt."""
    parts = [f"=== {path} ===\n{data.decode('utf-8', errors='replace')}"
             for path, data in read_branch(_store(), step["job_id"], step["branch"]).items()]
    text = "\n\n".join(parts) or "(no files)"
    text = text if len(text) <= step["limit"] else text[:step["limit"]] + "\n[... cut: the tree is larger]"
    return cut(text, MODEL_TEXT_BUDGET_BYTES, model_input_bytes, "the tree's text")
