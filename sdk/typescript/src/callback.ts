/**
 * The callback protocol, independent of any HTTP framework: one function
 * from a request (method, path and query, headers, raw body) to an answer
 * (status and JSON body). The adapters ({@link ./adapters}) only move bytes
 * between a framework and this.
 *
 * Routes: `POST /tools/{name}` and `POST /prompts/{name}` with
 * `{"arguments": {...}}`, `GET /resources?uri=...`, `GET /health`. Every
 * request, `/health` included, must carry a valid signature (see
 * {@link ./signature}); the answer is `{"success": true, "result": ...}`
 * or `{"success": false, "error": "..."}` (the error's message, never a
 * stack).
 *
 * @module
 */
import { CallError, type Definitions } from "./definitions.js";
import { type HeaderSource, Rejection, type ReplayGuard, verify } from "./signature.js";

/** Largest request body accepted. */
export const MAX_BODY = 1024 * 1024;

/** How a request is authenticated. */
export interface Authenticator {
  /** The current webhook secret; `undefined` refuses everything. */
  secret(): string | undefined;
  replayGuard: ReplayGuard;
  windowSeconds: number;
  /** Told of each refusal (the reason only), e.g. to log it. */
  onRejected?: (rejection: Rejection) => void;
}

/** A request as the protocol sees it. */
export interface CallbackRequest {
  method: string;
  /** The request target as the platform sent it (path and query, encoding untouched): what was signed. */
  pathAndQuery: string;
  /** The same below the point where the handler is mounted (`/tools/add`), when that differs. */
  route?: string;
  headers: HeaderSource;
  body: Uint8Array;
}

/** An answer: a status and a JSON body. */
export interface CallbackResponse {
  status: number;
  body: unknown;
}

const failure = (status: number, error: string): CallbackResponse => ({ status, body: { success: false, error } });

/** Answers one callback request. Never throws. */
export async function handleCallback(
  definitions: Definitions,
  auth: Authenticator,
  request: CallbackRequest,
): Promise<CallbackResponse> {
  const secret = auth.secret();
  if (secret === undefined) return failure(401, "this server has no webhook secret configured");
  try {
    verify(secret, request.headers, request, {
      windowSeconds: auth.windowSeconds,
      replayGuard: auth.replayGuard,
    });
  } catch (e) {
    if (e instanceof Rejection) {
      auth.onRejected?.(e);
      return failure(401, e.message);
    }
    return failure(401, "the request could not be verified");
  }
  const url = new URL(request.route ?? request.pathAndQuery, "http://callback.invalid");
  const path = url.pathname;
  try {
    if (request.method === "GET" && path === "/health") {
      return { status: 200, body: { status: "ok" } };
    }
    if (request.method === "GET" && path === "/resources") {
      const uri = url.searchParams.get("uri");
      if (uri === null) return failure(400, "the uri query parameter is missing");
      const contents = await definitions.readResource(uri);
      return { status: 200, body: { success: true, result: { contents: [contents] } } };
    }
    const route = /^\/(tools|prompts)\/([^/]+)$/.exec(path);
    if (request.method === "POST" && route) {
      const args = argumentsOf(request.body);
      if (typeof args === "string") return failure(400, args);
      const name = decodeURIComponent(route[2] ?? "");
      const result =
        route[1] === "tools" ? await definitions.callTool(name, args) : await definitions.getPrompt(name, args);
      return { status: 200, body: { success: true, result: result ?? null } };
    }
    return failure(404, `no route ${request.method} ${path}`);
  } catch (e) {
    if (e instanceof CallError) return failure(e.status, e.message);
    return failure(500, "the handler failed");
  }
}

/** The `arguments` of a `{"arguments": {...}}` body (absent means `{}`), or why the body is wrong. */
function argumentsOf(body: Uint8Array): Record<string, unknown> | string {
  const bad = (why: string) => `the body must be {"arguments": {...}}: ${why}`;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return bad("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad("not a JSON object");
  const args = (value as { arguments?: unknown }).arguments;
  if (args === undefined || args === null) return {};
  if (typeof args !== "object" || Array.isArray(args)) return bad('"arguments" is not an object');
  return args as Record<string, unknown>;
}
