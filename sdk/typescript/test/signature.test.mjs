// Signature verification: the same known answer the platform's signer is
// tested with (src/upstream/callback.rs), and every way a request can be
// wrong: secret, timestamp, request id, signature, replay.
import assert from "node:assert/strict";
import { test } from "node:test";
import { signature } from "../dist/esm/index.js";

const { sign, verify, ReplayGuard, Rejection } = signature;
const SECRET = "whsec_test";
const NOW = 1_700_000_000;
const ID = "0123456789abcdef0123456789abcdef";
const post = (body = '{"arguments":{}}', pathAndQuery = "/tools/t") => ({ method: "POST", pathAndQuery, body });

function headers(overrides = {}) {
  const request = overrides.request ?? post();
  const timestamp = overrides.timestamp ?? NOW;
  const id = overrides.id ?? ID;
  return {
    "x-webhook-secret": overrides.secret ?? SECRET,
    "x-omnimcp-timestamp": String(timestamp),
    "x-omnimcp-request-id": id,
    "x-omnimcp-signature": overrides.signature ?? sign(SECRET, timestamp, id, request),
  };
}

function refusal(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Rejection, `not a Rejection: ${e}`);
    assert.ok(!e.message.includes(SECRET), "a refusal never echoes the secret");
    return e.reason;
  }
  assert.fail("the request was accepted");
}

test("the signature matches the platform's known answer", () => {
  // HMAC-SHA256("key", "1.{}"), ("key", "1.POST./tools/t.{}") and
  // ("key", "1.0123456789abcdef0123456789abcdef.POST./tools/t.{}").
  assert.equal(
    sign("key", 1, ID, { method: "POST", pathAndQuery: "/tools/t", body: "{}" }),
    "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224," +
      "v2=e0aac4628fcce824870dfdbf88fd0632e91c82cfd0c002e96252b8e8eaa7fab8," +
      "v3=5aa2aa4861b38d7bdf3f0bdc20347e2f94d6443bb959bbfee16dcc970294f8e2",
  );
});

test("a correctly signed fresh request passes, bytes or string body", () => {
  verify(SECRET, headers(), post(), { now: NOW });
  verify(SECRET, headers(), { ...post(), body: Buffer.from('{"arguments":{}}') }, { now: NOW + 299 });
  const h = new Headers(headers());
  verify(SECRET, h, post(), { now: NOW - 299 });
});

test("a wrong secret, a tampered body, another route or method are refused", () => {
  assert.equal(refusal(() => verify(SECRET, headers({ secret: "whsec_guess" }), post(), { now: NOW })), "wrong_secret");
  assert.equal(refusal(() => verify("whsec_other", headers(), post(), { now: NOW })), "wrong_secret");
  assert.equal(refusal(() => verify(SECRET, headers(), post('{"arguments":{"a":1}}'), { now: NOW })), "bad_signature");
  assert.equal(refusal(() => verify(SECRET, headers(), post(undefined, "/tools/u"), { now: NOW })), "bad_signature");
  assert.equal(refusal(() => verify(SECRET, headers(), { ...post(), method: "PUT" }, { now: NOW })), "bad_signature");
  assert.equal(refusal(() => verify(SECRET, headers(), post(undefined, "/tools/t?x=1"), { now: NOW })), "bad_signature");
});

test("an old or future timestamp is refused, and so is one that is not a number", () => {
  assert.equal(refusal(() => verify(SECRET, headers({ timestamp: NOW - 301 }), post(), { now: NOW })), "stale_timestamp");
  assert.equal(refusal(() => verify(SECRET, headers({ timestamp: NOW + 301 }), post(), { now: NOW })), "stale_timestamp");
  const h = { ...headers(), "x-omnimcp-timestamp": "soon" };
  assert.equal(refusal(() => verify(SECRET, h, post(), { now: NOW })), "malformed_timestamp");
  // A shorter window is honoured.
  assert.equal(refusal(() => verify(SECRET, headers({ timestamp: NOW - 31 }), post(), { now: NOW, windowSeconds: 30 })), "stale_timestamp");
});

test("a replay is refused even inside the window; identical calls with their own ids pass", () => {
  const guard = new ReplayGuard(300);
  verify(SECRET, headers(), post(), { now: NOW, replayGuard: guard });
  assert.equal(refusal(() => verify(SECRET, headers(), post(), { now: NOW + 1, replayGuard: guard })), "replayed");
  // The same call again, as the platform sends it: a new request id.
  const other = "fedcba9876543210fedcba9876543210";
  verify(SECRET, headers({ id: other }), post(), { now: NOW, replayGuard: guard });
  // A forged request does not take a place in the guard.
  const forged = "00000000000000000000000000000000";
  refusal(() => verify(SECRET, headers({ id: forged, signature: "v3=00" }), post(), { now: NOW, replayGuard: guard }));
  assert.equal(guard.size, 2);
  // Ids are forgotten once their window has closed.
  assert.ok(guard.accept("11111111111111111111111111111111", NOW + 1000, NOW + 1000));
  assert.equal(guard.size, 1);
});

test("a full guard refuses rather than forgets early", () => {
  const guard = new ReplayGuard(300, 2);
  assert.ok(guard.accept("a", NOW, NOW));
  assert.ok(guard.accept("b", NOW, NOW));
  assert.equal(guard.accept("c", NOW, NOW), false);
  assert.ok(guard.accept("c", NOW, NOW + 301), "room again once the window closed");
});

test("missing headers, a malformed id and a v2-only signature are refused", () => {
  for (const name of ["x-webhook-secret", "x-omnimcp-timestamp", "x-omnimcp-request-id", "x-omnimcp-signature"]) {
    const h = headers();
    delete h[name];
    assert.equal(refusal(() => verify(SECRET, h, post(), { now: NOW })), "missing_header", name);
  }
  const bad = headers({ id: "not-hex" });
  assert.equal(refusal(() => verify(SECRET, bad, post(), { now: NOW })), "malformed_request_id");
  const full = headers()["x-omnimcp-signature"];
  const v2only = full.split(",").filter((p) => !p.startsWith("v3=")).join(",");
  assert.equal(refusal(() => verify(SECRET, headers({ signature: v2only }), post(), { now: NOW })), "no_v3_signature");
});
