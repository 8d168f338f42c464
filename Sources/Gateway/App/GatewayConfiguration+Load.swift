import Auth
import Foundation

extension GatewayConfiguration {
    /// Reads the environment, then `--name value` flags (`--port 9000`, `--database-url …`).
    static func load(environment: [String: String], arguments: [String]) throws -> GatewayConfiguration {
        let values = ConfigurationValues(environment: environment, arguments: arguments)
        var configuration = GatewayConfiguration()
        try configuration.loadServer(values)
        try configuration.loadDatabase(values)
        try configuration.loadLimits(values)
        try configuration.loadWebhooks(values)
        return configuration
    }

    /// Listening, threads, bodies, proxies, the operator token, the access log.
    private mutating func loadServer(_ values: ConfigurationValues) throws {
        if let host = values["HOST"] { self.host = host }
        if let port = try values.integer("PORT", 0...65535) { self.port = port }
        if let threads = try values.integer("GATEWAY_THREADS", 1...256) { self.threads = threads }
        if let body = try values.integer("MAX_BODY_BYTES", 1...(1 << 30)) { maxBodyBytes = body }
        if let token = values["GATEWAY_OPERATOR_TOKEN"] { operatorToken = token }
        if let proxies = values["TRUSTED_PROXIES"] {
            trustedProxies = try proxies.split(separator: ",").map {
                let text = $0.trimmingCharacters(in: .whitespaces)
                guard let cidr = CIDR(text) else { throw ConfigurationError.invalid("TRUSTED_PROXIES", text) }
                return cidr
            }
        }
        if let log = values.isOn("ACCESS_LOG") { accessLog = log }
    }

    /// The database, its pool and statements, group commit, usage and storage refreshes.
    private mutating func loadDatabase(_ values: ConfigurationValues) throws {
        databaseURL = values.raw("DATABASE_URL") ?? ""
        if let listen = values["DATABASE_LISTEN_URL"] { listenDatabaseURL = listen }
        if let pool = try values.integer("DB_POOL_SIZE", 1...1000) { poolSize = pool }
        if let prepared = values.isOn("DB_PREPARED_STATEMENTS") { usePreparedStatements = prepared }
        if let grouping = values.isOn("GROUP_COMMIT") { groupCommit.isEnabled = grouping }
        // At most 60 writes a group: each is a savepoint, and a backend caches 64 subtransactions.
        if let batch = try values.integer("GROUP_COMMIT_MAX_BATCH", 1...60) { groupCommit.limits.maxBatch = batch }
        if let inFlight = try values.integer("GROUP_COMMIT_IN_FLIGHT", 1...64) { groupCommit.limits.maxInFlight = inFlight }
        if let flush = try values.integer("USAGE_FLUSH_MS", 10...60_000) { usageFlushInterval = .milliseconds(flush) }
        if let wait = try values.integer("DB_POOL_WAIT_MS", 1...60_000) { poolWait = .milliseconds(wait) }
        if let timeout = try values.integer("DB_STATEMENT_TIMEOUT_MS", 100...3_600_000) {
            statementTimeout = .milliseconds(timeout)
        }
        if let refresh = try values.integer("STORAGE_REFRESH_MS", 50...60_000) {
            storageRefreshInterval = .milliseconds(refresh)
        }
        if let sweep = try values.integer("EXPIRY_SWEEP_INTERVAL_MS", 100...60_000) {
            expirySweep.interval = .milliseconds(sweep)
        }
    }

    /// Admission: the limiter, the key cache, the tenant's share of the pool.
    private mutating func loadLimits(_ values: ConfigurationValues) throws {
        if let limits = values.isOn("GATEWAY_RATE_LIMITS") { isRateLimiting = limits }
        if let cache = values.isOn("GATEWAY_KEY_CACHE") { isCachingKeys = cache }
        if let text = values["TENANT_POOL_SHARE"] {
            guard let share = Double(text), share.isFinite, share > 0, share <= 1 else {
                throw ConfigurationError.invalid("TENANT_POOL_SHARE", text)
            }
            tenantPoolShare = share
        }
    }

    /// Webhook delivery.
    private mutating func loadWebhooks(_ values: ConfigurationValues) throws {
        if let delivery = values.isOn("WEBHOOK_DELIVERY") { webhooks.isDelivering = delivery }
        // Off unless asked for in so many words: private addresses are a server-side request forgery risk.
        if let allow = values["WEBHOOK_ALLOW_PRIVATE"] {
            webhooks.allowsPrivateAddresses = ["1", "true", "on", "yes"].contains(allow.lowercased())
        }
        if let concurrency = try values.integer("WEBHOOK_CONCURRENCY", 1...256) { webhooks.concurrency = concurrency }
        if let poll = try values.integer("WEBHOOK_POLL_MS", 10...60_000) { webhooks.pollInterval = .milliseconds(poll) }
        if let timeout = try values.integer("WEBHOOK_TIMEOUT_MS", 100...10_000) {
            webhooks.attemptTimeout = .milliseconds(timeout)
        }
        if let lease = try values.integer("WEBHOOK_LEASE_MS", 1_000...3_600_000) { webhooks.lease = .milliseconds(lease) }
        if webhooks.lease <= webhooks.attemptTimeout {
            throw ConfigurationError.invalid("WEBHOOK_LEASE_MS", "must be longer than the attempt timeout")
        }
        if let schedule = values["WEBHOOK_RETRY_SCHEDULE_MS"] {
            var waits: [Duration] = []
            for part in schedule.split(separator: ",", omittingEmptySubsequences: false) {
                let text = part.trimmingCharacters(in: .whitespaces)
                guard let value = Int(text), (1...86_400_000).contains(value) else {
                    throw ConfigurationError.invalid("WEBHOOK_RETRY_SCHEDULE_MS", schedule)
                }
                waits.append(.milliseconds(value))
            }
            guard waits.count <= 20 else { throw ConfigurationError.invalid("WEBHOOK_RETRY_SCHEDULE_MS", schedule) }
            webhooks.retrySchedule = waits
        }
    }
}

/// The settings as text: the environment, overridden by `--name value` flags (`--db-pool-size 8`
/// is `DB_POOL_SIZE`). An empty value counts as unset.
struct ConfigurationValues {
    private var values: [String: String]

    init(environment: [String: String], arguments: [String]) {
        values = environment
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
    }

    /// The value of `name`, `nil` when unset or empty.
    subscript(name: String) -> String? {
        guard let text = values[name], !text.isEmpty else { return nil }
        return text
    }

    /// The value of `name` as given, even empty.
    func raw(_ name: String) -> String? { values[name] }

    /// An integer setting within `range`; a value outside it, or not a number, is an error.
    func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = Int(text), range.contains(value) else { throw GatewayConfiguration.ConfigurationError.invalid(name, text) }
        return value
    }

    /// A switch that is on unless set to `0`, `false`, `off` or `no`; `nil` when unset.
    func isOn(_ name: String) -> Bool? {
        self[name].map { !["0", "false", "off", "no"].contains($0.lowercased()) }
    }
}
