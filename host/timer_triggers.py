"""The app's timer triggers, run on their NCRONTAB schedules as the Functions host runs them, and Azure's admin
endpoint that runs a non-HTTP function on demand (`POST /admin/functions/{name}`, master key, 202).

A schedule is NCRONTAB's six fields, `{second} {minute} {hour} {day} {month} {day-of-week}` in UTC, each `*`,
a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those; `%NAME%` takes it from the setting NAME
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions). Day and
day-of-week must both match. `runOnStartup` fires once when the host starts. A schedule the local host cannot
read stops the host at start with the reason, as Azure refuses to index the function. Functions run on the
function threads like every other trigger; a failure is logged and the schedule goes on.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

from azure.functions.timer import TimerRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from host.config import HostSettings
from host.functions.invoker import FunctionInvoker
from host.functions.loader import AppFunction, LoadedApp
from host.keys import key_matches, presented_key

logger = logging.getLogger("host.timers")
FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
          ("day-of-week", 0, 6))
SEARCH_DAYS = 5 * 366


class ScheduleError(ValueError):
    """A schedule the local host cannot read; the message names the function and the field."""


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        if not match:
            raise ScheduleError(f"{name} {part!r}: use *, a number, a-b, */n or a list of them")
        span, step = match.group(1), int(match.group(2) or 1)
        first, last = (low, high) if span == "*" else (int(span.split("-")[0]), int(span.split("-")[-1]))
        if not low <= first <= last <= high or step < 1:
            raise ScheduleError(f"{name} {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


class Schedule:
    """A parsed NCRONTAB expression; `next_after(moment)` is the first matching second after it."""

    def __init__(self, expression: str):
        fields = expression.split()
        if len(fields) != len(FIELDS):
            raise ScheduleError(f"{expression!r} has {len(fields)} fields; NCRONTAB has 6: second minute hour day "
                                "month day-of-week")
        self.seconds, self.minutes, self.hours, self.days, self.months, self.weekdays = (
            _field(text, *spec) for text, spec in zip(fields, FIELDS))

    def next_after(self, moment: datetime) -> datetime:
        current = moment.replace(microsecond=0) + timedelta(seconds=1)
        end = moment + timedelta(days=SEARCH_DAYS)
        while current < end:
            if current.month not in self.months:
                current = (current.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
            elif current.day not in self.days or (current.weekday() + 1) % 7 not in self.weekdays:
                current = current.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif current.hour not in self.hours:
                current = current.replace(minute=0, second=0) + timedelta(hours=1)
            elif current.minute not in self.minutes:
                current = current.replace(second=0) + timedelta(minutes=1)
            elif current.second not in self.seconds:
                current += timedelta(seconds=1)
            else:
                return current
        raise ScheduleError("the schedule never fires")


def schedule_of(function: AppFunction) -> Schedule:
    text = str(function.trigger.get("schedule") or "")
    text = re.sub(r"%([^%]+)%", lambda match: os.environ.get(match.group(1), ""), text)
    try:
        return Schedule(text)
    except ScheduleError as error:
        raise ScheduleError(f"timer trigger {function.name}: {error}") from None


class TimerTriggers:
    def __init__(self, app: LoadedApp, invoker: FunctionInvoker, settings: HostSettings):
        self.app = app
        self.invoker = invoker
        self.settings = settings
        self.schedules = {function.name: schedule_of(function) for function in app.by_trigger("timerTrigger")}

    def routes(self) -> list[Route]:
        return [Route("/admin/functions/{name}", self.run_now, methods=["POST"])]

    async def run_now(self, request: Request) -> Response:
        """Azure's "manually run a non HTTP-triggered function": master key; 202 once it has run."""
        if not key_matches(presented_key(request.headers, request.query_params), self.settings.keys["master"]):
            return Response("Unauthorized", status_code=401)
        function = self.app.functions.get(request.path_params["name"])
        if function is None or function.trigger_type != "timerTrigger":
            return JSONResponse({"error": "no timer-triggered function of that name"}, status_code=404)
        await self._fire(function, past_due=False)
        return Response(status_code=202)

    async def _fire(self, function: AppFunction, past_due: bool) -> None:
        try:
            await self.invoker.invoke(function, TimerRequest(past_due=past_due))
        except Exception:
            logger.exception("timer function %s failed", function.name)

    async def _run(self, function: AppFunction) -> None:
        schedule = self.schedules[function.name]
        if function.trigger.get("runOnStartup"):
            await self._fire(function, past_due=False)
        while True:
            now = datetime.now(timezone.utc)
            due = schedule.next_after(now)
            await asyncio.sleep((due - now).total_seconds())
            await self._fire(function, past_due=datetime.now(timezone.utc) - due > timedelta(seconds=60))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self._run(self.app.functions[name])) for name in self.schedules]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
