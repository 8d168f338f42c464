import Foundation
import HTTPServer
import PostgresStore

extension CommandLine {
    static let usage = """
        usage: memory-gateway <command>
          serve                                      apply pending migrations, then serve
          migrate                                    apply pending migrations and exit
          tenant create --name NAME [--plan PLAN]    create a tenant and its first admin key (printed once)
          billing --period YYYY-MM [--format json|csv]   the billing report

        configuration: DATABASE_URL, HOST, PORT, GATEWAY_THREADS, DB_POOL_SIZE, MAX_BODY_BYTES,
        GATEWAY_OPERATOR_TOKEN, TRUSTED_PROXIES (or --database-url, --port, ... flags)
        """

    /// Runs a command; returns the exit status.
    static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        guard let command = arguments.first else {
            printError(usage)
            return 2
        }
        do {
            switch command {
            case "serve":
                let configuration = try GatewayConfiguration.load(environment: environment, arguments: Array(arguments.dropFirst()))
                if let limit = MallocArenas.limit(environment: environment, processors: ProcessInfo.processInfo.activeProcessorCount) {
                    MallocArenas.cap(limit)
                }
                return try GatewayApp(configuration: configuration).serve()
            case "migrate":
                let configuration = try GatewayConfiguration.load(environment: environment, arguments: Array(arguments.dropFirst()))
                let pool = PostgresPool(configuration: configuration.postgres)
                defer { pool.close() }
                let applied = try Migrator.migrate(pool: pool, migrations: Migrations.all)
                printError("migrations applied: \(applied.isEmpty ? "none pending" : applied.map(String.init).joined(separator: ", "))")
                return 0
            case "tenant":
                return try tenantCommand(Array(arguments.dropFirst()), environment: environment)
            case "billing":
                return try billingCommand(Array(arguments.dropFirst()), environment: environment)
            case "-h", "--help", "help":
                print(usage)
                return 0
            default:
                printError("unknown command: \(command)\n\(usage)")
                return 2
            }
        } catch let error as APIError {
            printError("error: \(error.message)")
            return 1
        } catch {
            printError("error: \(error)")
            return 1
        }
    }

    private static func flags(_ arguments: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), index + 1 < arguments.count else {
                throw APIError.invalidRequest("expected --flag value, got \(name)")
            }
            result[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        return result
    }

    private static func tenantCommand(_ arguments: [String], environment: [String: String]) throws -> Int32 {
        guard arguments.first == "create" else {
            printError("usage: memory-gateway tenant create --name NAME [--plan free|starter|professional]")
            return 2
        }
        let options = try flags(Array(arguments.dropFirst()))
        guard let name = options["name"] else {
            printError("--name is required")
            return 2
        }
        let configuration = try GatewayConfiguration.load(environment: environment, arguments: [])
        let pool = PostgresPool(configuration: configuration.postgres)
        defer { pool.close() }
        _ = try Migrator.migrate(pool: pool, migrations: Migrations.all)
        var body = JSONObject()
        body["name"] = .string(name)
        if let plan = options["plan"] { body["plan"] = .string(plan) }
        let created = try Tenants.createTenant(pool: Database(pool: pool), body: body, requestID: RequestID.generate())
        print(String(decoding: created.full.jsonBytes, as: UTF8.self))
        return 0
    }

    private static func billingCommand(_ arguments: [String], environment: [String: String]) throws -> Int32 {
        let options = try flags(arguments)
        guard let period = options["period"] else {
            printError("usage: memory-gateway billing --period YYYY-MM [--format json|csv]")
            return 2
        }
        let format = options["format"] ?? "json"
        guard format == "json" || format == "csv" else {
            printError("--format is json or csv")
            return 2
        }
        let configuration = try GatewayConfiguration.load(environment: environment, arguments: [])
        let pool = PostgresPool(configuration: configuration.postgres)
        defer { pool.close() }
        let report = try Billing.build(pool: pool, period: period)
        if format == "csv" {
            print(Billing.csv(report), terminator: "")
        } else {
            print(String(decoding: Billing.json(report).jsonBytes, as: UTF8.self))
        }
        return 0
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
