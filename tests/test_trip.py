"""plan_trip end to end through MCP on the real host, with the scripted model server: approval,
rejection, timeout, the HTTP starter, a crash while the job waits for approval; answers checked
against the schema (issue 9.2); a custom status far below Azure's 16 KB whatever the agents write
(8.9); answers sent before the job asks, malformed ones, late ones, and a retry over them (8.10)."""
from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest

from orchestrations.app_data.bookings import SqliteBookings
from testing.host_process import project_host
from testing.mcp_client import call, call_error, connect, wait_until

pytestmark = pytest.mark.job("plan_trip")  # make test-job JOB=plan_trip

TRIP_AGENTS = ("trip-destinations", "trip-itinerary", "trip-local")
REQUEST = "A long weekend in spring, trains only, good food"


def trip_script() -> dict:
    """Each agent answers from what the earlier ones wrote, so the chain's order is checked."""
    return {
        "trip-destinations": [{"text": "Lyon, for its food; alternatives: Turin, Basel.", "repeat": True}],
        "trip-itinerary": [lambda request: {"text": "Day 1-3 in Lyon" if "Lyon" in request.user_text() else "?"}],
        "trip-local": [lambda request: {"text": "Eat at a bouchon" if "Day 1-3" in request.user_text() else "?"}],
    }


@pytest.fixture(scope="module")
def app_data(tmp_path_factory):
    return tmp_path_factory.mktemp("appdata")


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site, app_data):
    process = project_host(tmp_path_factory.mktemp("trip"), model, site, APP_DATA_DIR=str(app_data)).start()
    yield process
    process.stop()


def bookings_of(app_data, job_id: str) -> list[dict]:
    return [b for b in SqliteBookings(app_data).list() if b["booking_key"] == job_id]


async def waiting_trip(client, **arguments) -> dict:
    job = await call(client, "plan_trip", request=REQUEST, **arguments)
    assert job["workflow"] == "plan_trip"
    return await wait_until(client, job["job_id"], statuses=("waiting_for_input", "completed", "failed", "canceled"))


async def test_trip_approved_books_once(host, model, app_data):
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        job = await waiting_trip(client)
        assert job["status"] == "waiting_for_input", job
        request = job["input_request"]
        assert request["event"] == "approval" and request["schema"]["required"] == ["approved"]
        # the prompt is for the person; how_to_answer for the model or script
        assert request["prompt"].startswith("Approve the proposed trip (in details) to book it, or reject it, before ")
        assert "send_job_input" not in request["prompt"] and "send_job_input" not in job["progress"]["message"]
        assert request["how_to_answer"] == (f'send_job_input(job_id="{job["job_id"]}", event="approval", '
                                            'data={"approved": true or false, "comment"?: text})')
        # an HTTP poller sees the custom status: the proposal is the output of instance details_ref (README)
        polled = httpx.get(job["links"]["status_url"] + f"&code={host.durable_key}", timeout=30).json()
        ref = polled["customStatus"]["input_request"]["details_ref"]
        assert ref == f"{job['job_id']}:proposal"
        proposal = httpx.get(job["links"]["status_url"].replace(job["job_id"], ref, 1) + f"&code={host.durable_key}",
                             timeout=30).json()
        assert proposal["output"] == request["details"]
        assert request["details"]["destination"].startswith("Lyon")
        assert request["details"]["local_recommendations"] == "Eat at a bouchon"
        listed = await call(client, "list_jobs", workflow="plan_trip", status="waiting_for_input", limit=100)
        assert job["job_id"] in [j["job_id"] for j in listed["jobs"]]

        # data as JSON text, as some clients send objects (the same reading for every object argument)
        await call(client, "send_job_input", job_id=job["job_id"], event="approval",
                   data=json.dumps({"approved": True, "comment": "window seats"}))
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed", done
    out = done["output"]
    assert out["proposal"] == {"destination": "Lyon, for its food; alternatives: Turin, Basel.",
                               "itinerary": "Day 1-3 in Lyon", "local_recommendations": "Eat at a bouchon"}
    assert out["decision"] == {"approved": True, "comment": "window seats"}
    assert out["booking"]["booking_key"] == job["job_id"] and out["booking"]["reference"].startswith("TRIP-")
    assert done["progress"]["message"] == f"booked: {out['booking']['reference']}"
    [booking] = bookings_of(app_data, job["job_id"])
    assert booking["details"]["comment"] == "window seats"
    again = SqliteBookings(app_data).record(job["job_id"], {"another": "attempt"})  # a re-run activity
    assert again == booking and len(bookings_of(app_data, job["job_id"])) == 1
    assert model.stats().by_agent == dict.fromkeys(TRIP_AGENTS, 1)


