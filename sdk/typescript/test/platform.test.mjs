// End to end against the real platform (target/debug/omnimcp, started here
// on a free port with a fresh SQLite database): the weather example is
// deployed with deploy(), served with startLocal(), installed by another
// user and called through /mcp by the official TypeScript MCP client and
// through POST /mcp/call; a secret rotation makes the old secret's
// signatures fail; serveStdio() is driven by the official client too.
// Open-Meteo is a loopback fake shaped like the real API.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { signature } from "../dist/esm/index.js";
import { weatherServer } from "../build/examples/weather.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "../../..");
const binary = process.env.OMNIMCP_BIN ?? join(root, "target/debug/omnimcp");
const PASSWORD = "correct horse battery";
const quiet = { info() {}, warn() {} };

let platform; // { url, child, dir }
let weather; // the fake Open-Meteo

/** The fake Open-Meteo: geocoding and forecast, shaped like the real responses. */
function fakeOpenMeteo() {
  const places = {
    Paris: { name: "Paris", country: "France", latitude: 48.85341, longitude: 2.3488 },
    Oslo: { name: "Oslo", country: "Norway", latitude: 59.91273, longitude: 10.74609 },
  };
  const temps = { "48.85341": 18.4, "59.91273": 6.1 };
  return createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const json = (body) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/v1/search") {
      const place = places[url.searchParams.get("name")];
      return json(place ? { results: [{ id: 1, ...place }], generationtime_ms: 0.5 } : { generationtime_ms: 0.5 });
    }
    if (url.pathname === "/v1/forecast") {
      const days = Number(url.searchParams.get("forecast_days"));
      const temperature = temps[url.searchParams.get("latitude")] ?? 0;
      return json({
        latitude: Number(url.searchParams.get("latitude")),
        longitude: Number(url.searchParams.get("longitude")),
        current_units: { temperature_2m: "°C", wind_speed_10m: "km/h" },
        current: { time: "2026-12-07T12:00", interval: 900, temperature_2m: temperature, wind_speed_10m: 11.2 },
        daily: {
          time: Array.from({ length: days }, (_, i) => `2026-12-${String(7 + i).padStart(2, "0")}`),
          temperature_2m_min: Array.from({ length: days }, () => temperature - 4),
          temperature_2m_max: Array.from({ length: days }, () => temperature + 3),
        },
      });
    }
    res.writeHead(404).end();
  });
}

