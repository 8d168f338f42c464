// A zero-dependency client for the Memory Gateway v1 API: Node 18+ (global fetch) and any runtime
// with fetch on a backend. Keys never belong in a browser.
//
//   import { MemoryGateway, RateLimitError } from "memory-gateway";
//   const client = new MemoryGateway();            // MEMORY_API_KEY, MEMORY_API_URL (default http://localhost:8080)
//   const memory = await client.memories.create({ text: "User prefers Python" });
//   console.log(memory.id, memory.meta.requestId);
//
// Request fields are the REST API's own names (`space_id`, `relevance_threshold`); a result is the
// envelope's `data` with `meta` ({requestId, processingTimeMs}), `requestId`, `status` and
// `headers` added as non-enumerable properties (so JSON.stringify shows the data alone).

export const VERSION = "1.0.0";
export const DEFAULT_BASE_URL = "http://localhost:8080";
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Every error the gateway answers with, with its stable `code`. */
export class GatewayError extends Error {
  constructor(message, { code = "", status = 0, details = undefined, requestId = undefined, retryAfter = undefined,
    headers = {}, body = undefined } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.headers = headers;
    this.body = body;
  }
}
export class ConnectionFailedError extends GatewayError {}
export class InvalidRequestError extends GatewayError {}
export class AuthenticationError extends GatewayError {}
export class PermissionDeniedError extends GatewayError {}
export class NotFoundError extends GatewayError {}
export class MethodNotAllowedError extends GatewayError {}
export class ConflictError extends GatewayError {}
export class IdempotencyConflictError extends ConflictError {}
export class PayloadTooLargeError extends GatewayError {}
export class UnsupportedMediaTypeError extends GatewayError {}
/** 429: `retryAfter` is the whole seconds until one request is admitted (null for a memory quota). */
export class RateLimitError extends GatewayError {}
export class QuotaExceededError extends RateLimitError {}
export class ServerError extends GatewayError {}
export class ServiceUnavailableError extends GatewayError {}

const BY_CODE = {
  invalid_request: InvalidRequestError, missing_api_key: AuthenticationError, invalid_api_key: AuthenticationError,
  insufficient_scope: PermissionDeniedError, ip_not_allowed: PermissionDeniedError,
  tenant_suspended: PermissionDeniedError, not_found: NotFoundError, method_not_allowed: MethodNotAllowedError,
  conflict: ConflictError, idempotency_conflict: IdempotencyConflictError, payload_too_large: PayloadTooLargeError,
  uri_too_long: PayloadTooLargeError, header_fields_too_large: PayloadTooLargeError,
  unsupported_media_type: UnsupportedMediaTypeError, rate_limit_exceeded: RateLimitError,
  quota_exceeded: QuotaExceededError, internal_error: ServerError, not_implemented: ServerError,
  service_unavailable: ServiceUnavailableError,
};
const BY_STATUS = {
  400: InvalidRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
  405: MethodNotAllowedError, 409: ConflictError, 413: PayloadTooLargeError, 414: PayloadTooLargeError,
  415: UnsupportedMediaTypeError, 429: RateLimitError, 431: PayloadTooLargeError, 503: ServiceUnavailableError,
};

function errorFromResponse(status, headers, body) {
  const error = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : null;
  const requestId = (body && body.meta && body.meta.request_id) || headers["x-request-id"];
  let retryAfter = error ? error.retry_after : undefined;
  if (retryAfter === undefined && headers["retry-after"] !== undefined) {
    const seconds = Number.parseInt(headers["retry-after"], 10);
    retryAfter = Number.isFinite(seconds) ? seconds : undefined;
  }
  const code = (error && error.code) || "";
  const Type = BY_CODE[code] || BY_STATUS[status] || (status >= 500 ? ServerError : GatewayError);
  const message = (error && error.message) || (typeof body === "string" && body) || `HTTP ${status}`;
  return new Type(message, { code, status, details: error ? error.details : undefined, requestId,
    retryAfter: retryAfter === undefined ? null : retryAfter, headers, body });
}

