/// How webhooks are delivered, built once from the environment (`WEBHOOK_*`).
struct WebhookConfiguration: Sendable {
    /// `WEBHOOK_DELIVERY=off`: this instance queues events but delivers none (API-only instances;
    /// tests other than the webhook ones, which share one database).
    var isDelivering = true
    /// `WEBHOOK_ALLOW_PRIVATE`: URLs resolving to internal addresses are accepted and delivered to.
    var allowsPrivateAddresses = false
    /// `WEBHOOK_CONCURRENCY`: deliveries in flight at once per instance (each to a different
    /// webhook: one webhook gets one delivery at a time, from all instances together).
    var concurrency = 8
    /// `WEBHOOK_RETRY_SCHEDULE_MS`: the wait after each failed attempt; after the last, the
    /// delivery is failed. The contract's: 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h.
    var retrySchedule: [Duration] = [
        .seconds(5), .seconds(30), .seconds(120), .seconds(600), .seconds(3600), .seconds(10_800), .seconds(21_600),
    ]
    /// Each wait is scattered by up to this fraction either way (±10 %).
    var jitter = 0.1
    /// `WEBHOOK_POLL_MS`: how often deliverers look for due retries and expired leases when no
    /// NOTIFY woke them.
    var pollInterval: Duration = .seconds(1)
    /// `WEBHOOK_LEASE_MS`: how long a claimed webhook stays with the instance that claimed it; past
    /// it (the instance died), another instance delivers. Longer than the attempt timeout.
    var lease: Duration = .seconds(60)
    /// The whole attempt, connect to response (the contract's 10 s).
    var attemptTimeout: Duration = .seconds(10)
    /// Response body bytes read before the transfer is cut.
    var maxResponseBytes = 64 * 1024
    /// At most this many webhooks per tenant and environment.
    var maxPerEnvironment = 20
}
