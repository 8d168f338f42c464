import Auth
import Foundation
import PostgresStore
import Synchronization

/// Delivers queued webhook events, off the request path, on its own threads (never an event loop).
///
/// A dispatcher thread claims due deliveries and hands each to one of `concurrency` delivery
/// threads. A claim leases the *webhook* (`FOR UPDATE SKIP LOCKED`, then `lease_until`), so across
/// all instances one webhook gets one delivery at a time, oldest due event first: deliveries to a
/// URL keep event order as far as retries allow (a delivery waiting for its retry does not hold
/// back later events). An instance that dies mid-delivery leaves the lease to expire; the delivery
/// is still pending and another instance makes it (at least once). The dispatcher wakes on the
/// NOTIFY that `gw_webhook_enqueue` sends at commit, and polls every `pollInterval` for retries
/// that came due and leases that expired.
final class WebhookDeliverer: Sendable {
    private struct State {
        var inFlight = 0
        var isStopped = false
        var isWakeRequested = false
        var isDispatcherRunning = false
    }

    /// One claimed delivery.
    struct Claim: Sendable {
        let orgID: String
        let webhookID: String
        let url: String
        let secret: String
        let seq: Int64
        let eventID: String
        let attempt: Int
        let body: String
        /// What the claim wrote to `webhooks.lease_token`; releasing needs it.
        let leaseToken: String
    }

    private let pool: PostgresPool
    private let configuration: WebhookConfiguration
    private let client: WebhookHTTPClient
    private let workers: WorkerPool
    private let state = Mutex(State())
    private let condition = NSCondition()

    init(pool: PostgresPool, configuration: WebhookConfiguration) {
        self.pool = pool
        self.configuration = configuration
        self.client = WebhookHTTPClient(timeout: configuration.attemptTimeout,
                                        maxResponseBytes: configuration.maxResponseBytes)
        self.workers = WorkerPool(threads: configuration.isDelivering ? configuration.concurrency : 1,
                                  maxQueued: configuration.concurrency * 2)
    }

    /// Starts the dispatcher thread.
    func start() {
        state.withLock { $0.isDispatcherRunning = true }
        let thread = Thread { [self] in self.dispatchLoop() }
        thread.name = "webhook-dispatcher"
        thread.start()
    }

