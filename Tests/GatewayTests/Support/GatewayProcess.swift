import Foundation
import PostgresStore

/// The built `memory-gateway` executable, run as a child process for tests of the command line,
/// of signals and of several instances.
struct GatewayProcess {
    static var executable: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../.build/debug/memory-gateway").standardized
    }

    /// Runs a command to completion; returns (status, stdout, stderr).
    static func run(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Starts `serve` in the background.
    static func serve(environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve"]
        // Children share the test database: only webhook tests, which turn it on, deliver.
        process.environment = ProcessInfo.processInfo.environment.merging(["WEBHOOK_DELIVERY": "off"]) { $1 }
            .merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UInt32.random(in: 0...UInt32.max)).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        FileHandle.standardError.write(Data("gateway child log: \(log.path)\n".utf8))
        return process
    }

    /// A new empty database on the test server; returns its URL.
    static func freshDatabase() throws -> String {
        let base = TestGateway.databaseURL
        guard let slash = base.range(of: "/", options: .backwards) else { return base }
        let name = "mg_\(UInt32.random(in: 0...UInt32.max))"
        let admin = PostgresPool(configuration: PostgresConfiguration(connectionString: String(base[..<slash.lowerBound]) + "/postgres"))
        defer { admin.close() }
        _ = try admin.query("CREATE DATABASE \(name)")  // the name is ours, not input
        return String(base[..<slash.lowerBound]) + "/" + name
    }

    /// A port the kernel has just handed out as free (bound to port 0, then closed).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 ? getsockname(fd, pointer, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
