"""The `budget` argument every launcher takes, and the budget a job starts with (issue 19 §2).

`budget: {tokens?, cost?, minutes?}` limits the job's model calls: tokens (input plus output), cost (in the
price table's currency), wall-clock minutes. What it leaves out takes the server's default (`BUDGET_DEFAULT`),
else its maximum (`BUDGET_MAX`); more than the maximum is refused. The result is the `budget` of the job's
input, which the budget check reads (orchestrations/usage/budget.py).
"""
from __future__ import annotations

from typing import Any, Optional

from orchestrations.usage.budget import job_budget, parse_limits

from .arguments import Arg, argument_error

ALLOWED = ("a JSON object with any of tokens (a whole number of at least 1: input plus output tokens), cost "
           "(a number above 0, in the price table's currency) and minutes (a number above 0, wall clock)")
BUDGET_ARG = Arg("budget", "object", "Limits on this job's model calls: {tokens?, cost?, minutes?}. When one is "
                 "reached the job asks whether to raise it or stop (event 'budget'). Default: the server's.",
                 max_bytes=200, allowed=ALLOWED)


def with_budget(spec: dict[str, Any], given: Optional[dict[str, Any]]) -> dict[str, Any]:
    """The orchestration input `spec` with the job's budget (none when neither the launcher nor the server
    sets one); `ToolError` for a budget that is malformed or over the server's maximum."""
    try:
        budget = job_budget(parse_limits(given, "the budget") if given is not None else None)
    except ValueError as error:
        raise argument_error(BUDGET_ARG.name, f"is not usable: {error}", ALLOWED) from None
    return {**spec, "budget": budget} if budget else spec