function environment(name) {
  return typeof process !== "undefined" && process.env ? process.env[name] : undefined;
}

function queryString(params) {
  if (!params) return "";
  const pairs = [];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (name === "metadata" && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) pairs.push([`metadata.${key}`, String(item)]);
      continue;
    }
    pairs.push([name, String(value)]);
  }
  if (pairs.length === 0) return "";
  return "?" + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

// Node 18 has no global `crypto`; Node 19+, Deno, Bun and edge runtimes do.
async function randomUUID() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") return globalThis.crypto.randomUUID();
  return (await import("node:crypto")).randomUUID();
}

const quote = (id) => encodeURIComponent(String(id));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function decorate(data, envelope, status, headers) {
  const result = data && typeof data === "object" ? data : { value: data };
  const meta = envelope.meta || {};
  const shown = Object.freeze({ requestId: meta.request_id ?? headers["x-request-id"],
    processingTimeMs: meta.processing_time_ms, request_id: meta.request_id, processing_time_ms: meta.processing_time_ms });
  for (const [name, value] of [["meta", shown], ["requestId", shown.requestId], ["status", status],
    ["headers", headers], ["replayed", headers["idempotent-replayed"] === "true"]]) {
    Object.defineProperty(result, name, { value, enumerable: false, configurable: true });
  }
  return result;
}

class Transport {
  constructor(token, baseUrl, { timeout, maxRetries, maxRetryWait, fetch: fetchImpl }) {
    this.token = token;
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.timeout = timeout;
    this.maxRetries = maxRetries;
    this.maxRetryWait = maxRetryWait;
    this.fetch = fetchImpl || globalThis.fetch;
    if (typeof this.fetch !== "function") throw new TypeError("no global fetch: use Node 18+ or pass options.fetch");
    this.lastRequestId = undefined;
  }

  async once(method, path, { params, json, idempotencyKey, requestId } = {}) {
    const headers = { Accept: "application/json", "User-Agent": `memory-gateway-js/${VERSION}` };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let body;
    if (json !== undefined) {
      body = JSON.stringify(json);
      headers["Content-Type"] = "application/json";
    }
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    if (requestId !== undefined) headers["X-Request-ID"] = requestId;
    let response;
    try {
      response = await this.fetch(this.baseUrl + path + queryString(params), {
        method, headers, body, redirect: "manual", signal: AbortSignal.timeout(this.timeout),
      });
    } catch (failure) {
      throw new ConnectionFailedError(`cannot reach ${this.baseUrl}: ${failure && failure.message}`,
        { code: "connection_failed" });
    }
    const responseHeaders = {};
    response.headers.forEach((value, name) => { responseHeaders[name.toLowerCase()] = value; });
    const text = await response.text();
    let parsed = text;
    if ((responseHeaders["content-type"] || "").startsWith("application/json") && text) {
      try { parsed = JSON.parse(text); } catch { parsed = text; }
    }
    this.lastRequestId = (parsed && parsed.meta && parsed.meta.request_id) || responseHeaders["x-request-id"];
    if (response.status >= 300) throw errorFromResponse(response.status, responseHeaders, parsed);
    if (typeof parsed !== "object" || parsed === null) return parsed;  // CSV and other text
    return decorate(parsed.data, parsed, response.status, responseHeaders);
  }

