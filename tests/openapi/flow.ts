// The whole API flow through openapi-fetch and the types openapi-typescript generated
// from the served document (nil-api.d.ts), unmodified and with no hand-written HTTP.
// tsc --noEmit --strict checks it; Node runs it: `node flow.ts <base URL> <source.wat>`.
import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";
import type { components, paths } from "./nil-api.js";

type Fn = components["schemas"]["Function"];
type Err = components["schemas"]["Error"];
type JsonObject = components["schemas"]["JsonObject"];

const [baseUrl, sourcePath] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl });
const source = readFileSync(sourcePath, "utf8");

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

function expectError(error: Err | undefined, status: number, what: string): Err {
  check(error !== undefined && error.status === status, `${what}: ${JSON.stringify(error)}`);
  return error;
}

async function untilReady(id: string): Promise<Fn> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { data } = await client.GET("/functions/{id}", { params: { path: { id } } });
    check(data !== undefined, "get while building");
    if (data.status === "READY" || data.status === "FAILED") return data;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`function ${id} did not build in time`);
}

// Revision 2, a rollback to 1, a weighted alias, and a 409 for a FAILED target.
async function deployAndRollBack(id: string): Promise<void> {
  const path = { id };
  const v2 = source.replace("1024", "2048");
  const put = await client.PUT("/functions/{id}", {
    params: { path },
    body: { name: "ts-flow", language: "wat", source: v2 },
  });
  check(put.data?.revision === 2, "revision 2");
  check((await untilReady(id)).liveRevision === 2, "live follows latest");
  const rolled = await client.POST("/functions/{id}/rollback", { params: { path } });
  check(rolled.data?.revision === 1 && rolled.data.pinned, "rollback pins live");
  const onOld = await client.POST("/functions/{id}/execute", {
    params: { path, query: { alias: "live" } },
    body: {},
  });
  check(onOld.data?.revision === 1, "runs the old revision");
  const canary = await client.PUT("/functions/{id}/aliases/{name}", {
    params: { path: { id, name: "canary" } },
    body: { routes: { "1": 90, "2": 10 } },
  });
  check(canary.data?.routes?.["2"] === 10 && canary.data.revision === null, "weighted alias");
  const aliases = await client.GET("/functions/{id}/aliases", { params: { path } });
  check(aliases.data?.map((a) => a.name).join() === "latest,live,canary", "aliases");
  await client.PUT("/functions/{id}", {
    params: { path },
    body: { name: "ts-flow", language: "wat", source: "(module (func" },
  });
  const failed = await untilReady(id);
  check(failed.status === "FAILED" && failed.liveRevision === 1, "failed deploy, live kept");
  const conflict = await client.PUT("/functions/{id}/aliases/{name}", {
    params: { path: { id, name: "canary" } },
    body: { revision: 3 },
  });
  check(expectError(conflict.error, 409, "409").message.includes("FAILED"), "409 message");
  const revisions = await client.GET("/functions/{id}/revisions", { params: { path } });
  check(revisions.data?.map((r) => r.revision).join() === "3,2,1", "revisions");
}

async function main(): Promise<void> {
  const created = await client.POST("/functions", {
    body: { name: "ts-flow", language: "wat", source, description: "openapi-fetch" },
  });
  check(created.data !== undefined && created.response.status === 201, "create");
  const id = created.data.id;
  check(created.response.headers.get("Location") === `/functions/${id}`, "Location");
  check((await untilReady(id)).status === "READY", "READY");

  const input: JsonObject = { hello: "world", nested: { list: [1, "two", { three: 3 }], no: null } };
  const executed = await client.POST("/functions/{id}/execute", {
    params: { path: { id } },
    body: { input },
  });
  check(executed.data?.status === "COMPLETED", `execute: ${JSON.stringify(executed.error)}`);
  const execution = executed.data;
  check(execution.input["hello"] === "world", "typed input");
  check(JSON.stringify(execution.output) === JSON.stringify(input), "echoed output");

  const listed = await client.GET("/functions", { params: { query: { limit: 1 } } });
  check(listed.data?.length === 1 && listed.response.headers.has("Link"), "list + Link");
  const history = await client.GET("/functions/{id}/executions", { params: { path: { id } } });
  check(history.data?.[0]?.id === execution.id, "executions");
  const read = await client.GET("/executions/{id}", { params: { path: { id: execution.id } } });
  check(read.data?.durationMs !== undefined && read.data.status === "COMPLETED", "get execution");

  const { name: _, ...unchanged } = created.data;
  const updated = await client.PUT("/functions/{id}", {
    params: { path: { id } },
    body: { ...unchanged, name: "ts-flow-renamed" },
  });
  check(updated.data?.name === "ts-flow-renamed" && updated.data.revision === 1, "update");
  await deployAndRollBack(id);
  await invokeAsynchronously(id);
  const deleted = await client.DELETE("/functions/{id}", { params: { path: { id } } });
  check(deleted.response.status === 204, "delete");

  const missing = await client.GET("/functions/{id}", { params: { path: { id } } });
  check(expectError(missing.error, 404, "404").message.includes("not found"), "404 message");
  const badPage = await client.GET("/functions", { params: { query: { limit: 0 } } });
  expectError(badPage.error, 400, "400");
  const big = await client.POST("/functions", {
    body: { name: "too-big", language: "wat", source: "é".repeat(600_000) },
  });
  check(expectError(big.error, 413, "413").error === "Payload Too Large", "413 reason");
  const unknown = await client.POST("/functions", {
    body: { name: "cobol", language: "cobol", source },
  });
  expectError(unknown.error, 415, "415");
  console.log(JSON.stringify({ ok: true, function: id, execution: execution.id }));
}

// 202 with Location, a 409 for the same Idempotency-Key with another input, a long-poll.
async function invokeAsynchronously(id: string): Promise<void> {
  const header = { "Idempotency-Key": "ts-flow-1" };
  const queued = await client.POST("/functions/{id}/invocations", {
    params: { path: { id }, header },
    body: { input: { a: 1 } },
  });
  check(queued.data !== undefined && queued.response.status === 202, "invoke 202");
  check(queued.data.status === "PENDING" && queued.data.trigger === "async", "PENDING async");
  const location = queued.response.headers.get("Location");
  check(location === `/executions/${queued.data.id}`, "invoke Location");
  const other = await client.POST("/functions/{id}/invocations", {
    params: { path: { id }, header },
    body: { input: { a: 2 } },
  });
  expectError(other.error, 409, "409 idempotency");
  const waited = await client.GET("/executions/{id}", {
    params: { path: { id: queued.data.id }, query: { wait: 20 } },
  });
  check(waited.data?.status === "COMPLETED" && waited.data.attempts === 1, "long-poll");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
