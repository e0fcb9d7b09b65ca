// MCP Tasks and elicitation (2025-11-25) through the official TypeScript SDK's client against the local host.
// Usage: node tasks_client.mjs <mcp url> <key> <scenario>; prints one JSON line per event.
//   trip:   plan_trip as a task (the SDK adds `task` for tools that list execution.taskSupport),
//           following it with tasks/get and, once it needs input, tasks/result (which waits)
//   cancel: plan_trip as a task, then tasks/list, tasks/cancel, tasks/get
//   ask-wait: a client that declares elicitation starts plan_trip and calls wait_for_job; the host asks it for the
//           approval on the stream of the wait_for_job POST and it answers in a POST of its own (issue 21 §3)
//   ask-task: the same client runs plan_trip as a task; the host asks it on the stream of its tasks/result
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, key, scenario] = process.argv.slice(2);
const print = (event) => console.log(JSON.stringify(event));
const asks = scenario.startsWith("ask-");

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { "x-functions-key": key } },
});
const client = new Client({ name: "ts-tasks-test", version: "1.0.0" },
                          { capabilities: asks ? { elicitation: { form: {} } } : {} });
if (asks) {
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    print({ type: "asked", message: request.params.message, schema: request.params.requestedSchema,
            relatedTask: request.params._meta?.["io.modelcontextprotocol/related-task"] ?? null });
    return { action: "accept", content: { approved: true, comment: "from the TypeScript client" } };
  });
}
await client.connect(transport);
print({ type: "capabilities", tasks: client.getServerCapabilities().tasks ?? null,
        resources: client.getServerCapabilities().resources ?? null, session: Boolean(transport.sessionId) });
const { tools } = await client.listTools();
print({ type: "tools", execution: Object.fromEntries(tools.map((t) => [t.name, t.execution ?? null])) });

const call = { name: "plan_trip", arguments: { request: `A week in Oslo (${scenario})` } };
if (scenario === "trip" || scenario === "ask-task") {
  for await (const message of client.experimental.tasks.callToolStream(call, CallToolResultSchema, {
    task: { ttl: 600000 },
  })) {
    print(message.type === "error" ? { type: "error", message: String(message.error) } : message);
  }
} else if (scenario === "ask-wait") {
  const started = await client.callTool(call);
  const jobId = started.structuredContent.job_id;
  for (let round = 0; round < 20; round++) {
    const waited = await client.callTool({ name: "wait_for_job", arguments: { job_id: jobId, timeout_seconds: 20 } },
                                         CallToolResultSchema, { timeout: 120000 });
    print({ type: "waited", status: waited.structuredContent.status, job: waited.structuredContent });
    if (["completed", "failed", "canceled"].includes(waited.structuredContent.status)) break;
  }
} else {
  let taskId;
  for await (const message of client.experimental.tasks.callToolStream(call, CallToolResultSchema)) {
    print(message);
    if (message.type === "taskCreated") {
      taskId = message.task.taskId;
      break;
    }
  }
  print({ type: "list", ...(await client.experimental.tasks.listTasks()) });
  print({ type: "cancel", ...(await client.experimental.tasks.cancelTask(taskId)) });
  print({ type: "get", ...(await client.experimental.tasks.getTask(taskId)) });
  try {
    await client.experimental.tasks.cancelTask(taskId);
    print({ type: "cancel-again", error: null });
  } catch (error) {
    print({ type: "cancel-again", error: String(error) });
  }
}
await client.close();
