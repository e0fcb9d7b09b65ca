"""A Durable app that exercises every engine feature the tests and benchmarks need.

Activities that have effects append a line to a ledger file (STEP_LEDGER), so crash tests can
count how many times each step really ran.
"""
import asyncio
import json
import os
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def ledger(entry: str) -> None:
    path = os.environ.get("STEP_LEDGER")
    if path:
        with open(path, "a") as fh:
            fh.write(entry + "\n")
            fh.flush()
            os.fsync(fh.fileno())


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["functionName"], None, payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="secure/ping", auth_level=func.AuthLevel.FUNCTION)
def secure_ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="item")
def noop(item):
    return item


@app.activity_trigger(input_name="step", activity="record_step")
def record_step_activity(step: dict) -> dict:
    ledger(f"{step['run']}:{step['n']}")
    time.sleep(step.get("sleep", 0))
    return {"n": step["n"]}


@app.activity_trigger(input_name="attempt")
def flaky(attempt: dict) -> str:
    path = attempt["counter"]
    count = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as fh:
        fh.write(str(count + 1))
    if count + 1 < attempt["succeed_on"]:
        raise RuntimeError(f"flaky failure {count + 1}")
    return f"ok after {count + 1}"


@app.activity_trigger(input_name="flag")
def fail_unless_file(flag: dict) -> str:
    ledger(f"guarded:{flag['path']}")
    if not os.path.exists(flag["path"]):
        raise ValueError("the flag file is missing")
    return "guard passed"


@app.activity_trigger(input_name="size")
def big_result(size: int) -> str:
    return "x" * size


@app.activity_trigger(input_name="spec")
def repeated_text(spec: dict) -> str:
    return spec["text"] * spec["count"]


