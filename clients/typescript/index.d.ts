// Types of the Memory Gateway client (index.js). Request fields are the REST API's own names.

export declare const VERSION: string;
export declare const DEFAULT_BASE_URL: string;

export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };
export type Metadata = { [key: string]: string | number | boolean | null | Array<string | number | boolean | null> };

/** The envelope's meta. */
export interface Meta {
  readonly requestId: string;
  readonly processingTimeMs: number;
  readonly request_id: string;
  readonly processing_time_ms: number;
}

/** What every call resolves to: the envelope's `data`, with these non-enumerable properties. */
export type Result<T> = T & {
  readonly meta: Meta;
  readonly requestId: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** `Idempotent-Replayed: true`: the stored response of an earlier call with the same key. */
  readonly replayed: boolean;
};

/** Options every call takes beside its fields. */
export interface CallOptions {
  /** `Idempotency-Key` of a write: a retry with the same key replays the first response. */
  idempotencyKey?: string;
  /** Make an `Idempotency-Key` (a UUID) for this call, reused by its retries. */
  idempotent?: boolean;
  /** Retries of 429 and 503 for this call (default: the client's `maxRetries`). */
  retries?: number;
  /** `X-Request-ID` to send. */
  requestId?: string;
}

export interface Memory {
  id: string;
  text: string;
  metadata: Metadata;
  space_id: string | null;
  source: "api" | "extraction";
  version: number;
  created_at: string;
  updated_at: string;
  expires_at?: string | null;
}

export interface MemoryCreate extends CallOptions {
  text: string;
  metadata?: Metadata;
  memory_id?: string;
  space_id?: string;
  expires_at?: string;
  ttl_seconds?: number;
}

export interface MemoryUpdate extends CallOptions {
  text?: string;
  metadata?: Metadata;
  expires_at?: string | null;
  ttl_seconds?: number;
}

export interface ListFilters {
  space_id?: string;
  source?: "api" | "extraction";
  /** `{topic: "billing"}` becomes `metadata.topic=billing`. */
  metadata?: { [key: string]: string | number | boolean };
  updated_since?: string;
  [filter: string]: unknown;
}

export interface MemoryPage {
  memories: Memory[];
  page: number | null;
  per_page: number;
  has_more: boolean;
  next_cursor: string | null;
}

export interface QueryInput extends CallOptions {
  context: string;
  max_memories?: number;
  relevance_threshold?: number;
  include_metadata?: boolean;
  space_id?: string;
  filters?: { [key: string]: JSONValue };
  hybrid_search?: boolean;
  temporal_boost?: number;
  language?: string;
  as_of?: string;
  count_below_threshold?: boolean;
}

export interface QueryResult {
  memories: Array<{ id: string; text: string; relevance_score: number; metadata?: Metadata; space_id: string | null;
    created_at: string }>;
  query_context: string;
  below_threshold?: number;
}

export interface ExtractInput extends CallOptions {
  content: string;
  content_type?: "text" | "conversation";
  space_id?: string;
  metadata?: Metadata;
}

export interface ExtractResult {
  memories_created: number;
  memory_ids: string[];
  extracted_memories: Array<{ id: string; text: string }>;
  duplicates_skipped: number;
}

export interface ClientOptions {
  /** Default: `MEMORY_API_KEY`. */
  apiKey?: string;
  /** Default: `MEMORY_API_URL`, else http://localhost:8080. */
  baseUrl?: string;
  /** Milliseconds per attempt (default 10000). */
  timeout?: number;
  /** Retries of 429 (after retryAfter; never a memory quota) and 503 (reads, and writes with an
   *  Idempotency-Key); default 0. */
  maxRetries?: number;
  /** Longest wait in seconds before a retry (default 30); a longer retryAfter is thrown. */
  maxRetryWait?: number;
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
}

type Data = { [key: string]: any };

export declare class Memories {
  create(input: MemoryCreate): Promise<Result<Memory>>;
  get(memoryId: string, options?: { as_of?: string } & CallOptions): Promise<Result<Memory>>;
  update(memoryId: string, input: MemoryUpdate): Promise<Result<Memory>>;
  delete(memoryId: string, options?: CallOptions): Promise<Result<{ id: string; deleted: true }>>;
  list(params?: ListFilters & { page?: number; per_page?: number; cursor?: string }): Promise<Result<MemoryPage>>;
  count(params?: ListFilters): Promise<number>;
  history(memoryId: string): Promise<Data[]>;
  batch(memories: Array<Omit<MemoryCreate, keyof CallOptions>>,
    options?: { on_conflict?: "error" | "skip" | "update" } & CallOptions):
    Promise<Result<{ created: number; updated: number; skipped: number; memory_ids: string[] }>>;
  iterate(params?: ListFilters & { per_page?: number }): AsyncGenerator<Memory, void, undefined>;
}

export declare class Spaces {
  create(input: { id: string; name: string; description?: string } & CallOptions): Promise<Result<Data>>;
  list(params?: { page?: number; per_page?: number }): Promise<Result<Data>>;
  get(spaceId: string): Promise<Result<Data>>;
  update(spaceId: string, input: { name?: string; description?: string | null } & CallOptions): Promise<Result<Data>>;
  delete(spaceId: string, options?: { delete_memories?: boolean } & CallOptions): Promise<Result<Data>>;
}

export declare class APIKeys {
  create(input: { name: string; scopes: Array<"read" | "write" | "delete" | "admin">; environment?: "live" | "test";
    expires_at?: string; rate_limit_per_minute?: number; allowed_ips?: string[] } & CallOptions):
    Promise<Result<Data & { id: string; key: string }>>;
  list(): Promise<Data[]>;
  get(keyId: string): Promise<Result<Data>>;
  rotate(keyId: string, input?: { grace_seconds?: number } & CallOptions): Promise<Result<Data & { key: string }>>;
  revoke(keyId: string, options?: CallOptions): Promise<Result<Data>>;
}

