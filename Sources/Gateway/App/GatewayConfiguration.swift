import Auth
import Foundation
import HTTPServer
import PostgresStore

/// Everything the executable reads from its environment and flags, built once and passed down.
struct GatewayConfiguration: Sendable {
    /// libpq connection string or URI; empty means libpq's own defaults (PGHOST...).
    var databaseURL = ""
    /// A direct (not pooled) connection for LISTEN, when `databaseURL` goes through pgbouncer in
    /// transaction mode, where notifications would be lost; nil means `databaseURL`.
    var listenDatabaseURL: String?
    var host = "0.0.0.0"
    var port = 8080
    /// Event loops.
    var threads = ProcessInfo.processInfo.activeProcessorCount
    /// PostgreSQL connections per instance.
    var poolSize = 16
    var maxBodyBytes = 1_048_576
    /// Enables `/v1/admin` when set; at least ``minimumOperatorTokenLength`` characters.
    var operatorToken: String?
    /// The shortest operator token `serve` accepts (contract v1.1): a shorter one is guessable.
    static let minimumOperatorTokenLength = 32
    var trustedProxies: [CIDR] = []
    /// false: unnamed statements (pgbouncer in transaction pooling mode).
    var usePreparedStatements = true
    var accessLog = true
    /// How often usage counts are flushed to PostgreSQL.
    var usageFlushInterval: Duration = .milliseconds(500)
    /// false disables the rate limiter and quotas: for measuring their cost in benchmarks only.
    var isRateLimiting = true
    /// false: no key cache and no leases, every request decided in PostgreSQL (as before issue 15);
    /// for side-by-side benchmarks (`GATEWAY_KEY_CACHE=off`).
    var isCachingKeys = true
    /// How long a request waits for a database connection before 503.
    var poolWait: Duration = .seconds(2)
    /// PostgreSQL cancels a statement running longer; a server silent for 2 s more is given up as
    /// dead (503), so a hung database never holds a request much longer than this.
    var statementTimeout: Duration = .seconds(15)
    /// How often storage deltas are folded and each instance re-reads its tenants' storage figures:
    /// a tenant can pass its storage quota by at most about this much of its writes.
    var storageRefreshInterval: Duration = .milliseconds(500)
    /// Stored idempotent responses at least this old are deleted (the replay window).
    var idempotencyRetention: Duration = IdempotencyRecord.Limits().expiresAfter
    /// How often an instance tries to sweep expired idempotency records (well within the hour the
    /// contract allows).
    var idempotencySweepInterval: Duration = .seconds(300)
    /// The share of the pool one tenant may hold at once on this instance (`TENANT_POOL_SHARE`,
    /// in (0, 1]); see `TenantSlots.Limits.forPool`.
    var tenantPoolShare = 0.5
    /// How the background deletion of expired memories paces itself (`EXPIRY_SWEEP_INTERVAL_MS`).
    var expirySweep = MemorySweeper.Configuration()
    /// Webhook deliveries (`WEBHOOK_*`).
    var webhooks = WebhookConfiguration()
    /// Group commit of memory writes (`GROUP_COMMIT` on/off, `GROUP_COMMIT_MAX_BATCH`,
    /// `GROUP_COMMIT_IN_FLIGHT`).
    var groupCommit = GroupCommitter.Configuration()

    enum ConfigurationError: Error, CustomStringConvertible {
        case invalid(String, String)
        /// The operator token has this many characters, fewer than the minimum.
        case operatorTokenTooShort(Int)
        var description: String {
            switch self {
            case .invalid(let name, let value): "invalid value for \(name): \(value)"
            case .operatorTokenTooShort(let length):
                "GATEWAY_OPERATOR_TOKEN has \(length) characters; it must have at least "
                    + "\(GatewayConfiguration.minimumOperatorTokenLength) (a short token can be guessed). "
                    + "Generate one with: openssl rand -base64 32"
            }
        }
    }

    /// Refuses what must not be served: an operator token shorter than the minimum. Never
    /// includes the token itself in the error.
    func validateForServing() throws(ConfigurationError) {
        if let operatorToken, operatorToken.count < Self.minimumOperatorTokenLength {
            throw .operatorTokenTooShort(operatorToken.count)
        }
    }

