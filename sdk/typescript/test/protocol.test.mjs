// The callback protocol through every adapter (Node http, Express mounted
// under a path, Fastify under a prefix, a fetch handler), with requests
// signed exactly as the platform signs them; schemas (JSON Schema and zod),
// templates, and errors that never leak a stack. Runs on the built package,
// through both its ESM and CommonJS entry points.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { test } from "node:test";
import express from "express";
import Fastify from "fastify";
import { z } from "zod";
import { OmniMCP, compileTemplate, signature } from "../dist/esm/index.js";

const SECRET = "whsec_protocol_test";
const quiet = { info() {}, warn() {} };

/** Sends a request signed as the platform signs it; returns status and JSON. */
async function signed(base, method, pathAndQuery, body, { secret = SECRET, id, timestamp } = {}) {
  const requestId = id ?? randomBytes(16).toString("hex");
  const ts = timestamp ?? signature.unixNow();
  const raw = body === undefined ? "" : JSON.stringify(body);
  const headers = {
    "x-webhook-secret": secret,
    "x-omnimcp-timestamp": String(ts),
    "x-omnimcp-request-id": requestId,
    "x-omnimcp-signature": signature.sign(secret, ts, requestId, { method, pathAndQuery, body: raw }),
  };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(base + pathAndQuery, { method, headers, body: body === undefined ? undefined : raw });
  return { status: res.status, body: await res.json(), requestId, ts };
}

function server() {
  return new OmniMCP({ webhookSecret: SECRET, logger: quiet })
    .tool({
      name: "add",
      description: "Adds",
      parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] },
      annotations: { readOnlyHint: true },
      handler: ({ a, b }) => ({ sum: a + b }),
    })
    .tool({
      name: "greet",
      description: "Greets",
      parameters: z.object({ name: z.string().min(1), polite: z.boolean().default(true) }),
      handler: ({ name, polite }) => (polite ? `Good day, ${name}.` : `Hi ${name}`),
    })
    .tool({
      name: "crash",
      description: "A bug",
      handler: () => {
        const secretPath = "/home/dev/app/src/index.ts";
        throw new TypeError(`cannot read properties of undefined (at ${secretPath.length})`);
      },
    })
    .resource({ uri: "notes://{id}", name: "Note", mimeType: "text/markdown", read: (_uri, { id }) => `# Note ${id}` })
    .resource({ uri: "files://{+path}", name: "File", read: (_uri, { path }) => new TextEncoder().encode(path) })
    .prompt({
      name: "review",
      description: "Reviews",
      arguments: [{ name: "topic", required: true }],
      get: ({ topic }) => ({ description: `About ${topic}`, messages: [{ role: "user", content: `Review ${topic}` }] }),
    });
}

