/// One key's leased rate-limit tokens on this instance, as a state machine.
///
/// A lease is a number of tokens taken at once from the key's and the tenant's buckets in
/// PostgreSQL (`gw_lease`); while it lasts (``expiry``) requests of the key are admitted locally,
/// one token each. Every admitted request has had its token taken from both buckets, so N
/// instances together never admit more than one would. What leasing can cost is under-admission:
/// tokens left in a lease when it expires. They are given back with the next lease of the key
/// (exactly, if nobody took from the bucket since), else they are lost (``expiredTokens``); a live
/// lease holds at most ``maximum`` − 1 per key and instance.
///
/// The lease size adapts: it starts at 1 (today's exact per-request decision), doubles while
/// leases are spent within half their time, and shrinks to what was used when one expires with
/// tokens left. ``maximum`` follows the limit (``maximumLease(limit:)``): a 10/min key stays at 1.
struct LeaseState: Sendable {
    /// What the caller must do for a request.
    enum Action: Equatable, Sendable {
        /// Admitted from the lease; `remaining` and `resetSeconds` for the headers.
        case admit(remaining: Int, resetSeconds: Int)
        /// Ask PostgreSQL for `want` tokens (one for this request), giving `giveBack` back first.
        case fetch(want: Int, giveBack: GiveBack?)
        /// Another request is fetching a lease already: decide this one exactly (one token).
        case single
    }

    /// Unused tokens of an expired lease and the bucket times they are valid against.
    struct GiveBack: Equatable, Sendable {
        var tokens: Int
        var keyTat: Int64?
        var tenantTat: Int64
    }

    /// How long a lease may be used: short, so a lease stranded on an idle instance costs little.
    static let expiry: Duration = .milliseconds(500)

    /// The largest lease for a limit of `limit` per minute: the tokens of a quarter second at
    /// that rate (a 10/min or 60/min key: 1, exact; 600/min: 2; 100,000/min: 416).
    static func maximumLease(limit: Int) -> Int {
        max(1, limit / 240)
    }

    let orgID: String
    let maximum: Int
    private(set) var tokens = 0
    private(set) var nextWant = 1
    private(set) var isFetching = false
    /// Tokens left in leases when they expired (offered back with the next lease; lost if the
    /// bucket moved meanwhile): the under-admission leasing caused on this key, at most.
    private(set) var expiredTokens = 0
    private var expiresAt: ContinuousClock.Instant?
    /// Tokens admitted from the current lease (for shrinking the next one).
    private var used = 0
    /// The last grant's size and bucket times (what a give-back may claim).
    private var grantSize = 0
    private var keyTat: Int64?
    private var tenantTat: Int64?
    /// The bucket's remaining right after the grant, and when the bucket is full again.
    private var remainingAtGrant = 0
    private var resetAt: ContinuousClock.Instant?

    init(orgID: String, limit: Int) {
        self.orgID = orgID
        self.maximum = Self.maximumLease(limit: limit)
    }

    /// A request of the key arrives at `now`.
    mutating func request(now: ContinuousClock.Instant) -> Action {
        if tokens > 0, let expiresAt, now < expiresAt {
            tokens -= 1
            used += 1
            return .admit(remaining: remainingAtGrant + tokens, resetSeconds: Self.secondsUntil(resetAt, now))
        }
        if isFetching { return .single }
        var giveBack: GiveBack?
        if let expiresAt {
            if tokens > 0 {
                // Expired with tokens left: the traffic was smaller than the lease.
                if let tenantTat { giveBack = GiveBack(tokens: min(tokens, grantSize), keyTat: keyTat, tenantTat: tenantTat) }
                expiredTokens += tokens
                nextWant = max(1, min(maximum, used))
            } else if now < expiresAt - Self.expiry / 2 {
                // Spent within half its time: grow. (Spent later: keep the size, so steady traffic
                // does not grow leases until they expire with tokens left.)
                nextWant = min(maximum, nextWant * 2)
            }
        }
        drop()
        isFetching = true
        return .fetch(want: min(nextWant, maximum), giveBack: giveBack)
    }

    /// PostgreSQL granted `granted` tokens (the fetching request used one) at `now`.
    mutating func granted(_ granted: Int, keyTat: Int64?, tenantTat: Int64?, remaining: Int, resetSeconds: Int,
                          now: ContinuousClock.Instant) {
        isFetching = false
        drop()
        // Even a single token starts a (spent) lease: a next request before it would have expired
        // shows the traffic is worth a larger one.
        expiresAt = now + Self.expiry
        guard granted > 1, let tenantTat else { return }
        tokens = granted - 1
        grantSize = granted
        self.keyTat = keyTat
        self.tenantTat = tenantTat
        remainingAtGrant = max(0, remaining)
        resetAt = now + .seconds(max(0, resetSeconds))
        expiresAt = now + Self.expiry
    }

    /// The fetch was refused (or failed): no lease, and the next one starts small again.
    mutating func refused() {
        isFetching = false
        nextWant = 1
        drop()
    }

    /// Forgets the lease (its tokens are lost: the limits may have changed).
    mutating func drop() {
        tokens = 0
        used = 0
        grantSize = 0
        keyTat = nil
        tenantTat = nil
        expiresAt = nil
        resetAt = nil
    }

    private static func secondsUntil(_ instant: ContinuousClock.Instant?, _ now: ContinuousClock.Instant) -> Int {
        guard let instant, instant > now else { return 0 }
        let (seconds, attoseconds) = (instant - now).components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}
