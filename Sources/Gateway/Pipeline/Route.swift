import Auth

/// A handler and who may call it.
struct Route: Sendable {
    enum Access: Sendable {
        /// No key: health, readiness, metrics.
        case service
        /// A tenant key with this scope.
        case tenant(ScopeSet)
        /// The operator token.
        case `operator`
    }

    var access: Access
    /// Answered on the event loop (must not block): `/healthz`.
    var isInline = false
    var handler: @Sendable (RequestContext) throws -> APIResponse

    init(_ access: Access, isInline: Bool = false, _ handler: @escaping @Sendable (RequestContext) throws -> APIResponse) {
        self.access = access
        self.isInline = isInline
        self.handler = handler
    }
}
