"""Every payload the app produces stays under the Durable limit as the engine counts it, for any script
(issue 21 §2): the project's app on the real host, whose limit is Azure's, driven by the official MCP
client; the model is the scripted server and the pages a loopback site."""
from __future__ import annotations

import json

from orchestrations.agents.model_payloads import EARLIER_PART_BYTES
from orchestrations.payloads import (MODEL_INPUT_BUDGET_BYTES, MODEL_TEXT_BUDGET_BYTES, PAYLOAD_BUDGET_BYTES,
                                     input_bytes, model_input_bytes, result_bytes)
import pytest

from testing import multibyte
from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until
from testing.model_scripts import code_swarm as todo

AGENT = "fake-model"  # run_agent's scripts are keyed by model


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site):
    """The project's app, its own data (bookings, workspaces) in a temporary folder."""
    process = project_host(tmp_path_factory.mktemp("payload-sizes"), model, site,
                           APP_DATA_DIR=str(tmp_path_factory.mktemp("payload-appdata"))).start()
    yield process
    process.stop()


def fetch(url: str) -> dict:
    return {"tool_calls": [{"name": "fetch_url", "arguments": {"url": url}}]}


async def test_fetch_url_cuts_a_large_page_to_what_the_conversation_can_carry(host, model, site):
    """A 1.3 MB Japanese page failed the job: the tool read 1,000,000 bytes, and its result was 2 MB as
    the worker escapes it (and the next model call's input 2.3 MB as Azure stores it)."""
    kinds = ("japanese", "emoji", "escapes")
    urls = [site.serve(f"/large-{kind}", multibyte.text(kind, 1_300_000).encode()) for kind in kinds]
    seen: list[str] = []  # each tool result, as the next model call got it

    def then(turn):
        def record(request):
            seen.append(request.tool_outputs()[-1])
            return turn
        return record

    model.reset()
    model.script({AGENT: [fetch(urls[0]), then(fetch(urls[1])), then(fetch(urls[2])), then({"text": "read them all"})]})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Read three pages", tools=["fetch_url"])
        done = await wait_until(client, job["job_id"], timeout=60)
    assert done["status"] == "completed", done.get("error")
    assert done["output"]["final_output"] == "read them all"
    assert len(seen) == 3
    for kind, output in zip(kinds, seen):
        assert model_input_bytes(output) <= MODEL_TEXT_BUDGET_BYTES
        assert "[cut: the page has " in output and "to keep it within the Durable payload limit]" in output
        assert multibyte.SAMPLES[kind] * 3 in output  # the start of the page is there
        assert output.endswith("[truncated: the response is longer than 1000000 bytes; only the first 1000000 "
                               "were read]")


async def test_a_long_agent_run_cuts_its_oldest_tool_results(host, model, site):
    """Five large pages, each within a tool result's budget, are more than one model call's input can
    carry: the fifth call's input was 1.5 MB and failed the job. The oldest results are cut instead."""
    urls = [site.serve(f"/long-run-{n}", multibyte.text("japanese", 1_300_000).encode()) for n in range(5)]
    seen: list[list[str]] = []

    def answer(request):
        seen.append(request.tool_outputs())
        return {"text": "done reading"}

    model.reset()
    model.script({AGENT: [fetch(url) for url in urls] + [answer]})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Read five pages", tools=["fetch_url"])
        done = await wait_until(client, job["job_id"], timeout=90)
    assert done["status"] == "completed", done.get("error")
    outputs = seen[0]
    assert len(outputs) == 5
    assert "[cut: this earlier tool result has " in outputs[0]  # the oldest, cut to a short beginning
    assert model_input_bytes(outputs[0]) <= EARLIER_PART_BYTES
    assert "[cut: this earlier tool result" not in outputs[-1]  # the latest, whole
    assert all(model_input_bytes(body) <= MODEL_INPUT_BUDGET_BYTES for body in model.stats().bodies(AGENT))


