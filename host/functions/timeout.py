"""The function timeout: how long one execution of any function may run, as the Functions host bounds it.

Azure's rule (MS Learn "Function app timeout duration", MicrosoftDocs/azure-docs includes/
functions-timeout-duration.md): host.json `functionTimeout` applies to every function execution; past it
"a timeout error occurs and the language worker process restarts". Defaults and maxima in minutes:
Consumption 5 / 10, Flex Consumption 30 / unbounded, Premium 30 / unbounded, Dedicated 30 / unbounded.
Our app deploys on Flex Consumption (infra/) and its host.json sets none, so the default here is Flex's
30 minutes. The Functions host reads the value as a .NET TimeSpan, refuses one under 1 second, and takes
`-1` as no limit where the plan allows one (Azure/azure-functions-host src/WebJobs.Script/Config/
ScriptJobHostOptionsSetup.cs); the host.json reference documents the text as `[d.]hh:mm:ss` with hours
0-23, minutes and seconds 0-59 ("1.00:00:00" for a day, not "24:00:00"). Maxima of other plans are not
checked: Flex has none.

What a timeout looks like on Azure (Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Executors/
FunctionExecutor.cs): the log line "Timeout value of 00:30:00 exceeded by function 'Functions.<name>' (Id:
'<invocation id>'). Initiating cancellation.", and the execution fails with a FunctionTimeoutException
"Timeout value of 00:30:00 was exceeded by function: Functions.<name>"; for an out-of-process worker the
Functions host then logs "A function timeout has occurred. Restarting worker process ...". Each kind of
function then fails as it fails for any other exception:

- activity: the Durable extension records a failed activity, TaskFailed with "Activity function
  '<activity>' failed: <that message>" (azure-functions-durable-extension Listener/TaskActivityShim.cs,
  FunctionExecutionHelper.ExecuteActivityFunction: FunctionTimeoutError); the orchestration is not
  touched, and the caller's retry policy applies to it like to any failure (`host/durable/activities.py`);
- HTTP trigger: a failed invocation, 500 (on Azure the front end also gives up on a response after 230 s,
  "regardless of the function app timeout setting"; not enforced here); MCP tool, resource and prompt
  triggers: a failed tool call / an internal error; timer trigger: a failed run, logged, the schedule goes
  on. These all run through `FunctionInvoker.invoke`, which bounds every execution.

Not bounded here: orchestrator episodes (on Azure an episode is a function execution too, and the Durable
extension tells its orchestration shim of a timed-out one: FunctionExecutionHelper.
ExecuteFunctionInOrchestrationMiddleware, TimeoutTriggered; here
an episode runs on an orchestrator thread that cannot be interrupted, and one that long is a bug of its
own: replay of deterministic code between awaits) and the built-in HTTP activity (`call_http`: the
Durable extension runs it, not a function).

Python threads cannot be killed. On Azure the worker process is restarted, which ends the function (and
every other one that worker was running). Here an async function is cancelled where it waits; a sync one
runs on in its thread until it returns, its result is ignored (logged as such), and the host does not wait
for it when it stops (`host/__main__.exit_now`).
"""
from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from host.functions.loader import AppFunction

log = logging.getLogger("host.functions")

SETTING = "functionTimeout"
DEFAULT_SECONDS = 30 * 60.0  # Flex Consumption (and Premium, Dedicated): 30 minutes
MIN_SECONDS = 1.0  # ScriptJobHostOptionsSetup.MinFunctionTimeout
UNBOUNDED = "-1"
FORMAT = ('[d.]hh:mm:ss (hours 0-23, minutes and seconds 0-59; e.g. "00:10:00" for ten minutes, "1.00:00:00" '
          'for a day), or "-1" for no limit')
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?")
_TICKS = 10_000_000  # .NET TimeSpan ticks per second


class FunctionTimeoutError(Exception):
    """An execution ran past the function timeout; the message is Azure's FunctionTimeoutException's."""

    @property
    def details(self) -> str:
        """What a TaskFailed event's Details names: the exception as the Functions host raised it."""
        return f"Microsoft.Azure.WebJobs.Host.FunctionTimeoutException: {self}"