  /** One call; 429 (with a retryAfter) and 503 (reads, and writes with an Idempotency-Key) are
   *  retried after retryAfter seconds, at most `retries` times, never waiting over maxRetryWait. */
  async request(method, path, options = {}) {
    let budget = options.retries ?? this.maxRetries;
    const idempotencyKey = options.idempotencyKey ?? (options.idempotent ? await randomUUID() : undefined);
    for (;;) {
      try {
        return await this.once(method, path, { ...options, idempotencyKey });
      } catch (error) {
        const retryable = error instanceof RateLimitError
          || (error instanceof ServiceUnavailableError && (!WRITE_METHODS.has(method) || idempotencyKey));
        if (!retryable || budget <= 0 || error.retryAfter == null || error.retryAfter > this.maxRetryWait) throw error;
        budget -= 1;
        await sleep(Math.max(error.retryAfter, 1) * 1000);
      }
    }
  }
}

function split(input, names) {
  const body = {};
  const options = {};
  for (const [name, value] of Object.entries(input || {})) {
    if (names.includes(name)) options[name] = value;
    else if (value !== undefined) body[name] = value;
  }
  return { body, options };
}
const CALL_OPTIONS = ["idempotencyKey", "idempotent", "retries", "requestId"];

class Memories {
  constructor(transport) { this._t = transport; }
  /** POST /v1/memories: `{text, metadata?, memory_id?, space_id?}` plus call options. */
  create(input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", "/v1/memories", { ...options, json: body });
  }
  get(memoryId, { as_of, ...options } = {}) {
    return this._t.request("GET", `/v1/memories/${quote(memoryId)}`, { ...options, params: { as_of } });
  }
  update(memoryId, input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("PUT", `/v1/memories/${quote(memoryId)}`, { ...options, json: body });
  }
  delete(memoryId, options = {}) {
    return this._t.request("DELETE", `/v1/memories/${quote(memoryId)}`, options);
  }
  list(params = {}) { return this._t.request("GET", "/v1/memories", { params }); }
  async count(params = {}) { return (await this._t.request("GET", "/v1/memories/count", { params })).count; }
  async history(memoryId) {
    return (await this._t.request("GET", `/v1/memories/${quote(memoryId)}/history`)).versions;
  }
  batch(memories, { on_conflict = "error", ...options } = {}) {
    return this._t.request("POST", "/v1/memories/batch", { ...options, json: { memories, on_conflict } });
  }
  /** Every memory matching the filters, following next_cursor. */
  async *iterate(params = {}) {
    let cursor;
    for (;;) {
      const page = await this.list({ per_page: 100, ...params, cursor });
      yield* page.memories;
      cursor = page.next_cursor;
      if (!page.has_more || !cursor) return;
    }
  }
}

class Spaces {
  constructor(transport) { this._t = transport; }
  create(input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", "/v1/spaces", { ...options, json: body });
  }
  list(params = {}) { return this._t.request("GET", "/v1/spaces", { params }); }
  get(spaceId) { return this._t.request("GET", `/v1/spaces/${quote(spaceId)}`); }
  update(spaceId, input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("PUT", `/v1/spaces/${quote(spaceId)}`, { ...options, json: body });
  }
  delete(spaceId, { delete_memories, ...options } = {}) {
    return this._t.request("DELETE", `/v1/spaces/${quote(spaceId)}`,
      { ...options, params: { delete_memories: delete_memories || undefined } });
  }
}

class APIKeys {
  constructor(transport) { this._t = transport; }
  create(input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", "/v1/account/api-keys", { ...options, json: { environment: "live", ...body } });
  }
  async list() { return (await this._t.request("GET", "/v1/account/api-keys")).api_keys; }
  get(keyId) { return this._t.request("GET", `/v1/account/api-keys/${quote(keyId)}`); }
  rotate(keyId, input = {}) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", `/v1/account/api-keys/${quote(keyId)}/rotate`, { ...options, json: body });
  }
  revoke(keyId, options = {}) { return this._t.request("DELETE", `/v1/account/api-keys/${quote(keyId)}`, options); }
}

