"""The job view in a real headless Chromium against the real host: the jobs list with filters, a
swarm's step timeline, approving a waiting trip from the page, cancel and retry buttons, the page's
key handling, and the same view as an MCP App in a host frame that proxies to the real MCP server.

Set JOB_VIEW_SCREENSHOTS=<folder> to keep the screenshots (the README's come from docs/)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from testing.fake_model_server import load_script
from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until

WAITING = ("waiting_for_input", "completed", "failed", "canceled")
UI_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site):
    model.reset()
    model.script(load_script("demo"))  # canned answers for every agent of every workflow
    appdata = tmp_path_factory.mktemp("appdata")
    process = project_host(tmp_path_factory.mktemp("job-view"), model, site, APP_DATA_DIR=str(appdata)).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("JOB_VIEW_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
async def page(browser, host):
    """A fresh tab on the view, with the function key handed over in the URL fragment."""
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    await tab.goto(f"{host.base_url}/api/job-view#code={host.env['FUNCTIONS_DEFAULT_KEY']}")
    yield tab
    await context.close()
    assert errors == [], errors


async def open_job(page, job_id: str) -> None:
    await page.evaluate("id => { location.hash = '#/jobs/' + id; }", job_id)
    await page.wait_for_selector(f"#job-title:has-text('{job_id}')", timeout=UI_TIMEOUT_MS)


async def wait_for_status(page, status: str) -> None:
    await page.wait_for_selector(f"#job-status.status-{status}", timeout=UI_TIMEOUT_MS)


async def start(client, workflow: str, **arguments) -> dict:
    return await call(client, workflow, **arguments)


def view_get(host, path: str, key: str | None = "default") -> httpx.Response:
    headers = {"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"]} if key else {}
    return httpx.get(f"{host.base_url}/api/job-view{path}", headers=headers, timeout=30)


async def test_the_page_holds_no_key_and_its_data_needs_one(host):
    response = view_get(host, "", key=None)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert host.env["FUNCTIONS_DEFAULT_KEY"] not in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy and "connect-src 'self'" in policy
    assert view_get(host, "/jobs", key=None).status_code == 401
    assert view_get(host, "/jobs").json()["jobs"] is not None
    in_query = httpx.get(f"{host.base_url}/api/job-view/jobs", params={"code": host.env["FUNCTIONS_DEFAULT_KEY"]})
    assert in_query.status_code == 200 and in_query.json()["jobs"] is not None, in_query.text  # ?code= is the key
    unknown = view_get(host, "/jobs/no-such-job")
    assert unknown.status_code == 404 and "Unknown job" in unknown.json()["error"]
    assert view_get(host, "/jobs/bad%20id!").status_code == 400
    assert view_get(host, "/jobs?status=sleeping").json()["error"].startswith("Argument 'status'")
    headers = {"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"], "content-type": "application/json"}
    posted = httpx.post(f"{host.base_url}/api/job-view/jobs/no-such-job/input", content=b"{", headers=headers)
    assert posted.status_code == 400 and posted.json()["error"] == "The request body must be JSON."
    posted = httpx.post(f"{host.base_url}/api/job-view/jobs/no-such-job/explode", content=b"{}", headers=headers)
    assert posted.status_code == 400 and posted.json()["error"].startswith("Unknown action 'explode'")


async def test_a_page_without_the_key_asks_for_it(browser, host):
    context = await browser.new_context()
    tab = await context.new_page()
    await tab.goto(f"{host.base_url}/api/job-view")
    await tab.wait_for_selector("#key-form:not([hidden])", timeout=UI_TIMEOUT_MS)
    await tab.fill("#key-input", "not-the-key")
    await tab.click("#key-entry button")
    await tab.wait_for_selector("#key-error:has-text('not accepted')", timeout=UI_TIMEOUT_MS)
    await tab.fill("#key-input", host.env["FUNCTIONS_DEFAULT_KEY"])
    await tab.click("#key-entry button")
    await tab.wait_for_selector("#list-view:not([hidden])", timeout=UI_TIMEOUT_MS)
    assert "code=" not in tab.url
    await context.close()


async def test_the_list_loads_and_filters(host, page, shots):
    async with connect(host) as client:
        agent = await start(client, "run_agent", task="Say hello")
        trip = await start(client, "plan_trip", request="A weekend in Lisbon by train")
        agent = await wait_until(client, agent["job_id"])
        trip = await wait_until(client, trip["job_id"], statuses=WAITING)
    assert agent["status"] == "completed" and trip["status"] == "waiting_for_input", (agent, trip)
    assert trip["links"]["view_url"].endswith(f":{host.port}/api/job-view#/jobs/{trip['job_id']}")
    assert "code=" not in trip["links"]["view_url"]
    # The list polls: a page that loaded while the agent still ran shows it completed on a later poll.
    for job_id, badge in ((agent["job_id"], "completed"), (trip["job_id"], "waiting for input")):
        await page.wait_for_selector(f"tr[data-job-id='{job_id}'] .badge:text-is('{badge}')", timeout=UI_TIMEOUT_MS)
    await page.screenshot(path=shots / "job-view-list.png")

    await page.select_option("#filter-workflow", "plan_trip")
    await page.wait_for_selector(f"tr[data-job-id='{agent['job_id']}']", state="detached", timeout=UI_TIMEOUT_MS)
    workflows = await page.locator("#jobs-table tbody tr td:nth-child(2)").all_inner_texts()
    assert workflows and set(workflows) == {"plan_trip"}
    await page.select_option("#filter-workflow", "")
    await page.select_option("#filter-status", "completed")
    await page.wait_for_selector(f"tr[data-job-id='{trip['job_id']}']", state="detached", timeout=UI_TIMEOUT_MS)
    assert await page.locator(f"tr[data-job-id='{agent['job_id']}']").count() == 1

    await page.click(f"tr[data-job-id='{agent['job_id']}'] a")
    await page.wait_for_selector(f"#job-title:has-text('{agent['job_id']}')", timeout=UI_TIMEOUT_MS)


async def test_a_swarm_timeline_shows_its_steps(host, page, shots):
    async with connect(host) as client:
        job = await start(client, "run_swarm", goal="Plan a two-day offsite for 12 people with 4800 EUR",
                          max_workers=3)
        await open_job(page, job["job_id"])  # live from the start: the page polls while it runs
        job = await wait_until(client, job["job_id"])
    assert job["status"] == "completed", job
    await wait_for_status(page, "completed")
    top = page.locator("#timeline > .group > .step .label, #timeline > .step .label")
    labels = await top.all_inner_texts()
    assert labels[0] == "agent swarm-planner" and labels[-1] == "agent swarm-judge", labels
    assert sum(label.startswith("swarm_worker: ") for label in labels) == len(job["output"]["plan"]["tasks"])
    assert labels.count("agent swarm-judge") == job["output"]["rounds"] + 1

    figures = page.locator(".group", has=page.locator(".label", has_text="swarm_worker: Key figures")).first
    nested_agents = figures.locator(".children > .group > .step[data-kind='agent']")
    assert await nested_agents.count() == job["output"]["contributions"][0]["attempts"] == 2  # the nudge
    tool = figures.locator(".step[data-kind='tool_call']").first
    assert await tool.locator(".label").inner_text() == "calculate"
    assert (await tool.locator(".out").inner_text()).startswith("out: ")
    assert await page.locator(".step[data-kind='model_call']").count() >= 6
    assert await page.locator(".step[data-status='failed']").count() == 0
    await page.screenshot(path=shots / "job-view-swarm.png", full_page=True)


async def test_approving_a_waiting_trip_from_the_page_completes_it(host, page):
    async with connect(host) as client:
        job = await start(client, "plan_trip", request="A long weekend in spring, trains only, good food")
        await open_job(page, job["job_id"])
        await page.wait_for_selector("#input-request:not([hidden]) button[data-action='approve']",
                                     timeout=UI_TIMEOUT_MS)
        assert "Approve the proposed trip" in await page.locator("#input-prompt").inner_text()
        assert "destination: (scripted demo answer)" in await page.locator("#input-details").inner_text()
        await page.fill("#input-form input[name='comment']", "window seats, please")
        await page.click("button[data-action='approve']")
        await wait_for_status(page, "completed")
        done = await call(client, "get_job", job_id=job["job_id"])
    assert done["status"] == "completed", done
    assert done["output"]["decision"] == {"approved": True, "comment": "window seats, please"}
    assert done["output"]["booking"]["reference"].startswith("TRIP-")
    assert await page.locator("#input-request").is_hidden()
    assert "booked" in await page.locator("#job-message").inner_text()


async def test_cancel_and_retry_buttons(host, page, model):
    async with connect(host) as client:
        trip = await start(client, "plan_trip", request="A week in Norway")
        await wait_until(client, trip["job_id"], statuses=WAITING)
        await open_job(page, trip["job_id"])
        await page.click("#cancel-button")
        await wait_for_status(page, "canceled")
        assert (await call(client, "get_job", job_id=trip["job_id"]))["status"] == "canceled"
        assert await page.locator("#cancel-button").is_hidden()

        model.fail_next("*", 400, message="the model refused")
        failed = await start(client, "run_agent", task="Say hello again")
        failed = await wait_until(client, failed["job_id"])
        assert failed["status"] == "failed", failed
        await open_job(page, failed["job_id"])
        assert "the model refused" in await page.locator("#job-output").inner_text()
        await page.click("#retry-button")
        await wait_for_status(page, "completed")
        assert (await call(client, "get_job", job_id=failed["job_id"]))["status"] == "completed"


async def test_an_unknown_job_shows_no_such_job_and_nothing_of_the_job_before(host, page):
    """Opening a link to an unknown (or malformed) job id, or switching to one from a job on screen,
    shows the "No such job" state with the host's reason: none of the previous job's title, status,
    output or steps stays on the page. Switching back shows the job again."""
    async with connect(host) as client:
        known = await start(client, "run_agent", task="Say hello to the view")
        known = await wait_until(client, known["job_id"])
    assert known["status"] == "completed", known
    await open_job(page, known["job_id"])
    await wait_for_status(page, "completed")
    await page.wait_for_selector(".step", timeout=UI_TIMEOUT_MS)
    for unknown, reason in (("no-such-job", "Unknown job 'no-such-job'"), ("bad id!", "Argument 'job_id'")):
        await page.evaluate("id => { location.hash = '#/jobs/' + encodeURIComponent(id); }", unknown)
        await page.wait_for_selector("#job-missing:not([hidden])", timeout=UI_TIMEOUT_MS)
        assert reason in await page.locator("#job-missing-message").inner_text()
        assert await page.locator("#job-view").is_hidden() and await page.locator("#list-view").is_hidden()
        assert known["job_id"] not in await page.locator("body").inner_text()
        assert await page.title() == "No such job"
    await open_job(page, known["job_id"])
    await wait_for_status(page, "completed")
    assert await page.locator("#job-missing").is_hidden()


@pytest.mark.parametrize("link", ["{base}/api/job-view#/jobs/{job}?code={key}",
                                  "{base}/api/job-view?code={key}#/jobs/{job}",
                                  "{base}/api/job-view#code={key}"])
async def test_a_link_with_the_key_opens_without_asking(browser, host, link):
    """The README's form, `?code=<key>` added at the end of a job's view_url (it stays in the URL
    fragment, which no server sees); Azure's `?code=` query before the fragment and the older `#code=`
    work too. The key then goes from the address bar; an unknown job's link with the key shows "No
    such job", not the key form."""
    async with connect(host) as client:
        job = await wait_until(client, (await start(client, "run_agent", task="Say hi"))["job_id"])
    key = host.env["FUNCTIONS_DEFAULT_KEY"]
    context = await browser.new_context()
    tab = await context.new_page()
    await tab.goto(link.format(base=host.base_url, job=job["job_id"], key=key))
    if "#code=" in link:
        await tab.wait_for_selector("#list-view:not([hidden])", timeout=UI_TIMEOUT_MS)
    else:
        await tab.wait_for_selector(f"#job-title:has-text('{job['job_id']}')", timeout=UI_TIMEOUT_MS)
        await tab.wait_for_selector("#job-status.status-completed", timeout=UI_TIMEOUT_MS)
    assert key not in tab.url and "code=" not in tab.url
    await tab.goto(f"{host.base_url}/api/job-view#/jobs/no-such-job?code={key}")
    await tab.wait_for_selector("#job-missing:not([hidden])", timeout=UI_TIMEOUT_MS)
    assert await tab.locator("#key-form").is_hidden()
    await context.close()