async def test_a_model_answer_over_the_limit_is_cut(host, model):
    """A model's 1.35 MB Japanese answer (possible with MODEL_MAX_OUTPUT_TOKENS=0) was a 3.2 MB
    run_model result and failed the job; its text is cut, and so is the job's output."""
    model.reset()
    model.script({AGENT: [{"text": multibyte.text("japanese", 1_350_000)}]})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Write a long story")
        done = await wait_until(client, job["job_id"], timeout=60)
    assert done["status"] == "completed", done.get("error")
    final = done["output"]["final_output"]
    assert final.startswith(multibyte.SAMPLES["japanese"] * 10)
    assert "[cut: this text has " in final and input_bytes(done["output"]) <= PAYLOAD_BUDGET_BYTES


async def test_a_tool_call_too_large_for_its_activity_fails_clearly(host, model):
    """A tool call whose arguments no activity input can carry (100,000 emoji: 1.4 MB as the tool's
    input) fails the model call with the reason, not with the engine's refusal of the tool's input."""
    model.reset()
    model.script({AGENT: [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "😀" * 100_000}}]}]})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute", tools=["calculate"])
        done = await wait_until(client, job["job_id"], timeout=60)
    assert done["status"] == "failed"
    assert "the model called calculate with arguments of 1,400," in done["error"]
    assert "lower MODEL_MAX_OUTPUT_TOKENS" in done["error"]


def report(result: str) -> dict:
    return {"json": {"status": "done", "result": result}}


def verdict(score: int) -> dict:
    return {"json": {"score": score, "complaints": []}}


async def test_a_swarm_of_large_multibyte_parts_is_judged_and_reported(host, model):
    """Five workers' parts of 100 kB each, in five scripts: the judge's input was 1.4 MB and the output
    (every part, twice) over the limit; the judge now reads the result cut, and the output fits."""
    kinds = multibyte.KINDS
    judged: list[str] = []

    def judge(request):
        judged.append(request.user_text())
        return verdict(90)

    model.reset()
    model.script({
        "swarm-planner": [{"json": {"contract": "Each part is one section of the report.", "tasks": [
            {"id": n, "title": kind, "instructions": f"Write the {kind} part."} for n, kind in enumerate(kinds, 1)]}}],
        **{f"swarm-worker-{n}": [report(multibyte.text(kind, 100_000))] for n, kind in enumerate(kinds, 1)},
        "swarm-judge": [judge],
    })
    async with connect(host) as client:
        job = await call(client, "run_swarm", goal="A report in five scripts", max_workers=5)
        done = await wait_until(client, job["job_id"], timeout=120)
    assert done["status"] == "completed", done.get("error")
    out = done["output"]
    assert out["score"] == 90 and out["gaps"] == []
    assert "[cut: the result has " in judged[0] and model_input_bytes(judged[0]) <= MODEL_INPUT_BUDGET_BYTES
    assert result_bytes(out) <= PAYLOAD_BUDGET_BYTES
    assert out["result"].startswith("# A report in five scripts") and "[cut: this text has " in json.dumps(out)


async def test_a_trip_of_large_multibyte_proposals_is_kept_and_booked(host, model):
    """Agents that write 200 kB each: the third agent's input was 1.2 MB and failed the job. Each part is
    cut for the next agents, the proposal is kept, and a 64 kB comment of emoji is booked with it."""
    seen: list[str] = []

    def local(request):
        seen.append(request.user_text())
        return {"text": multibyte.text("escapes", 200_000)}

    model.reset()
    model.script({"trip-destinations": [{"text": multibyte.text("japanese", 200_000)}],
                  "trip-itinerary": [{"text": multibyte.text("emoji", 200_000)}],
                  "trip-local": [local]})
    comment = "😀" * 16_000  # 64,000 bytes of UTF-8, about the most send_job_input takes: 224,000 as event data
    async with connect(host) as client:
        job = await call(client, "plan_trip", request="日本の旅 🚄")
        job = await wait_until(client, job["job_id"], statuses=("waiting_for_input", "completed", "failed"),
                               timeout=120)
        assert job["status"] == "waiting_for_input", job.get("error")
        assert set(job["input_request"]["details"]) == {"destination", "itinerary", "local_recommendations"}
        await call(client, "send_job_input", job_id=job["job_id"], event="approval",
                   data={"approved": True, "comment": comment})
        done = await wait_until(client, job["job_id"], timeout=60)
    assert done["status"] == "completed", done.get("error")
    assert model_input_bytes(seen[0]) <= MODEL_INPUT_BUDGET_BYTES and "[cut: this text has " in seen[0]
    assert done["output"]["decision"]["comment"] == comment
    assert done["output"]["booking"]["reference"].startswith("TRIP-")
    assert result_bytes(done["output"]) <= PAYLOAD_BUDGET_BYTES


