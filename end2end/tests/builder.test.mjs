// The builder in a real browser: a publisher builds a tool from nothing in
// the flow editor, with mouse and keyboard, against a loopback API shaped
// like Open-Meteo, tests it, maps a field of the response by clicking it,
// publishes it;
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

test('build a tool from nothing with mouse and keyboard, test it, map a field by clicking it, publish it; another user calls it through /mcp', async () => {
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
  await form.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/builder\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const editor = page.getByTestId('flow-editor');
  await editor.getByText('No tools yet').waitFor();

  // A tool, named with the keyboard; two arguments, typed.
  await page.getByLabel("New tool's name").fill('get_weather');
  await page.getByLabel("New tool's name").press('Enter');
  const canvas = page.getByTestId('canvas');
  await canvas.waitFor();
  for (const arg of ['latitude', 'longitude']) {
    await page.getByLabel("New argument's name").fill(arg);
    await page.getByLabel("New argument's name").press('Enter');
    await page.getByLabel(`Type of ${arg}`).selectOption('number');
    await page.getByTestId('arg').filter({ hasText: arg }).getByLabel('required').check();
  }
  assert.match(await page.getByTestId('schema-json').textContent(), /"latitude": \{\s*"type": "number"/);

  // An HTTP request: the URL typed, the argument names offered at `{{`.
  await page.getByTestId('add-http').click();
  const url = page.getByLabel(/^URL/);
  await url.fill(`${weatherUrl}/v1/forecast?current=temperature_2m&latitude={{`);
  await page.getByTestId('suggestions').getByRole('button', { name: '{{latitude}}' }).click();
  await url.press('End');
  await url.pressSequentially('&longitude={{');
  await page.getByTestId('suggestions').getByRole('button', { name: '{{longitude}}' }).click();
  assert.equal(await url.inputValue(), `${weatherUrl}/v1/forecast?current=temperature_2m&latitude={{latitude}}&longitude={{longitude}}`);

  // A transform added, dragged above the request, moved back with
  // Alt+ArrowDown, removed with Delete; undo brings it back, redo removes it.
  await page.getByTestId('add-transform').click();
  const kinds = () => canvas.locator('li[data-kind]').evaluateAll((n) => n.map((e) => e.dataset.kind));
  assert.deepEqual(await kinds(), ['start', 'http_request', 'transform', 'return']);
  await canvas.locator('li[data-kind="transform"]').dragTo(canvas.locator('li[data-kind="http_request"]'));
  assert.deepEqual(await kinds(), ['start', 'transform', 'http_request', 'return']);
  await canvas.locator('li[data-kind="transform"] button').focus();
  await page.keyboard.press('Alt+ArrowDown');
  assert.deepEqual(await kinds(), ['start', 'http_request', 'transform', 'return']);
  await shot(page, '71-builder-canvas');
  await canvas.locator('li[data-kind="transform"] button').focus();
  await page.keyboard.press('Delete');
  assert.deepEqual(await kinds(), ['start', 'http_request', 'return']);
  await editor.getByRole('button', { name: 'Undo' }).click();
  assert.deepEqual(await kinds(), ['start', 'http_request', 'transform', 'return']);
  await editor.getByRole('button', { name: 'Redo' }).click();
  assert.deepEqual(await kinds(), ['start', 'http_request', 'return']);

  // Zoom, and the minimap of a long flow, which jumps to a node.
  await editor.getByRole('button', { name: 'Zoom in' }).click();
  assert.equal(await editor.getByTestId('zoom').textContent(), '110%');
  await editor.getByTestId('zoom').click();
  assert.equal(await page.getByTestId('minimap').count(), 0);
  for (let i = 0; i < 3; i++) await page.getByTestId('add-transform').click();
  await page.getByTestId('minimap').waitFor();
  await page.getByTestId('minimap').getByRole('button', { name: 'Go to node 6' }).click();
  await page.getByTestId('panel').getByText('Return: what the tool answers').waitFor();
  assert.equal(await canvas.locator('li[data-kind="return"] button').getAttribute('aria-pressed'), 'true');
  for (let i = 0; i < 3; i++) await editor.getByRole('button', { name: 'Undo' }).click();
  assert.deepEqual(await kinds(), ['start', 'http_request', 'return']);

  // Saved with Ctrl+S; a test shows the request as sent and the response.
  await canvas.locator('li[data-kind="start"] button').click();
  await page.keyboard.press('Control+s');
  await page.getByTestId('editor-status').filter({ hasText: 'Saved.' }).waitFor();
  await page.getByLabel('Sample arguments (JSON)').fill('{"latitude": 59.91, "longitude": 10.75}');
  await page.getByRole('button', { name: 'Save and run test' }).click();
  await page.getByTestId('test-result').waitFor();
  assert.match(await page.getByTestId('exchange').first().textContent(), /GET .*\/v1\/forecast\?.*latitude=59\.91.*→ 200/);

  // Return: a click on the response's field maps it; the preview follows.
  await canvas.locator('li[data-kind="return"] button').click();
  await page.getByTestId('response-tree').locator('[data-path="$.current.temperature_2m"]').click();
  assert.match(await page.getByTestId('mapping-preview').textContent(), /"temperature_2m": 3\.4/);
  await shot(page, '72-builder-mapped');
  await page.getByRole('button', { name: 'Save and run test' }).click();
  await page.getByTestId('test-output').filter({ hasText: 'structuredContent' }).waitFor();
  const output = JSON.parse(await page.getByTestId('test-output').textContent());
  assert.deepEqual(output.structuredContent, { temperature_2m: 3.4 });

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
  assert.deepEqual(tool.inputSchema.required, ['latitude', 'longitude']);
  const called = await client.callTool({ name: tool.name, arguments: { latitude: 1.5, longitude: 2.5 } });
  assert.deepEqual(called.structuredContent, { temperature_2m: 3.4 });
  assert.equal(received.at(-1).searchParams.get('latitude'), '1.5');
  await client.close();

  // The JSON view takes a definition as it is (the design document's form),
  // and refuses one that is not JSON without losing the draft.
  await page.reload();
  await hydrated(page);
  await page.getByText('Edit as JSON, export, import').click();
  await page.getByLabel('Definition', { exact: true }).fill('{"tools": [');
  await page.getByTestId('builder-save').getByRole('button', { name: 'Save this JSON' }).click();
  await page.getByText(/not valid JSON/).waitFor();
  await page.getByLabel('Definition', { exact: true }).fill(definition());
  await page.getByTestId('builder-save').getByRole('button', { name: 'Save this JSON' }).click();
  await canvas.locator('li[data-kind="return"]').filter({ hasText: 'temperature, unit' }).waitFor();
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
  const tabs = await page.getByTestId('flow-editor').getByRole('tab').allTextContents();
  assert.deepEqual(tabs.sort(), ['findPetsByStatus', 'getPetById']);
  await shot(page, '75-builder-imported');

  // Deleted, after saying yes.
  const del = page.getByTestId('builder-delete');
  await del.getByRole('checkbox').check();
  await del.getByRole('button', { name: 'Delete this server' }).click();
  await page.waitForURL(/\/builder$/);
  await page.getByTestId('builder-empty').waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