async def test_the_list_keeps_more_rows_and_drops_answers_for_old_filters(browser, host):
    """Two stale-list faults: rows that "More" added vanished at the next poll (it re-read the first page
    only), and an answer for the old filters that arrived after the new filters' answer was shown over it.
    Pages are made 2 jobs long by rewriting the page's `limit` on the way out; a poll for no filters is
    held back until the filtered list is on screen."""
    async with connect(host) as client:
        for n in range(4):  # at least two pages
            await wait_until(client, (await start(client, "run_agent", task=f"Count to {n}"))["job_id"])
    hold, held = asyncio.Event(), asyncio.Event()
    hold.set()  # nothing held at first

    async def two_per_page(route):
        url = route.request.url.replace("limit=50", "limit=2")
        if "workflow=" not in url and not hold.is_set():
            held.set()
            await hold.wait()
        await route.continue_(url=url)

    context = await browser.new_context()
    tab = await context.new_page()
    await tab.route("**/api/job-view/jobs?*", two_per_page)
    await tab.goto(f"{host.base_url}/api/job-view#/?code={host.env['FUNCTIONS_DEFAULT_KEY']}")
    rows = tab.locator("#jobs-table tbody tr")
    await tab.wait_for_selector("#jobs-table tbody tr:nth-child(2)", timeout=UI_TIMEOUT_MS)
    assert await rows.count() == 2
    await tab.click("#jobs-more")
    await tab.wait_for_selector("#jobs-table tbody tr:nth-child(4)", timeout=UI_TIMEOUT_MS)
    await tab.evaluate("""() => {  // record the fewest rows shown from now on
        const body = document.querySelector('#jobs-table tbody');
        window.fewestRows = body.rows.length;
        new MutationObserver(() => { window.fewestRows = Math.min(window.fewestRows, body.rows.length); })
            .observe(body, {childList: true});
    }""")
    for _ in range(2):  # a poll is only sent once the one before it is shown: two polls, the first one shown
        async with tab.expect_response(lambda r: "/api/job-view/jobs?" in r.url and "cursor=" not in r.url,
                                       timeout=UI_TIMEOUT_MS):
            pass
    assert await tab.evaluate("window.fewestRows") >= 4, "a poll dropped the rows More had added"
    assert await rows.count() >= 4

    hold.clear()
    await held.wait()  # a poll for no filters is on its way, held
    await tab.evaluate("""() => {  // record every workflow a row shows from now on
        window.shownWorkflows = new Set();
        const body = document.querySelector('#jobs-table tbody');
        new MutationObserver(() => body.querySelectorAll('tr td:nth-child(2)')
            .forEach((cell) => window.shownWorkflows.add(cell.textContent))).observe(body, {childList: true});
    }""")
    async with tab.expect_response(lambda r: "workflow=plan_trip" in r.url, timeout=UI_TIMEOUT_MS):
        await tab.select_option("#filter-workflow", "plan_trip")
    async with tab.expect_response(lambda r: "workflow=" not in r.url and "/jobs?" in r.url, timeout=UI_TIMEOUT_MS):
        hold.set()  # the old filters' answer arrives now, after the new one
    async with tab.expect_response(lambda r: "workflow=plan_trip" in r.url, timeout=UI_TIMEOUT_MS):
        pass  # and a poll with the new filters after it
    assert await tab.evaluate("[...window.shownWorkflows]") in ([], ["plan_trip"])
    await context.close()


