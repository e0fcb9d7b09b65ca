// MCP Tasks (2025-11-25) through the official TypeScript SDK's client against the local host.
// Usage: node tasks_client.mjs <mcp url> <key> <scenario>; prints one JSON line per event.
//   trip:   plan_trip as a task (the SDK adds `task` for tools that list execution.taskSupport),
//           following it with tasks/get and, once it needs input, tasks/result (which waits)
//   cancel: plan_trip as a task, then tasks/list, tasks/cancel, tasks/get
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, key, scenario] = process.argv.slice(2);
const print = (event) => console.log(JSON.stringify(event));

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { "x-functions-key": key } },
});
const client = new Client({ name: "ts-tasks-test", version: "1.0.0" }, { capabilities: {} });
await client.connect(transport);
print({ type: "capabilities", tasks: client.getServerCapabilities().tasks ?? null });
const { tools } = await client.listTools();
print({ type: "tools", execution: Object.fromEntries(tools.map((t) => [t.name, t.execution ?? null])) });

const call = { name: "plan_trip", arguments: { request: `A week in Oslo (${scenario})` } };
if (scenario === "trip") {
  for await (const message of client.experimental.tasks.callToolStream(call, CallToolResultSchema, {
    task: { ttl: 600000 },
  })) {
    print(message.type === "error" ? { type: "error", message: String(message.error) } : message);
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
