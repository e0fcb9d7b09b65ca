"""Usage per person, now that jobs have owners (issue 19's roll-ups with issue 20): `get_usage` gives each
signed-in person what their own jobs used, an admin everyone's with a line per person, and every span of a
person's job carries their owner tag (`enduser.pseudo.id`, Azure Monitor's user id). Real host signing callers
in with the fake OIDC issuer, the scripted model server's own counts, a real OTLP receiver."""
from __future__ import annotations

import pytest

from orchestrations.tracing.spans import trace_id_of
from testing.fake_model_server import load_script
from testing.mcp_client import call, call_error, wait_until
from testing.otlp_receiver import OtlpReceiver
from testing.team import mcp_url, signed_in, team_host
from tools.caller import tag_of

COUNTS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "model_calls")


def counts(usage: dict) -> dict:
    return {name: usage[name] for name in COUNTS}


@pytest.fixture(scope="module")
def receiver():
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site, issuer, receiver):
    process = team_host(tmp_path_factory.mktemp("team-usage"), model, site, issuer,
                        APP_DATA_DIR=str(tmp_path_factory.mktemp("appdata")),
                        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="100").start()
    yield process
    process.stop()


def as_user(host, issuer, user: str):
    return signed_in(host, issuer.token(user, mcp_url(host)))


async def test_each_person_gets_their_own_usage_and_an_admin_everyones(host, issuer, model, receiver):
    model.reset()
    model.script(load_script("demo"))
    jobs = {}
    for user, task in (("alice", "Say hello"), ("bob", "Say goodbye, twice over")):
        async with as_user(host, issuer, user) as client:
            job = await call(client, "run_agent", task=task)
            jobs[user] = await wait_until(client, job["job_id"])
            assert jobs[user]["status"] == "completed", jobs[user]
    reports = {}
    for user in ("alice", "bob", "carol"):
        async with as_user(host, issuer, user) as client:
            reports[user] = await call(client, "get_usage")
            if user == "alice":
                later = await call(client, "get_usage", since="2999-01-01")
                refused = await call_error(client, "get_usage", since="2026-12-01", until="2026-11-01")
    served = model.stats().usage()
    for user in ("alice", "bob"):  # their own job only, as get_job counted it
        report = reports[user]
        assert report["jobs"] == 1 and counts(report["usage"]) == counts(jobs[user]["usage"]), report
        assert [(row["workflow"], row["jobs"]) for row in report["workflows"]] == [("run_agent", 1)]
        assert "owners" not in report
    admin = reports["carol"]  # everyone's, per person, equal to what the model server reported
    assert admin["jobs"] == 2 and counts(admin["usage"]) == served, (admin, served)
    owners = {row["owner"]: row for row in admin["owners"]}
    for user, name in (("alice", "Alice Ærø"), ("bob", "Bob Builder")):
        row = owners[tag_of(jobs[user]["job_id"])]
        assert row["name"] == name and row["jobs"] == 1 and counts(row["usage"]) == counts(jobs[user]["usage"])
    assert later["jobs"] == 0 and later["usage"]["model_calls"] == 0
    assert "'until' (2026-11-01) must be after 'since' (2026-12-01)" in refused
    # every span of a person's job carries their owner tag, and only theirs
    for user in ("alice", "bob"):
        job_id = jobs[user]["job_id"]
        trace = f"{trace_id_of(job_id):032x}"
        spans = receiver.wait_for(lambda got: any(s["trace_id"] == trace and s["parent_span_id"] is None for s in got))
        mine = [span for span in spans if span["trace_id"] == trace]
        assert {span["attributes"].get("enduser.pseudo.id") for span in mine} == {tag_of(job_id)}