HOST_FRAME = """<!DOCTYPE html><html><body>
<iframe id="view" sandbox="allow-scripts" style="width:1000px;height:900px;border:0"></iframe>
<script>
// A minimal MCP Apps host (SEP-1865): answers ui/initialize, sends the tool input and result, and
// forwards the view's tools/call and resources/read to the MCP server (through the test's client).
window.hostLog = [];
window.addEventListener("message", async (event) => {
  const frame = document.getElementById("view").contentWindow;
  if (event.source !== frame) return;
  const message = event.data;
  window.hostLog.push(message.method || "response");
  if (message.method === "ui/initialize") {
    frame.postMessage({jsonrpc: "2.0", id: message.id, result: {protocolVersion: "2026-01-26",
      hostInfo: {name: "test-host", version: "1"}, hostCapabilities: {serverTools: {}, serverResources: {}},
      hostContext: {theme: "light", displayMode: "inline"}}}, "*");
  } else if (message.method === "ui/notifications/initialized") {
    frame.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-input", params: {arguments: window.toolArguments}}, "*");
    frame.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: window.toolResult}, "*");
  } else if (message.method === "tools/call" || message.method === "resources/read") {
    try {
      const result = await window.mcpRequest(message.method, message.params);
      frame.postMessage({jsonrpc: "2.0", id: message.id, result}, "*");
    } catch (error) {
      frame.postMessage({jsonrpc: "2.0", id: message.id, error: {code: -32603, message: String(error)}}, "*");
    }
  }
});
</script></body></html>"""


