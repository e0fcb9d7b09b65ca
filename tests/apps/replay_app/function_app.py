# An orchestrator that breaks the Durable rule "orchestrator code must be deterministic": which activity it
# calls depends on how often its code has run in this process. Kept alive between episodes, its code runs
# once and it completes; replayed every episode, as on Azure, its second run schedules another activity
# where the history recorded the first, which Azure refuses as non-deterministic.
import itertools

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
RUNS = itertools.count()


@app.activity_trigger(input_name="text")
def first(text: str) -> str:
    return f"first {text}"


@app.activity_trigger(input_name="text")
def second(text: str) -> str:
    return f"second {text}"


@app.orchestration_trigger(context_name="context")
def counts_its_runs(context: df.DurableOrchestrationContext):
    run = next(RUNS)
    one = yield context.call_activity("first" if run == 0 else "second", "a")
    two = yield context.call_activity("first", "b")
    return [one, two]
