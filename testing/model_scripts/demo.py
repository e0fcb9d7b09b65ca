"""The demo's scripted model: canned but plausible answers for every agent of run_swarm and plan_trip,
computed from each request, so `make demo` shows the whole walkthrough with no API key.

Not a language model: every answer is written here. It is scripted to show the workflows' rules at
work: the planner returns tasks as an object with numeric ids (normalised before anything runs), the
"Key figures" worker first claims success without calling its tool (and is nudged), and the judge
scores the first result below the default threshold (so a fixing round repairs it). The code swarm's
agents are scripted in `code_swarm.py`. Each agent can
be asked `CALLS` times per run of the server; restart the demo to start over.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from . import code_swarm

CALLS = 1000
DEMO_NOTE = "(scripted demo answer)"


def always(answer: Callable[[Any], dict[str, Any]]) -> list[Callable[[Any], dict[str, Any]]]:
    """The same callable for every call: the fake server serves a script's turns in order."""
    return [answer] * CALLS


def line_after(prefix: str, text: str) -> str:
    """The rest of the first line that starts with `prefix`, e.g. the goal in a worker's prompt."""
    match = re.search(rf"^{re.escape(prefix)}\s*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else text.strip().splitlines()[0] if text.strip() else ""


def done(result: str) -> dict[str, Any]:
    return {"json": {"status": "done", "result": result}}


def planner(request) -> dict[str, Any]:
    goal = line_after("Goal:", request.user_text())
    return {"json": {
        "contract": "Every part is a short Markdown list under its task title. Amounts are in EUR with no "
                    "decimals; people are counted as 'participants'.",
        "tasks": {
            "figures": {"id": 1, "title": "Key figures", "tools": ["calculate"],
                        "instructions": f"Work out the budget per participant for: {goal}. Use calculate."},
            "schedule": {"id": 2, "title": "Schedule", "instructions": f"Draft the schedule for: {goal}."},
            "risks": {"id": "3", "title": "Risks", "instructions": f"List the main risks for: {goal}."},
        },
    }}


def figures_worker(request) -> dict[str, Any]:
    if request.tool_outputs():
        return done(f"- Budget per participant: 4800 / 12 = {request.tool_outputs()[-1]} EUR")
    if "previous attempt was not accepted" in request.user_text():
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "4800 / 12"}}]}
    return done("- About 400 EUR per participant, I think.")  # a claim without the tool: it gets nudged


def schedule_worker(request) -> dict[str, Any]:
    goal = line_after("Team goal:", request.user_text())
    return done(f"- Day 1: arrive, kick-off, workshop on '{goal}'\n- Day 2: two sessions, wrap-up, travel home")


def risks_worker(request) -> dict[str, Any]:
    return done("- Late cancellations by participants\n- Bad weather for outdoor parts")


def judge(request) -> dict[str, Any]:
    if "## Fixes" in request.user_text():
        return {"json": {"score": 91, "complaints": []}}
    return {"json": {"score": 64, "complaints": ["The schedule has no owner for each session.",
                                                 "The risks have no mitigations."]}}


def fixer(request) -> dict[str, Any]:
    prompt = request.user_text()
    result = prompt.split("\nResult:\n", 1)[-1].split("\n\nReviewer's complaints:", 1)[0]
    return {"text": f"{result}\n\n## Fixes\n- Each session has an owner: the team lead opens, each workshop "
                    f"host runs their own.\n- Mitigations: a refundable venue; an indoor fallback room."}


def destinations(request) -> dict[str, Any]:
    wish = line_after("Traveller's request:", request.user_text())
    return {"text": f"{DEMO_NOTE} For '{wish}': Lisbon (mild spring, great food, walkable); "
                    "alternatives: Porto, Seville."}


def itinerary(request) -> dict[str, Any]:
    return {"text": f"{DEMO_NOTE} Day 1: Alfama and the castle. Day 2: Belém and the riverside. "
                    "Day 3: day trip to Sintra by train."}


def local_tips(request) -> dict[str, Any]:
    return {"text": f"{DEMO_NOTE} Eat at a tasca in Graça; custard tarts in Belém; buy a Viva Viagem card "
                    "for trams and trains."}


def any_other_agent(request) -> dict[str, Any]:
    return {"text": f"{DEMO_NOTE} You asked: {request.user_text()[:200]!r}. A real model would answer here; "
                    "set OPENAI_API_KEY (or another provider) and run `make run` for real answers."}


SCRIPT = {
    "swarm-planner": always(planner),
    "swarm-worker-1": always(figures_worker),
    "swarm-worker-2": always(schedule_worker),
    "swarm-worker-3": always(risks_worker),
    "swarm-judge": always(judge),
    "swarm-fixer": always(fixer),
    "trip-destinations": always(destinations),
    "trip-itinerary": always(itinerary),
    "trip-local": always(local_tips),
    **code_swarm.SCRIPT,  # run_code_swarm builds a todo CLI (see code_swarm.py)
    "*": always(any_other_agent),
}
