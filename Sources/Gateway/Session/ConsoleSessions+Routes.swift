import Auth
import HTTPServer

/// `POST`, `GET` and `DELETE /console/session`. These routes authenticate themselves (they are
/// where a session begins and ends), so they are registered as service routes.
extension ConsoleSessions {
    /// Sign-in: `Authorization: Bearer <admin key or operator token>`, no body → 201 and the cookie.
    static func signIn(_ context: RequestContext) throws -> APIResponse {
        let request = context.request
        guard request.body.isEmpty else {
            throw APIError.invalidField("body", "sign-in takes no body: send the key in Authorization: Bearer")
        }
        let presented = try Pipeline.presentedKey(request)
        let services = context.services
        let isSecure = isHTTPS(request, trustedProxies: services.configuration.trustedProxies)
        var data = JSONObject()
        let token: String
        if let operatorToken = services.configuration.operatorToken, isOperatorToken(presented, operatorToken) {
            let created = try create(services.pool, kind: .operator, keyHash: nil,
                                     operatorHash: Crypto.sha256(Array(operatorToken.utf8)))
            token = created.token
            data = describe(Session(kind: .operator, expiresAt: created.expiresAt), token: token)
        } else {
            let principal = try admitKey(presented, context)
            guard principal.scopes.contains(.admin) else {
                record(principal, context, status: 403)
                throw APIError.insufficientScope("admin")
            }
            record(principal, context, status: 201)
            let created = try create(services.pool, kind: .tenant, keyHash: APIKeyMaterial.hash(presented),
                                     operatorHash: nil)
            token = created.token
            data = describe(Session(kind: .tenant, orgID: principal.orgID, keyID: principal.keyID,
                                    environment: principal.env, keyPrefix: principal.keyPrefix,
                                    scopes: principal.scopes.names, expiresAt: created.expiresAt), token: token)
        }
        return APIResponse(status: 201, json: .object(data), headers: [
            ("Set-Cookie", cookie(token, isSecure: isSecure)), ("Location", "/console/session"),
            ("Cache-Control", "no-store"),
        ])
    }

    /// The current session (so a reloaded page learns its CSRF token again); 401 without one.
    static func current(_ context: RequestContext) throws -> APIResponse {
        guard let token = cookieToken(context.request) else { throw APIError.missingKey }
        guard let session = try find(context.services.pool, token: token,
                                     operatorToken: context.services.configuration.operatorToken)
        else { throw APIError.invalidKey }
        return APIResponse(json: .object(describe(session, token: token)), headers: [("Cache-Control", "no-store")])
    }

    /// Sign-out everywhere: every session of the key (or every operator session) ends at once.
    /// With a key or the operator token, those are judged alone and their sessions end; with the
    /// cookie, the CSRF token is needed, as for any write.
    static func signOut(_ context: RequestContext) throws -> APIResponse {
        let request = context.request
        let services = context.services
        let isSecure = isHTTPS(request, trustedProxies: services.configuration.trustedProxies)
        let ended: Int
        if carriesCredentials(request) {
            let presented = try Pipeline.presentedKey(request)
            if let operatorToken = services.configuration.operatorToken, isOperatorToken(presented, operatorToken) {
                ended = try endOperatorSessions(services.pool)
            } else {
                record(try admitKey(presented, context), context, status: 200)
                ended = try endSessions(services.pool, keyHash: APIKeyMaterial.hash(presented))
            }
        } else {
            guard let token = cookieToken(request) else { throw APIError.missingKey }
            if let session = try find(services.pool, token: token, operatorToken: services.configuration.operatorToken) {
                try checkCSRF(request, token: token)
                switch session.kind {
                case .operator:
                    ended = try endOperatorSessions(services.pool)
                case .tenant:
                    ended = try endSessions(services.pool, keyHash: session.keyHash ?? [])
                }
            } else {
                ended = 0  // already ended or expired: nothing to end, the cookie is cleared all the same
            }
        }
        var data = JSONObject()
        data["signed_out"] = .bool(true)
        data["sessions_ended"] = .number(JSONNumber(ended))
        return APIResponse(json: .object(data), headers: [
            ("Set-Cookie", clearingCookie(isSecure: isSecure)), ("Cache-Control", "no-store"),
        ])
    }

    // MARK: - Helpers

    private static func isOperatorToken(_ presented: String, _ operatorToken: String) -> Bool {
        Crypto.constantTimeEquals(Crypto.sha256(Array(presented.utf8)), Crypto.sha256(Array(operatorToken.utf8)))
    }

    /// Admits a tenant key as the pipeline would (401, 403 suspended / IP, 429).
    private static func admitKey(_ key: String, _ context: RequestContext) throws -> Principal {
        let request = context.request
        let services = context.services
        let address = ClientAddress.resolve(
            peer: request.peerAddress, forwardedFor: request.headers.values("X-Forwarded-For"),
            trustedProxies: services.configuration.trustedProxies)
        switch try services.admission.admit(key: key, clientAddress: address) {
        case .invalid:
            throw APIError.invalidKey
        case .suspended:
            throw APIError(status: 403, code: "tenant_suspended", message: "the tenant is suspended")
        case .ipNotAllowed:
            throw APIError(status: 403, code: "ip_not_allowed", message: "this key may not be used from this address")
        case .refused(var error, let principal):
            services.metrics.recordRateLimited()
            services.usage.recordRateLimited(principal: principal, endpoint: endpoint(request))
            error.headers.append(contentsOf: principal.rateLimit.headers)
            throw error
        case .admitted(let principal, _):
            return principal
        }
    }

    /// Counts a sign-in or sign-out made with a key as one request of that key, as the pipeline
    /// counts every admitted request (so a hard quota's counter and usage agree).
    private static func record(_ principal: Principal, _ context: RequestContext, status: Int) {
        context.services.usage.recordRequest(principal: principal, endpoint: endpoint(context.request), status: status)
    }

    private static func endpoint(_ request: HTTPRequest) -> String {
        "\(request.method) /console/session"
    }

    /// The session object of the contract, plus who it acts as (`key_prefix`, `scopes`).
    private static func describe(_ session: Session, token: String) -> JSONObject {
        var object = JSONObject()
        object["kind"] = .string(session.kind.rawValue)
        object["tenant_id"] = session.orgID.map { .string($0) } ?? .null
        object["environment"] = session.environment.map { .string($0) } ?? .null
        object["key_prefix"] = session.keyPrefix.map { .string($0) } ?? .null
        object["scopes"] = session.scopes.map { .array($0.map { .string($0) }) } ?? .null
        object["csrf_token"] = .string(csrfToken(for: token))
        object["expires_at"] = .string(session.expiresAt)
        return object
    }
}