async def test_trip_rejected_completes_without_booking(host, model, app_data):
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        job = await waiting_trip(client)
        await call(client, "send_job_input", job_id=job["job_id"], event="approval",
                   data={"approved": False, "comment": "too far"})
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed", done
    assert done["output"]["decision"] == {"approved": False, "comment": "too far"}
    assert done["output"]["booking"] is None and bookings_of(app_data, job["job_id"]) == []


async def test_trip_without_decision_in_time_is_canceled_and_late_answers_change_nothing(host, model, app_data):
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        job = await waiting_trip(client, approval_timeout_seconds=2)
        done = await wait_until(client, job["job_id"])
        canceled = await call(client, "list_jobs", workflow="plan_trip", status="canceled", limit=100)
        completed = await call(client, "list_jobs", workflow="plan_trip", status="completed", limit=100)
        late_tool = await call_error(client, "send_job_input", job_id=job["job_id"], event="approval",
                                     data={"approved": True})
        late_http = raise_event(host, job["job_id"], "approval", {"approved": True})
        after = await call(client, "get_job", job_id=job["job_id"])
    assert done["status"] == "canceled", done
    assert done["error"] == "canceled: no approval decision within 2 seconds"
    assert done["output"]["proposal"]["itinerary"] == "Day 1-3 in Lyon"
    assert job["job_id"] in [j["job_id"] for j in canceled["jobs"]]
    assert job["job_id"] not in [j["job_id"] for j in completed["jobs"]]
    assert late_tool == f"Job {job['job_id']} is canceled; it takes no more input."
    assert late_http.status_code == 410, late_http.text
    assert after["status"] == "canceled" and after["output"] == done["output"]
    assert bookings_of(app_data, job["job_id"]) == []


async def test_a_canceled_trip_invites_no_input(host, model):
    """A job that ended shows what ended it, never the approval prompt: in cancel_job's answer, get_job,
    list_jobs and the job view's list."""
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        job = await waiting_trip(client)
        assert job["status"] == "waiting_for_input" and "send_job_input" in job["input_request"]["how_to_answer"]
        shown = [await call(client, "cancel_job", job_id=job["job_id"], reason="changed my mind"),
                 await call(client, "get_job", job_id=job["job_id"])]
        listed = await call(client, "list_jobs", workflow="plan_trip", status="canceled", limit=100)
    view = httpx.get(f"{host.base_url}/api/job-view/jobs", params={"workflow": "plan_trip", "limit": "100"},
                     headers={"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"]}, timeout=30).json()
    shown += [item for page in (listed, view) for item in page["jobs"] if item["job_id"] == job["job_id"]]
    assert len(shown) == 4
    for item in shown:
        assert item["status"] == "canceled" and "input_request" not in item, item
        assert item["progress"] == {"stage": "canceled", "message": "canceled: changed my mind"}, item


async def test_http_starter_and_bad_trip_input(host, model):
    model.reset()
    model.script(trip_script())
    url = f"{host.base_url}/api/jobs/plan_trip"
    headers = {"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"]}
    started = httpx.post(url, headers=headers, json={"request": REQUEST, "approval_timeout_seconds": 60})
    assert started.status_code == 202, started.text
    bad = httpx.post(url, headers=headers, json={"request": REQUEST, "approval_timeout_seconds": "soon"})
    assert bad.status_code == 400 and "Argument 'approval_timeout_seconds' is \"soon\"" in bad.json()["error"]
    async with connect(host) as client:
        job = await wait_until(client, started.json()["id"], statuses=("waiting_for_input",))
        assert job["workflow"] == "plan_trip"
        await call(client, "cancel_job", job_id=job["job_id"], reason="only testing the starter")
        assert "Argument 'request' is empty" in await call_error(client, "plan_trip", request="")


async def test_crash_while_waiting_for_approval(tmp_path, model, site):
    model.reset()
    model.script(trip_script())
    app_data = tmp_path / "appdata"
    host = project_host(tmp_path / "state", model, site, APP_DATA_DIR=str(app_data)).start()
    try:
        async with connect(host) as client:
            job = await waiting_trip(client)
        assert job["status"] == "waiting_for_input", job
        before = model.stats().by_agent
        host.restart()  # SIGKILL, then start on the same state
        async with connect(host) as client:
            assert (await call(client, "get_job", job_id=job["job_id"]))["status"] == "waiting_for_input"
            await call(client, "send_job_input", job_id=job["job_id"], event="approval", data={"approved": True})
            done = await wait_until(client, job["job_id"])
    finally:
        host.stop()
    assert done["status"] == "completed" and done["output"]["booking"]["reference"].startswith("TRIP-"), done
    assert before == dict.fromkeys(TRIP_AGENTS, 1)
    assert model.stats().by_agent == before, "a recorded model call was made again"
    assert len(bookings_of(app_data, job["job_id"])) == 1