/** Every route and refusal, against one base URL (a mount path included). */
async function protocol(base, mount = "") {
  const call = (path, body, opts) => signed(base, "POST", mount + path, body, opts);
  const get = (path, opts) => signed(base, "GET", mount + path, undefined, opts);

  assert.deepEqual((await get("/health")).body, { status: "ok" });
  assert.deepEqual((await call("/tools/add", { arguments: { a: 2, b: 3 } })).body, { success: true, result: { sum: 5 } });
  const greeted = await call("/tools/greet", { arguments: { name: "Ada" } });
  assert.deepEqual(greeted.body, { success: true, result: "Good day, Ada." }, "zod defaults apply");
  const bad = await call("/tools/greet", { arguments: { name: "" } });
  assert.equal(bad.status, 422);
  assert.match(bad.body.error, /^name: /);
  const missing = await call("/tools/add", { arguments: { a: 1 } });
  assert.deepEqual([missing.status, missing.body.error], [422, "b: is required"]);
  const wrongType = await call("/tools/add", { arguments: { a: 1, b: "2" } });
  assert.deepEqual([wrongType.status, wrongType.body.error], [422, "b: must be of type number"]);
  const crash = await call("/tools/crash", {});
  assert.equal(crash.status, 500);
  assert.equal(crash.body.success, false);
  assert.ok(!/at .*\.(ts|js):\d+/.test(crash.body.error) && !crash.body.error.includes("\n"), "no stack");
  assert.equal((await call("/tools/nope", {})).status, 404);
  assert.equal((await call("/tools/add", [1, 2])).status, 400);

  const note = await get(`/resources?uri=${encodeURIComponent("notes://42")}`);
  assert.deepEqual(note.body.result.contents, [{ uri: "notes://42", mimeType: "text/markdown", text: "# Note 42" }]);
  const file = await get(`/resources?uri=${encodeURIComponent("files://a/b.txt")}`);
  assert.equal(Buffer.from(file.body.result.contents[0].blob, "base64").toString(), "a/b.txt");
  assert.equal((await get(`/resources?uri=${encodeURIComponent("other://1")}`)).status, 404);

  const prompt = await call("/prompts/review", { arguments: { topic: "tests" } });
  assert.deepEqual(prompt.body.result, {
    description: "About tests",
    messages: [{ role: "user", content: { type: "text", text: "Review tests" } }],
  });
  assert.equal((await call("/prompts/review", { arguments: {} })).status, 422);

  // Refusals: wrong secret, stale, replayed, tampered.
  assert.equal((await call("/tools/add", { arguments: { a: 1, b: 1 } }, { secret: "whsec_guess" })).status, 401);
  const stale = await call("/tools/add", { arguments: { a: 1, b: 1 } }, { timestamp: signature.unixNow() - 600 });
  assert.deepEqual([stale.status, /away from this server's clock/.test(stale.body.error)], [401, true]);
  const first = await call("/tools/add", { arguments: { a: 1, b: 1 } });
  assert.equal(first.status, 200);
  const replay = await call("/tools/add", { arguments: { a: 1, b: 1 } }, { id: first.requestId, timestamp: first.ts });
  assert.deepEqual([replay.status, replay.body.error], [401, "this request was already received (or too many arrived within the window)"]);
  const ts = signature.unixNow();
  const id = randomBytes(16).toString("hex");
  const sig = signature.sign(SECRET, ts, id, { method: "POST", pathAndQuery: `${mount}/tools/add`, body: '{"arguments":{"a":1,"b":1}}' });
  const tampered = await fetch(`${base}${mount}/tools/add`, {
    method: "POST",
    headers: {
      "x-webhook-secret": SECRET,
      "x-omnimcp-timestamp": String(ts),
      "x-omnimcp-request-id": id,
      "x-omnimcp-signature": sig,
      "content-type": "application/json",
    },
    body: '{"arguments":{"a":1,"b":1000}}',
  });
  assert.equal(tampered.status, 401);
}

function listen(srv) {
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${srv.address().port}`)));
}

test("startLocal (Node http) speaks the protocol and refuses what it must", async () => {
  const local = await server().startLocal();
  try {
    await protocol(local.url);
  } finally {
    await local.close();
  }
});

test("Express, mounted under a path the callback URL includes, before a JSON parser", async () => {
  const app = express();
  app.use("/omnimcp", server().expressHandler());
  app.use(express.json());
  app.get("/other", (_req, res) => res.json({ ok: true }));
  const srv = createServer(app);
  const base = await listen(srv);
  try {
    await protocol(base, "/omnimcp");
    assert.deepEqual(await (await fetch(`${base}/other`)).json(), { ok: true }, "the rest of the app is untouched");
  } finally {
    srv.close();
  }
});

test("Fastify, registered under a prefix", async () => {
  const app = Fastify();
  await app.register(server().fastifyPlugin(), { prefix: "/hooks" });
  app.get("/other", async () => ({ ok: true }));
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    await protocol(base, "/hooks");
  } finally {
    await app.close();
  }
});

test("a fetch handler, as serverless platforms call it", async () => {
  const handler = server().fetchHandler();
  const srv = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const response = await handler(
      new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers, body }),
    );
    res.writeHead(response.status, { "content-type": "application/json" });
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  const base = await listen(srv);
  try {
    await protocol(base);
    const big = await handler(new Request("http://x/tools/add", { method: "POST", body: "x".repeat(1024 * 1024 + 1) }));
    assert.equal(big.status, 413, "a body past 1 MiB is refused before anything else");
  } finally {
    srv.close();
  }
});

test("no secret, no serving; the CommonJS build is the same package", async () => {
  delete process.env.OMNIMCP_WEBHOOK_SECRET;
  delete process.env.OMNIMCP_API_KEY;
  const none = new OmniMCP({ logger: quiet, webhookSecret: undefined });
  await assert.rejects(() => none.startLocal(), /no webhook secret/);
  assert.throws(() => none.fetchHandler(), /no webhook secret/);
  // With an API key it may start before its first deploy, refusing everything until then.
  const early = new OmniMCP({ logger: quiet, apiKey: "omni_x" }).tool({ name: "ping", description: "", handler: () => "pong" });
  const waiting = await early.startLocal();
  try {
    const refused = await signed(waiting.url, "POST", "/tools/ping", {});
    assert.deepEqual([refused.status, refused.body.error], [401, "this server has no webhook secret configured"]);
    early.setWebhookSecret(SECRET);
    assert.equal((await signed(waiting.url, "POST", "/tools/ping", {})).status, 200);
  } finally {
    await waiting.close();
  }
  const require = createRequire(import.meta.url);
  const cjs = require("@omnimcp/sdk");
  assert.equal(typeof cjs.OmniMCP, "function");
  assert.equal(cjs.signature.sign("key", 1, "0123456789abcdef0123456789abcdef", { method: "POST", pathAndQuery: "/tools/t", body: "{}" }).slice(-8), "0294f8e2");
  const local = await new cjs.OmniMCP({ webhookSecret: SECRET, logger: quiet })
    .tool({ name: "ping", description: "", handler: () => "pong" })
    .startLocal();
  try {
    assert.deepEqual((await signed(local.url, "POST", "/tools/ping", {})).body, { success: true, result: "pong" });
  } finally {
    await local.close();
  }
});

test("templates match their expansions only, in linear time", () => {
  const t = compileTemplate("notes://{folder}/{id}{?rev}");
  assert.deepEqual(t.match("notes://a/b"), { folder: "a", id: "b" });
  assert.deepEqual(t.match("notes://a/b?rev=3&x=1"), { folder: "a", id: "b", rev: "3" });
  assert.equal(t.match("notes://a/b/c"), undefined, "{var} stops at /");
  assert.deepEqual(compileTemplate("files://{+path}").match("files://a/b%20c"), { path: "a/b c" });
  assert.equal(compileTemplate("plain://x").match("plain://x?"), undefined);
  assert.throws(() => compileTemplate("bad://{a"), /unclosed/);
  const hostile = compileTemplate(`x://${"{a}".repeat(20)}`);
  const started = process.hrtime.bigint();
  hostile.match(`x://${"a".repeat(50_000)}!`);
  assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
});

test("the deploy manifest carries JSON Schemas, zod converted, and annotations", async () => {
  const captured = [];
  const platform = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    captured.push({ url: req.url, auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) });
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ serverId: "s1", slug: "demo", created: true, webhookSecret: "whsec_new" }));
  });
  const baseUrl = await listen(platform);
  const logged = [];
  const logger = { info: (m) => logged.push(m), warn() {} };
  const withLogger = new OmniMCP({ apiKey: "omni_test", baseUrl, logger });
  try {
    const deployed = await withLogger
      .tool({ name: "greet", description: "Greets", parameters: z.object({ name: z.string() }), handler: () => "" })
      .resource({ uri: "notes://{id}", name: "Note", read: () => "" })
      .deploy({ name: "demo", callbackUrl: "https://demo.example.com/hooks/", tags: ["x"] });
    assert.equal(captured[0].url, "/api/mcp/deploy");
    assert.equal(captured[0].auth, "Bearer omni_test");
    const body = captured[0].body;
    assert.equal(body.callbackUrl, "https://demo.example.com/hooks");
    assert.deepEqual(body.tools[0].inputSchema.required, ["name"]);
    assert.equal(body.tools[0].inputSchema.type, "object");
    assert.equal(body.resources[0].uriTemplate, "notes://{id}");
    assert.equal(deployed.webhookSecret.reveal(), "whsec_new");
    assert.equal(JSON.stringify(deployed), '{"serverId":"s1","slug":"demo","created":true,"webhookSecret":"[redacted]"}');
    assert.equal(logged.filter((m) => m.includes("whsec_new")).length, 1, "the secret is printed once");
  } finally {
    platform.close();
  }
});
