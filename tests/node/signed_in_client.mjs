// A signed-in person through the official TypeScript SDK's client: a bearer token, no key (issue 20).
// Usage: node signed_in_client.mjs <mcp url> <access token> <someone else's job id>; prints one JSON line per step.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, otherJob] = process.argv.slice(2);
const print = (event) => console.log(JSON.stringify(event));
const text = (result) => result.content.map((block) => block.text ?? "").join("");

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-signed-in-test", version: "1.0.0" }, { capabilities: {} });
await client.connect(transport);
const other = await client.callTool({ name: "get_job", arguments: { job_id: otherJob } });
print({ type: "get_job", isError: other.isError ?? false, text: text(other) });
const started = await client.callTool({ name: "run_agent", arguments: { task: "Say hello" } });
print({ type: "run_agent", job_id: started.structuredContent.job_id });
const listed = await client.callTool({ name: "list_jobs", arguments: { limit: 100 } });
print({ type: "list_jobs", job_ids: listed.structuredContent.jobs.map((job) => job.job_id) });
await client.close();
