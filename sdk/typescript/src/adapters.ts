/**
 * The callback protocol in the HTTP frameworks people deploy on: Node's
 * `http` (and so Express, whose requests are Node's), Fastify, and any
 * platform that takes `(Request) => Response` (Cloudflare Workers, Deno,
 * Bun, Vercel and Netlify functions...).
 *
 * The signature covers the raw body, so each adapter reads the bytes
 * itself: mount it before any JSON body parser (in Express, before
 * `express.json()`, or on a router without it; Fastify's parser is
 * replaced inside the plugin's own scope).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Authenticator, type CallbackResponse, MAX_BODY, handleCallback } from "./callback.js";
import type { Definitions } from "./definitions.js";

/** A Node `http` request handler (also an Express handler). */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** A fetch-style handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

class TooLarge extends Error {}

async function readBody(req: IncomingMessage & { body?: unknown }): Promise<Uint8Array> {
  // A framework that already read the body (express.raw) leaves a Buffer.
  if (req.body instanceof Uint8Array) return req.body;
  if (req.body !== undefined && req.body !== null && typeof req.body === "object" && req.readableEnded) {
    throw new TypeError("the request body was already parsed: mount the OmniMCP handler before any JSON body parser");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, answer: CallbackResponse): void {
  const body = JSON.stringify(answer.body);
  res.writeHead(answer.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * A handler for Node's `http.createServer` and for Express (`app.use(path,
 * handler)`). Mounted under a path, the platform's callback URL must
 * include that path: the signature covers the full path as sent
 * (Express's `originalUrl`), routes are matched below the mount (`url`).
 */
export function nodeHandler(definitions: Definitions, auth: Authenticator): NodeHandler {
  return (req, res) => {
    void (async () => {
      let body: Uint8Array;
      try {
        body = await readBody(req);
      } catch (e) {
        const tooLarge = e instanceof TooLarge;
        send(res, {
          status: tooLarge ? 413 : 500,
          body: { success: false, error: tooLarge ? `the body is larger than ${MAX_BODY} bytes` : (e as Error).message },
        });
        return;
      }
      const route = req.url ?? "/";
      const signed = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? route;
      const answer = await handleCallback(definitions, auth, {
        method: req.method ?? "GET",
        pathAndQuery: signed,
        route,
        headers: req.headers,
        body,
      });
      send(res, answer);
    })();
  };
}

/** A handler for platforms that take `(Request) => Response`. */
export function fetchHandler(definitions: Definitions, auth: Authenticator): FetchHandler {
  return async (request) => {
    const url = new URL(request.url);
    const declared = Number(request.headers.get("content-length") ?? "0");
    const body = declared > MAX_BODY ? new Uint8Array(MAX_BODY + 1) : new Uint8Array(await request.arrayBuffer());
    if (body.length > MAX_BODY) {
      return Response.json({ success: false, error: `the body is larger than ${MAX_BODY} bytes` }, { status: 413 });
    }
    const answer = await handleCallback(definitions, auth, {
      method: request.method,
      pathAndQuery: url.pathname + url.search,
      headers: request.headers,
      body,
    });
    return Response.json(answer.body, { status: answer.status });
  };
}

/** The parts of a Fastify instance the plugin uses (so Fastify stays optional). */
export interface FastifyLike {
  addContentTypeParser(
    type: string | string[] | RegExp,
    options: { parseAs: "buffer"; bodyLimit?: number },
    parser: (req: unknown, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void,
  ): void;
  removeAllContentTypeParsers?: () => void;
  /** The prefix the plugin was registered under. */
  prefix?: string;
  route(options: {
    method: string[];
    url: string;
    handler: (
      request: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body?: unknown },
      reply: { code(status: number): { type(t: string): { send(body: string): unknown } } },
    ) => Promise<unknown>;
  }): void;
}

/**
 * A Fastify plugin: `await app.register(server.fastifyPlugin())`. It takes
 * every body as raw bytes within its own scope (so the signature can be
 * checked) and serves the protocol's routes at the scope's prefix.
 */
export function fastifyPlugin(definitions: Definitions, auth: Authenticator) {
  const plugin = async (fastify: FastifyLike): Promise<void> => {
    fastify.removeAllContentTypeParsers?.();
    fastify.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
    fastify.route({
      method: ["GET", "POST"],
      url: "/*",
      handler: async (request, reply) => {
        const body = request.body instanceof Uint8Array ? request.body : new Uint8Array();
        const prefix = fastify.prefix ?? "";
        const route = prefix && request.url.startsWith(prefix) ? request.url.slice(prefix.length) || "/" : request.url;
        const answer = await handleCallback(definitions, auth, {
          method: request.method,
          pathAndQuery: request.url,
          route,
          headers: request.headers,
          body,
        });
        return reply.code(answer.status).type("application/json").send(JSON.stringify(answer.body));
      },
    });
  };
  return plugin;
}