async def test_the_view_as_an_mcp_app_in_a_host_frame(browser, host):
    async with connect(host) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        for name in ("get_job", "run_agent", "run_swarm", "plan_trip"):
            assert tools[name].meta["ui"] == {"resourceUri": "ui://jobs/job-view.html"}, name
        resource = (await client.read_resource("ui://jobs/job-view.html")).contents[0]
        assert resource.mime_type == "text/html;profile=mcp-app" and 'data-mode="app"' in resource.text

        arguments = {"request": "Three days in Vienna, trains only"}
        launched = await client.call_tool("plan_trip", arguments)
        job = json.loads(launched.content[0].text)
        await wait_until(client, job["job_id"], statuses=WAITING)

        async with mcp_app_tab(browser, client, resource.text, arguments, launched) as (tab, view):
            await view.locator(f"#job-title:has-text('{job['job_id']}')").wait_for(timeout=UI_TIMEOUT_MS)
            await view.locator("button[data-action='approve']").wait_for(timeout=UI_TIMEOUT_MS)
            assert await view.locator(".step[data-kind='agent']").count() == 3
            assert await view.locator("#back-link").is_hidden()  # an MCP App has no jobs list to go back to
            await view.locator("button[data-action='approve']").click()
            await view.locator("#job-status.status-completed").wait_for(timeout=UI_TIMEOUT_MS)
            log = await tab.evaluate("window.hostLog")
        done = await call(client, "get_job", job_id=job["job_id"])
    assert done["status"] == "completed" and done["output"]["decision"]["approved"] is True, done
    assert log[:2] == ["ui/initialize", "ui/notifications/initialized"] and "tools/call" in log
    assert "resources/read" in log


