"""An app whose functions outlive the short function timeout its host.json sets (2 seconds): one of each kind
the host bounds (activities sync and async, an HTTP trigger, an MCP tool, a timer trigger).

The activities append to the ledger file TIMEOUT_LEDGER when they start and when they end, so a test can see
a thread that returns after its timeout.
"""
import asyncio
import os
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def ledger(entry: str) -> None:
    with open(os.environ["TIMEOUT_LEDGER"], "a") as fh:
        fh.write(entry + "\n")


@app.activity_trigger(input_name="seconds")
def sleepy(seconds: float) -> str:
    ledger("sleepy:started")
    time.sleep(seconds)
    ledger("sleepy:returned")
    return "slept"


@app.activity_trigger(input_name="seconds")
async def sleepy_async(seconds: float) -> str:
    ledger("sleepy_async:started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        ledger("sleepy_async:cancelled")
        raise
    ledger("sleepy_async:returned")
    return "slept"


@app.activity_trigger(input_name="text")
def quick(text: str) -> str:
    return text.upper()


@app.orchestration_trigger(context_name="context")
def slow_then_fast(context: df.DurableOrchestrationContext):
    """Calls `activity` with a retry policy of `attempts`, then a quick activity whatever became of it."""
    spec = context.get_input()
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=200, max_number_of_attempts=spec["attempts"])
    try:
        result, failure = (yield context.call_activity_with_retry(spec["activity"], retry, spec["seconds"])), None
    except Exception as error:
        result, failure = None, str(error)
    after = yield context.call_activity("quick", "after the slow step")
    return {"result": result, "failure": failure, "after": after}


@app.route(route="slow", methods=["GET"])
def slow_http(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("seconds", "4")))
    return func.HttpResponse("slept")


@app.mcp_tool()
async def slow_tool(seconds: float) -> str:
    """Sleeps for `seconds`."""
    await asyncio.sleep(seconds)
    return "slept"


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
def slow_timer(timer: func.TimerRequest) -> None:
    """Once a year; the test runs it now through the admin endpoint."""
    time.sleep(4)
