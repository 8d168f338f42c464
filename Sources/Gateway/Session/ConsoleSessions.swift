import Auth
import HTTPServer
import PostgresStore

/// Console sessions (docs/API.md "Console"; decisions in docs/decisions.md "Console sessions").
///
/// A browser signs in once with an admin key or the operator token (`POST /console/session`) and
/// from then on holds only a random session token, in an `HttpOnly`, `SameSite=Strict` cookie.
/// PostgreSQL keeps the token's SHA-256 (`console_sessions`, m0008), so every instance honours
/// the session and none keeps state of its own. A tenant session acts as the key that made it:
/// admission runs on that key on every request, so its scopes, limits, usage, revocation and
/// expiry apply as if the key had been sent. Writes with the cookie need `X-CSRF-Token`, derived
/// from the session token, so it is never stored and a page of another origin cannot know it.
enum ConsoleSessions {
    /// The cookie's name.
    static let cookieName = "mg_session"
    /// How long a session lasts from sign-in.
    static let lifetimeSeconds = 12 * 60 * 60
    /// Session tokens: `mgs_` and this many random base62 characters (256 bits).
    static let tokenRandomLength = 43
    static let tokenPrefix = "mgs_"

    /// What a valid session stands for.
    enum Kind: String, Sendable {
        case tenant
        case `operator`
    }

    /// A live session row.
    struct Session: Sendable {
        var kind: Kind
        var orgID: String?
        var keyID: String?
        /// The key's hash, for admission (tenant sessions only).
        var keyHash: [UInt8]?
        var environment: String?
        var keyPrefix: String?
        var scopes: [String]?
        var expiresAt: String
    }

    static let invalidCSRFToken = APIError(
        status: 403, code: "invalid_csrf_token",
        message: "a write with the console session needs the session's X-CSRF-Token header")

    // MARK: - Tokens and cookies

    static func makeToken() -> String {
        tokenPrefix + Base62.random(count: tokenRandomLength)
    }

    static func tokenHash(_ token: String) -> [UInt8] {
        Crypto.sha256(Array(token.utf8))
    }

    /// The CSRF token of a session: derived from its token (never stored, never guessable without it).
    static func csrfToken(for token: String) -> String {
        Crypto.hex(Crypto.sha256(Array("mg-console-csrf:\(token)".utf8)))
    }

    /// Whether `token` has the shape of a session token (anything else is not looked up).
    static func isWellFormed(_ token: String) -> Bool {
        let bytes = Array(token.utf8)
        guard bytes.count == tokenPrefix.utf8.count + tokenRandomLength, token.hasPrefix(tokenPrefix) else { return false }
        return bytes.dropFirst(tokenPrefix.utf8.count).allSatisfy(Base62.isBase62)
    }

    /// Whether the request presents a key or token of its own: then it is judged by that alone.
    static func carriesCredentials(_ request: HTTPRequest) -> Bool {
        request.headers["Authorization"] != nil || request.headers["X-API-Key"] != nil
    }

