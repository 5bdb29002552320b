// The builder in a real browser: a publisher creates a builder server from
// the design document's JSON (pointed at a loopback API shaped like
// Open-Meteo), sees its flow, saves a change, tests it, publishes it;
// another user installs it and calls it through /mcp with the official MCP
// client; then the publisher imports the Petstore's OpenAPI description
// (from @readme/oas-examples) and creates a server from two operations
// chosen with the search box.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ROOT, startServer, launchBrowser, hydrated, shot, api, registerUser, signedInContext } from './support.mjs';

let server;
let browser;
let weather;
let weatherUrl;
const received = [];

before(async () => {
  // Open-Meteo's forecast endpoint, in its shape.
  weather = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    received.push(url);
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/v1/forecast') {
      res.end(JSON.stringify({
        latitude: Number(url.searchParams.get('latitude')), longitude: Number(url.searchParams.get('longitude')),
        current_units: { temperature_2m: '°C' }, current: { time: '2026-12-08T12:00', temperature_2m: 3.4, weather_code: 3 },
      }));
    } else if (url.pathname.startsWith('/v2/pet/')) {
      res.end(JSON.stringify({ id: Number(url.pathname.split('/').pop()) || 0, name: 'doggie', status: 'available' }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise((r) => weather.listen(0, '127.0.0.1', r));
  weatherUrl = `http://127.0.0.1:${weather.address().port}`;
  server = await startServer(['--outbound-allow-http', '--outbound-allow-loopback']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  weather?.close();
});

const definition = () => JSON.stringify({
  tools: [{
    name: 'get_weather',
    inputSchema: { type: 'object', properties: { latitude: { type: 'number' }, longitude: { type: 'number' } }, required: ['latitude', 'longitude'] },
    action: {
      type: 'http_request',
      config: { method: 'GET', url: `${weatherUrl}/v1/forecast`, params: { latitude: '{{latitude}}', longitude: '{{longitude}}', current: 'temperature_2m' } },
    },
    responseMapping: { temperature: '{{data.current.temperature_2m}}', unit: '$.current_units.temperature_2m' },
  }],
}, null, 2);

test('create from a definition, see the flow, save, test, publish; another user calls it through /mcp', async () => {
  const alice = await registerUser(server, 'alice@example.com');
  const context = await signedInContext(browser, server, alice.token);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/builder`);
  await hydrated(page);
  await page.getByTestId('builder-empty').waitFor();
  await shot(page, '70-builder-empty');

  const form = page.getByTestId('new-builder');
  await form.getByLabel('Name').fill('weather-tools');
  await form.getByLabel('Definition (optional)').fill(definition());
  await form.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/builder\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const flow = page.getByTestId('flow');
  await flow.waitFor();
  const kinds = await flow.locator('li[data-kind]').evaluateAll((n) => n.map((e) => e.dataset.kind));
  assert.deepEqual(kinds, ['start', 'http_request', 'return']);
  assert.match(await flow.textContent(), /latitude, longitude/);
  assert.match(await flow.textContent(), /temperature, unit/);
  await shot(page, '71-builder-flow');

  // A change saved as a draft shows in the flow.
  const edited = JSON.parse(definition());
  edited.tools[0].description = 'The weather now at a place';
  await page.getByLabel('Definition', { exact: true }).fill(JSON.stringify(edited, null, 2));
  await page.getByTestId('builder-save').getByRole('button', { name: 'Save draft' }).click();
  await page.getByText('The weather now at a place').first().waitFor();

  // A broken definition is refused with the reason, and nothing is lost.
  await page.getByLabel('Definition', { exact: true }).fill('{"tools": [');
  await page.getByTestId('builder-save').getByRole('button', { name: 'Save draft' }).click();
  await page.getByText(/not valid JSON/).waitFor();
  await page.reload();
  await hydrated(page);
  assert.match(await page.getByLabel('Definition', { exact: true }).inputValue(), /The weather now at a place/);

  // Test: the request as sent and the mapped result.
  const testForm = page.getByTestId('builder-test');
  await testForm.getByLabel('Arguments (JSON)').fill('{"latitude": 59.91, "longitude": 10.75}');
  await testForm.getByRole('button', { name: 'Run test' }).click();
  const result = page.getByTestId('test-result');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-error'), 'false');
  assert.match(await page.getByTestId('exchange').first().textContent(), /GET .*\/v1\/forecast\?.*latitude=59\.91.*→ 200/);
  const output = JSON.parse(await page.getByTestId('test-output').textContent());
  assert.deepEqual(output.structuredContent, { temperature: 3.4, unit: '°C' });
  await shot(page, '72-builder-test');

  // Publish.
  await page.getByTestId('builder-publish').getByRole('button', { name: 'Publish' }).click();
  await page.getByTestId('published-version').waitFor();
  assert.match(await page.getByTestId('published-version').textContent(), /1\.0\.0/);
  await page.getByTestId('builder-state').filter({ hasText: 'published' }).first().waitFor();
  await shot(page, '73-builder-published');

  // Another user installs it and calls it through /mcp.
  const list = await api(server, '/api/builder/servers', { token: alice.token });
  const serverId = list.body.servers[0].id;
  const bob = await registerUser(server, 'bob@example.com');
  assert.equal((await api(server, '/api/installations', { token: bob.key, body: { serverId } })).status, 201);
  const client = new Client({ name: 'omnimcp-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${bob.key}` } },
  }));
  const { tools } = await client.listTools();
  const tool = tools.find((t) => t.name === 'weather-tools.get_weather');
  assert.ok(tool, JSON.stringify(tools.map((t) => t.name)));
  const called = await client.callTool({ name: tool.name, arguments: { latitude: 1.5, longitude: 2.5 } });
  assert.deepEqual(called.structuredContent, { temperature: 3.4, unit: '°C' });
  assert.equal(received.at(-1).searchParams.get('latitude'), '1.5');
  await client.close();
  assert.deepEqual(errors, []);
  await context.close();
});

test('import an OpenAPI document and create a server from two operations found with the search box', async () => {
  const carol = await registerUser(server, 'carol@example.com');
  const context = await signedInContext(browser, server, carol.token);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/builder`);
  await hydrated(page);

  const yaml = readFileSync(join(ROOT, 'node_modules/@readme/oas-examples/3.0/yaml/petstore.yaml'), 'utf8');
  const preview = page.getByTestId('openapi-preview');
  await preview.getByLabel('Document').fill(yaml);
  await preview.getByRole('button', { name: 'Show operations' }).click();
  const operations = page.getByTestId('operations');
  await operations.waitFor();
  assert.equal(await operations.locator('li').count(), 20);
  const search = page.getByLabel('Search operations');
  await search.fill('find pet by id');
  await search.fill('getpetbyid');
  assert.equal(await operations.locator('li:not(.hidden)').count(), 1);
  await operations.getByLabel(/GET \/pet\/\{petId\}/).check();
  await search.fill('findbystatus');
  await operations.getByLabel(/GET \/pet\/findByStatus/).check();
  await shot(page, '74-builder-import');
  const importForm = page.getByTestId('openapi-import');
  await importForm.getByLabel('Server name').fill('petstore');
  await importForm.getByLabel('Base URL').fill(`${weatherUrl}/v2`);
  await importForm.getByRole('button', { name: /Create server/ }).click();
  await page.waitForURL(/\/builder\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const flows = await page.getByTestId('flow').evaluateAll((n) => n.map((e) => e.dataset.tool));
  assert.deepEqual(flows.sort(), ['findPetsByStatus', 'getPetById']);
  await shot(page, '75-builder-imported');
  assert.deepEqual(errors, []);
  await context.close();
});
