# A Durable app written the way Microsoft's Python v2 samples write them (func.FunctionApp, not DFApp),
# dropped into the local host unmodified.
import logging

import azure.durable_functions as df
import azure.functions as func

myApp = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@myApp.route(route="orchestrators/{functionName}")
@myApp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    function_name = req.route_params.get("functionName")
    instance_id = await client.start_new(function_name)
    response = client.create_check_status_response(req, instance_id)
    return response


@myApp.orchestration_trigger(context_name="context")
def hello_orchestrator(context):
    result1 = yield context.call_activity("hello", "Seattle")
    result2 = yield context.call_activity("hello", "Tokyo")
    result3 = yield context.call_activity("hello", "London")
    return [result1, result2, result3]


@myApp.activity_trigger(input_name="city")
def hello(city: str):
    logging.info("saying hello to %s", city)
    return f"Hello {city}"


@myApp.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    work_batch = yield context.call_activity("get_work_batch", None)
    parallel_tasks = [context.call_activity("process_item", item) for item in work_batch]
    outputs = yield context.task_all(parallel_tasks)
    total = yield context.call_activity("sum_outputs", outputs)
    return total


@myApp.activity_trigger(input_name="ignored")
def get_work_batch(ignored):
    return list(range(1, 11))


@myApp.activity_trigger(input_name="item")
def process_item(item: int):
    return item * item


@myApp.activity_trigger(input_name="values")
def sum_outputs(values: list):
    return sum(values)