    /// The session cookie's value, when the request has one (the first, when several are sent).
    static func cookieToken(_ request: HTTPRequest) -> String? {
        for header in request.headers.values("Cookie") {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == cookieName {
                    return String(trimmed[trimmed.index(after: equals)...])
                }
            }
        }
        return nil
    }

    /// The session token a request authenticates with: nil when it carries a key (the key alone
    /// decides) or no session cookie.
    static func sessionToken(_ request: HTTPRequest) -> String? {
        guard !carriesCredentials(request) else { return nil }
        return cookieToken(request)
    }

    /// Whether the method writes (and so needs the CSRF token with a cookie).
    static func isWrite(_ method: String) -> Bool {
        method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE"
    }

    /// Throws 403 `invalid_csrf_token` unless a write carries the session's CSRF token.
    static func checkCSRF(_ request: HTTPRequest, token: String) throws(APIError) {
        guard isWrite(request.method) else { return }
        let values = request.headers.values("X-CSRF-Token")
        guard values.count == 1, let presented = values.first else { throw invalidCSRFToken }
        let expected = csrfToken(for: token)
        guard Crypto.constantTimeEquals(Crypto.sha256(Array(presented.utf8)), Crypto.sha256(Array(expected.utf8))) else {
            throw invalidCSRFToken
        }
    }

    /// The `Set-Cookie` value for a new session; `Secure` when the browser reached us over HTTPS.
    static func cookie(_ token: String, isSecure: Bool) -> String {
        "\(cookieName)=\(token); Path=/; Max-Age=\(lifetimeSeconds); HttpOnly; SameSite=Strict" + (isSecure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that removes the cookie.
    static func clearingCookie(isSecure: Bool) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (isSecure ? "; Secure" : "")
    }

    /// Whether the request came over HTTPS: `X-Forwarded-Proto: https` from a trusted proxy (the
    /// gateway itself speaks plain HTTP).
    static func isHTTPS(_ request: HTTPRequest, trustedProxies: [CIDR]) -> Bool {
        guard let peer = IPAddress(request.peerAddress), ClientAddress.isTrusted(peer, trustedProxies) else { return false }
        // The proxy nearest to us appends last: believe the last value it set.
        guard let last = request.headers.values("X-Forwarded-Proto").last?.split(separator: ",").last else { return false }
        return last.trimmingCharacters(in: .whitespaces).lowercased() == "https"
    }

    // MARK: - Storage

    /// Stores a new session and returns its token and expiry. Sessions past their expiry are
    /// deleted on the way (sign-ins are rare; this keeps the table at the live sessions).
    static func create(_ pool: PostgresPool, kind: Kind, keyHash: [UInt8]?,
                       operatorHash: [UInt8]?) throws -> (token: String, expiresAt: String) {
        let token = makeToken()
        let rows = try pool.query(
            """
            WITH gone AS (DELETE FROM console_sessions WHERE expires_at <= clock_timestamp())
            INSERT INTO console_sessions (token_hash, kind, key_hash, operator_hash, expires_at)
            VALUES ($1, $2, $3, $4, gw_now() + make_interval(secs => $5))
            RETURNING gw_time(expires_at) AS expires_at
            """,
            [.bytea(tokenHash(token)), .text(kind.rawValue), keyHash.map { .bytea($0) } ?? .null,
             operatorHash.map { .bytea($0) } ?? .null, .int(Int64(lifetimeSeconds))])
        guard let expiresAt = rows.first?.string("expires_at") else { throw APIError.internalError }
        return (token, expiresAt)
    }

    /// The live session of `token`: unexpired, and for a tenant session its key unrevoked and
    /// unexpired; for an operator session made with the operator token configured now.
    static func find(_ pool: PostgresPool, token: String, operatorToken: String?) throws -> Session? {
        guard isWellFormed(token) else { return nil }
        let operatorHash = operatorToken.map { Crypto.sha256(Array($0.utf8)) }
        let rows = try pool.query(
            """
            SELECT \(Session.selectList)
              FROM console_sessions s
              LEFT JOIN api_keys a ON a.key_hash = s.key_hash
             WHERE s.token_hash = $1 AND s.expires_at > clock_timestamp()
               AND ((s.kind = 'tenant' AND a.revoked_at IS NULL
                     AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp()))
                 OR (s.kind = 'operator' AND s.operator_hash = $2))
            """,
            [.bytea(tokenHash(token)), operatorHash.map { .bytea($0) } ?? .null])
        return rows.first.flatMap { Session($0) }
    }

    /// Ends every session of the key whose hash is `keyHash`; returns how many.
    static func endSessions(_ pool: PostgresPool, keyHash: [UInt8]) throws -> Int {
        let rows = try pool.query(
            "WITH gone AS (DELETE FROM console_sessions WHERE key_hash = $1 RETURNING 1) SELECT count(*) AS count FROM gone",
            [.bytea(keyHash)])
        return Int(clamping: rows.first?.int("count") ?? 0)
    }

    /// Ends every operator session; returns how many.
    static func endOperatorSessions(_ pool: PostgresPool) throws -> Int {
        let rows = try pool.query(
            "WITH gone AS (DELETE FROM console_sessions WHERE kind = 'operator' RETURNING 1) SELECT count(*) AS count FROM gone")
        return Int(clamping: rows.first?.int("count") ?? 0)
    }

    // MARK: - Authentication seam (used by `Pipeline`)

    /// For a tenant route: the hash of the key the request's session acts as, or nil when the
    /// request is to be judged by its key (it carries one, or no cookie). An unknown, expired or
    /// ended session is 401; a write without the CSRF token is 403 `invalid_csrf_token`.
    static func tenantKeyHash(for request: HTTPRequest, services: Services) throws -> [UInt8]? {
        guard let token = sessionToken(request) else { return nil }
        guard let session = try find(services.pool, token: token, operatorToken: services.configuration.operatorToken),
              session.kind == .tenant, let hash = session.keyHash
        else { throw APIError.invalidKey }
        try checkCSRF(request, token: token)
        return hash
    }

    /// For an operator route: true when the request's operator session admits it, false when it
    /// is to be judged by its token. Throws like `tenantKeyHash(for:services:)`.
    static func admitsOperator(_ request: HTTPRequest, services: Services) throws -> Bool {
        guard let token = sessionToken(request) else { return false }
        guard let session = try find(services.pool, token: token, operatorToken: services.configuration.operatorToken),
              session.kind == .operator
        else { throw APIError.invalidKey }
        try checkCSRF(request, token: token)
        return true
    }
}
