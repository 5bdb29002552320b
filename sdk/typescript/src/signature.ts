/**
 * The callback protocol's request signing: how a developer-hosted server
 * knows a request really comes from the platform, is fresh, and is not a
 * replay.
 *
 * Every callback request carries four headers:
 *
 * | header | value |
 * |---|---|
 * | `x-webhook-secret` | the server's webhook secret, as issued by the deploy |
 * | `x-omnimcp-timestamp` | the time of signing, in Unix seconds |
 * | `x-omnimcp-request-id` | 32 random hex digits, new for every request |
 * | `x-omnimcp-signature` | `v1=<hex>,v2=<hex>,v3=<hex>`: HMAC-SHA256 under the secret |
 *
 * `v3` signs `"{timestamp}.{request id}.{METHOD}.{path and query}.{body}"`
 * (the body is empty for `GET`); it is the only part checked here (`v1` and
 * `v2` are for receivers written before it). {@link verify} compares the
 * secret and the signature in constant time, refuses a timestamp further
 * than the replay window from now, and, with a {@link ReplayGuard}, refuses
 * a request id seen before within that window: a captured request cannot
 * be sent again, not even at once. Two identical calls made in the same
 * second still differ by their request ids.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** The header carrying the webhook secret. */
export const SECRET_HEADER = "x-webhook-secret";
/** The header carrying the signing time, in Unix seconds. */
export const TIMESTAMP_HEADER = "x-omnimcp-timestamp";
/** The header carrying the request's unique id. */
export const REQUEST_ID_HEADER = "x-omnimcp-request-id";
/** The header carrying `v1=...,v2=...,v3=...`. */
export const SIGNATURE_HEADER = "x-omnimcp-signature";
/** How far a request's timestamp may be from this server's clock: five minutes, as the platform documents. */
export const DEFAULT_REPLAY_WINDOW_SECONDS = 300;

/** Why a request was refused. Messages name what was wrong and never echo a secret. */
export type RejectionReason =
  | "missing_header"
  | "wrong_secret"
  | "malformed_timestamp"
  | "stale_timestamp"
  | "malformed_request_id"
  | "no_v3_signature"
  | "bad_signature"
  | "replayed";

/** A refused callback request: {@link verify} throws it. */
export class Rejection extends Error {
  override readonly name = "Rejection";
  constructor(
    /** A stable code for what was wrong. */
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
  }
}

/** The parts of a request the signature covers. */
export interface SignedRequest {
  /** The HTTP method, upper case. */
  method: string;
  /** The request target as received: the path and, if any, `?` and the query, percent-encoding untouched. */
  pathAndQuery: string;
  /** The raw body (empty for `GET`). */
  body: Uint8Array | string;
}

/** Header lookup, case-insensitive: a plain object of lower-case names, or a `Headers`. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

function mac(secret: string, parts: Array<string | Uint8Array>): string {
  const hmac = createHmac("sha256", secret);
  parts.forEach((part, i) => {
    if (i > 0) hmac.update(".");
    hmac.update(part);
  });
  return hmac.digest("hex");
}

/**
 * The `x-omnimcp-signature` value the platform sends for a request (exported
 * for tests and for anything that signs like the platform).
 */
