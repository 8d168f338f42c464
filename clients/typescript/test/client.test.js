// The TypeScript client against a live gateway (MG_URL, MG_OPERATOR_TOKEN; scripts/docs-test sets
// both). Each test makes its own tenant through the operator API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import {
  MemoryGateway, Operator, RateLimitError, NotFoundError, PermissionDeniedError, InvalidRequestError,
  AuthenticationError, DEFAULT_BASE_URL,
} from "../index.js";

const URL = process.env.MG_URL ?? "http://localhost:8080";
const TOKEN = process.env.MG_OPERATOR_TOKEN;
const skip = TOKEN ? false : "MG_OPERATOR_TOKEN is not set";

async function tenant() {
  const operator = new Operator({ token: TOKEN, baseUrl: URL });
  const created = await operator.tenants.create({ name: "ts client", plan: "professional" });
  await operator.tenants.update(created.tenant.id, { limits: { rate_limit_per_minute: 100000 } });
  return created.api_key.key;
}

function withEnvironment(values, work) {
  const saved = {};
  for (const [name, value] of Object.entries(values)) {
    saved[name] = process.env[name];
    if (value === undefined) delete process.env[name]; else process.env[name] = value;
  }
  try { return work(); } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]; else process.env[name] = value;
    }
  }
}

test("the key and the URL come from MEMORY_API_KEY and MEMORY_API_URL", { skip }, async () => {
  const key = await tenant();
  const client = withEnvironment({ MEMORY_API_KEY: key, MEMORY_API_URL: URL }, () => new MemoryGateway());
  assert.equal(client.baseUrl, URL);
  assert.equal((await client.account()).plan.name, "professional");
  const local = withEnvironment({ MEMORY_API_KEY: key, MEMORY_API_URL: undefined }, () => new MemoryGateway());
  assert.equal(local.baseUrl, DEFAULT_BASE_URL);
  assert.equal(DEFAULT_BASE_URL, "http://localhost:8080");
  withEnvironment({ MEMORY_API_KEY: undefined }, () => assert.throws(() => new MemoryGateway(), /MEMORY_API_KEY/));
});

test("memories, query and extraction have the documented shape", { skip }, async () => {
  const client = new MemoryGateway({ apiKey: await tenant(), baseUrl: URL });
  const memory = await client.memories.create({ text: "User prefers Python for data work", metadata: { topic: "language" } });
  assert.equal(memory.status, 201);
  assert.match(memory.meta.requestId, /^req_/);
  assert.equal(memory.requestId, memory.meta.requestId);
  assert.equal(client.lastRequestId, memory.meta.requestId);
  assert.equal(typeof memory.meta.processingTimeMs, "number");
  assert.equal(JSON.parse(JSON.stringify(memory)).meta, undefined, "meta is not part of the data");
  assert.equal(memory.text, "User prefers Python for data work");

  const updated = await client.memories.update(memory.id, { text: "User now works at Meta" });
  assert.equal(updated.version, 2);
  assert.equal((await client.memories.get(memory.id)).text, "User now works at Meta");
  const extracted = await client.extract({ content: ["User works at Google.", "User likes tea."].join("\n") });
  assert.equal(extracted.memories_created, 2);
  const found = await client.query({ context: "tea", relevance_threshold: 0.1 });
  assert.equal(found.memories[0].text, "User likes tea.");
  assert.equal(await client.memories.count({ source: "extraction" }), 2);
  const ids = [];
  for await (const item of client.memories.iterate({ per_page: 1 })) ids.push(item.id);
  assert.equal(ids.length, 3);
  assert.deepEqual((await client.memories.delete(memory.id)).deleted, true);
  await assert.rejects(client.memories.get(memory.id), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.code, "not_found");
    assert.match(error.requestId, /^req_/);
    return true;
  });
  await assert.rejects(client.memories.create({ text: "" }), (error) => {
    assert.ok(error instanceof InvalidRequestError);
    assert.equal(error.details[0].field, "text");
    return true;
  });
});

test("errors carry the envelope's code; a key without the scope is refused", { skip }, async () => {
  const admin = new MemoryGateway({ apiKey: await tenant(), baseUrl: URL });
  const reader = await admin.apiKeys.create({ name: "reader", scopes: ["read"] });
  const client = new MemoryGateway({ apiKey: reader.key, baseUrl: URL });
  await assert.rejects(client.memories.create({ text: "nope" }), PermissionDeniedError);
  const bad = new MemoryGateway({ apiKey: "mem_live_" + "x".repeat(32), baseUrl: URL });
  await assert.rejects(bad.account(), (error) => error instanceof AuthenticationError && error.status === 401);
});

test("an idempotent write replays instead of repeating", { skip }, async () => {
  const client = new MemoryGateway({ apiKey: await tenant(), baseUrl: URL });
  const idempotencyKey = `once-${Date.now()}`;
  const first = await client.memories.create({ text: "only once", idempotencyKey });
  const again = await client.memories.create({ text: "only once", idempotencyKey });
  assert.equal(again.id, first.id);
  assert.equal(again.replayed, true);
  assert.equal(await client.memories.count(), 1);
});

test("RateLimitError.retryAfter is exact, and maxRetries waits it out", { skip }, async () => {
  const admin = new MemoryGateway({ apiKey: await tenant(), baseUrl: URL });
  const limited = await admin.apiKeys.create({ name: "limited", scopes: ["read"], rate_limit_per_minute: 20 });
  const client = new MemoryGateway({ apiKey: limited.key, baseUrl: URL });
  let refusal;
  for (let n = 0; n < 40 && !refusal; n++) {
    try { await client.query({ context: "..." }); } catch (error) { refusal = error; }
  }
  assert.ok(refusal instanceof RateLimitError, `${refusal}`);
  assert.equal(refusal.code, "rate_limit_exceeded");
  assert.ok(refusal.retryAfter >= 1 && refusal.retryAfter <= 3, `retryAfter ${refusal.retryAfter}`);
  await sleep(refusal.retryAfter * 1000);
  const result = await client.query({ context: "..." });  // admitted: retryAfter was long enough
  assert.deepEqual(result.memories, []);

  // The bucket is empty again; a client with maxRetries sleeps retryAfter and succeeds.
  const patient = new MemoryGateway({ apiKey: limited.key, baseUrl: URL, maxRetries: 2 });
  const started = Date.now();
  const waited = await patient.query({ context: "..." });
  assert.deepEqual(waited.memories, []);
  assert.ok(Date.now() - started >= 900, "the empty bucket made it wait");
});
