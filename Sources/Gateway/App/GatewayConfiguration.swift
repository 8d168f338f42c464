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