class Webhooks {
  constructor(transport) { this._t = transport; }
  /** POST /v1/webhooks: `{url, events, description?}`; the result's `secret` is shown only here. */
  create(input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", "/v1/webhooks", { ...options, json: body });
  }
  /** GET /v1/webhooks: the tenant environment's webhooks, newest first. */
  async list() { return (await this._t.request("GET", "/v1/webhooks")).webhooks; }
  /** GET /v1/webhooks/{id} (without the secret). */
  get(webhookId) { return this._t.request("GET", `/v1/webhooks/${quote(webhookId)}`); }
  /** DELETE /v1/webhooks/{id}: `{id, deleted: true}`; undelivered events are dropped. */
  delete(webhookId, options = {}) { return this._t.request("DELETE", `/v1/webhooks/${quote(webhookId)}`, options); }
  /** POST /v1/webhooks/{id}/test: queues a `webhook.test` event for that webhook alone. */
  test(webhookId, options = {}) { return this._t.request("POST", `/v1/webhooks/${quote(webhookId)}/test`, options); }
  /** GET /v1/webhooks/{id}/deliveries: `{deliveries, next_cursor}`, newest first. */
  deliveries(webhookId, { limit, cursor } = {}) {
    return this._t.request("GET", `/v1/webhooks/${quote(webhookId)}/deliveries`, { params: { limit, cursor } });
  }
}

/** A tenant's client. `apiKey` defaults to MEMORY_API_KEY, `baseUrl` to MEMORY_API_URL, then
 *  http://localhost:8080. */
export class MemoryGateway {
  constructor({ apiKey, baseUrl, timeout = 10_000, maxRetries = 0, maxRetryWait = 30, fetch } = {}) {
    const key = apiKey ?? environment("MEMORY_API_KEY");
    if (!key) throw new TypeError("no API key: pass { apiKey } or set MEMORY_API_KEY");
    const url = baseUrl ?? (environment("MEMORY_API_URL") || DEFAULT_BASE_URL);
    this._t = new Transport(key, url, { timeout, maxRetries, maxRetryWait, fetch });
    this.memories = new Memories(this._t);
    this.spaces = new Spaces(this._t);
    this.apiKeys = new APIKeys(this._t);
    this.webhooks = new Webhooks(this._t);
  }
  get baseUrl() { return this._t.baseUrl; }
  /** The request id of the last response, errors included. */
  get lastRequestId() { return this._t.lastRequestId; }
  /** POST /v1/query: `{context, max_memories?, relevance_threshold?, space_id?, filters?, …}`. */
  query(input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", "/v1/query", { ...options, json: body });
  }
  /** POST /v1/query/extract: `{content, content_type?, space_id?, metadata?}`. */
  extract(input) {
    const { body, options } = split(input, CALL_OPTIONS);
    return this._t.request("POST", "/v1/query/extract", { ...options, json: body });
  }
  usage(params = {}) { return this._t.request("GET", "/v1/usage", { params }); }
  usageHistory(params = {}) { return this._t.request("GET", "/v1/usage/history", { params }); }
  usageProjection(params = {}) { return this._t.request("GET", "/v1/usage/projection", { params }); }
  account() { return this._t.request("GET", "/v1/account"); }
  auditLog(params = {}) { return this._t.request("GET", "/v1/account/audit-log", { params }); }
  /** Any call: `client.request("GET", "/v1/memories", { params })`. */
  request(method, path, options = {}) { return this._t.request(method, path, options); }
}

/** The operator's client for /v1/admin (the gateway's GATEWAY_OPERATOR_TOKEN). */
export class Operator {
  constructor({ token, baseUrl, timeout = 10_000, maxRetries = 0, maxRetryWait = 30, fetch } = {}) {
    if (!token) throw new TypeError("no operator token: pass { token }");
    const url = baseUrl ?? (environment("MEMORY_API_URL") || DEFAULT_BASE_URL);
    this._t = new Transport(token, url, { timeout, maxRetries, maxRetryWait, fetch });
    const t = this._t;
    this.tenants = {
      create: (input) => {
        const { body, options } = split(input, CALL_OPTIONS);
        return t.request("POST", "/v1/admin/tenants", { ...options, json: body });
      },
      list: async () => (await t.request("GET", "/v1/admin/tenants")).tenants,
      get: (id) => t.request("GET", `/v1/admin/tenants/${quote(id)}`),
      update: (id, input) => {
        const { body, options } = split(input, CALL_OPTIONS);
        return t.request("PATCH", `/v1/admin/tenants/${quote(id)}`, { ...options, json: body });
      },
    };
  }
  billing(params) { return this._t.request("GET", "/v1/admin/billing", { params }); }
}

