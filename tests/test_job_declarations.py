"""Mistakes in a job module are refused when the app loads, in one line that names the fix (issue 18).

Each case adds one module to a copy of the app (what a user does) and starts the real host on it: the
host exits with status 2 and prints the app's own sentence, as `error: function_app.py could not be
loaded: ...`, with no traceback. On Azure the worker fails the app's indexing with the same message (the
checks run when function_app.py is imported: agent_jobs.register_packages)."""
from __future__ import annotations

import textwrap

import pytest

from testing.app_copy import app_copy, start_refused

HEADER = "from agent_jobs import Job, JobBlueprint\n\nbp = JobBlueprint()\n"

CASES = {
    "two jobs with one name": (HEADER + '''
@bp.job
def run_agent(job: Job, task: str):
    """Another run_agent."""
    yield job.context.call_activity("calculate", task)
''', "JobDeclarationError: Job 'run_agent' is declared twice (orchestrations/agent.py:",
        "and orchestrations/mine.py:5): give one of them another name with @bp.job(name=...)."),
    "a job named like a job tool": (HEADER + '''
@bp.job
def get_job(job: Job, task: str):
    """Shadows get_job."""
    yield job.context.call_activity("calculate", task)
''', "Job 'get_job' (orchestrations/mine.py:5) has the name of the get_job tool:",
        "give it another name with @bp.job(name=...)."),
    "a launcher without an orchestrator": ('''from agent_jobs import Job, JobBlueprint


def declare():
    bp = JobBlueprint()  # not at module level: nothing registers it with the app

    @bp.job
    def lonely(job: Job, task: str):
        """Never registered."""
        yield job.context.call_activity("calculate", task)


declare()
''', "Job 'lonely' (orchestrations/mine.py:7) has a launcher but its orchestrator 'lonely_workflow' is not a "
     "function of the app:", "register the blueprint that declares it (put its module in orchestrations/)."),
    "a job that is not a generator": (HEADER + '''
@bp.job
def eager(job: Job, task: str):
    """Forgets yield."""
    return job.agent("helper", "Help.", task)
''', "Job eager (orchestrations/mine.py:5) is not a generator:",
        "run its steps with `yield from job.agent(...)` (or yield a Durable task), or declare one agent run with "
        "@bp.agent_job."),
    "a parameter a tool argument cannot take": ('''from datetime import datetime

''' + HEADER + '''
@bp.job
def dated(job: Job, when: datetime):
    """Takes a date."""
    yield job.context.call_activity("calculate", "1")
''', "SignatureError: Parameter 'when' of dated has a type hint a tool argument cannot take",
        "use str, int, float, bool, dict, a Literal of values"),
    "a parameter named like what the launcher records": (HEADER + '''
@bp.job
def signed(job: Job, task: str, started_by: str = "me"):
    """Would read who started the job from its own argument."""
    yield job.context.call_activity("calculate", task)
''', "SignatureError: Parameter 'started_by' of signed has a name the launchers use themselves",
        "(reserved: idempotency_key, budget, continue_from, conversation, started_by): rename it."),
    "an activity tool of two parameters": (HEADER + '''
@bp.activity_tool
def add(a: int, b: int) -> int:
    """Adds."""
    return a + b
''', "Activity tool add (orchestrations/mine.py:5) takes 2 parameters:",
        "an activity tool takes exactly one (take a Pydantic model for several fields)."),
    "two functions of one name": ('''import azure.durable_functions as df

bp = df.Blueprint()


@bp.activity_trigger(input_name="booking")
def book_trip(booking: dict) -> dict:
    return booking
''', "Two functions are named 'book_trip' (orchestrations/mine.py:6 and orchestrations/trip.py:",
        "each function of an app needs its own name; rename one (a job: @bp.job(name=...), an activity: "
        "activity=...)."),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_stops_the_start_with_the_fix(tmp_path, case):
    source, *expected = CASES[case]
    app = app_copy(tmp_path / "app", {"orchestrations/mine.py": source})
    error = refusal(start_refused(app, tmp_path / "state"))
    for part in expected:
        assert part in error, error


def refusal(result) -> str:
    """The host's one error line (the app logs which model it uses before it), after checking there is
    exactly one, no traceback, and exit status 2."""
    assert result.returncode == 2, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith("error: function_app.py could not be loaded: "), errors
    return errors[0]


def test_a_job_imported_after_the_tools_were_built_is_refused(tmp_path):
    """function_app.py importing a job module after register_packages (one line in the wrong place)."""
    app = app_copy(tmp_path / "app", {"late_jobs.py": HEADER + textwrap.dedent('''
        @bp.job
        def late(job: Job, task: str):
            """Declared too late."""
            yield job.context.call_activity("calculate", task)
        ''')})
    with open(app / "function_app.py", "a", encoding="utf-8") as script:
        script.write("\nimport late_jobs  # noqa: E402,F401\n")
    error = refusal(start_refused(app, tmp_path / "state"))
    assert "Job 'late' (late_jobs.py:5) was declared after the job tools were built (tools/jobs.py): import " \
           "job modules before the tools" in error, error