async function startPlatform() {
  assert.ok(existsSync(binary), `${binary} is missing: build the platform first (cargo leptos build)`);
  const dir = await mkdtemp(join(tmpdir(), "omnimcp-sdk-ts-"));
  const child = spawn(
    binary,
    ["serve", "--bind", "127.0.0.1:0", "--data-dir", dir, "--outbound-allow-http", "--outbound-allow-loopback"],
    { cwd: root, env: { ...process.env, NO_COLOR: "1", RUST_LOG: "info" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = await new Promise((resolveUrl, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`the platform did not start:\n${seen}`)), 60_000);
    const onData = (chunk) => {
      seen += chunk.toString().replace(/\x1b\[[0-9;]*m/g, "");
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (found) {
        clearTimeout(timer);
        resolveUrl(found[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`the platform exited (${code}):\n${seen}`)));
  });
  return { url, child, dir };
}

async function api(method, path, body, bearer) {
  const res = await fetch(platform.url + path, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** A new account and an API key of it. */
async function account(email) {
  const registered = await api("POST", "/api/auth/register", { email, password: PASSWORD });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const key = await api("POST", "/api/keys", { name: "sdk-test" }, registered.body.token);
  assert.equal(key.status, 201);
  return { token: registered.body.token, key: key.body.key };
}

before(async () => {
  weather = fakeOpenMeteo();
  await new Promise((r) => weather.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${weather.address().port}`;
  process.env.WEATHER_GEOCODING_URL = base;
  process.env.WEATHER_FORECAST_URL = base;
  platform = await startPlatform();
});

after(async () => {
  platform?.child.kill("SIGTERM");
  weather?.close();
  if (platform) await rm(platform.dir, { recursive: true, force: true });
});

test("deployed with deploy(), served with startLocal(), called by another user through /mcp and /mcp/call", async () => {
  const developer = await account("dev@example.com");
  const server = weatherServer({ apiKey: developer.key, baseUrl: platform.url, logger: quiet });
  // Started before the first deploy, to know its URL: it refuses everything until deploy() brings the secret.
  const local = await server.startLocal();
  try {
    const deployed = await server.deploy({
      name: "weather-example",
      description: "Current weather by place name",
      callbackUrl: local.url,
      category: "data",
      tags: ["weather"],
      printSecret: false,
    });
    assert.equal(deployed.slug, "weather-example");
    assert.ok(deployed.created);
    const firstSecret = deployed.webhookSecret.reveal();
    assert.match(firstSecret, /^whsec_/);

    // The marketplace shows the schema the SDK published, zod's included.
    const detail = await api("GET", `/api/servers/${deployed.serverId}`);
    const tool = (name) => detail.body.tools.find((t) => t.name === name);
    assert.deepEqual((tool("get_weather").inputSchema ?? tool("get_weather").parameters).required, ["city"]);
    assert.deepEqual((tool("compare").inputSchema ?? tool("compare").parameters).required, ["first", "second"]);

    // Another user installs it and calls it.
    const user = await account("user@example.com");
    const installed = await api("POST", "/api/installations", { serverId: deployed.serverId, config: {} }, user.token);
    assert.equal(installed.status, 201, JSON.stringify(installed.body));

    const client = new Client({ name: "sdk-e2e", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${user.key}` } },
      }),
    );
    try {
      const { tools } = await client.listTools();
      const listed = tools.find((t) => t.name === "weather-example.get_weather");
      assert.ok(listed, JSON.stringify(tools.map((t) => t.name)));
      assert.equal(listed.annotations?.readOnlyHint, true, "annotations reach the client");
      const result = await client.callTool({ name: "weather-example.get_weather", arguments: { city: "Paris", days: 2 } });
      assert.ok(!result.isError, JSON.stringify(result));
      assert.equal(result.structuredContent.place, "Paris");
      assert.equal(result.structuredContent.currentTemperatureC, 18.4);
      assert.equal(result.structuredContent.days.length, 2);
      const compared = await client.callTool({ name: "weather-example.compare", arguments: { first: "Oslo", second: "Paris" } });
      assert.equal(compared.structuredContent.warmer, "Paris");
      const unknown = await client.callTool({ name: "weather-example.get_weather", arguments: { city: "Atlantis" } });
      assert.equal(unknown.isError, true);
      assert.match(unknown.content[0].text, /no place called "Atlantis"/);
      const attribution = await client.readResource({ uri: "omnimcp://weather-example/weather%3A%2F%2Fattribution" });
      assert.match(attribution.contents[0].text, /Open-Meteo/);
      const prompt = await client.getPrompt({ name: "weather-example.plan_outing", arguments: { city: "Oslo" } });
      assert.match(prompt.messages[0].content.text, /weather in Oslo/);
    } finally {
      await client.close();
    }

    const rest = await api(
      "POST",
      "/mcp/call",
      { serverId: deployed.serverId, toolName: "get_weather", arguments: { city: "Oslo" } },
      user.key,
    );
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    assert.equal(JSON.stringify(rest.body).includes("Norway"), true, JSON.stringify(rest.body));

    // Rotation: the SDK takes the new secret; the old one's signatures are refused.
    const rotated = await server.deploy({
      name: "weather-example",
      description: "Current weather by place name",
      callbackUrl: local.url,
      rotateSecret: true,
      printSecret: false,
    });
    const newSecret = rotated.webhookSecret.reveal();
    assert.notEqual(newSecret, firstSecret);
    const old = async (secret) => {
      const ts = signature.unixNow();
      const id = randomBytes(16).toString("hex");
      const body = '{"arguments":{"city":"Paris"}}';
      const res = await fetch(`${local.url}/tools/get_weather`, {
        method: "POST",
        headers: {
          "x-webhook-secret": secret,
          "x-omnimcp-timestamp": String(ts),
          "x-omnimcp-request-id": id,
          "x-omnimcp-signature": signature.sign(secret, ts, id, { method: "POST", pathAndQuery: "/tools/get_weather", body }),
          "content-type": "application/json",
        },
        body,
      });
      return res.status;
    };
    assert.equal(await old(firstSecret), 401, "the old secret is refused");
    assert.equal(await old(newSecret), 200);
    const again = await api(
      "POST",
      "/mcp/call",
      { serverId: deployed.serverId, toolName: "get_weather", arguments: { city: "Paris" } },
      user.key,
    );
    assert.equal(again.status, 200, "the platform signs with the new secret and the server accepts it");
  } finally {
    await local.close();
  }
});

test("serveStdio() is a stdio MCP server the official client drives", async () => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(here, "../build/examples/weather.js"), "stdio"],
    env: { ...process.env, OMNIMCP_API_KEY: "", OMNIMCP_WEBHOOK_SECRET: "" },
    stderr: "pipe",
  });
  const client = new Client({ name: "sdk-stdio", version: "1.0.0" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["compare", "get_weather"]);
    assert.deepEqual(tools.find((t) => t.name === "compare").inputSchema.required, ["first", "second"]);
    const result = await client.callTool({ name: "get_weather", arguments: { city: "Oslo", days: 1 } });
    assert.equal(result.structuredContent.country, "Norway");
    const bad = await client.callTool({ name: "get_weather", arguments: { city: "Oslo", days: 9 } });
    assert.equal(bad.isError, true);
    assert.equal(bad.content[0].text, "days must be between 1 and 7, not 9");
    const wrong = await client.callTool({ name: "compare", arguments: { first: "Oslo" } });
    assert.equal(wrong.isError, true);
    assert.match(wrong.content[0].text, /^second: /);
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri), ["weather://attribution"]);
    const prompt = await client.getPrompt({ name: "plan_outing", arguments: { city: "Paris" } });
    assert.match(prompt.messages[0].content.text, /Paris/);
  } finally {
    await client.close();
  }
});
