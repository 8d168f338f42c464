import PostgresStore

/// The long-lived parts every request may use, built once at startup.
struct Services: Sendable {
    let configuration: GatewayConfiguration
    let pool: PostgresPool
    let admission: Admission
    let usage: UsageRecorder
    let workers: WorkerPool
    let metrics: Metrics
    /// Per-tenant bounds on database use, exports, queries and extractions in flight.
    let tenantSlots: TenantSlots
    /// Each tenant's stored bytes against its storage quota.
    let storage: StorageAccounting
    /// Deletes idempotency records past the replay window.
    let idempotencySweeper: IdempotencySweeper
    /// The webhook outbox: `record` inside a change's transaction.
    let webhooks: WebhookOutbox
    /// Group commit of memory writes (creates, updates, batch imports).
    let writes: GroupCommitter
    /// Delivers what the outbox holds, on its own threads.
    let deliverer: WebhookDeliverer
}