export function sign(
  secret: string,
  timestamp: number,
  requestId: string,
  request: SignedRequest,
): string {
  const ts = String(timestamp);
  const { method, pathAndQuery, body } = request;
  const v1 = mac(secret, [ts, body]);
  const v2 = mac(secret, [ts, method, pathAndQuery, body]);
  const v3 = mac(secret, [ts, requestId, method, pathAndQuery, body]);
  return `v1=${v1},v2=${v2},v3=${v3}`;
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // timingSafeEqual needs equal lengths; compare against itself so the
  // time taken does not depend on where a guess first differs.
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/**
 * Remembers the request ids of accepted requests for as long as their
 * timestamps are inside the replay window, so each is accepted once. At
 * most `capacity` ids are kept; past that, a new request is refused (the
 * oldest ids leave as their window closes), which bounds memory under a
 * flood instead of forgetting ids early. The default, 100,000, holds a
 * sustained 333 requests a second with the 5-minute window.
 *
 * Ids are forgotten in arrival order (a `Map` keeps insertion order; each
 * accept drops only those at the front whose window has closed), so an
 * accept costs O(1) amortised however many ids are held.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();
  constructor(
    readonly windowSeconds = DEFAULT_REPLAY_WINDOW_SECONDS,
    readonly capacity = 100_000,
  ) {}

  /** Records `id` (signed at `timestamp`); false if it was seen, or no room is left. */
  accept(id: string, timestamp: number, now: number): boolean {
    this.#forget(now);
    if (this.#seen.has(id) || this.#seen.size >= this.capacity) return false;
    this.#seen.set(id, timestamp + this.windowSeconds);
    return true;
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.#seen.size;
  }

  #forget(now: number): void {
    for (const [id, until] of this.#seen) {
      if (until >= now) return;
      this.#seen.delete(id);
    }
  }
}

/** The current time in Unix seconds. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** Seconds a timestamp may be from `now`, either way. Default 300. */
  windowSeconds?: number;
  /** The current time in Unix seconds. Default: the clock. */
  now?: number;
  /** Refuses request ids seen before; without it only the window protects against replays. */
  replayGuard?: ReplayGuard;
}

const REQUEST_ID = /^[0-9a-f]{32}$/;

/**
 * Checks a callback request: the secret header, the timestamp, the `v3`
 * signature over timestamp, request id, method, path and body, and (with a
 * guard) that the request id is new. Throws a {@link Rejection} saying what
 * was wrong.
 */
export function verify(
  secret: string,
  headers: HeaderSource,
  request: SignedRequest,
  options: VerifyOptions = {},
): void {
  const windowSeconds = options.windowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
  const now = options.now ?? unixNow();
  const required = (name: string): string => {
    const value = header(headers, name);
    if (value === undefined || value === "") {
      throw new Rejection("missing_header", `the ${name} header is missing`);
    }
    return value;
  };
  const presented = required(SECRET_HEADER);
  const timestampText = required(TIMESTAMP_HEADER);
  const requestId = required(REQUEST_ID_HEADER);
  const signature = required(SIGNATURE_HEADER);
  if (!constantTimeEqual(presented, secret)) {
    throw new Rejection("wrong_secret", "the webhook secret does not match");
  }
  if (!/^\d{1,15}$/.test(timestampText.trim())) {
    throw new Rejection("malformed_timestamp", "the timestamp is not a number of seconds");
  }
  const timestamp = Number(timestampText.trim());
  const age = Math.abs(now - timestamp);
  if (age > windowSeconds) {
    throw new Rejection(
      "stale_timestamp",
      `the timestamp is ${age} s away from this server's clock (the limit is ${windowSeconds} s)`,
    );
  }
  if (!REQUEST_ID.test(requestId)) {
    throw new Rejection("malformed_request_id", "the request id is not 32 lowercase hex digits");
  }
  const v3 = signature
    .split(",")
    .map((part) => part.trim().split("="))
    .find(([scheme]) => scheme?.toLowerCase() === "v3")?.[1];
  if (v3 === undefined) {
    throw new Rejection("no_v3_signature", "the signature has no v3= part (the request id must be signed)");
  }
  const expected = sign(secret, timestamp, requestId, request).split(",v3=")[1] ?? "";
  if (!constantTimeEqual(v3.toLowerCase(), expected)) {
    throw new Rejection("bad_signature", "the signature does not match the request");
  }
  // Only a request that proved itself takes a place in the guard.
  if (options.replayGuard && !options.replayGuard.accept(requestId, timestamp, now)) {
    throw new Rejection("replayed", "this request was already received (or too many arrived within the window)");
  }
}
