"""Every payload the app produces stays under the Durable limit as the engine counts it, for any script
(issue 21 §2): the project's app on the real host, whose limit is Azure's, driven by the official MCP
client; the model is the scripted server and the pages a loopback site."""
from __future__ import annotations

from orchestrations.payloads import MODEL_TEXT_BUDGET_BYTES, model_input_bytes
from testing import multibyte
from testing.mcp_client import call, connect, wait_until

AGENT = "fake-model"  # run_agent's scripts are keyed by model


async def test_fetch_url_cuts_a_large_page_to_what_the_conversation_can_carry(host, model, site):
    """A 1.3 MB Japanese page failed the job: the tool read 1,000,000 bytes, and its result was 2 MB as
    the worker escapes it (and the next model call's input 2.3 MB as Azure stores it)."""
    kinds = ("japanese", "emoji", "escapes")
    urls = [site.serve(f"/large-{kind}", multibyte.text(kind, 1_300_000).encode()) for kind in kinds]
    seen: list[str] = []

    def answer(request):
        seen.extend(request.tool_outputs())
        return {"text": "read them all"}

    model.reset()
    model.script({AGENT: [{"tool_calls": [{"name": "fetch_url", "arguments": {"url": url}}]} for url in urls]
                 + [answer]})
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
