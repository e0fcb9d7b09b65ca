"""plan_trip end to end through MCP on the real host, with the scripted model server: approval,
rejection, timeout, the HTTP starter, and a crash while the job waits for approval."""
from __future__ import annotations

import httpx
import pytest

from orchestrations.app_store import SqliteBookings
from testing.host_process import project_host
from testing.mcp_client import call, call_error, connect, wait_until

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
        assert "Lyon" in request["prompt"] and "Eat at a bouchon" in request["prompt"]
        listed = await call(client, "list_jobs", workflow="plan_trip", status="waiting_for_input", limit=100)
        assert job["job_id"] in [j["job_id"] for j in listed["jobs"]]

        refused = await call_error(client, "send_job_input", job_id=job["job_id"], event="approval",
                                   data={"approve": "yes"})
        assert refused.startswith("Argument 'data' does not match the job's input schema"), refused

        await call(client, "send_job_input", job_id=job["job_id"], event="approval",
                   data={"approved": True, "comment": "window seats"})
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


async def test_trip_without_decision_in_time_is_canceled_with_the_reason(host, model, app_data):
    model.reset()
    model.script(trip_script())
    async with connect(host) as client:
        job = await waiting_trip(client, approval_timeout_seconds=2)
        done = await wait_until(client, job["job_id"])
        canceled = await call(client, "list_jobs", workflow="plan_trip", status="canceled", limit=100)
        completed = await call(client, "list_jobs", workflow="plan_trip", status="completed", limit=100)
        assert "takes no more input" in await call_error(client, "send_job_input", job_id=job["job_id"],
                                                         event="approval", data={"approved": True})
    assert done["status"] == "canceled", done
    assert done["error"] == "canceled: no approval decision within 2 seconds"
    assert done["output"]["proposal"]["itinerary"] == "Day 1-3 in Lyon"
    assert job["job_id"] in [j["job_id"] for j in canceled["jobs"]]
    assert job["job_id"] not in [j["job_id"] for j in completed["jobs"]]
    assert bookings_of(app_data, job["job_id"]) == []


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
        assert "Argument 'request' is missing" in await call_error(client, "plan_trip", request="")


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
