"""Durable agent jobs end to end: the official MCP client drives the project's own function app on
the real host; the only fake is the OpenAI-compatible model server (real HTTP)."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from orchestrations.agents.model_config import DEFAULT_MAX_OUTPUT_TOKENS
from testing.agent_runs import calculator_turns, killed_during_second_read, two_reads_script
from testing.host_process import project_host
from testing.mcp_client import call, call_error, connect, wait_until

pytestmark = pytest.mark.job("run_agent")  # make test-job JOB=run_agent

AGENT = "fake-model"  # no [agent:...] marker in run_agent's instructions: scripts are keyed by model


async def test_agent_calls_tools_over_several_turns(host, model):
    """Three model calls with tool calls in between: fails on the 2nd call without run_model's fix."""
    model.reset()
    model.script({AGENT: calculator_turns()})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        assert job["status"] in ("pending", "running") and job["workflow"] == "run_agent"
        assert f":{host.port}/runtime/webhooks/durabletask/instances/{job['job_id']}" in job["links"]["status_url"]
        progress: list[str] = []

        async def on_progress(value, total, message):
            progress.append(message)

        result = await client.call_tool("wait_for_job", {"job_id": job["job_id"], "timeout_seconds": 30},
                                        progress_callback=on_progress)
        done = json.loads(result.content[0].text)
        if done["status"] != "completed":
            done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed", done
    assert done["output"]["final_output"] == "The answer is 35."
    assert done["output"]["model_calls"] == 3 and done["output"]["tool_calls"] == 2
    assert progress, "wait_for_job sent no progress notifications"
    assert not [message for message in progress if "?" in message], progress  # no '(1 of ?)' when no total
    assert model.stats().by_agent[AGENT] == 3
    # the default cap on output tokens reaches every model call (issue 9.9)
    assert [body["max_output_tokens"] for body in model.stats().bodies(AGENT)] == [DEFAULT_MAX_OUTPUT_TOKENS] * 3