async def test_the_mcp_app_for_an_unknown_job_says_so(browser, host):
    """A tool result naming a job the server does not know (purged since): "No such job" with the reason,
    and no link to a jobs list the MCP App does not have."""
    async with connect(host) as client:
        resource = (await client.read_resource("ui://jobs/job-view.html")).contents[0]
        result = {"content": [{"type": "text", "text": json.dumps({"job_id": "purged-job"})}],
                  "structuredContent": {"job_id": "purged-job"}}
        async with mcp_app_tab(browser, client, resource.text, {"job_id": "purged-job"}, result) as (_, view):
            await view.locator("#job-missing:not([hidden])").wait_for(timeout=UI_TIMEOUT_MS)
            assert "Unknown job 'purged-job'" in await view.locator("#job-missing-message").inner_text()
            assert await view.locator("#job-view").is_hidden()
            assert await view.locator("#missing-back-link").is_hidden()


@contextlib.asynccontextmanager
async def mcp_app_tab(browser, client, view_html: str, arguments: dict, result) -> AsyncIterator[tuple]:
    """A tab whose HOST_FRAME shows `view_html` as the MCP App of a tool call (`arguments`, `result`: a
    CallToolResult or its JSON), proxying the view's requests to the server through `client`; yields the
    tab and the view's frame, and checks that the view raised no page error."""
    async def mcp_request(method: str, params: dict) -> dict:
        if method == "tools/call":
            answer = await client.call_tool(params["name"], params.get("arguments") or {})
        else:
            answer = await client.read_resource(params["uri"])
        return answer.model_dump(by_alias=True, exclude_none=True, mode="json")

    context = await browser.new_context()
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    await tab.expose_function("mcpRequest", mcp_request)
    await tab.set_content(HOST_FRAME)
    result = result if isinstance(result, dict) else result.model_dump(by_alias=True, exclude_none=True, mode="json")
    await tab.evaluate("([args, result]) => { window.toolArguments = args; window.toolResult = result; }",
                       [arguments, result])
    await tab.evaluate("html => { document.getElementById('view').srcdoc = html; }", view_html)
    try:
        yield tab, tab.frame_locator("#view")
    finally:
        await context.close()
    assert errors == [], errors