def utf16_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-16-le"))


def raw_status(host, job_id: str) -> dict:
    response = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{job_id}",
                         params={"code": host.durable_key})
    assert response.status_code in (200, 202), response.text
    return response.json()


def instance_post(host, job_id: str, operation: str, **kwargs) -> httpx.Response:
    """A POST to the management API's `instances/<job_id>/<operation>`, with the key."""
    return httpx.post(f"{host.base_url}/runtime/webhooks/durabletask/instances/{job_id}/{operation}",
                      params={"code": host.durable_key, **kwargs.pop("params", {})}, **kwargs)


def raise_event(host, job_id: str, event: str, data) -> httpx.Response:
    return instance_post(host, job_id, f"raiseEvent/{event}", json=data)


async def test_send_job_input_checks_the_schema_and_answers_after_the_job_took_it(host, model, app_data):
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        job = await waiting_trip(client)
        job_id = job["job_id"]
        refusals = [await call_error(client, "send_job_input", job_id=job_id, event="approval", data=data)
                    for data in ({"approved": "yes"}, {"comment": "no decision"}, [True], "yes",
                                 {"approved": True, "seats": 2})]
        still = await call(client, "get_job", job_id=job_id)
        taken = await call(client, "send_job_input", job_id=job_id, event="approval", data={"approved": True})
        done = await wait_until(client, job_id)
    assert refusals[0].startswith("Argument 'data' does not match the job's input schema at 'approved': "
                                  "'yes' is not of type 'boolean'. Allowed: data matching {\"type\":\"object\""), \
        refusals[0]
    assert "'approved' is a required property" in refusals[1]
    assert "('seats' was unexpected)" in refusals[4], refusals[4]  # not booked with the seats dropped (trial)
    assert refusals[2] == refusals[3].replace('"yes"', '[true]') == \
        "Argument 'data' is [true]. Allowed: a JSON object, at most 65,536 bytes as JSON."
    assert still["status"] == "waiting_for_input" and still["input_request"]["event"] == "approval"
    assert taken["status"] != "waiting_for_input" and "input_request" not in taken, taken
    assert done["status"] == "completed" and done["output"]["decision"] == {"approved": True, "comment": ""}
    assert len(bookings_of(app_data, job_id)) == 1


def manage(host, job_id: str, operation: str) -> None:
    response = instance_post(host, job_id, operation, params={"reason": "operator"})
    assert response.status_code == 202, response.text


async def test_a_suspended_job_that_asked_says_so_and_takes_input_once_resumed(host, model, app_data):
    """Issue 21 §1.5: input sent to a suspended job that had asked was refused as 'has not asked for input'."""
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        manage(host, job_id := (await waiting_trip(client))["job_id"], "suspend")
        suspended = await wait_until(client, job_id, statuses=("suspended",))
        refused = await call_error(client, "send_job_input", job_id=job_id, event="approval", data={"approved": True})
        manage(host, job_id, "resume")
        again = await wait_until(client, job_id, statuses=("waiting_for_input",))
        await call(client, "send_job_input", job_id=job_id, event="approval", data={"approved": True})
        done = await wait_until(client, job_id)
    assert refused == (f"Job {job_id} is suspended: it asked for input (event 'approval') and takes it once it is "
                       "resumed. Allowed: input once its status is waiting_for_input again."), refused
    assert "input_request" not in suspended and suspended["progress"]["message"] == \
        "suspended while waiting for input ('approval'); it takes input once resumed", suspended
    assert again["input_request"]["event"] == "approval"
    assert done["status"] == "completed" and len(bookings_of(app_data, job_id)) == 1


async def test_custom_status_stays_far_below_16_kb_whatever_the_agents_write(host, model):
    """Azure fails an orchestration whose custom status passes 16 KB in UTF-16; the proposal is kept as a
    step's output and shown as input_request.details instead (issue 8.9)."""
    model.reset()
    long = {agent: [{"text": f"{agent}: " + "très long récit, " * 2000}] for agent in TRIP_AGENTS}
    model.script(long)
    async with connect(host) as client:
        job = await waiting_trip(client)
        assert job["status"] == "waiting_for_input", job
        raw = raw_status(host, job["job_id"])
        await call(client, "cancel_job", job_id=job["job_id"])
    assert utf16_bytes(raw["customStatus"]) < 4096, utf16_bytes(raw["customStatus"])
    details = job["input_request"]["details"]
    assert details["itinerary"] == long["trip-itinerary"][0]["text"] and utf16_bytes(details) > 3 * 60_000


