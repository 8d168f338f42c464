import Auth
import HTTPServer

/// Every route of the contract, with its access rule. `docs/openapi.yaml` lists the same set.
enum Routes {
    static func make() -> Router<Route> {
        var router = Router<Route>()
        // Service endpoints (no key).
        router.add("GET", "/healthz", Route(.service, isInline: true, Health.live))
        router.add("GET", "/readyz", Route(.service, Health.ready))
        router.add("GET", "/metrics", Route(.service, Health.metrics))

        // Memories.
        router.add("POST", "/v1/memories", Route(.tenant(.write), Memories.create))
        router.add("GET", "/v1/memories", Route(.tenant(.read), Memories.list))
        router.add("DELETE", "/v1/memories", Route(.tenant(.delete), Memories.erase))
        router.add("GET", "/v1/memories/count", Route(.tenant(.read), Memories.count))
        router.add("POST", "/v1/memories/batch", Route(.tenant(.write), MemoryBatch.importBatch))
        router.add("GET", "/v1/memories/export", Route(.tenant(.read), slot: .export, MemoryExport.export))
        router.add("GET", "/v1/memories/{id}", Route(.tenant(.read), fused: Memories.fusedGet, Memories.get))
        router.add("PUT", "/v1/memories/{id}", Route(.tenant(.write), Memories.update))
        router.add("DELETE", "/v1/memories/{id}", Route(.tenant(.delete), Memories.delete))
        router.add("GET", "/v1/memories/{id}/history", Route(.tenant(.read), Memories.history))

        // Spaces.
        router.add("POST", "/v1/spaces", Route(.tenant(.write), Spaces.create))
        router.add("GET", "/v1/spaces", Route(.tenant(.read), Spaces.list))
        router.add("GET", "/v1/spaces/{id}", Route(.tenant(.read), Spaces.get))
        router.add("PUT", "/v1/spaces/{id}", Route(.tenant(.write), Spaces.update))
        router.add("DELETE", "/v1/spaces/{id}", Route(.tenant(.delete), Spaces.delete))

        // Query and extraction.
        router.add("POST", "/v1/query", Route(.tenant(.read), slot: .query, Query.search))
        router.add("POST", "/v1/query/extract", Route(.tenant(.write), slot: .query, Extraction.extract))

        // Usage.
        router.add("GET", "/v1/usage", Route(.tenant(.read), Usage.summary))
        router.add("GET", "/v1/usage/history", Route(.tenant(.read), Usage.history))
        router.add("GET", "/v1/usage/projection", Route(.tenant(.read), Usage.projection))

        // Account and keys.
        router.add("GET", "/v1/account", Route(.tenant(.read), Account.get))
        router.add("POST", "/v1/account/api-keys", Route(.tenant(.admin), APIKeys.create))
        router.add("GET", "/v1/account/api-keys", Route(.tenant(.admin), APIKeys.list))
        router.add("GET", "/v1/account/api-keys/{id}", Route(.tenant(.admin), APIKeys.get))
        router.add("DELETE", "/v1/account/api-keys/{id}", Route(.tenant(.admin), APIKeys.revoke))
        router.add("POST", "/v1/account/api-keys/{id}/rotate", Route(.tenant(.admin), APIKeys.rotate))
        router.add("GET", "/v1/account/audit-log", Route(.tenant(.admin), AuditLog.list))

        // Webhooks.
        router.add("POST", "/v1/webhooks", Route(.tenant(.admin), Webhooks.create))
        router.add("GET", "/v1/webhooks", Route(.tenant(.admin), Webhooks.list))
        router.add("GET", "/v1/webhooks/{id}", Route(.tenant(.admin), Webhooks.get))
        router.add("DELETE", "/v1/webhooks/{id}", Route(.tenant(.admin), Webhooks.delete))
        router.add("POST", "/v1/webhooks/{id}/test", Route(.tenant(.admin), Webhooks.test))
        router.add("GET", "/v1/webhooks/{id}/deliveries", Route(.tenant(.admin), Webhooks.deliveries))

        // Operators.
        router.add("POST", "/v1/admin/tenants", Route(.operator, Tenants.create))
        router.add("GET", "/v1/admin/tenants", Route(.operator, Tenants.list))
        router.add("GET", "/v1/admin/tenants/{id}", Route(.operator, Tenants.get))
        router.add("PATCH", "/v1/admin/tenants/{id}", Route(.operator, Tenants.update))
        router.add("GET", "/v1/admin/billing", Route(.operator, Billing.report))

        // MCP (Streamable HTTP): checks the key itself; each tool call runs one of the routes above.
        router.add("POST", "/mcp", Route(.service, MCPEndpoint.handle))
        // Console (its session routes authenticate themselves).
        router.add("GET", "/console", Route(.service, ConsoleAssets.page))
        router.add("GET", "/console/{asset}", Route(.service, ConsoleAssets.asset))
        router.add("POST", "/console/session", Route(.service, ConsoleSessions.signIn))
        router.add("GET", "/console/session", Route(.service, ConsoleSessions.current))
        router.add("DELETE", "/console/session", Route(.service, ConsoleSessions.signOut))
        return router
    }
}
