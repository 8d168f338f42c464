import PostgresStore

/// The long-lived parts every request may use, built once at startup.
struct Services: Sendable {
    let configuration: GatewayConfiguration
    let pool: PostgresPool
    let admission: Admission
    let usage: UsageRecorder
    let workers: WorkerPool
    let metrics: Metrics
    /// Per-tenant bound on concurrent queries and extractions.
    let expensiveSlots: TenantSlots
    /// The webhook outbox: `record` inside a change's transaction.
    let webhooks: WebhookOutbox
    /// Delivers what the outbox holds, on its own threads.
    let deliverer: WebhookDeliverer
}
