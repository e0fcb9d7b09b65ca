"""The status object's pure parts, in-process: the failure sentence from the failure texts both hosts
write (issue 9.4), and the status object's JSON Schema (one definition, for issue 11)."""
from __future__ import annotations

import pytest

from tools.job_status import JobStatus, Progress, failure_reason, failure_sentence, status_object, summary

LOCAL = ("Orchestrator function 'run_swarm_workflow' failed: Orchestrator function 'agent_step' failed: Activity "
         "function 'run_model' failed: model request failed with HTTP 400: judge is broken \n "
         "orchestrations.agents.run_model.ModelCallFailed: model request failed with HTTP 400: judge is broken \n "
         "Orchestrator function 'agent_step' failed: Activity function 'run_model' failed: model request failed "
         "with HTTP 400: judge is broken")
# the shape Azure's Python worker gives a failed activity (azure-functions-durable-extension#2990)
AZURE = ("Orchestrator function 'run_agent_workflow' failed: Activity function 'run_model' failed: "
         "ModelCallFailed: model request failed with HTTP 401: bad key\n"
         '{"$type":"System.Exception","ClassName":"System.Exception","Message":"Result: Failure\\nException: '
         'ModelCallFailed: model request failed with HTTP 401: bad key\\nStack:   File ..."}')


@pytest.mark.parametrize("text, reason, depth", [
    (LOCAL, "model request failed with HTTP 400: judge is broken", 3),
    (AZURE, "model request failed with HTTP 401: bad key", 2),
    ("Result: Failure\nException: ValueError: boom\nStack:   File \"x.py\"", "ValueError: boom", 0),
    ("Orchestrator function 'run_swarm_workflow' failed: the plan has no usable tasks",
     "the plan has no usable tasks", 1),
    ("Activity function 'x' failed: connect to api.openai.com: refused", "connect to api.openai.com: refused", 1),
    (None, "no reason was given", 0),
])
def test_failure_reason_keeps_the_innermost_reason_once(text, reason, depth):
    assert failure_reason(text) == (reason, depth)


def test_failure_sentence():
    progress = Progress(stage="judging", message="the judge is scoring the combined result")
    assert failure_sentence("run_swarm", progress, LOCAL) == (
        "run_swarm failed at step 'judging' (the judge is scoring the combined result): model request failed "
        "with HTTP 400: judge is broken. retry_job runs the failed step again; the steps that finished are not "
        "repeated.")
    assert failure_sentence(None, None, "Orchestrator function 'w' failed: boom") == (
        "The job failed before its first step: boom. retry_job would stop at the same point, as the finished "
        "steps are replayed; start a new job.")
    assert len(failure_sentence("w", progress, "Activity function 'a' failed: " + "x" * 5000)) < 800


ASKING = {"progress": {"stage": "waiting_for_input", "message": "Approve the trip before 12:00 UTC."},
          "input_request": {"event": "approval", "prompt": "Approve the trip before 12:00 UTC."}}
IN_FLIGHT = {"progress": {"stage": "judging", "message": "the judge is scoring the draft", "completed": 2,
                          "total": 3}}


@pytest.mark.parametrize("runtime, output, custom, progress", [
    ("Terminated", "changed my mind", ASKING, {"stage": "canceled", "message": "canceled: changed my mind"}),
    ("Terminated", "stop", IN_FLIGHT, {"stage": "canceled", "message": "canceled at step 'judging': stop",
                                       "completed": 2, "total": 3}),
    ("Failed", "Activity function 'run_model' failed: HTTP 400: bad", IN_FLIGHT,
     {"stage": "judging", "message": "failed: HTTP 400: bad", "completed": 2, "total": 3}),
    ("Failed", "Orchestrator function 'x' failed: boom", ASKING, {"stage": "waiting_for_input",
                                                                  "message": "failed: boom"}),
    ("Completed", {"answer": 1}, ASKING, {"stage": "completed", "message": "completed"}),
    ("Completed", {"answer": 1}, {"progress": {"stage": "completed", "message": "booked: T-1"}},
     {"stage": "completed", "message": "booked: T-1"}),  # the workflow's own last word
    ("Completed", None, {"progress": {"stage": "canceled", "message": "no decision in time"}},
     {"stage": "canceled", "message": "no decision in time"}),
])
def test_a_terminal_job_invites_no_action(runtime, output, custom, progress):
    """Whatever a workflow wrote last, a job that ended shows what ended it: no input request, no
    prompt to answer, no step in flight (every workflow: this is where the status object is built)."""
    raw = {"instanceId": "j", "name": "plan_trip_workflow", "runtimeStatus": runtime, "customStatus": custom,
           "output": output}
    for job in (status_object(raw), summary(raw)):
        assert job.progress.model_dump(exclude_none=True) == progress
        assert getattr(job, "input_request", None) is None


def test_the_status_object_is_one_json_schema():
    schema = JobStatus.model_json_schema(by_alias=True)
    assert set(schema["properties"]) == {"job_id", "workflow", "status", "next_step", "progress", "created_at",
                                         "updated_at", "input_request", "output", "error", "links", "usage"}
    assert schema["properties"]["status"]["enum"] == ["pending", "running", "waiting_for_input", "suspended",
                                                      "completed", "failed", "canceled"]
    assert "schema" in schema["$defs"]["InputRequest"]["properties"]


async def test_an_unexpected_exception_is_an_error_result_without_keys():
    """What a tool answers when its code fails unexpectedly (a bug, an outage): an isError CallToolResult
    that both hosts show, the message bounded and with keys in URLs removed; the log has the traceback."""
    import json

    from tools.tool import run_tool

    async def broken(client):
        raise RuntimeError("GET http://127.0.0.1:7071/x?code=secret-key&id=1 failed: " + "y" * 1000)

    envelope = json.loads(await run_tool("broken", [], broken, json.dumps({"arguments": {}}), client=None))
    result = json.loads(envelope["content"])
    assert envelope["type"] == "call_tool_result" and result["isError"] is True
    [block] = result["content"]
    assert block["text"].startswith("broken failed unexpectedly: GET http://127.0.0.1:7071/x?code=***&id=1 failed: ")
    assert "secret-key" not in block["text"] and len(block["text"]) < 600
