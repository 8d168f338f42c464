/// A snapshot of a ``PostgresPool``'s counters, for metrics and readiness.
public struct PoolStatistics: Sendable, Equatable {
    /// The most connections the pool opens (`poolSize`).
    public var size: Int
    /// Connections leased right now (including ones being opened for a lease).
    public var inUse: Int
    /// Open connections parked, ready for a lease.
    public var idle: Int
    /// Threads waiting for a connection.
    public var waiting: Int
    /// Leases that gave up after `leaseTimeout`, since the pool was created.
    public var totalLeaseTimeouts: Int
}
