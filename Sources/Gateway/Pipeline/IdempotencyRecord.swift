/// What an `Idempotency-Key`'s stored record means for a new request with the same key: the
/// decision as a pure function of the record and the limits, so tests can shrink the limits.
struct IdempotencyRecord: Equatable {
    /// Whether the stored request had the same method, path, query and body.
    var fingerprintMatches: Bool
    /// The stored response's status; nil while the first request is in flight.
    var status: Int?
    var location: String?
    var body: [UInt8]
    /// How long ago the first request claimed the key.
    var age: Duration

    /// How long records count.
    struct Limits: Equatable {
        /// A record in flight this long was abandoned (left by an earlier gateway version that
        /// stored claims outside the work's transaction): a retry with the same request takes it over.
        var takeoverAfter: Duration = .seconds(60)
        /// After this a key is free again: any request claims it afresh.
        var expiresAfter: Duration = .seconds(24 * 3600)
    }

    /// What to do with a request whose key has this record.
    enum Decision: Equatable {
        /// No record: insert a claim and do the work.
        case claim
        /// The record is past `expiresAfter`: replace it with a claim and do the work.
        case expired
        /// The record is an abandoned claim of the same request: take it over and do the work.
        case takeover
        /// The first request completed: answer with its stored response.
        case replay(status: Int, location: String?, body: [UInt8])
        /// The first request is still in flight: the client waits and retries (409, Retry-After).
        case wait
        /// The key was used with another request (409).
        case conflict
    }

    /// The decision for a request whose key has `record` (nil: none).
    static func decide(_ record: IdempotencyRecord?, limits: Limits) -> Decision {
        guard let record else { return .claim }
        if record.age >= limits.expiresAfter { return .expired }
        guard record.fingerprintMatches else { return .conflict }
        if let status = record.status { return .replay(status: status, location: record.location, body: record.body) }
        if record.age >= limits.takeoverAfter { return .takeover }
        return .wait
    }
}