export type WebhookEventType = "memory.created" | "memory.updated" | "memory.deleted" | "memories.erased" |
  "usage.alert" | "api_key.created" | "api_key.rotated" | "api_key.revoked" | "webhook.test" | "*";

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  created_at: string;
  [field: string]: unknown;
}

export interface WebhookDelivery {
  id: string;
  event_id: string;
  type: WebhookEventType;
  attempt: number;
  status: "pending" | "delivered" | "failed" | string;
  response_status: number | null;
  error: string | null;
  at: string;
}

export declare class Webhooks {
  /** POST /v1/webhooks: the result's `secret` (`whsec_…`) is shown only here: keep it. */
  create(input: { url: string; events: WebhookEventType[]; description?: string } & CallOptions):
    Promise<Result<Webhook & { secret: string }>>;
  list(): Promise<Webhook[]>;
  get(webhookId: string): Promise<Result<Webhook>>;
  delete(webhookId: string, options?: CallOptions): Promise<Result<{ id: string; deleted: true }>>;
  test(webhookId: string, options?: CallOptions):
    Promise<Result<{ event_id: string; type: "webhook.test"; webhook_id: string }>>;
  deliveries(webhookId: string, params?: { limit?: number; cursor?: string }):
    Promise<Result<{ deliveries: WebhookDelivery[]; next_cursor: string | null }>>;
}

/** The JSON body of a delivery. */
export interface WebhookEvent {
  type: WebhookEventType;
  timestamp: string;
  data: { [key: string]: JSONValue };
}

export declare const DEFAULT_WEBHOOK_TOLERANCE: number;

/** The delivery is not from the gateway (bad or missing signature) or is too old (a replay). */
export declare class WebhookVerificationError extends Error {}

/** Checks a Standard Webhooks delivery (HMAC-SHA256 of "<id>.<timestamp>.<body>", any of several `v1`
 *  signatures, timestamp within `tolerance` seconds, 300 by default) and resolves to its parsed body.
 *  `body` is the raw body as received. Throws WebhookVerificationError. */
export declare function verifyWebhook(secret: string,
  headers: Record<string, string | string[] | undefined> | { get(name: string): string | null },
  body: string | Uint8Array, options?: { tolerance?: number; now?: number }): WebhookEvent;

export declare class MemoryGateway {
  constructor(options?: ClientOptions);
  readonly memories: Memories;
  readonly spaces: Spaces;
  readonly apiKeys: APIKeys;
  readonly webhooks: Webhooks;
  readonly baseUrl: string;
  /** The request id of the last response, errors included. */
  readonly lastRequestId: string | undefined;
  query(input: QueryInput): Promise<Result<QueryResult>>;
  extract(input: ExtractInput): Promise<Result<ExtractResult>>;
  usage(params?: { environment?: "live" | "test" }): Promise<Result<Data>>;
  usageHistory(params?: { from?: string; to?: string; key_id?: string; format?: "json" | "csv" }): Promise<Result<Data> | string>;
  usageProjection(params?: { environment?: "live" | "test" }): Promise<Result<Data>>;
  account(): Promise<Result<Data>>;
  auditLog(params?: { per_page?: number; cursor?: string }): Promise<Result<Data>>;
  request(method: string, path: string, options?: { params?: Record<string, unknown>; json?: unknown } & CallOptions):
    Promise<Result<Data> | string>;
}

export declare class Operator {
  constructor(options: { token: string } & Omit<ClientOptions, "apiKey">);
  readonly tenants: {
    create(input: { name: string; plan?: string } & CallOptions): Promise<Result<{ tenant: Data; api_key: Data & { key: string } }>>;
    list(): Promise<Data[]>;
    get(tenantId: string): Promise<Result<Data>>;
    update(tenantId: string, input: { plan?: string; suspended?: boolean;
      limits?: { rate_limit_per_minute?: number | null; monthly_request_quota?: number | null; max_memories?: number | null } }
      & CallOptions): Promise<Result<Data>>;
  };
  billing(params: { period: string; format?: "json" | "csv" }): Promise<Result<Data> | string>;
}

export interface ErrorFields {
  code?: string;
  status?: number;
  details?: Array<{ field: string; message: string }>;
  requestId?: string;
  retryAfter?: number | null;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Every error the gateway answers with: `code` is stable, `message` for people. */
export declare class GatewayError extends Error {
  constructor(message: string, fields?: ErrorFields);
  readonly code: string;
  readonly status: number;
  readonly details: Array<{ field: string; message: string }> | undefined;
  readonly requestId: string | undefined;
  /** Whole seconds until a retry is worth it (429, 503); null when waiting will not help. */
  readonly retryAfter: number | null | undefined;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}
export declare class ConnectionFailedError extends GatewayError {}
export declare class InvalidRequestError extends GatewayError {}
export declare class AuthenticationError extends GatewayError {}
export declare class PermissionDeniedError extends GatewayError {}
export declare class NotFoundError extends GatewayError {}
export declare class MethodNotAllowedError extends GatewayError {}
export declare class ConflictError extends GatewayError {}
export declare class IdempotencyConflictError extends ConflictError {}
export declare class PayloadTooLargeError extends GatewayError {}
export declare class UnsupportedMediaTypeError extends GatewayError {}
/** 429: `retryAfter` is exact: after that many seconds one request is admitted. */
export declare class RateLimitError extends GatewayError {
  readonly retryAfter: number | null;
}
export declare class QuotaExceededError extends RateLimitError {}
export declare class ServerError extends GatewayError {}
export declare class ServiceUnavailableError extends GatewayError {}