async def test_an_agent_that_talks_while_calling_a_tool_reads_its_own_words_next(host, model):
    """The model's text beside a tool call reaches its next call as it said it (it arrived as
    "ValidatorIterator(index=0, schema=...)": run_model.call_model says why)."""
    model.reset()
    model.script({AGENT: [
        {"text": "Let me compute that first.", "tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        {"text": "It is 42."},
    ]})
    async with connect(host) as client:
        done = await wait_until(client, (await call(client, "run_agent", task="Compute 6*7",
                                                    tools=["calculate"]))["job_id"])
    assert done["output"]["final_output"] == "It is 42.", done
    said = [item for item in model.stats().bodies(AGENT)[1]["input"] if item.get("role") == "assistant"]
    assert [part["text"] for part in said[0]["content"]] == ["Let me compute that first."], said


async def test_job_status_over_sse_and_http_polling(host, model):
    model.reset()
    model.script({AGENT: [{"text": "plain answer"}]})
    async with connect(host, sse=True) as client:
        job = await call(client, "run_agent", task="Say something")
        done = await wait_until(client, job["job_id"])
    assert done["output"]["final_output"] == "plain answer"
    response = httpx.get(done["links"]["status_url"], params={"code": host.durable_key})  # links carry no key
    assert response.status_code == 200 and response.json()["runtimeStatus"] == "Completed"


async def test_bad_input_gets_clear_tool_errors(host):
    async with connect(host) as client:
        assert "Unknown job" in await call_error(client, "get_job", job_id="0123456789abcdef")
        assert "Argument 'job_id' is" in await call_error(client, "get_job", job_id="../etc/passwd")
        assert "contains \"rm_rf\"" in await call_error(client, "run_agent", task="x", tools=["rm_rf"])
        assert "Argument 'task' is blank" in await call_error(client, "run_agent", task="   ")
        assert "Argument 'status' is" in await call_error(client, "list_jobs", status="sleeping")
        listed = await call(client, "list_jobs", limit=2)
        assert len(listed["jobs"]) <= 2


async def test_list_jobs_filters_and_pages(host, model):
    model.reset()
    model.script({AGENT: [{"text": "ok", "repeat": True}]})
    async with connect(host) as client:
        ids = [(await call(client, "run_agent", task=f"job {i}"))["job_id"] for i in range(3)]
        for job_id in ids:
            await wait_until(client, job_id)
        seen, cursor = [], None
        while True:
            page = await call(client, "list_jobs", status="completed", workflow="run_agent", limit=2,
                              **({"cursor": cursor} if cursor else {}))
            seen += [job["job_id"] for job in page["jobs"]]
            assert all(job["status"] == "completed" for job in page["jobs"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert set(ids) <= set(seen)


async def test_cancel_a_running_job(host, model):
    model.reset()
    # its own model name: on Azure the canceled job's in-flight model call goes on retrying (activities
    # are not interrupted there; the local host cancels it) and must not eat other tests' turns
    model.script({"cancel-model": [{"text": "never reached"}]})
    model.fail_next("cancel-model", 429, count=50, retry_after=1)
    async with connect(host) as client:
        job = await call(client, "run_agent", task="wait for me", model="cancel-model")
        await asyncio.sleep(1)
        canceled = await call(client, "cancel_job", job_id=job["job_id"], reason="changed my mind")
        assert canceled["status"] == "canceled" and "changed my mind" in canceled["error"]
        assert canceled["progress"]["stage"] == "canceled", canceled
        assert canceled["progress"]["message"].startswith("canceled at step 'running': changed my mind")
        # idempotent, as annotated: a repeated cancel changes nothing and returns the status
        again = await call(client, "cancel_job", job_id=job["job_id"], reason="again")
        assert again["status"] == "canceled" and again["error"] == canceled["error"]
        # nothing to retry in a canceled job; a running or completed one comes back as it is
        assert "only a failed job can be retried" in await call_error(client, "retry_job", job_id=job["job_id"])


async def test_provider_errors_fail_fast_and_retry_job_resumes(host, model):
    model.reset()
    model.script({AGENT: calculator_turns()})
    async with connect(host) as client:
        first = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        done = await wait_until(client, first["job_id"])
        assert done["status"] == "completed"
        model.reset()
        model.script({AGENT: calculator_turns()})
        model.fail_next(AGENT, 401, count=1)
        job = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        failed = await wait_until(client, job["job_id"])
        assert failed["status"] == "failed"
        # one sentence: the step, the reason, what retry_job does; the progress keeps its stage (issue 9.4)
        # and says what ended the job
        assert failed["error"] == (
            "run_agent failed at step 'running' (model call 1): model request failed with HTTP 401: fake model "
            f"server: injected 401 for agent '{AGENT}'. retry_job runs the failed step again; the steps that "
            "finished are not repeated.")
        assert failed["progress"] == {"stage": "running", "completed": 1, "message": (
            f"failed: model request failed with HTTP 401: fake model server: injected 401 for agent '{AGENT}'")}
        assert model.stats().by_agent[AGENT] == 1, "a 401 must not be retried"
        retried = await call(client, "retry_job", job_id=job["job_id"])
        assert retried["status"] != "failed"
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed" and done["output"]["final_output"] == "The answer is 35."


async def test_each_failed_model_request_is_logged_once_at_its_level(host, model):
    """Two 429s then success: one WARNING per retry with its wait, none of the Agents SDK's
    "ERROR openai.agents: Error getting response" beside it; a 401: one ERROR line."""
    model.reset()
    model.script({"limited-model": [{"text": "fine", "repeat": True}]})
    model.fail_next("limited-model", 429, count=2, retry_after=0.05)
    start = len(host.log())
    async with connect(host) as client:
        job = await call(client, "run_agent", task="hello", model="limited-model")
        assert (await wait_until(client, job["job_id"]))["status"] == "completed"
        model.fail_next("limited-model", 401, count=1)
        job = await call(client, "run_agent", task="hello", model="limited-model")
        assert (await wait_until(client, job["job_id"]))["status"] == "failed"
    lines = host.log()[start:].splitlines()
    assert not [line for line in lines if "Error getting response" in line], lines
    retries = [line for line in lines if "model call failed (" in line]
    assert len(retries) == 2 and all(" WARNING orchestrations.agents.run_model: " in line for line in retries)
    assert "HTTP 429" in retries[0] and "; retry 1 of 5 in " in retries[0] and "; retry 2 of 5 in " in retries[1]
    [final] = [line for line in lines if "model call failed: " in line]
    assert " ERROR orchestrations.agents.run_model: model call failed: model request failed with HTTP 401" in final
    # and no INFO line for each model request (httpx2), nor the Durable library's df_loads notice
    assert "INFO httpx2" not in host.log() and "df_loads was called" not in host.log()


async def test_rate_limit_storm_still_completes(host, model):
    model.reset()
    model.script({AGENT: calculator_turns()})
    model.fail_randomly(0.3, 429, seed=7, retry_after=0.05)
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        done = await wait_until(client, job["job_id"], timeout=120)
    stats = model.stats()
    model.reset()
    assert done["status"] == "completed", done
    assert done["output"]["final_output"] == "The answer is 35."
    assert stats.by_status.get(429, 0) >= 1


async def test_crash_between_model_calls_repeats_no_recorded_call(tmp_path, model, site):
    model.reset()
    model.script({AGENT: two_reads_script(site.base, "/fast-crash", "/slow-crash")})
    host = project_host(tmp_path / "state", model, site).start()
    done, calls_before = await killed_during_second_read(host, model, site, AGENT, "/slow-crash")
    assert done["status"] == "completed", done
    assert "page /fast-crash" in done["output"]["final_output"]
    assert calls_before == 2
    assert model.stats().by_agent[AGENT] == 3, "a recorded model call was made again"
    assert site.hits["/fast-crash"] == 1, "a recorded tool call was made again"
    assert site.hits["/slow-crash"] in (1, 2)  # in flight at the kill: at least once


async def test_concurrent_agents_get_their_own_answers(host, model):
    """Agent orchestrators replayed at the same time in different threads must not share a runner
    (the SDK's default runner is process-wide); each job must see only its own model's answers."""
    model.reset()
    names = [f"parallel-{i}" for i in range(8)]
    model.script({name: [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": f"{i}*100"}}]},
        lambda request: {"text": f"result {request.tool_outputs()[-1]}"},
    ] for i, name in enumerate(names)})
    async with connect(host) as client:
        jobs = await asyncio.gather(*(call(client, "run_agent", task="go", tools=["calculate"], model=name)
                                      for name in names))
        done = [await wait_until(client, job["job_id"]) for job in jobs]
    assert [job["output"]["final_output"] for job in done] == [f"result {i * 100}" for i in range(8)]


async def test_list_jobs_refuses_a_malformed_cursor(host):
    async with connect(host) as client:
        assert "is not a cursor list_jobs returned" in await call_error(client, "list_jobs", cursor="not-a-cursor")


async def test_model_settings_reach_every_agent_and_the_log_says_which_model(tmp_path, model, site):
    """MODEL_MAX_OUTPUT_TOKENS and MODEL_TEMPERATURE apply to every agent of every workflow (issue 9.9),
    and the host log says which model is configured, without secrets (issue 9.10)."""
    model.reset()
    model.script({
        "settings-model": [{"text": "agent answer"}],
        "swarm-planner": [{"json": {"contract": "c", "tasks": [{"id": 1, "title": "t", "instructions": "do"}]}}],
        "swarm-worker-1": [{"json": {"status": "done", "result": "r"}}],
        "swarm-judge": [{"json": {"score": 95, "complaints": []}}],
    })
    host = project_host(tmp_path / "state", model, site, MODEL_MAX_OUTPUT_TOKENS="300", MODEL_TEMPERATURE="0.2",
                        OPENAI_API_MODE="chat_completions").start()
    try:
        async with connect(host) as client:
            agent = await call(client, "run_agent", task="answer", model="settings-model")
            swarm = await call(client, "run_swarm", goal="do it")
            done = [await wait_until(client, job["job_id"]) for job in (agent, swarm)]
    finally:
        host.stop()
    assert [job["status"] for job in done] == ["completed", "completed"], done
    bodies = model.stats().bodies()
    assert len(bodies) == 4
    assert {(body["max_tokens"], body["temperature"]) for body in bodies} == {(300, 0.2)}
    model_lines = [line for line in host.log().splitlines() if "orchestrations.agents.model_config" in line]
    assert len(model_lines) == 1 and model_lines[0].endswith(
        f"model configured: openai-compatible ({model.base_url}), model fake-model, api chat_completions, "
        "max output tokens 300, temperature 0.2"), model_lines
    assert "test-key" not in host.log()