def timespan_text(seconds: float) -> str:
    """`seconds` as .NET's TimeSpan.ToString() writes it: [d.]hh:mm:ss[.fffffff] ("00:30:00", "1.00:00:00")."""
    ticks = round(seconds * _TICKS)
    whole, fraction = divmod(ticks, _TICKS)
    minutes, second = divmod(whole, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    text = f"{days}." if days else ""
    text += f"{hour:02d}:{minute:02d}:{second:02d}"
    return text + (f".{fraction:07d}" if fraction else "")


def parse_function_timeout(value: Any) -> float | None:
    """host.json's `functionTimeout` in seconds, None for no limit (`"-1"`); absent or null: the default.
    ValueError saying what is wrong with a value the host cannot start with."""
    if value is None:
        return DEFAULT_SECONDS
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration: write it as a string, {FORMAT}")
    text = value.strip()
    if text == UNBOUNDED:
        return None
    match = _TIMESPAN.fullmatch(text)
    if match is None:
        raise ValueError(f"{value!r} is not a duration: write it as {FORMAT}")
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds) > 59:
        raise ValueError(f"{value!r} is out of range: write it as {FORMAT}")
    total = (int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
             + int((fraction or "0").ljust(7, "0")) / _TICKS)
    if total < MIN_SECONDS:
        raise ValueError(f"{value!r} is under {timespan_text(MIN_SECONDS)}, the shortest Azure accepts")
    return total


@dataclass(frozen=True)
class FunctionTimeout:
    """How long one function execution may run: `seconds`, or None for no limit."""

    seconds: float | None = DEFAULT_SECONDS

    @property
    def text(self) -> str:
        return timespan_text(self.seconds) if self.seconds is not None else UNBOUNDED

    def exceeded(self, function: AppFunction, runs_on: bool) -> FunctionTimeoutError:
        """Log Azure's line for `function` having run past the timeout; the error its execution fails with.
        `runs_on`: a thread that cannot be stopped still runs it."""
        name = f"Functions.{function.name}"
        log.error("Timeout value of %s exceeded by function '%s' (Id: '%s'). Initiating cancellation.",
                  self.text, name, uuid.uuid4())
        if runs_on:
            log.warning("%s runs on in its thread (Python threads cannot be stopped; Azure restarts the worker "
                        "process instead): its result will be ignored", name)
        return FunctionTimeoutError(f"Timeout value of {self.text} was exceeded by function: {name}")

    def returned_late(self, function: AppFunction) -> None:
        """A thread that ran past the timeout has returned; what it returned or raised is dropped."""
        log.warning("Functions.%s returned after its timeout of %s: its result is ignored", function.name, self.text)


@dataclass(eq=False, slots=True)
class Deadline:
    """One execution's deadline (loop time, seconds) and what to do when it passes."""

    due: float
    on_expiry: Callable[[], None] = field(repr=False)


class Deadlines:
    """The deadlines of the executions in flight, kept with one timer on the event loop: every execution gets
    the same timeout, so they fall due in the order they started. A deadline costs an entry in an ordered
    dict rather than a loop timer of its own (armed and cancelled, 3-5 us: several per cent of a no-op
    activity of the engine benchmark). Used on the loop's thread only."""

    def __init__(self, timeout: FunctionTimeout):
        self.timeout = timeout
        self._pending: OrderedDict[Deadline, None] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, on_expiry: Callable[[], None]) -> Deadline | None:
        """Call `on_expiry` on the loop when the timeout has passed, unless `done` came first; None when
        there is no limit."""
        if self.timeout.seconds is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = Deadline(loop.time() + self.timeout.seconds, on_expiry)
        self._pending[deadline] = None
        if self._timer is None:
            self._timer = loop.call_at(deadline.due, self._expire)
        return deadline

    def done(self, deadline: Deadline | None) -> None:
        """The execution ended in time (or its caller stopped it)."""
        if deadline is not None:
            self._pending.pop(deadline, None)

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        now, passed = loop.time(), []
        while self._pending and next(iter(self._pending)).due <= now:
            passed.append(self._pending.popitem(last=False)[0])
        self._timer = loop.call_at(next(iter(self._pending)).due, self._expire) if self._pending else None
        for deadline in passed:
            deadline.on_expiry()
