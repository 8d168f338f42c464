/// How the store connects to PostgreSQL. Built once by the gateway from the environment.
public struct PostgresConfiguration: Sendable {
    /// A libpq conninfo (`host=... dbname=...`) or URI (`postgresql://...`): `DATABASE_URL`.
    public var connectionString: String
    /// The most connections the pool opens: `DB_POOL_SIZE`.
    public var poolSize: Int = 10
    /// How long a lease waits for a free connection before failing with ``StoreError/unavailable(_:)``.
    public var leaseTimeout: Duration = .seconds(2)
    /// How long opening one connection may take, all of it (TCP, TLS, authentication, every host tried).
    public var connectTimeout: Duration = .seconds(2)
    /// `false` sends unnamed statements every time, as pgbouncer in transaction mode requires.
    public var usePreparedStatements: Bool = true
    /// The session's `statement_timeout`; `nil` disables it.
    public var statementTimeout: Duration? = .seconds(30)

    public init(connectionString: String) {
        self.connectionString = connectionString
    }
}

/// Connection parameters the store adds to the user's connection string.
enum SessionDefaults {
    /// Idle seconds before the first TCP keepalive probe: a silently dead server is noticed while idle.
    static let keepalivesIdleSeconds = 10
    /// Seconds between keepalive probes.
    static let keepalivesIntervalSeconds = 5
    /// Unanswered probes before the connection is declared dead.
    static let keepalivesCount = 3
    /// Milliseconds transmitted data may stay unacknowledged before the kernel drops the connection, so
    /// a request on a connection to a vanished host fails in seconds, not after minutes of retransmits.
    static let tcpUserTimeoutMilliseconds = 15_000
    /// `application_name` when the connection string sets none.
    static let applicationName = "memory-gateway"
}

extension Duration {
    /// Whole milliseconds, rounded up so a non-zero duration never becomes 0 (which libpq and
    /// PostgreSQL read as "no limit").
    var roundedUpMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let remainder = attoseconds % 1_000_000_000_000_000
        return remainder > 0 ? millis + 1 : millis
    }

    /// The duration in seconds as a floating-point number.
    var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