@pytest.fixture
def gate(model):
    """Holds the first trip agent's model call until the test opens the gate: the job is busy, and
    events sent now arrive before it waits for approval."""
    entered, opened = threading.Event(), threading.Event()

    def held(request):
        entered.set()
        assert opened.wait(60), "the gate was never opened"
        return {"text": "Lyon, for its food."}

    script = trip_script()
    script["trip-destinations"] = [held]
    model.reset()
    model.script(script)
    yield entered, opened
    opened.set()


async def started_trip(client, host, entered) -> str:
    job_id = (await call(client, "plan_trip", request=REQUEST))["job_id"]
    assert await asyncio.to_thread(entered.wait, 30), "the first agent was never called"
    return job_id


async def test_several_early_answers_count_as_the_last(host, gate, app_data):
    entered, opened = gate
    async with connect(host) as client:
        job_id = await started_trip(client, host, entered)
        for data in ({"approved": False, "comment": "first"}, {"approved": True, "comment": "last"}):
            assert raise_event(host, job_id, "approval", data).status_code == 202
        opened.set()
        done = await wait_until(client, job_id)
    assert done["status"] == "completed", done
    assert done["output"]["decision"] == {"approved": True, "comment": "last"}
    assert [b["details"]["comment"] for b in bookings_of(app_data, job_id)] == ["last"]


async def test_an_early_malformed_answer_is_asked_again(host, gate, app_data):
    """Before the fix the job waited on `approval` again, got the same malformed answer back at once
    (azure-functions-durable-python#507) and failed with 'maximum recursion depth exceeded'."""
    entered, opened = gate
    async with connect(host) as client:
        job_id = await started_trip(client, host, entered)
        assert raise_event(host, job_id, "approval", {"approve": "yes"}).status_code == 202
        opened.set()
        asked = await wait_until(client, job_id, statuses=("waiting_for_input", "completed", "failed", "canceled"))
        assert asked["status"] == "waiting_for_input", asked
        request = asked["input_request"]
        assert request["event"] == "approval-2"
        assert request["prompt"].startswith('The last answer ({"approve": "yes"}) was not a decision')
        assert request["how_to_answer"].startswith(f'send_job_input(job_id="{job_id}", event="approval-2", ')
        stale = await call_error(client, "send_job_input", job_id=job_id, event="approval", data={"approved": True})
        await call(client, "send_job_input", job_id=job_id, event="approval-2", data={"approved": True})
        done = await wait_until(client, job_id)
    assert stale == (f"Job {job_id} is waiting for event 'approval-2', not 'approval'. "
                     "Allowed: event 'approval-2'.")
    assert done["status"] == "completed" and done["output"]["booking"]["booking_key"] == job_id, done
    assert len(bookings_of(app_data, job_id)) == 1


async def test_retry_after_early_and_malformed_answers_books_once(tmp_path, model, site, gate):
    """A trip whose history holds early answers (one malformed) fails at its booking step (the store
    cannot be written); the failure names the step, and after the cause is fixed retry_job books once."""
    entered, opened = gate
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the app data folder should be")
    app_data = tmp_path / "appdata"
    host = project_host(tmp_path / "state", model, site, APP_DATA_DIR=str(blocker / "appdata")).start()
    try:
        async with connect(host) as client:
            job_id = await started_trip(client, host, entered)
            for data in ({"approve": "yes"}, "nonsense"):
                assert raise_event(host, job_id, "approval", data).status_code == 202
            opened.set()
            asked = await wait_until(client, job_id, statuses=("waiting_for_input", "failed"))
            assert asked["input_request"]["event"] == "approval-2", asked
            await call(client, "send_job_input", job_id=job_id, event="approval-2", data={"approved": True})
            failed = await wait_until(client, job_id)
        assert failed["status"] == "failed", failed
        assert failed["progress"]["stage"] == "booking"
        assert failed["error"].startswith("plan_trip failed at step 'booking' (booking the approved trip): ")
        assert failed["error"].endswith("retry_job runs the failed step again; the steps that finished are not "
                                        "repeated.")
        host.env["APP_DATA_DIR"] = str(app_data)
        host.restart()
        async with connect(host) as client:
            await call(client, "retry_job", job_id=job_id)
            done = await wait_until(client, job_id)
    finally:
        host.stop()
    assert done["status"] == "completed", done
    assert done["output"]["decision"] == {"approved": True, "comment": ""}
    assert len(bookings_of(app_data, job_id)) == 1
    assert model.stats().by_agent == dict.fromkeys(TRIP_AGENTS, 1)
