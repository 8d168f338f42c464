/// The generic cell rate algorithm (a token bucket kept as one timestamp), as pure arithmetic.
///
/// For a limit of `L` requests per minute, with every time in integer microseconds since the
/// Unix epoch (`Int64`, the same in Swift and in SQL):
///
/// ```text
/// T       = max(1, 60_000_000 / L)             -- emission interval, integer division
/// tau     = (L - 1) * T                        -- burst tolerance
/// tat0    = GREATEST(COALESCE(tat, now), now)  -- an absent or past TAT means "idle"
/// allowed = tat0 - now <= tau
/// new_tat = allowed ? tat0 + T : tat           -- a refusal leaves the stored TAT alone
///
/// remaining   = allowed ? max(0, (L * T - (new_tat - now)) / T) : 0   -- integer division
/// reset       = ceil(max(0, (allowed ? new_tat : tat0) - now) / 1_000_000)
/// retry_after = allowed ? 0 : max(1, ceil((tat0 - tau - now) / 1_000_000))
/// ```
///
/// `tau` is API.md's `60 s − T` whenever `T` divides a minute exactly; writing it as
/// `(L − 1)·T` keeps a burst of exactly `L` from idle for every `L` despite integer rounding.
/// The bucket refills at one request per `T`, i.e. `L/60` per second.
///
/// In PostgreSQL the decision is one statement; the store binds `$now`, `$T` and `$tau`
/// (from ``Parameters``) and reads back `tat` and `allowed`, then calls
/// ``decision(allowed:storedTAT:now:limitPerMinute:)`` for the header values:
///
/// ```sql
/// INSERT INTO rate_limit_buckets AS b (bucket, tat, allowed)
/// VALUES ($bucket, $now + $T, true)           -- first request ever: idle, so admitted
/// ON CONFLICT (bucket) DO UPDATE SET
///   allowed = GREATEST(b.tat, $now) - $now <= $tau,
///   tat = CASE WHEN GREATEST(b.tat, $now) - $now <= $tau
///              THEN GREATEST(b.tat, $now) + $T ELSE b.tat END
/// RETURNING tat, allowed
/// ```
///
/// (The insert path assumes `L ≥ 1`; with `tau ≥ 0` an idle bucket always admits.)
public enum GCRA {
    /// Microseconds in a minute, the window of every limit.
    public static let microsecondsPerMinute: Int64 = 60_000_000
    private static let microsecondsPerSecond: Int64 = 1_000_000

    /// What the limiter decided for one request.
    public struct Decision: Sendable, Equatable {
        /// Whether the request is admitted.
        public var allowed: Bool
        /// The TAT to store: advanced by `T` when admitted, the previous one when refused.
        public var newTAT: Int64
        /// Whole requests admissible right now after this one (`RateLimit-Remaining`).
        public var remaining: Int
        /// Seconds, rounded up, until the bucket is full again (`RateLimit-Reset`).
        public var resetSeconds: Int
        /// When refused: seconds, rounded up and at least 1, until one request is admitted
        /// (`Retry-After`). 0 when admitted.
        public var retryAfterSeconds: Int

        /// Creates a decision from its parts.
        public init(allowed: Bool, newTAT: Int64, remaining: Int, resetSeconds: Int, retryAfterSeconds: Int) {
            self.allowed = allowed
            self.newTAT = newTAT
            self.remaining = remaining
            self.resetSeconds = resetSeconds
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    /// The constants of one limit, in microseconds, to bind into SQL.
    public struct Parameters: Sendable, Equatable {
        /// The limit `L` in requests per minute (at least 1).
        public var limitPerMinute: Int64
        /// `T`: one request's worth of time.
        public var emissionInterval: Int64
        /// `tau = (L − 1)·T`: how far ahead of now the TAT may be and still admit.
        public var burstTolerance: Int64

        /// The parameters for `limitPerMinute` requests per minute; values below 1 count as 1.
        public init(limitPerMinute: Int) {
            let limit = Int64(max(1, limitPerMinute))
            self.limitPerMinute = limit
            self.emissionInterval = max(1, GCRA.microsecondsPerMinute / limit)
            self.burstTolerance = (limit - 1) * emissionInterval
        }
    }

    /// Decides one request.
    ///
    /// - Parameters:
    ///   - tat: the stored theoretical arrival time, `nil` for a bucket never used.
    ///   - now: the current time in microseconds since the epoch.
    ///   - limitPerMinute: `L`; a value below 1 refuses everything (retry after a minute).
    public static func decide(tat: Int64?, now: Int64, limitPerMinute: Int) -> Decision {
        guard limitPerMinute >= 1 else {
            return Decision(allowed: false, newTAT: tat ?? now, remaining: 0, resetSeconds: 0, retryAfterSeconds: 60)
        }
        let p = Parameters(limitPerMinute: limitPerMinute)
        let tat0 = max(tat ?? now, now)
        let allowed = tat0 - now <= p.burstTolerance
        let stored = allowed ? tat0 + p.emissionInterval : (tat ?? now)
        return decision(allowed: allowed, storedTAT: stored, now: now, limitPerMinute: limitPerMinute)
    }

    /// The header values for a decision already taken (by SQL): `allowed` and the TAT now stored.
    ///
    /// Matches ``decide(tat:now:limitPerMinute:)`` exactly when given its `allowed` and `newTAT`.
    public static func decision(allowed: Bool, storedTAT: Int64, now: Int64, limitPerMinute: Int) -> Decision {
        guard limitPerMinute >= 1 else {
            return Decision(allowed: false, newTAT: storedTAT, remaining: 0, resetSeconds: 0, retryAfterSeconds: 60)
        }
        let p = Parameters(limitPerMinute: limitPerMinute)
        let ahead = max(0, storedTAT - now)
        let reset = ceilSeconds(ahead)
        if allowed {
            let remaining = max(0, (p.limitPerMinute * p.emissionInterval - ahead) / p.emissionInterval)
            return Decision(
                allowed: true, newTAT: storedTAT, remaining: Int(remaining), resetSeconds: reset, retryAfterSeconds: 0)
        }
        let retry = max(1, ceilSeconds(ahead - p.burstTolerance))
        return Decision(allowed: false, newTAT: storedTAT, remaining: 0, resetSeconds: reset, retryAfterSeconds: retry)
    }

    /// `ceil(microseconds / 1 s)` for non-negative values, 0 for negative ones.
    private static func ceilSeconds(_ microseconds: Int64) -> Int {
        guard microseconds > 0 else { return 0 }
        return Int((microseconds + microsecondsPerSecond - 1) / microsecondsPerSecond)
    }
}
