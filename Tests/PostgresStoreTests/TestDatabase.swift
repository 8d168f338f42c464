import Foundation
import Glibc
import PostgresStore
import Synchronization
import Testing
import PostgresTestServer

/// The PostgreSQL the tests use: `DATABASE_URL` (scripts/test provides one); without it, a throwaway
/// server started once for this test process, so nothing is skipped.
enum TestDatabase {
    static var url: String {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        return fallbackServer.url
    }

    private static let fallbackServer: TestPostgresServer = {
        do {
            let server = try TestPostgresServer()
            TestPostgresServer.stopAtExit(server)
            return server
        } catch {
            fatalError("DATABASE_URL is not set and a throwaway PostgreSQL could not be started: \(error)")
        }
    }()

    static func configuration(
        prepared: Bool = true, poolSize: Int = 4, leaseTimeout: Duration = .seconds(2), url: String? = nil
    ) -> PostgresConfiguration {
        var configuration = PostgresConfiguration(connectionString: url ?? self.url)
        configuration.poolSize = poolSize
        configuration.leaseTimeout = leaseTimeout
        configuration.usePreparedStatements = prepared
        return configuration
    }

    static func pool(prepared: Bool = true, poolSize: Int = 4, leaseTimeout: Duration = .seconds(2)) -> PostgresPool {
        PostgresPool(configuration: configuration(prepared: prepared, poolSize: poolSize, leaseTimeout: leaseTimeout))
    }

    /// A name no other test (or test run) uses: tables, channels, schemas.
    static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + String(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff, radix: 36)
    }

    /// The URL with extra URI query parameters (e.g. `application_name`, `options`).
    static func url(_ base: String = url, adding query: [String: String]) -> String {
        var components = URLComponents(string: base)!
        components.queryItems =
            (components.queryItems ?? []) + query.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves `=` alone in query values; libpq needs it encoded inside `options`.
        return components.string!.replacingOccurrences(of: "search_path=", with: "search_path%3D")
    }
}

/// Polls `condition` until it holds or `timeout` passes (no fixed sleeps in tests).
func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// Measures how long `body` takes.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
    let start = ContinuousClock.now
    let value = try body()
    return (value, ContinuousClock.now - start)
}

/// The error `body` throws, as a ``StoreError`` (`nil` if it does not throw or throws something else).
func storeError(_ body: () throws -> Void) -> StoreError? {
    do {
        try body()
        return nil
    } catch {
        return error as? StoreError
    }
}

/// A value several threads append to.
final class Collected<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}

/// Runs `body` on `count` new threads at once and waits for them all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            body(index)
            group.leave()
        }.start()
    }
    group.wait()
}
