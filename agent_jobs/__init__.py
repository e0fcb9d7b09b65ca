"""Durable agent jobs as one file each: the public API for adding a job to this app (issue 18).

    from agent_jobs import Job, JobBlueprint

    bp = JobBlueprint()

    @bp.job(title="Review a text")
    def review_text(job: Job, text: str, focus: str = "clarity"):
        \"\"\"Review a text for one focus and edit it.\"\"\"
        review = yield from job.agent("reviewer", f"You review texts for {focus}.", text)
        return {"review": review.output}

A module like this in `orchestrations/` is a job with the whole toolset: the MCP launcher and the
HTTP starter, idempotency keys, get/wait/list/send input/cancel/retry, progress, input requests, MCP
Tasks, `job://` resources and the job view. See README "Add your own job".

- `JobBlueprint` (blueprint.py): `job`, `agent_job` (`continues=True`: it continues a finished job's
  conversation, `continue_from`), `activity_tool`;
- `Job`, `AgentJob`, `AgentResult` (job.py): what a job's code gets and what an agent step returns;
- `register_packages` (app.py): how function_app.py finds every module's blueprints;
- `ToolError`, `argument_error`: what a launch `check` raises to refuse a launch, worded like every
  argument error (tools/arguments.py); `Caller`: who launches (a check that takes `caller` gets it:
  tools/caller.py), to refuse another person's job as an unknown one;
- `JobDeclarationError`, `SignatureError`: the mistakes refused when the app loads.
"""
from tools.arguments import ToolError, argument_error
from tools.caller import Caller
from tools.job_registry import JobDeclarationError
from tools.signature import SignatureError

from .app import register_packages
from .blueprint import JobBlueprint
from .job import AgentJob, AgentResult, Job

__all__ = ["AgentJob", "AgentResult", "Caller", "Job", "JobBlueprint", "JobDeclarationError", "SignatureError", "ToolError",
           "argument_error", "register_packages"]