    /// Something was queued (a NOTIFY) or a delivery finished: look for work now.
    func wake() {
        state.withLock { $0.isWakeRequested = true }
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Stops claiming, then waits (up to the attempt timeout and a second) for deliveries in flight;
    /// any still running keep their lease and are made again by another instance.
    func stop() {
        state.withLock { $0.isStopped = true }
        wake()
        let deadline = ContinuousClock.now + configuration.attemptTimeout + .seconds(1)
        while ContinuousClock.now < deadline {
            let busy = state.withLock { $0.inFlight > 0 || $0.isDispatcherRunning }
            if !busy { break }
            condition.lock()
            _ = condition.wait(until: Date().addingTimeInterval(0.02))
            condition.unlock()
        }
        workers.stop()
    }

    private func dispatchLoop() {
        defer {
            state.withLock { $0.isDispatcherRunning = false }
            wake()
        }
        while true {
            let free = state.withLock { state -> Int? in
                state.isWakeRequested = false
                return state.isStopped ? nil : configuration.concurrency - state.inFlight
            }
            guard let free else { return }
            var claimed = 0
            if free > 0 {
                do {
                    let claims = try claim(limit: free)
                    claimed = claims.count
                    for claim in claims { submit(claim) }
                } catch {
                    Log.error("webhook claim failed", ["error": String(describing: error)])
                }
            }
            if free > 0, claimed == free { continue }  // maybe more is due
            waitForWork()
        }
    }

    private func waitForWork() {
        let deadline = Date().addingTimeInterval(Double(configuration.pollInterval.components.seconds)
                                                 + Double(configuration.pollInterval.components.attoseconds) / 1e18)
        condition.lock()
        while !state.withLock({ $0.isWakeRequested || $0.isStopped }), Date() < deadline {
            _ = condition.wait(until: deadline)
        }
        condition.unlock()
    }

    private func submit(_ claim: Claim) {
        state.withLock { $0.inFlight += 1 }
        let accepted = workers.submit { [self] in
            self.deliver(claim)
            self.state.withLock { $0.inFlight -= 1 }
            self.wake()
        }
        if !accepted {
            // Stopping: leave the lease to expire; another instance delivers.
            state.withLock { $0.inFlight -= 1 }
        }
    }

    /// Leases up to `limit` webhooks with a due delivery and returns the oldest due delivery of each.
    ///
    /// Two statements, on purpose. A webhook whose lease another instance has just released (in
    /// the statement that recorded its delivery) can be leased by a claim whose snapshot is older
    /// than that release: the row lock's recheck sees the new lease columns, but the deliveries
    /// read in the same statement would still look due, and the event would go out twice. The
    /// second statement starts after the lease is ours, so it sees every delivery recorded by the
    /// instance that held it before.
    func claim(limit: Int) throws -> [Claim] {
        let token = Identifier.make(prefix: "lease")
        let leased = try pool.query(
            """
            WITH due AS (
                SELECT w.org_id, w.webhook_id FROM webhooks w
                 WHERE (w.org_id, w.webhook_id) IN (
                         SELECT d.org_id, d.webhook_id FROM webhook_deliveries d
                          WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= clock_timestamp())
                   AND (w.lease_until IS NULL OR w.lease_until < clock_timestamp())
                 LIMIT $1
                   FOR UPDATE OF w SKIP LOCKED
            )
            UPDATE webhooks w SET lease_token = $2, lease_until = clock_timestamp() + make_interval(secs => $3)
              FROM due WHERE w.org_id = due.org_id AND w.webhook_id = due.webhook_id
            RETURNING w.org_id AS org_id, w.webhook_id AS webhook_id
            """,
            [.int(Int64(limit)), .text(token), .double(Self.seconds(configuration.lease))])
        guard !leased.isEmpty else { return [] }
        let rows = try pool.query(
            """
            SELECT \(WebhookClaimRow.selectList)
              FROM webhooks l
              LEFT JOIN LATERAL (
                    SELECT d.seq, d.event_id, d.attempt FROM webhook_deliveries d
                     WHERE d.org_id = l.org_id AND d.webhook_id = l.webhook_id AND d.status IN ('pending', 'retrying')
                       AND d.next_attempt_at <= clock_timestamp()
                     ORDER BY d.seq LIMIT 1) d ON true
              LEFT JOIN webhook_events e ON e.org_id = l.org_id AND e.event_id = d.event_id
             WHERE (l.org_id, l.webhook_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND l.lease_token = $3
            """,
            [.textArray(leased.map { $0.string("org_id") ?? "" }), .textArray(leased.map { $0.string("webhook_id") ?? "" }),
             .text(token)])
        var claims: [Claim] = []
        for row in rows.map(WebhookClaimRow.init) {
            guard let orgID = row.orgID, let webhookID = row.webhookID else { continue }
            guard let seq = row.seq, let eventID = row.eventID, let body = row.body else {
                // Its delivery went meanwhile (webhook deleted, delivered elsewhere): free the lease.
                try release(orgID: orgID, webhookID: webhookID, token: token)
                continue
            }
            claims.append(Claim(orgID: orgID, webhookID: webhookID, url: row.url ?? "", secret: row.secret ?? "",
                                seq: seq, eventID: eventID, attempt: row.attempt, body: body,
                                leaseToken: token))
        }
        return claims
    }

    private func release(orgID: String, webhookID: String, token: String) throws {
        _ = try pool.query(
            "UPDATE webhooks SET lease_token = NULL, lease_until = NULL WHERE org_id = $1 AND webhook_id = $2 AND lease_token = $3",
            [.text(orgID), .text(webhookID), .text(token)])
    }

    /// Deliveries one worker makes in a row to one webhook while it keeps the lease, before it lets
    /// the webhook go back to the claim (so busy webhooks do not starve the others).
    static let maxStreak = 50

    /// Makes the claimed attempt and records its result; while the webhook has more due events,
    /// goes on with the next (recording one result and fetching the next is one statement), then
    /// releases the lease.
    func deliver(_ first: Claim) {
        var claim = first
        var streak = 1
        while true {
            let isContinuing = streak < Self.maxStreak && !state.withLock { $0.isStopped }
            do {
                guard let next = try deliverOne(claim, fetchingNext: isContinuing) else {
                    if isContinuing { try release(orgID: claim.orgID, webhookID: claim.webhookID, token: claim.leaseToken) }
                    return
                }
                claim = next
                streak += 1
            } catch {
                // The lease expires and the delivery is made again: at least once.
                Log.error("webhook delivery result not recorded", ["error": String(describing: error), "webhook_id": claim.webhookID])
                return
            }
        }
    }

    /// One attempt and its result. `fetchingNext`: keep the lease (extended) and return the
    /// webhook's next due delivery, if any; otherwise release the lease and return nil.
    private func deliverOne(_ claim: Claim, fetchingNext: Bool) throws -> Claim? {
        let started = Date()
        let outcome = attempt(claim, at: started)
        let attempt = claim.attempt + 1
        let isDelivered = outcome.status.map { (200...299).contains($0) } ?? false
        let status: String
        var nextAttempt: Date?
        if isDelivered {
            status = "delivered"
        } else if attempt <= configuration.retrySchedule.count {
            status = "retrying"
            let wait = Self.seconds(configuration.retrySchedule[attempt - 1])
            let jitter = configuration.jitter > 0 ? Double.random(in: -configuration.jitter...configuration.jitter) : 0
            nextAttempt = started.addingTimeInterval(wait * (1 + jitter))
        } else {
            status = "failed"
        }
        var error = outcome.error
        if !isDelivered, error == nil, let code = outcome.status { error = "HTTP \(code)" }
        let parameters: [PostgresValue] = [
            .text(claim.orgID), .text(claim.webhookID), .text(claim.leaseToken), .int(claim.seq), .text(status),
            nextAttempt.map { .text(UTCDate.timestamp($0)) } ?? .null,
            outcome.status.map { .int(Int64($0)) } ?? .null, error.map { .text(String($0.prefix(500))) } ?? .null,
        ]
        guard fetchingNext else {
            _ = try pool.query(
                """
                WITH released AS (
                    UPDATE webhooks SET lease_token = NULL, lease_until = NULL
                     WHERE org_id = $1 AND webhook_id = $2 AND lease_token = $3
                )
                UPDATE webhook_deliveries
                   SET status = $5, attempt = attempt + 1, next_attempt_at = coalesce($6::timestamptz, next_attempt_at),
                       response_status = $7, error = $8, updated_at = gw_now()
                 WHERE org_id = $1 AND seq = $4 AND status IN ('pending', 'retrying')
                """,
                parameters)
            return nil
        }
        // The statement's snapshot still shows the delivery just made as due: `seq <> $4` skips it.
        let rows = try pool.query(
            """
            WITH done AS (
                UPDATE webhook_deliveries
                   SET status = $5, attempt = attempt + 1, next_attempt_at = coalesce($6::timestamptz, next_attempt_at),
                       response_status = $7, error = $8, updated_at = gw_now()
                 WHERE org_id = $1 AND seq = $4 AND status IN ('pending', 'retrying')
            ), lease AS (
                UPDATE webhooks SET lease_until = clock_timestamp() + make_interval(secs => $9)
                 WHERE org_id = $1 AND webhook_id = $2 AND lease_token = $3
                RETURNING org_id, webhook_id, url, secret
            )
            SELECT \(WebhookClaimRow.selectList)
              FROM lease l
              JOIN LATERAL (
                    SELECT d.seq, d.event_id, d.attempt FROM webhook_deliveries d
                     WHERE d.org_id = l.org_id AND d.webhook_id = l.webhook_id AND d.status IN ('pending', 'retrying')
                       AND d.next_attempt_at <= clock_timestamp() AND d.seq <> $4
                     ORDER BY d.seq LIMIT 1) d ON true
              JOIN webhook_events e ON e.org_id = l.org_id AND e.event_id = d.event_id
            """,
            parameters + [.double(Self.seconds(configuration.lease))])
        guard let row = rows.first.map(WebhookClaimRow.init), let seq = row.seq, let eventID = row.eventID,
              let body = row.body else {
            return nil
        }
        return Claim(orgID: claim.orgID, webhookID: claim.webhookID, url: row.url ?? claim.url,
                     secret: row.secret ?? claim.secret, seq: seq, eventID: eventID,
                     attempt: row.attempt, body: body, leaseToken: claim.leaseToken)
    }

    /// The HTTP attempt: the address check (resolving once), then the signed POST to those addresses.
    private func attempt(_ claim: Claim, at started: Date) -> WebhookHTTPOutcome {
        let target: WebhookTarget
        switch WebhookTarget.parse(claim.url) {
        case .success(let parsed): target = parsed
        case .failure(let error): return WebhookHTTPOutcome(status: nil, error: error.message)
        }
        let addresses: [IPAddress]
        do {
            addresses = try WebhookAddressGuard(allowsPrivate: configuration.allowsPrivateAddresses).addresses(for: target)
        } catch {
            return WebhookHTTPOutcome(status: nil, error: error.message)
        }
        guard let key = WebhookSignature.key(of: claim.secret) else {
            return WebhookHTTPOutcome(status: nil, error: "the webhook's secret is unreadable")
        }
        let body = Array(claim.body.utf8)
        let timestamp = Int64(started.timeIntervalSince1970.rounded(.down))
        let headers = [
            ("Content-Type", "application/json"),
            ("webhook-id", claim.eventID),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", WebhookSignature.sign(key: key, id: claim.eventID, timestamp: timestamp, body: body)),
        ]
        return client.post(target, addresses: addresses.map(\.description), headers: headers, body: body)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
