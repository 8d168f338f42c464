// client.webhooks and verifyWebhook: the Standard Webhooks specification's test vector, tampering, and a
// real delivery from a live gateway (MG_URL, MG_OPERATOR_TOKEN; scripts/docs-test runs the gateway with
// WEBHOOK_ALLOW_PRIVATE=true) to a receiver on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import {
  MemoryGateway, Operator, NotFoundError, InvalidRequestError, WebhookVerificationError, verifyWebhook,
  DEFAULT_WEBHOOK_TOLERANCE,
} from "../index.js";

const URL = process.env.MG_URL ?? "http://localhost:8080";
const TOKEN = process.env.MG_OPERATOR_TOKEN;
const skip = TOKEN ? false : "MG_OPERATOR_TOKEN is not set";

// The vector published with the Standard Webhooks specification (the Python client's test uses it too).
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HEADERS = Object.freeze({
  "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
  "webhook-timestamp": "1614265330",
  "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
});
const BODY = '{"test": 2432232314}';
const NOW = 1614265330;

const refused = (work, pattern) => assert.throws(work, (error) => {
  assert.ok(error instanceof WebhookVerificationError, `${error}`);
  if (pattern) assert.match(error.message, pattern);
  return true;
});

test("the specification's vector verifies from a string, a Buffer and a fetch Headers", () => {
  assert.deepEqual(verifyWebhook(SECRET, HEADERS, BODY, { now: NOW }), { test: 2432232314 });
  assert.deepEqual(verifyWebhook(SECRET, HEADERS, Buffer.from(BODY), { now: NOW }), { test: 2432232314 });
  assert.deepEqual(verifyWebhook(SECRET, HEADERS, new TextEncoder().encode(BODY), { now: NOW }), { test: 2432232314 });
  assert.deepEqual(verifyWebhook(SECRET, new Headers(HEADERS), BODY, { now: NOW }), { test: 2432232314 });
});

test("headers match in any case, and one good signature among several is enough", () => {
  const headers = Object.fromEntries(Object.entries(HEADERS).map(([name, value]) => [name.toUpperCase(), value]));
  headers["WEBHOOK-SIGNATURE"] = `v1,bm90IGl0 v2,abc ${HEADERS["webhook-signature"]}`;
  assert.equal(verifyWebhook(SECRET, headers, BODY, { now: NOW }).test, 2432232314);
});

test("a changed body, id, timestamp, signature or secret is refused", () => {
  refused(() => verifyWebhook(SECRET, HEADERS, '{"test": 2432232315}', { now: NOW }), /no signature/);
  refused(() => verifyWebhook(SECRET, HEADERS, BODY + " ", { now: NOW }), /no signature/);
  refused(() => verifyWebhook(SECRET, { ...HEADERS, "webhook-id": "msg_other" }, BODY, { now: NOW }), /no signature/);
  refused(() => verifyWebhook(SECRET, { ...HEADERS, "webhook-timestamp": "1614265331" }, BODY, { now: NOW }),
    /no signature/);
  const signature = HEADERS["webhook-signature"];
  const flipped = signature.slice(0, 5) + (signature[5] === "A" ? "B" : "A") + signature.slice(6);
  refused(() => verifyWebhook(SECRET, { ...HEADERS, "webhook-signature": flipped }, BODY, { now: NOW }), /no signature/);
  refused(() => verifyWebhook(SECRET, { ...HEADERS, "webhook-signature": signature.replace("v1,", "v2,") }, BODY,
    { now: NOW }), /no signature/);
  refused(() => verifyWebhook(SECRET, { ...HEADERS, "webhook-signature": signature.slice(0, -4) }, BODY,
    { now: NOW }), /no signature/);
  refused(() => verifyWebhook("whsec_" + "A".repeat(44), HEADERS, BODY, { now: NOW }), /no signature/);
  refused(() => verifyWebhook("whsec_not base64!", HEADERS, BODY, { now: NOW }), /secret/);
});

test("a timestamp more than five minutes away is refused as a replay", () => {
  assert.equal(DEFAULT_WEBHOOK_TOLERANCE, 300);
  assert.equal(verifyWebhook(SECRET, HEADERS, BODY, { now: NOW + 300 }).test, 2432232314);
  assert.equal(verifyWebhook(SECRET, HEADERS, BODY, { now: NOW - 300 }).test, 2432232314);
  refused(() => verifyWebhook(SECRET, HEADERS, BODY, { now: NOW + 301 }), /too far/);
  refused(() => verifyWebhook(SECRET, HEADERS, BODY, { now: NOW - 301 }), /too far/);
  refused(() => verifyWebhook(SECRET, HEADERS, BODY), /too far/);   // the real clock: 2021 is long gone
  refused(() => verifyWebhook(SECRET, { ...HEADERS, "webhook-timestamp": "16e8" }, BODY, { now: NOW }), /number/);
});

