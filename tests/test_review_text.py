"""README "Add your own job": the `review_text` module exactly as the README shows it, dropped into a copy of
the app, is a job with the whole toolset, on the real host with the scripted model
(testing/model_scripts/review_text.py). The code block is read from README.md, so the README cannot drift."""
from __future__ import annotations

import json
import re

import httpx
import pytest
from pydantic import BaseModel

from orchestrations.agents.structured import answer_instructions
from testing.app_copy import app_copy
from testing.fake_model_server import load_script
from testing.host_process import PROJECT_ROOT, HostProcess
from testing.mcp_client import call, connect, wait_until
from testing.model_scripts.review_text import EDITED, REMARKS

pytestmark = pytest.mark.job("review_text")  # make test-job JOB=review_text

TEXT = "They shipped it. It was late and nobody knew who would test it before the release went out."


def readme_module() -> tuple[str, str]:
    """(path in the app, source) of the README's job module: the python block that starts with its path."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Add your own job", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n# (orchestrations/\w+\.py)\n(.*?)```", section, re.DOTALL)
    assert block, "README 'Add your own job' has no python block starting with '# orchestrations/<module>.py'"
    return block.group(1), block.group(2)


def registration_lines(source: str) -> list[str]:
    """The lines that declare the job (the blueprint and the decorators that use it)."""
    return [line for line in source.splitlines() if re.match(r"\s*(bp = JobBlueprint\(\)|@bp\.)", line)]


@pytest.fixture(scope="module")
def host(tmp_path_factory, model):
    path, source = readme_module()
    app = app_copy(tmp_path_factory.mktemp("app"), {path: source})
    model.reset()
    model.script(load_script("review_text"))
    state = tmp_path_factory.mktemp("review-text")
    process = HostProcess(app, state, env={"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key",
                                           "OPENAI_DEFAULT_MODEL": "fake-model"}).start()
    yield process
    process.stop()


def test_the_readme_job_is_one_module_with_three_lines_of_registration():
    path, source = readme_module()
    assert path == "orchestrations/review_text.py"
    assert len(registration_lines(source)) == 3, registration_lines(source)


async def test_review_text_runs_with_the_whole_toolset(host, model):
    async with connect(host) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        launcher = tools["review_text"]
        job = await call(client, "review_text", text=TEXT, idempotency_key="review-1")
        again = await call(client, "review_text", text=TEXT, idempotency_key="review-1")
        done = await wait_until(client, job["job_id"])
        listed = await call(client, "list_jobs", workflow="review_text")
        resource = await client.read_resource(f"job://{job['job_id']}")
    # the launcher, from the signature and the docstring
    assert launcher.title == "Review a text"
    assert launcher.description == "Review a text for one focus, then edit it to answer the review."
    properties = launcher.input_schema["properties"]
    assert properties["text"]["description"] == "Required. The text to review." and properties["text"]["maxLength"] == 50_000
    assert properties["focus"]["default"] == "clarity" and properties["focus"]["maxLength"] == 20_000
    assert set(properties) == {"text", "focus", "budget", "idempotency_key"}
    assert tools["list_jobs"].input_schema["properties"]["workflow"]["enum"].count("review_text") == 1
    # the job: idempotent launch, two agents, the tool's result in the reviewer's answer, progress, output
    assert again["job_id"] == job["job_id"] and job["workflow"] == "review_text"
    assert done["status"] == "completed", done
    words = len(TEXT.split())
    assert done["output"] == {"review": {"words": words, "remarks": REMARKS}, "text": EDITED}
    assert done["progress"] == {"stage": "completed", "message": "edited after 2 remarks"}
    assert [item["job_id"] for item in listed["jobs"]] == [job["job_id"]]
    assert '"workflow": "review_text"' in resource.contents[0].text
    assert model.stats().by_agent == {"reviewer": 2, "editor": 1}
    served = model.stats().usage()  # a job users add reports its usage (issue 19): what the model server returned
    assert {name: done["usage"][name] for name in served} == served and served["input_tokens"] > 0
    assert {agent["agent"] for agent in done["usage"]["agents"]} == {"reviewer", "editor"}
    editor_prompt = model.stats().bodies("editor")[0]["input"][-1]["content"]
    assert all(remark in str(editor_prompt) for remark in REMARKS)


def test_review_text_has_the_http_starter_and_the_job_view(host, model):
    model.reset()
    model.script(load_script("review_text"))
    key = {"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"]}
    refused = httpx.post(f"{host.base_url}/api/jobs/review_text", json={"text": " "}, headers=key)
    started = httpx.post(f"{host.base_url}/api/jobs/review_text", json={"text": TEXT, "focus": "tone"}, headers=key)
    page = httpx.get(f"{host.base_url}/api/job-view")
    assert refused.status_code == 400 and refused.json() == {
        "error": "Argument 'text' is blank (only whitespace). Allowed: text of at most 50,000 characters."}
    assert started.status_code == 202, started.text
    status = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{started.json()['id']}",
                       params={"code": host.durable_key}).json()
    assert status["name"] == "review_text_workflow" and json.loads(status["input"]) == {"text": TEXT, "focus": "tone"}
    assert '"review_text"' in page.text  # the view's workflow filter lists it


def test_an_output_model_without_a_docstring_can_be_asked_for():
    """An agent with tools is told its answer's fields in its instructions (orchestrations/agents/structured.py),
    with the model's docstring when it has one: a user's model without one failed the step."""

    class Bare(BaseModel):
        score: int

    assert answer_instructions(Bare).endswith('with one JSON object with the keys "score".')


async def test_review_text_has_a_budget_it_asks_to_raise(host, model):
    """A job users add takes a budget and asks when it is reached (issue 19 §2); raised, it completes with
    no call made twice."""
    model.reset()
    model.script(load_script("review_text"))
    async with connect(host) as client:
        job = await call(client, "review_text", text=TEXT, budget={"tokens": 1})
        waiting = await wait_until(client, job["job_id"], statuses=("waiting_for_input", "completed", "failed"))
        assert waiting["status"] == "waiting_for_input" and waiting["input_request"]["event"] == "budget", waiting
        await call(client, "send_job_input", job_id=job["job_id"], event="budget",
                   data={"action": "raise", "new_budget": 1_000_000})
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed", done
    assert model.stats().by_agent == {"reviewer": 2, "editor": 1}
    assert model.stats().usage(repeated=True) == model.stats().usage()
