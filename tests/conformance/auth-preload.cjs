// Preloaded into the MCP conformance suite (`node --require <this file>`) by
// tests/conformance.rs when a run needs extra HTTP headers on every request,
// e.g. `Authorization: Bearer <API key>` to run the suite against the
// gateway's authenticated /mcp. The headers come from the environment
// variable OMNIMCP_CONFORMANCE_HEADERS as a JSON object {"Name": "value"}.
//
// The suite sends most requests with `globalThis.fetch` (its own code and the
// MCP SDK's transport) and a few with undici's `request` (the DNS-rebinding
// scenario, which must set `Host`): both are wrapped. A header the request
// sets itself wins over the preloaded one.
'use strict';

const path = require('node:path');

const extra = JSON.parse(process.env.OMNIMCP_CONFORMANCE_HEADERS || '{}');
const names = Object.keys(extra);

function has(headers, name) {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((k) => k.toLowerCase() === lower);
}

/** A plain-object copy of `headers` (Headers, array of pairs or object) with the extra headers added. */
function withExtra(headers) {
  const merged = {};
  if (headers instanceof Headers || Array.isArray(headers)) {
    for (const [k, v] of new Headers(headers)) merged[k] = v;
  } else if (headers) {
    Object.assign(merged, headers);
  }
  for (const name of names) if (!has(merged, name)) merged[name] = extra[name];
  return merged;
}

if (names.length > 0) {
  const originalFetch = globalThis.fetch;
  globalThis.fetch = function fetchWithHeaders(input, init) {
    if (input instanceof Request) {
      const headers = new Headers(input.headers);
      for (const name of names) if (!headers.has(name)) headers.set(name, extra[name]);
      return originalFetch(new Request(input, { headers }), init);
    }
    return originalFetch(input, { ...init, headers: withExtra(init && init.headers) });
  };

  // The suite's own copy of undici, found from its entry script. Replacing
  // `request` on the CommonJS exports before the suite's ES module imports
  // them makes the import see the wrapper.
  try {
    const entry = process.argv[1] ? path.dirname(path.resolve(process.argv[1])) : process.cwd();
    const undici = require(require.resolve('undici', { paths: [entry] }));
    const originalRequest = undici.request;
    undici.request = function requestWithHeaders(url, options, ...rest) {
      return originalRequest.call(this, url, { ...options, headers: withExtra(options && options.headers) }, ...rest);
    };
  } catch (e) {
    process.emitWarning(`auth-preload: undici not wrapped: ${e.message}`);
  }

  // A few scenarios (SEP-2243 header validation) send raw requests with
  // node:http, to send headers fetch would normalise: add them there too.
  for (const mod of [require('node:http'), require('node:https')]) {
    for (const name of ['request', 'get']) {
      const original = mod[name];
      mod[name] = function requestWithHeaders(...args) {
        const options = args.find((a) => a && typeof a === 'object' && !(a instanceof URL));
        if (options) options.headers = withExtra(options.headers);
        else args.splice(typeof args[0] === 'function' ? 0 : 1, 0, { headers: withExtra({}) });
        return original.apply(this, args);
      };
    }
  }
}
