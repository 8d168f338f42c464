import Foundation
import HTTPServer
import PostgresStore

/// `memory-gateway serve`: migrate, then serve until SIGTERM; then drain, flush usage, close.
struct GatewayApp {
    let configuration: GatewayConfiguration

    /// The channel on which instances tell each other that keys, tenants or limits changed.
    static let eventsChannel = "gateway_events"

    func serve() throws -> Int32 {
        let pool = PostgresPool(configuration: configuration.postgres)
        try migrateWithRetry(pool: pool)
        let services = makeServices(pool: pool)
        let listener = PostgresListener(
            connectionString: configuration.databaseURL, channels: [Self.eventsChannel],
            onNotification: { _, _ in services.admission.forgetThrottled() },
            onReconnect: { services.admission.forgetThrottled() })
        listener.start()
        services.usage.start()
        let server = try HTTPServer(configuration: configuration.http,
                                    handler: GatewayHandler(router: Routes.make(), services: services))
        Log.info("serving", ["port": String(server.boundPort), "threads": String(configuration.threads),
                             "db_pool_size": String(configuration.poolSize)])
        server.run()
        Log.info("draining done; flushing usage")
        services.usage.stop()
        services.workers.stop()
        listener.stop()
        pool.close()
        return 0
    }

    func makeServices(pool: PostgresPool) -> Services {
        let metrics = Metrics()
        return Services(
            configuration: configuration, pool: pool, admission: Admission(pool: pool),
            usage: UsageRecorder(pool: pool, metrics: metrics, interval: configuration.usageFlushInterval),
            workers: WorkerPool(threads: configuration.poolSize + 4, maxQueued: 4096), metrics: metrics)
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
