import Dispatch
import Synchronization

/// Bounds what one tenant holds at once on this instance, so a tenant cannot take every database
/// connection (or every worker) and starve the others: at most ``Limits/connections`` requests
/// using the database (its share of the pool, `TENANT_POOL_SHARE`), ``Limits/exports`` exports and
/// ``Limits/queries`` queries or extractions in flight.
///
/// A request over a bound is parked, not blocked: ``acquire(_:_:wait:granted:timedOut:)`` keeps
/// its continuation and returns at once, so the worker thread is free for other tenants while it
/// waits. When one of the tenant's slots is released, the oldest waiter that now fits is granted
/// (its continuation is called on the releasing thread, and must only schedule work); one that is
/// still waiting after `wait` gets its `timedOut` continuation instead (429
/// `concurrent_limit_exceeded`). Waiting costs one timer, never a spinning thread.
final class TenantSlots: Sendable {
    /// What a slot is for.
    enum Kind: Int, CaseIterable, Sendable {
        /// A request that uses the database (every admitted tenant request but a fused one).
        case connection
        /// A running `GET /v1/memories/export`, for its whole length.
        case export
        /// A full-text query or an extraction.
        case query
    }

    /// How many slots of each kind one tenant may hold at once.
    struct Limits: Sendable, Equatable {
        var connections: Int
        var exports: Int
        var queries: Int

        /// The contract's bounds for a pool of `poolSize` connections of which a tenant may hold
        /// `share`: `max(1, ⌊poolSize × share⌋)` connections, 2 exports, `max(2, poolSize / 4)`
        /// queries or extractions.
        static func forPool(size poolSize: Int, share: Double) -> Limits {
            let scaled = (Double(max(1, poolSize)) * min(1, max(0, share))).rounded(.down)
            return Limits(connections: max(1, Int(scaled)), exports: 2, queries: max(2, poolSize / 4))
        }

        subscript(kind: Kind) -> Int {
            switch kind {
            case .connection: connections
            case .export: exports
            case .query: queries
            }
        }
    }

    let limits: Limits
    /// How long a request waits for its tenant's slots before 429 (`DB_POOL_WAIT_MS`).
    let wait: Duration
    private let state: Mutex<TenantSlotsState>
    private let timers = DispatchQueue(label: "tenant-slots-timers")

    init(limits: Limits, wait: Duration) {
        self.limits = limits
        self.wait = wait
        self.state = Mutex(TenantSlotsState(limits: limits))
    }

    /// Takes `kinds` for `orgID` if they are all free now; nil otherwise (nothing is taken).
    func tryAcquire(_ orgID: String, _ kinds: [Kind]) -> Lease? {
        let taken = state.withLock { $0.take(orgID, kinds) }
        return taken ? Lease(orgID: orgID, kinds: kinds, slots: self) : nil
    }

    /// Takes `kinds` for `orgID`: returns the lease when they are free now (no continuation is
    /// called then); otherwise returns nil and later calls exactly one continuation: `granted`
    /// with the lease once they are, or `timedOut` with the kind that stayed full after `wait`.
    func acquire(
        _ orgID: String, _ kinds: [Kind], wait: Duration? = nil,
        granted: @escaping @Sendable (Lease) -> Void, timedOut: @escaping @Sendable (Kind) -> Void
    ) -> Lease? {
        let waiter = state.withLock { state -> UInt64? in
            if state.take(orgID, kinds) { return nil }
            return state.enqueue(orgID, kinds, granted: granted, timedOut: timedOut)
        }
        guard let waiter else { return Lease(orgID: orgID, kinds: kinds, slots: self) }
        timers.asyncAfter(deadline: .now() + .nanoseconds(Self.nanoseconds(wait ?? self.wait))) { [self] in
            guard let expired = state.withLock({ $0.expire(orgID, waiter) }) else { return }
            expired.waiter.timedOut(expired.kind)
        }
        return nil
    }

    /// The kind that stayed full when a blocking `acquireWaiting` gave up.
    struct Full: Error, Sendable {
        let kind: Kind
    }

    /// Takes `kinds` for `orgID`, blocking the calling thread up to `wait` for them: only for a
    /// caller that already holds a worker for a request of the same tenant (an MCP tool call made
    /// from within `POST /mcp`), never on an event loop.
    func acquireWaiting(_ orgID: String, _ kinds: [Kind]) -> Result<Lease, Full> {
        let outcome = Mutex<Result<Lease, Full>?>(nil)
        let done = DispatchSemaphore(value: 0)
        if let lease = acquire(orgID, kinds,
                               granted: { lease in outcome.withLock { $0 = .success(lease) }; done.signal() },
                               timedOut: { kind in outcome.withLock { $0 = .failure(Full(kind: kind)) }; done.signal() }) {
            return .success(lease)
        }
        done.wait()
        return outcome.withLock { $0 } ?? .failure(Full(kind: kinds.first ?? .connection))
    }

    /// How many slots of `kind` `orgID` holds now (for tests and metrics).
    func inUse(_ orgID: String, _ kind: Kind) -> Int {
        state.withLock { $0.inUse[orgID]?[kind.rawValue] ?? 0 }
    }