@app.activity_trigger(input_name="x")
def not_serializable(x):
    return object()


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    n = context.get_input() or 3
    results = []
    for i in range(n):
        results.append((yield context.call_activity("noop", i)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input() or 10
    results = yield context.task_all([context.call_activity("noop", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def hello_sequence(context: df.DurableOrchestrationContext):
    out = []
    for city in ("Tokyo", "Seattle", "London", "Oslo", "Lima"):
        out.append((yield context.call_activity("say_hello", city)))
    return out


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    n = context.get_input()
    parts = yield context.task_all([context.call_activity("noop", n * 10 + i) for i in range(3)])
    return sum(parts)


@app.orchestration_trigger(context_name="context")
def everything(context: df.DurableOrchestrationContext):
    """Chains, fans out, retries a flaky activity, calls a sub-orchestration, waits for an event
    against a timer and continues as new once."""
    state = context.get_input() or {}
    generation = state.get("generation", 0)
    context.set_custom_status({"stage": "chain", "generation": generation})
    greeting = yield context.call_activity("say_hello", "durable")
    fanned = yield context.task_all([context.call_activity("noop", i) for i in range(5)])
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=4)
    flaky_result = yield context.call_activity_with_retry(
        "flaky", retry, {"counter": state["counter"], "succeed_on": 3})
    sub = yield context.call_sub_orchestrator("child", 4)
    context.set_custom_status({"stage": "waiting", "generation": generation})
    deadline = context.current_utc_datetime + timedelta(seconds=state.get("timeout", 30))
    approval = context.wait_for_external_event("approval")
    timer = context.create_timer(deadline)
    winner = yield context.task_any([approval, timer])
    if winner == approval:
        timer.cancel()
        decision = approval.result
    else:
        decision = "timed out"
    if generation == 0:
        context.continue_as_new({**state, "generation": 1, "first": decision})
        return None
    return {
        "greeting": greeting, "fanned": sum(fanned), "flaky": flaky_result, "sub": sub,
        "first": state.get("first"), "second": decision, "generation": generation,
    }


@app.orchestration_trigger(context_name="context")
def steps(context: df.DurableOrchestrationContext):
    """Sequential steps that record themselves in the ledger (crash tests)."""
    spec = context.get_input()
    done = []
    for n in range(spec["count"]):
        done.append((yield context.call_activity("record_step", {"run": spec["run"], "n": n,
                                                                  "sleep": spec.get("sleep", 0)}))["n"])
    return done


@app.orchestration_trigger(context_name="context")
def parallel_steps(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    tasks = [context.call_activity("record_step", {"run": spec["run"], "n": n, "sleep": spec.get("sleep", 0)})
             for n in range(spec["count"])]
    results = yield context.task_all(tasks)
    return sorted(r["n"] for r in results)


@app.orchestration_trigger(context_name="context")
def timer_then_step(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=spec["seconds"]))
    result = yield context.call_activity("record_step", {"run": spec["run"], "n": 0})
    return result


@app.orchestration_trigger(context_name="context")
def wait_event(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("go")
    return value


@app.orchestration_trigger(context_name="context")
def guarded(context: df.DurableOrchestrationContext):
    """Records steps, then calls an activity that fails until a flag file exists (rewind tests)."""
    spec = context.get_input()
    first = yield context.call_activity("record_step", {"run": spec["run"], "n": 0})
    second = yield context.call_activity("record_step", {"run": spec["run"], "n": 1})
    guard = yield context.call_activity("fail_unless_file", {"path": spec["flag"]})
    third = yield context.call_activity("record_step", {"run": spec["run"], "n": 2})
    return [first["n"], second["n"], guard, third["n"]]


@app.orchestration_trigger(context_name="context")
def guarded_parent(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    before = yield context.call_activity("record_step", {"run": spec["run"], "n": 100})
    sub = yield context.call_sub_orchestrator("guarded", spec)
    return {"before": before["n"], "sub": sub}


@app.orchestration_trigger(context_name="context")
def always_fails(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=2)
    yield context.call_activity_with_retry("fail_unless_file", retry, {"path": "/nonexistent/flag"})
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def raises(context: df.DurableOrchestrationContext):
    yield context.call_activity("noop", 1)
    raise ValueError("orchestrator says no")


@app.orchestration_trigger(context_name="context")
def calls_missing(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("no_such_activity", 1)
    return result


@app.orchestration_trigger(context_name="context")
def calls_missing_sub(context: df.DurableOrchestrationContext):
    result = yield context.call_sub_orchestrator("no_such_orchestrator", 1)
    return result


@app.orchestration_trigger(context_name="context")
def returns_object(context: df.DurableOrchestrationContext):
    yield context.call_activity("noop", 1)
    return object()


@app.orchestration_trigger(context_name="context")
def activity_returns_object(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("not_serializable", 1)
    return result


@app.orchestration_trigger(context_name="context")
def big_output(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("big_result", context.get_input())
    return len(result)


@app.orchestration_trigger(context_name="context")
def text_output(context: df.DurableOrchestrationContext):
    """Returns `{text, count}`'s text repeated, made by an activity: an activity result and an output."""
    return (yield context.call_activity("repeated_text", context.get_input()))


@app.orchestration_trigger(context_name="context")
def text_input(context: df.DurableOrchestrationContext):
    """Hands its input to an activity (an activity input) and returns its length."""
    return len((yield context.call_activity("noop", context.get_input())))


@app.orchestration_trigger(context_name="context")
def versioned(context: df.DurableOrchestrationContext):
    """Changes what it schedules when VERSIONED_VARIANT changes: a code change under a running instance."""
    first_activity = "say_hello" if os.environ.get("VERSIONED_VARIANT", "a") == "a" else "noop"
    first = yield context.call_activity(first_activity, "v")
    go = yield context.wait_for_external_event("go")
    return [first, go]


@app.orchestration_trigger(context_name="context")
def counter_loop(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    yield context.call_activity("noop", n)
    if n < 5:
        context.continue_as_new(n + 1)
        return None
    return n


@app.orchestration_trigger(context_name="context")
def http_caller(context: df.DurableOrchestrationContext):
    response = yield context.call_http("GET", context.get_input())
    return {"status": response["statusCode"], "content": response["content"]}


@app.orchestration_trigger(context_name="context")
def sets_custom_status(context: df.DurableOrchestrationContext):
    """Sets a custom status of `count` times `text`, then waits for `go` (Azure's 16 KB limit)."""
    spec = context.get_input()
    context.set_custom_status(spec["text"] * spec["count"])
    yield context.wait_for_external_event("go")
    return "done"


@app.activity_trigger(input_name="spec")
async def slow_async(spec: dict) -> str:
    """Sleeps; says in the ledger when it starts, is cancelled, or ends."""
    ledger(f"{spec['run']}:started")
    try:
        await asyncio.sleep(spec["seconds"])
    except asyncio.CancelledError:
        ledger(f"{spec['run']}:cancelled")
        raise
    ledger(f"{spec['run']}:finished")
    return "slept"


@app.orchestration_trigger(context_name="context")
def waits_on_slow_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("slow_async", context.get_input()))


@app.timer_trigger(schedule="* * * * * *", arg_name="timer")
def every_second(timer: func.TimerRequest) -> None:
    """A timer trigger (every second): appends to TICK_LEDGER when it is set."""
    path = os.environ.get("TICK_LEDGER")
    if path:
        with open(path, "a") as fh:
            fh.write(f"tick past_due={timer.past_due}\n")