async def test_launcher_inputs_at_their_bounds_fit_in_every_script(host, model):
    """A task and instructions of 20,000 characters each (the launchers' bound) are at most 563 kB as the
    orchestration input and in the model call's input, whatever the characters: the agent gets them whole."""
    got: list[dict] = []

    def answer(request):
        got.append(request.body)
        return {"text": "ok"}

    model.reset()
    model.script({AGENT: [answer, answer]})
    async with connect(host) as client:
        for task, instructions in (("😀" * 20_000, "\x01" * 20_000), ('"\\' * 10_000, "日" * 20_000)):
            job = await call(client, "run_agent", task=task, instructions=instructions)
            done = await wait_until(client, job["job_id"], timeout=60)
            assert done["status"] == "completed", done.get("error")
            assert got[-1]["input"][0]["content"] == task and got[-1]["instructions"] == instructions


async def test_a_code_swarm_whose_merge_conflicts_are_large_and_multibyte_completes(host, model):
    """Two workers write the same files: a small one and two of 150 kB of Japanese. The merge's conflicts
    were within its 600,000 characters but 1.2 MB as its result, which failed the job. Now the small
    conflict goes to the integrator and the large ones stay unresolved, named as gaps."""
    def source(name: str, variant: str, size: int) -> str:
        return f'{name} = """{variant}{multibyte.text("japanese", size)}"""\n'

    def worker(variant: str) -> list:
        """Writes the files one a turn (arguments as a model sends them, UTF-8), then reports."""
        files = [(path, source(f"{variant}_{n}", variant, 600 if n == 0 else 150_000)) for n, path in enumerate(paths)]

        def turn(request):
            written = len(request.tool_outputs())
            if written == len(files):
                return report("wrote the files")
            path, content = files[written]
            arguments = json.dumps({"path": path, "content": content}, ensure_ascii=False)
            return {"tool_calls": [{"name": "write_file", "arguments": arguments}]}
        return todo.always(turn)

    def integrator(request):
        prompt = request.user_text()
        return {"json": {"content": todo.section(prompt, "ours") + todo.section(prompt, "theirs")}}

    paths = ["a_small.py", "big1.py", "big2.py"]
    model.reset()
    model.script({
        "code-planner": todo.always(lambda request: {"json": {
            "contract": "Modules of constants.", "modules": [{"path": path, "symbols": []} for path in paths],
            "tasks": [{"id": "a", "title": "A", "instructions": "Write the files.", "files": paths[:2]},
                      {"id": "b", "title": "B", "instructions": "Write the files.", "files": paths[2:]}]}}),
        "code-worker-a": worker("ours"),
        "code-worker-b": worker("theirs"),
        "code-integrator": todo.always(integrator),
        "code-judge": todo.always(lambda request: verdict(90)),
        "code-fixer": todo.always(lambda request: {"text": "nothing to fix"}),
    })
    async with connect(host) as client:
        job = await call(client, "run_code_swarm", goal="Constants in Japanese", max_workers=2)
        done = await wait_until(client, job["job_id"], timeout=300)
    assert done["status"] == "completed", done.get("error")
    out = done["output"]
    assert [part["status"] for part in out["branches"]] == ["done", "done"]
    conflicts = {c["path"]: c["status"] for c in out["merges"][1]["conflicts"]}
    assert conflicts == {"a_small.py": "resolved", "big1.py": "unresolved", "big2.py": "unresolved"}
    assert sorted(gap.get("file") for gap in out["gaps"]) == ["big1.py", "big2.py"]
    assert all("too large to hand to the integrator" in gap["reason"] for gap in out["gaps"])
    assert result_bytes(out) <= PAYLOAD_BUDGET_BYTES
