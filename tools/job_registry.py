"""The app's jobs: one declaration per job, the only list of workflows the tools read (issue 18).

A job is declared once, with `agent_jobs.JobBlueprint.job` or `.agent_job`, when its module is
imported; the declaration names its orchestrator and its launcher's arguments. Everything that
needs the list of workflows reads it here: the launchers and the HTTP starter (tools/launchers.py),
`list_jobs`' workflow filter (tools/jobs.py), the status object's `workflow` (tools/job_status.py)
and the job view's filter (tools/job_view.py). So a new job is one module, and no list is kept
anywhere else.

Tool declarations are built when their module is imported, so the list must be complete by then:
the first reader that builds a tool schema (`names(for_schema=True)`) closes it, and a job declared
after that is refused with the fix (import job modules before the tools: `agent_jobs.register_packages`
imports `orchestrations` before `tools`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .arguments import Arg, ToolError

LaunchCheck = Callable[..., None]


class JobDeclarationError(Exception):
    """A job declared in a way that cannot work; raised when the app loads, the message says the fix."""


@dataclass(frozen=True)
class JobDeclaration:
    """One job: its tool `name` (the workflow name in status objects), a `title` for people, the
    `description` (the launcher's), its `orchestrator` function name, its launcher `args` (without
    `idempotency_key`), an optional `check(**values)` run before the job is started (raises `ToolError`
    to refuse the launch), `downloads` (kinds of /api/workspaces/{job_id}/<kind> a finished job offers),
    `continues` (the launcher takes `continue_from`: tools/conversations.py) and `source`
    (`file:line` of the declaration, for error messages)."""

    name: str
    title: str
    description: str
    orchestrator: str
    args: tuple[Arg, ...]
    check: Optional[LaunchCheck] = None
    downloads: tuple[str, ...] = ()
    continues: bool = False
    source: str = ""


_JOBS: dict[str, JobDeclaration] = {}
_closed_by: list[str] = []


def declare(job: JobDeclaration) -> None:
    """Add a job; `JobDeclarationError` for a second job of the same name, or after the list was closed."""
    if _closed_by:
        raise JobDeclarationError(
            f"Job '{job.name}' ({job.source}) was declared after the job tools were built ({_closed_by[0]}): "
            f"import job modules before the tools, as agent_jobs.register_packages(app, 'orchestrations', 'tools') "
            f"does.")
    earlier = _JOBS.get(job.name)
    if earlier is not None:
        same_place = earlier.source == job.source
        raise JobDeclarationError(
            f"Job '{job.name}' is declared twice ({earlier.source} and {job.source}): "
            + ("its module was imported under two names; import it under one."
               if same_place else "give one of them another name with @bp.job(name=...)."))
    for other in _JOBS.values():
        if other.orchestrator == job.orchestrator:
            raise JobDeclarationError(
                f"Jobs '{other.name}' ({other.source}) and '{job.name}' ({job.source}) both name orchestrator "
                f"'{job.orchestrator}': give one of them another with orchestrator=...")
    _JOBS[job.name] = job


def close(reader: str) -> None:
    """Mark the list complete: `reader` built a tool declaration from it."""
    if not _closed_by:
        _closed_by.append(reader)


def jobs() -> list[JobDeclaration]:
    """Every declared job, in declaration order."""
    return list(_JOBS.values())


def names(reader: Optional[str] = None) -> tuple[str, ...]:
    """The workflow names; a `reader` that builds a tool declaration from them closes the list."""
    if reader is not None:
        close(reader)
    return tuple(_JOBS)


def job(name: str) -> JobDeclaration:
    """The job of a workflow name; `ToolError` naming the allowed ones for an unknown name."""
    found = _JOBS.get(name)
    if found is None:
        raise ToolError(f"Unknown workflow '{name}'. Allowed: {', '.join(_JOBS) or 'none'}.")
    return found


def workflow_of(orchestrator: Optional[str]) -> Optional[str]:
    """The workflow name of an orchestrator (a job's own), else the orchestrator's name (a step's)."""
    for declared in _JOBS.values():
        if declared.orchestrator == orchestrator:
            return declared.name
    return orchestrator


def orchestrators() -> set[str]:
    """The orchestrator names of every job (list_jobs skips other instances: steps)."""
    return {declared.orchestrator for declared in _JOBS.values()}


def downloads(workflow: Optional[str]) -> tuple[str, ...]:
    """The download kinds a finished job of `workflow` offers (none for an unknown workflow)."""
    declared = _JOBS.get(workflow or "")
    return declared.downloads if declared else ()
