"""Scripted turns of run_swarm's agents that the usage, budget and trace tests share (testing/fake_model_server.py
scripts): a plan, a worker's report, a passing verdict, and swarms of two parts."""
from __future__ import annotations

from typing import Any

CONTRACT = "Every part is one Markdown section."
PASSING = {"json": {"score": 90, "complaints": []}}


def plan_turn(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The planner's answer: the contract and `tasks` ({id, title, instructions, tools?})."""
    return {"json": {"contract": CONTRACT, "tasks": tasks}}


def done(result: str) -> dict[str, Any]:
    """A worker's report of success with `result`."""
    return {"json": {"status": "done", "result": result}}


def two_parts(first: list, second: list) -> dict[str, list]:
    """A swarm of two writing tasks ("One", "Two"): the planner, the workers' turns given, a passing judge."""
    return {"swarm-planner": [plan_turn([{"id": 1, "title": "One", "instructions": "Write one."},
                                         {"id": 2, "title": "Two", "instructions": "Write two."}])],
            "swarm-worker-1": first, "swarm-worker-2": second, "swarm-judge": [PASSING]}


def compute_and_write(computing: list) -> dict[str, list]:
    """A swarm of two tasks: "Compute" (6*7, with calculate; the turns of worker 1 given) and "Write" (one
    answer), then a passing judge."""
    return {"swarm-planner": [plan_turn([{"id": 1, "title": "Compute", "instructions": "Compute 6*7.",
                                          "tools": ["calculate"]},
                                         {"id": 2, "title": "Write", "instructions": "Write a line."}])],
            "swarm-worker-1": computing, "swarm-worker-2": [done("a line")], "swarm-judge": [PASSING]}
