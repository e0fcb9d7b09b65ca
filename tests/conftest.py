"""Shared fixtures: real host processes on loopback ports, the scripted model server and a counting site.
Helpers the fixtures and tests use live in `testing/` (shared with demo/ and bench/)."""
from __future__ import annotations

import signal

import pytest

from testing.azurite import Azurite
from testing.browser import chromium
from testing.counting_site import CountingSite
from testing.durable_http import DurableHttp
from testing.fake_model_server import FakeModelServer, load_script
from testing.fake_oidc import FakeOidcIssuer
from testing.host_process import TEST_APPS, HostProcess, project_host
from testing.team import team_host


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_addoption(parser):
    parser.addoption("--job", action="append", default=[], metavar="NAME",
                     help="run only the tests of this job (test modules say theirs: pytestmark = pytest.mark.job(NAME))")


def pytest_configure(config):
    """SIGTERM (what `timeout` and CI runners send) stops the run like Ctrl+C: fixtures tear down, so the
    hosts, model servers and Azurite they started end with it instead of living on as orphans. Registers
    the `job` marker (`--job NAME`, make test-job JOB=NAME)."""
    signal.signal(signal.SIGTERM, _interrupt)
    config.addinivalue_line("markers", "job(name): the tests of one job, selected by --job NAME (make test-job JOB=NAME)")


def pytest_collection_modifyitems(config, items):
    """`--job NAME`: keep the tests marked with that job, deselect the others."""
    wanted = set(config.getoption("job"))
    if not wanted:
        return
    kept = [item for item in items if {m.args[0] for m in item.iter_markers("job")} & wanted]
    if not kept:
        raise pytest.UsageError(f"no test is marked with job {', '.join(sorted(wanted))}: "
                                f"mark its test module with pytestmark = pytest.mark.job(NAME)")
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.fixture(scope="module")
def durable_host(tmp_path_factory):
    """The engine test app on a real host, with a ledger file its activities write to."""
    state = tmp_path_factory.mktemp("durable-state")
    host = HostProcess(TEST_APPS / "durable_app", state, env={"STEP_LEDGER": str(state / "ledger.txt")})
    host.start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def api(durable_host) -> DurableHttp:
    return DurableHttp(durable_host)


@pytest.fixture(scope="module")
def model():
    """The scripted OpenAI-compatible model server (the only fake: it stands for the model provider)."""
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def site():
    site = CountingSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site):
    """The project's own app on a real host, its model the scripted server."""
    process = project_host(tmp_path_factory.mktemp("agent-jobs"), model, site).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def azurite():
    """Azurite (Blob and Table) on free loopback ports, in memory: the app-data store's Azure path for real."""
    with Azurite() as storage:
        yield storage


@pytest.fixture(scope="module")
async def browser():
    """One headless Chromium for a test module (Debian's package, driven by Playwright)."""
    async with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def issuer():
    """The fake OpenID Connect issuer a team signs in with (it stands for Entra ID)."""
    with FakeOidcIssuer() as server:
        yield server


@pytest.fixture(scope="module")
def team(tmp_path_factory, model, site, issuer):
    """The project's app on a host that signs callers in with `issuer`, as infra/ deploys it for a team; its
    model runs the demo script."""
    model.reset()
    model.script(load_script("demo"))
    appdata = tmp_path_factory.mktemp("appdata")
    process = team_host(tmp_path_factory.mktemp("team"), model, site, issuer, APP_DATA_DIR=str(appdata)).start()
    yield process
    process.stop()
