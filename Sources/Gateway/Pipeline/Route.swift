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

        var isService: Bool {
            if case .service = self { return true }
            return false
        }
    }

    var access: Access
    /// Answered on the event loop (must not block): `/healthz`.
    var isInline = false
    var handler: @Sendable (RequestContext) throws -> APIResponse
    /// The handler's work fused into the admission statement, where the route has it.
    var fused: FusedOperation?
    /// A tenant slot the request holds besides its connection slot (`.query`, `.export`): the
    /// pipeline waits for both before the handler runs (see `TenantSlots`).
    var slot: TenantSlots.Kind?

    init(_ access: Access, isInline: Bool = false, fused: FusedOperation? = nil, slot: TenantSlots.Kind? = nil,
         _ handler: @escaping @Sendable (RequestContext) throws -> APIResponse) {
        self.access = access
        self.isInline = isInline
        self.fused = fused
        self.slot = slot
        self.handler = handler
    }
}