test("a missing header is refused, and a body that is not raw bytes is a TypeError", () => {
  for (const name of Object.keys(HEADERS)) {
    const headers = { ...HEADERS };
    delete headers[name];
    refused(() => verifyWebhook(SECRET, headers, BODY, { now: NOW }), /missing/);
  }
  assert.throws(() => verifyWebhook(SECRET, HEADERS, { test: 2432232314 }, { now: NOW }), TypeError);
});

async function receiver() {
  const arrived = [];
  const waiting = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const delivery = { headers: request.headers, body: Buffer.concat(chunks), path: request.url };
      response.writeHead(204).end();
      const next = waiting.shift();
      if (next) next(delivery); else arrived.push(delivery);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const next = (ms) => new Promise((resolve, reject) => {
    if (arrived.length) return resolve(arrived.shift());
    const timer = setTimeout(() => reject(new Error(`no delivery within ${ms} ms`)), ms);
    waiting.push((delivery) => { clearTimeout(timer); resolve(delivery); });
  });
  return { url: `http://127.0.0.1:${server.address().port}/in`, next, close: () => server.close() };
}

async function pollDeliveries(client, webhookId, wanted, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const page = await client.webhooks.deliveries(webhookId);
    if (wanted(page.deliveries) || Date.now() > deadline) return page;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("a test event arrives at a loopback receiver signed, verifies, and is listed as delivered", { skip }, async (t) => {
  const hooks = await receiver();
  t.after(hooks.close);
  const operator = new Operator({ token: TOKEN, baseUrl: URL });
  const created = await operator.tenants.create({ name: `ts hooks ${randomUUID().slice(0, 8)}`, plan: "professional" });
  await operator.tenants.update(created.tenant.id, { limits: { rate_limit_per_minute: 100000 } });
  const client = new MemoryGateway({ apiKey: created.api_key.key, baseUrl: URL });

  const hook = await client.webhooks.create({ url: hooks.url, events: ["memory.deleted"], description: "ts client test" });
  assert.equal(hook.status, 201);
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(hook.events, ["memory.deleted"]);
  assert.equal(hook.description, "ts client test");
  assert.deepEqual((await client.webhooks.list()).map((item) => item.id), [hook.id]);
  const fetched = await client.webhooks.get(hook.id);
  assert.equal(fetched.url, hooks.url);
  assert.equal("secret" in fetched, false, "the secret is shown only at creation");

  const queued = await client.webhooks.test(hook.id);
  assert.equal(queued.type, "webhook.test");
  const delivery = await hooks.next(30_000);
  assert.equal(delivery.path, "/in");
  assert.equal(delivery.headers["webhook-id"], queued.event_id);
  const event = verifyWebhook(hook.secret, delivery.headers, delivery.body);
  assert.equal(event.type, "webhook.test");
  assert.throws(() => verifyWebhook("whsec_" + "A".repeat(44), delivery.headers, delivery.body), WebhookVerificationError);
  const tampered = Buffer.from(delivery.body);
  tampered[tampered.length - 2] ^= 1;
  assert.throws(() => verifyWebhook(hook.secret, delivery.headers, tampered), WebhookVerificationError);

  const page = await pollDeliveries(client, hook.id, (items) => items[0]?.status === "delivered", 10_000);
  assert.equal(page.deliveries[0].event_id, queued.event_id);
  assert.equal(page.deliveries[0].type, "webhook.test");
  assert.equal(page.deliveries[0].status, "delivered");
  assert.equal(page.deliveries[0].attempt, 1);
  assert.equal(page.deliveries[0].response_status, 204);
  assert.equal(page.next_cursor, null);

  assert.equal((await client.webhooks.delete(hook.id)).deleted, true);
  assert.deepEqual(await client.webhooks.list(), []);
  await assert.rejects(client.webhooks.get(hook.id), NotFoundError);
  await assert.rejects(client.webhooks.create({ url: "ftp://127.0.0.1/", events: ["*"] }), InvalidRequestError);
});