    /// Reads the environment, then `--name value` flags (`--port 9000`, `--database-url …`).
    static func load(environment: [String: String], arguments: [String]) throws -> GatewayConfiguration {
        var values = environment
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), index + 1 < arguments.count {
                let name = argument.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
                values[name] = arguments[index + 1]
                index += 2
            } else {
                index += 1
            }
        }
        var configuration = GatewayConfiguration()
        func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = values[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else { throw ConfigurationError.invalid(name, text) }
            return value
        }
        configuration.databaseURL = values["DATABASE_URL"] ?? ""
        if let listen = values["DATABASE_LISTEN_URL"], !listen.isEmpty { configuration.listenDatabaseURL = listen }
        if let host = values["HOST"], !host.isEmpty { configuration.host = host }
        if let port = try integer("PORT", 0...65535) { configuration.port = port }
        if let threads = try integer("GATEWAY_THREADS", 1...256) { configuration.threads = threads }
        if let pool = try integer("DB_POOL_SIZE", 1...1000) { configuration.poolSize = pool }
        if let body = try integer("MAX_BODY_BYTES", 1...(1 << 30)) { configuration.maxBodyBytes = body }
        if let token = values["GATEWAY_OPERATOR_TOKEN"], !token.isEmpty { configuration.operatorToken = token }
        if let proxies = values["TRUSTED_PROXIES"], !proxies.isEmpty {
            configuration.trustedProxies = try proxies.split(separator: ",").map {
                let text = $0.trimmingCharacters(in: .whitespaces)
                guard let cidr = CIDR(text) else { throw ConfigurationError.invalid("TRUSTED_PROXIES", text) }
                return cidr
            }
        }
        if let prepared = values["DB_PREPARED_STATEMENTS"], !prepared.isEmpty {
            configuration.usePreparedStatements = !["0", "false", "off", "no"].contains(prepared.lowercased())
        }
        if let log = values["ACCESS_LOG"], !log.isEmpty {
            configuration.accessLog = !["0", "false", "off", "no"].contains(log.lowercased())
        }
        if let limits = values["GATEWAY_RATE_LIMITS"], !limits.isEmpty {
            configuration.isRateLimiting = !["0", "false", "off", "no"].contains(limits.lowercased())
        }
        if let grouping = values["GROUP_COMMIT"], !grouping.isEmpty {
            configuration.groupCommit.isEnabled = !["0", "false", "off", "no"].contains(grouping.lowercased())
        }
        // At most 60 writes a group: each is a savepoint, and a backend caches 64 subtransactions.
        if let batch = try integer("GROUP_COMMIT_MAX_BATCH", 1...60) { configuration.groupCommit.limits.maxBatch = batch }
        if let inFlight = try integer("GROUP_COMMIT_IN_FLIGHT", 1...64) {
            configuration.groupCommit.limits.maxInFlight = inFlight
        }
        if let cache = values["GATEWAY_KEY_CACHE"], !cache.isEmpty {
            configuration.isCachingKeys = !["0", "false", "off", "no"].contains(cache.lowercased())
        }
        if let flush = try integer("USAGE_FLUSH_MS", 10...60_000) { configuration.usageFlushInterval = .milliseconds(flush) }
        if let wait = try integer("DB_POOL_WAIT_MS", 1...60_000) { configuration.poolWait = .milliseconds(wait) }
        if let timeout = try integer("DB_STATEMENT_TIMEOUT_MS", 100...3_600_000) {
            configuration.statementTimeout = .milliseconds(timeout)
        }
        if let refresh = try integer("STORAGE_REFRESH_MS", 50...60_000) {
            configuration.storageRefreshInterval = .milliseconds(refresh)
        }
        if let text = values["TENANT_POOL_SHARE"], !text.isEmpty {
            guard let share = Double(text), share.isFinite, share > 0, share <= 1 else {
                throw ConfigurationError.invalid("TENANT_POOL_SHARE", text)
            }
            configuration.tenantPoolShare = share
        }
        if let sweep = try integer("EXPIRY_SWEEP_INTERVAL_MS", 100...60_000) {
            configuration.expirySweep.interval = .milliseconds(sweep)
        }
        if let delivery = values["WEBHOOK_DELIVERY"], !delivery.isEmpty {
            configuration.webhooks.isDelivering = !["0", "false", "off", "no"].contains(delivery.lowercased())
        }
        if let allow = values["WEBHOOK_ALLOW_PRIVATE"], !allow.isEmpty {
            configuration.webhooks.allowsPrivateAddresses = ["1", "true", "on", "yes"].contains(allow.lowercased())
        }
        if let concurrency = try integer("WEBHOOK_CONCURRENCY", 1...256) { configuration.webhooks.concurrency = concurrency }
        if let poll = try integer("WEBHOOK_POLL_MS", 10...60_000) { configuration.webhooks.pollInterval = .milliseconds(poll) }
        if let timeout = try integer("WEBHOOK_TIMEOUT_MS", 100...10_000) {
            configuration.webhooks.attemptTimeout = .milliseconds(timeout)
        }
        if let lease = try integer("WEBHOOK_LEASE_MS", 1_000...3_600_000) { configuration.webhooks.lease = .milliseconds(lease) }
        if configuration.webhooks.lease <= configuration.webhooks.attemptTimeout {
            throw ConfigurationError.invalid("WEBHOOK_LEASE_MS", "must be longer than the attempt timeout")
        }
        if let schedule = values["WEBHOOK_RETRY_SCHEDULE_MS"], !schedule.isEmpty {
            var waits: [Duration] = []
            for part in schedule.split(separator: ",", omittingEmptySubsequences: false) {
                let text = part.trimmingCharacters(in: .whitespaces)
                guard let value = Int(text), (1...86_400_000).contains(value) else {
                    throw ConfigurationError.invalid("WEBHOOK_RETRY_SCHEDULE_MS", schedule)
                }
                waits.append(.milliseconds(value))
            }
            guard waits.count <= 20 else { throw ConfigurationError.invalid("WEBHOOK_RETRY_SCHEDULE_MS", schedule) }
            configuration.webhooks.retrySchedule = waits
        }
        return configuration
    }

    /// The per-tenant bounds of this configuration's pool.
    var tenantLimits: TenantSlots.Limits {
        TenantSlots.Limits.forPool(size: poolSize, share: tenantPoolShare)
    }

    var postgres: PostgresConfiguration {
        var configuration = PostgresConfiguration(connectionString: databaseURL)
        configuration.poolSize = poolSize
        configuration.leaseTimeout = poolWait
        configuration.statementTimeout = statementTimeout
        configuration.usePreparedStatements = usePreparedStatements
        return configuration
    }

    var http: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.threads = threads
        configuration.maxBodyBytes = maxBodyBytes
        configuration.accessLog = accessLog
        return configuration
    }
}
