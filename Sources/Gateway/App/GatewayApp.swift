import Foundation
import HTTPServer
import PostgresStore

/// `memory-gateway serve`: migrate, then serve until SIGTERM; then drain, flush usage, close.
struct GatewayApp {
    let configuration: GatewayConfiguration

    /// The channel on which instances tell each other that keys, tenants or limits changed.
    static let eventsChannel = "gateway_events"

    func serve() throws -> Int32 {
        let gateway = try prepare()
        Log.info("serving", ["port": String(gateway.server.boundPort), "threads": String(configuration.threads),
                             "db_pool_size": String(configuration.poolSize)])
        gateway.server.run()
        Log.info("drained; flushing usage")
        gateway.finish()
        return 0
    }

    /// Migrates, binds the listeners and starts the background parts; the caller runs the server
    /// (`server.run()` to block until SIGTERM, or `server.start()` in tests).
    func prepare() throws -> RunningGateway {
        try configuration.validateForServing()
        let pool = PostgresPool(configuration: configuration.postgres)
        try migrateWithRetry(pool: pool)
        let metrics = Metrics()
        let storage = StorageAccounting(pool: pool, interval: configuration.storageRefreshInterval)
        let services = Services(
            configuration: configuration, pool: pool,
            admission: Admission(pool: pool, isLimiting: configuration.isRateLimiting, storage: storage),
            usage: UsageRecorder(pool: pool, metrics: metrics, interval: configuration.usageFlushInterval),
            workers: WorkerPool(threads: configuration.poolSize + 4, maxQueued: 4096), metrics: metrics,
            tenantSlots: TenantSlots(limits: configuration.tenantLimits, wait: configuration.poolWait),
            storage: storage,
            idempotencySweeper: IdempotencySweeper(pool: pool, retention: configuration.idempotencyRetention,
                                                   interval: configuration.idempotencySweepInterval),
            webhooks: WebhookOutbox(), writes: GroupCommitter(pool: pool, configuration: configuration.groupCommit),
            deliverer: WebhookDeliverer(pool: pool, configuration: configuration.webhooks))
        // Bind first: a port in use fails here, before any background thread exists.
        let server = try HTTPServer(configuration: configuration.http,
                                    handler: GatewayHandler(router: Routes.make(), services: services))
        let listener = PostgresListener(
            connectionString: configuration.listenDatabaseURL ?? configuration.databaseURL,
            channels: [Self.eventsChannel, WebhookOutbox.deliveryChannel],
            onNotification: { channel, payload in
                if channel == WebhookOutbox.deliveryChannel { return services.deliverer.wake() }
                if payload.hasPrefix(WebhookOutbox.notificationPrefix) { return services.webhooks.handleNotification(payload) }
                // `key:<org>` / `tenant:<org>`: only that tenant's cached keys, leases and remembered
                // refusals can be stale; anything else (`plans`) may touch every tenant.
                if let colon = payload.firstIndex(of: ":") {
                    return services.admission.changed(orgID: String(payload[payload.index(after: colon)...]))
                }
                services.admission.changedAll()
            },
            onListening: { if configuration.isCachingKeys { services.admission.listening() } },
            onLost: { services.admission.lostListener() },
            onReconnect: {
                services.admission.forgetThrottled()
                services.webhooks.invalidateAll()
                services.deliverer.wake()
            })
        listener.start()
        services.usage.start()
        services.storage.start()
        services.idempotencySweeper.start()
        if configuration.webhooks.isDelivering { services.deliverer.start() }
        let sweeper = MemorySweeper(pool: pool, configuration: configuration.expirySweep, webhooks: services.webhooks)
        sweeper.start()
        return RunningGateway(server: server, services: services, listener: listener, sweeper: sweeper)
    }

    /// PostgreSQL may still be starting (several instances and the database come up together).
    private func migrateWithRetry(pool: PostgresPool) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                let applied = try Migrator.migrate(pool: pool, migrations: Migrations.all)
                if !applied.isEmpty { Log.info("migrations applied", ["versions": applied.map(String.init).joined(separator: ",")]) }
                return
            } catch StoreError.unavailable(let reason) where ContinuousClock.now < deadline {
                Log.info("database not reachable yet; retrying", ["reason": reason])
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }
}

/// A gateway whose parts are up; `finish` ends them in order after the server stopped.
struct RunningGateway: Sendable {
    let server: HTTPServer
    let services: Services
    let listener: PostgresListener
    /// Deletes expired memories in the background.
    let sweeper: MemorySweeper

    /// After the server drained: flush usage, stop the sweeper, deliveries, workers, listener and pool.
    func finish() {
        sweeper.stop()
        services.usage.stop()
        services.storage.stop()
        services.idempotencySweeper.stop()
        services.deliverer.stop()
        services.workers.stop()
        listener.stop()
        services.pool.close()
    }

    /// Graceful stop for tests: drain, then `finish`.
    func stop() {
        server.shutdown()
        server.waitUntilStopped()
        finish()
    }
}