    /// Returns `kinds` of `orgID` and grants the waiters that now fit, oldest first.
    private func release(_ orgID: String, _ kinds: [Kind]) {
        guard !kinds.isEmpty else { return }
        let granted = state.withLock { $0.release(orgID, kinds) }
        for waiter in granted {
            waiter.granted(Lease(orgID: orgID, kinds: waiter.kinds, slots: self))
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let clamped = min(max(seconds, 0), 86_400)
        return Int(clamped) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    }

    /// Slots held for one request (or one export). Each slot is returned once: by `release`,
    /// `releaseAll`, or when the lease is dropped (so an error path cannot leak a slot).
    final class Lease: Sendable {
        let orgID: String
        private let slots: TenantSlots
        private let held: Mutex<[Kind]>

        fileprivate init(orgID: String, kinds: [Kind], slots: TenantSlots) {
            self.orgID = orgID
            self.slots = slots
            self.held = Mutex(kinds)
        }

        deinit {
            releaseAll()
        }

        /// Whether the lease holds a slot of `kind`.
        func holds(_ kind: Kind) -> Bool {
            held.withLock { $0.contains(kind) }
        }

        /// Returns one slot of `kind`, if held.
        func release(_ kind: Kind) {
            let released = held.withLock { held -> Bool in
                guard let index = held.firstIndex(of: kind) else { return false }
                held.remove(at: index)
                return true
            }
            if released { slots.release(orgID, [kind]) }
        }

        /// Returns every slot still held.
        func releaseAll() {
            let kinds = held.withLock { held -> [Kind] in
                defer { held.removeAll() }
                return held
            }
            slots.release(orgID, kinds)
        }

        /// Moves every slot into a new lease (this one is left empty), for work that outlives the
        /// request that acquired them (an export's stream).
        func take() -> Lease {
            let kinds = held.withLock { held -> [Kind] in
                defer { held.removeAll() }
                return held
            }
            return Lease(orgID: orgID, kinds: kinds, slots: slots)
        }
    }
}

/// The bookkeeping of ``TenantSlots``: counts per tenant and kind, and the parked waiters in
/// arrival order. No locks, clocks or I/O: the owner holds it in a `Mutex` and performs what it returns.
struct TenantSlotsState {
    struct Waiter {
        var id: UInt64
        var kinds: [TenantSlots.Kind]
        var granted: @Sendable (TenantSlots.Lease) -> Void
        var timedOut: @Sendable (TenantSlots.Kind) -> Void
    }

    let limits: TenantSlots.Limits
    /// org → slots held, indexed by `Kind.rawValue`. A tenant holding nothing has no entry.
    private(set) var inUse: [String: [Int]] = [:]
    /// org → waiters, oldest first.
    private(set) var waiting: [String: [Waiter]] = [:]
    private var nextID: UInt64 = 0

    init(limits: TenantSlots.Limits) {
        self.limits = limits
    }

    /// The first of `kinds` that `orgID` has no room for, nil when all fit.
    func full(_ orgID: String, _ kinds: [TenantSlots.Kind]) -> TenantSlots.Kind? {
        let counts = inUse[orgID] ?? Array(repeating: 0, count: TenantSlots.Kind.allCases.count)
        var wanted = Array(repeating: 0, count: TenantSlots.Kind.allCases.count)
        for kind in kinds {
            wanted[kind.rawValue] += 1
            if counts[kind.rawValue] + wanted[kind.rawValue] > limits[kind] { return kind }
        }
        return nil
    }

    /// Takes `kinds` when they all fit; false (nothing taken) otherwise.
    mutating func take(_ orgID: String, _ kinds: [TenantSlots.Kind]) -> Bool {
        guard full(orgID, kinds) == nil else { return false }
        var counts = inUse[orgID] ?? Array(repeating: 0, count: TenantSlots.Kind.allCases.count)
        for kind in kinds { counts[kind.rawValue] += 1 }
        inUse[orgID] = counts
        return true
    }

    /// Parks a waiter; returns its id.
    mutating func enqueue(
        _ orgID: String, _ kinds: [TenantSlots.Kind], granted: @escaping @Sendable (TenantSlots.Lease) -> Void,
        timedOut: @escaping @Sendable (TenantSlots.Kind) -> Void
    ) -> UInt64 {
        nextID &+= 1
        waiting[orgID, default: []].append(Waiter(id: nextID, kinds: kinds, granted: granted, timedOut: timedOut))
        return nextID
    }

    /// Returns `kinds`, then takes slots for the waiters that now fit, oldest first; returns them.
    mutating func release(_ orgID: String, _ kinds: [TenantSlots.Kind]) -> [Waiter] {
        if var counts = inUse[orgID] {
            for kind in kinds { counts[kind.rawValue] = max(0, counts[kind.rawValue] - 1) }
            inUse[orgID] = counts.allSatisfy { $0 == 0 } ? nil : counts
        }
        guard var queue = waiting[orgID] else { return [] }
        var granted: [Waiter] = []
        var index = 0
        while index < queue.count {
            if take(orgID, queue[index].kinds) {
                granted.append(queue.remove(at: index))
            } else {
                index += 1
            }
        }
        waiting[orgID] = queue.isEmpty ? nil : queue
        return granted
    }

    /// Removes waiter `id` if it is still waiting, with the kind it is still short of.
    mutating func expire(_ orgID: String, _ id: UInt64) -> (waiter: Waiter, kind: TenantSlots.Kind)? {
        guard var queue = waiting[orgID], let index = queue.firstIndex(where: { $0.id == id }) else { return nil }
        let waiter = queue.remove(at: index)
        waiting[orgID] = queue.isEmpty ? nil : queue
        return (waiter, full(orgID, waiter.kinds) ?? waiter.kinds.first ?? .connection)
    }
}
