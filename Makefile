# One command to start the local host, one to run the tests; both build the virtual environment first.
# PYTHON picks the interpreter (3.10-3.13): `make test PYTHON=3.13` (or python3.13, or a path) builds and uses
# .venv-3.13; without PYTHON the first supported python3.x found builds .venv (scripts/find_python.sh).
INTERPRETER := $(shell sh scripts/find_python.sh $(PYTHON))
PYVER := $(if $(INTERPRETER),$(shell $(INTERPRETER) -c 'import sys; print("%d.%d" % sys.version_info[:2])'))
VENV ?= $(if $(PYTHON),.venv-$(PYVER),.venv)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# What `make smoke` runs on each extra Python version in CI: the host starts, MCP and HTTP clients connect,
# agent jobs run end to end (tool calls, progress, SSE and HTTP polling, 429s), and a host SIGKILLed between
# model calls resumes the job without repeating a recorded call.
SMOKE_TESTS := tests/test_agent_jobs.py
# What `make test-azure` runs again with every orchestrator episode replayed as Azure's Python worker runs it
# (`--replay azure`, README "Durable agents on the local host"): the agent, swarm, code-swarm and trip jobs,
# budgets (checked and asked on replay) and traces (no span twice from a replay), and the smoke tests.
AZURE_REPLAY_TESTS := $(sort tests/test_agent_jobs.py tests/test_swarm.py tests/test_code_swarm.py \
	tests/test_trip.py tests/test_budget.py tests/test_traces.py $(SMOKE_TESTS))

# `make test` and `make test-azure` run test modules in parallel processes (pytest-xdist): a module at a time per
# process (--dist loadfile), so a module's hosts, model server and browser stay its own; one process per core, at
# most 4 (each module starts host processes of its own). TEST_WORKERS= runs them one after another.
TEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

.PHONY: setup run test test-azure test-job smoke bench demo clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(INTERPRETER)" || { echo "make: no Python interpreter for PYTHON='$(PYTHON)' (see above)" >&2; exit 1; }
	$(INTERPRETER) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Node packages the tests need (Azurite), pinned in package.json / package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The MCP Inspector whose README and banner commands tests/test_inspector_cli.py runs, pinned with its own lock.
# `npm install` (which keeps the lock) rather than `npm ci`: its lock cannot pass `npm ci`, because vite, one of
# its dependencies, lists an optional package the registry does not have.
INSPECTOR_STAMP := tests/node/inspector/node_modules/.installed
$(INSPECTOR_STAMP): tests/node/inspector/package.json tests/node/inspector/package-lock.json
	cd tests/node/inspector && npm install --no-audit --no-fund --loglevel=error
	touch $(INSPECTOR_STAMP)

setup: $(STAMP)

run: $(STAMP)
	@$(PY) -m host $(ARGS)

test: $(STAMP) $(NODE_STAMP) $(INSPECTOR_STAMP)
	$(PY) -m pytest $(TEST_WORKERS) $(PYTEST_ARGS)

test-azure: $(STAMP) $(NODE_STAMP)
	LOCAL_HOST_REPLAY=azure $(PY) -m pytest $(TEST_WORKERS) $(PYTEST_ARGS) $(AZURE_REPLAY_TESTS)

# One job's tests: make test-job JOB=review_text (test modules name their job: pytestmark = pytest.mark.job(...)).
test-job: $(STAMP) $(NODE_STAMP)
	@test -n "$(JOB)" || { echo "make: say which job: make test-job JOB=<job name>" >&2; exit 2; }
	$(PY) -m pytest --job $(JOB) $(PYTEST_ARGS)

smoke: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) $(SMOKE_TESTS)

bench: $(STAMP)
	$(PY) -m bench

demo: $(STAMP)
	@$(PY) -m demo $(ARGS)

clean:
	rm -rf .venv .venv-* .durable .pytest_cache node_modules