// Loaded once, without failing the whole module in a runtime that has no node:crypto (only
// verifyWebhook needs it), so verification stays synchronous like the Python client's.
const nodeCrypto = await import("node:crypto").catch(() => null);

/** How far a delivery's `webhook-timestamp` may be from now (seconds) before it is refused as a replay. */
export const DEFAULT_WEBHOOK_TOLERANCE = 300;

/** The delivery is not from the gateway (bad or missing signature) or is too old (a replay). */
export class WebhookVerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

function headerValue(headers, name) {
  if (headers && typeof headers.get === "function") {   // a fetch Headers object
    const value = headers.get(name);
    return value === null ? undefined : value;
  }
  for (const [key, value] of Object.entries(headers || {})) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(" ") : value;
  }
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Checks a Standard Webhooks delivery and returns its parsed JSON `{type, timestamp, data}`.
 *
 *  `secret` is the webhook's `whsec_…` secret, `headers` the request's headers (a plain object in any
 *  case, as Node's `req.headers`, or a fetch `Headers`), `body` the raw body exactly as received
 *  (a string, Buffer or Uint8Array: never re-serialised JSON). Throws WebhookVerificationError when no
 *  `v1` signature matches or the timestamp is more than `tolerance` seconds from `now` (a replay).
 *  Delivery is at least once: drop duplicates by `webhook-id`. Needs node:crypto (Node, Deno, Bun). */
export function verifyWebhook(secret, headers, body, { tolerance = DEFAULT_WEBHOOK_TOLERANCE, now } = {}) {
  if (!nodeCrypto) throw new TypeError("verifyWebhook needs node:crypto (Node 18+, Deno, Bun)");
  const { createHmac, timingSafeEqual } = nodeCrypto;
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw new TypeError("body must be the raw body as received: a string, Buffer or Uint8Array");
  }
  const raw = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const messageId = headerValue(headers, "webhook-id");
  const timestamp = headerValue(headers, "webhook-timestamp");
  const signatures = headerValue(headers, "webhook-signature");
  if (!messageId || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature");
  }
  if (!/^[0-9]{1,15}$/.test(timestamp)) throw new WebhookVerificationError("webhook-timestamp is not a number");
  const sentAt = Number(timestamp);
  const current = now ?? Date.now() / 1000;
  if (Math.abs(current - sentAt) > tolerance) throw new WebhookVerificationError("webhook-timestamp is too far from now");
  const encoded = typeof secret === "string" && secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (typeof encoded !== "string" || encoded.length === 0 || !BASE64.test(encoded)) {
    throw new WebhookVerificationError("the secret is not a whsec_ secret");
  }
  const expected = createHmac("sha256", Buffer.from(encoded, "base64"))
    .update(`${messageId}.${timestamp}.`).update(raw).digest();
  for (const candidate of String(signatures).split(" ")) {
    const comma = candidate.indexOf(",");
    if (comma < 0 || candidate.slice(0, comma) !== "v1") continue;
    const value = candidate.slice(comma + 1);
    if (!BASE64.test(value)) continue;
    const given = Buffer.from(value, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      try { return JSON.parse(raw.toString("utf8")); } catch {
        throw new WebhookVerificationError("the body is not JSON");
      }
    }
  }
  throw new WebhookVerificationError("no signature matches");
}
