import Foundation
import Glibc
import Synchronization

/// A private PostgreSQL server in a temporary directory on a free port, for tests that stop, crash
/// and restart it (so they never disturb the shared server other suites use), with `fsync` on or
/// off. Run as the `postgres` user when we are root. Shared by the test targets (a library of its
/// own: test targets cannot share a file).
public final class TestPostgresServer: Sendable {
    public struct CommandFailed: Error, CustomStringConvertible {
        public var description: String
    }

    public let directory: String
    public let port: Int
    private let binaries: String
    private let isSyncing: Bool

    public var dataDirectory: String { directory + "/pgdata" }
    public var url: String { "postgresql://postgres@127.0.0.1:\(port)/postgres" }

    /// - Parameter fsync: the server's `fsync` (on for a test of what survives a crash).
    public init(fsync: Bool = false) throws {
        isSyncing = fsync
        binaries = Self.binaryDirectory()
        var template = Array("/tmp/mg-test-pg.XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw CommandFailed(description: "mkdtemp failed") }
        directory = String(cString: created)
        port = Self.freePort()
        chmod(directory, 0o755)
        if getuid() == 0 {
            try Self.run(["/usr/bin/chown", "postgres", directory], asPostgres: false, log: nil)
        }
        try Self.run(
            [
                binaries + "/initdb", "-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                "--no-sync",
            ],
            asPostgres: true, log: directory + "/initdb.log")
        try start()
    }

    /// The directory of `initdb` and `pg_ctl`: `MG_TEST_PG_BINDIR`, else the newest /usr/lib/postgresql/*/bin.
    public static func binaryDirectory() -> String {
        if let directory = ProcessInfo.processInfo.environment["MG_TEST_PG_BINDIR"], !directory.isEmpty {
            return directory
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap { Int($0) }.max()
        return newest.map { "/usr/lib/postgresql/\($0)/bin" } ?? "/usr/lib/postgresql/15/bin"
    }

    /// Starts the server; a failure says what the server's log says.
    public func start() throws {
        do {
            try launch()
        } catch {
            let log = (try? String(contentsOfFile: directory + "/postgres.log", encoding: .utf8)) ?? ""
            throw CommandFailed(description: "\(error)\n" + log.suffix(2_000))
        }
    }

    private func launch() throws {
        let options =
            "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=150"
            + " -c fsync=\(isSyncing ? "on" : "off") -c synchronous_commit=on -c shared_buffers=16MB"
        try Self.run(
            [
                binaries + "/pg_ctl", "-D", dataDirectory, "-l", directory + "/postgres.log", "-w", "-t", "60",
                "-o", options, "start",
            ],
            asPostgres: true, log: directory + "/pg_ctl.log")
    }

    /// Stops the server; `fast` terminates sessions politely, `immediate` kills them like a crash.
    public func stop(mode: String = "fast") throws {
        try Self.run(
            [binaries + "/pg_ctl", "-D", dataDirectory, "-m", mode, "-w", "-t", "60", "stop"],
            asPostgres: true, log: directory + "/pg_ctl.log")
    }

    /// Kills the postmaster and every backend with SIGKILL, as a crash would: nothing is flushed
    /// on the way down; what survives is what was on disk (or in the kernel's page cache).
    public func crash() throws {
        let text = try String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8)
        guard let line = text.split(separator: "\n").first, let postmaster = pid_t(line) else {
            throw CommandFailed(description: "no postmaster pid in \(dataDirectory)/postmaster.pid")
        }
        // Children first would let the postmaster start a crash recovery; kill it first, then them.
        let children = Self.children(of: postmaster)
        kill(postmaster, SIGKILL)
        for child in children { kill(child, SIGKILL) }
        var remaining = children + [postmaster]
        let deadline = ContinuousClock.now + .seconds(30)
        while !remaining.isEmpty, ContinuousClock.now < deadline {
            remaining = remaining.filter { kill($0, 0) == 0 && !Self.isZombie($0) }
            if !remaining.isEmpty { usleep(10_000) }
        }
        // A killed postmaster may linger as a zombie (its parent, not us, reaps it): its pid still
        // answers kill(0), so the next start would take the lock files as a live server's.
        try FileManager.default.removeItem(atPath: dataDirectory + "/postmaster.pid")
        try? FileManager.default.removeItem(atPath: directory + "/.s.PGSQL.\(port).lock")
        try? FileManager.default.removeItem(atPath: directory + "/.s.PGSQL.\(port)")
    }

    private static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "(comm)": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    private static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }

    /// Stops the server (if running) and deletes its directory.
    public func destroy() {
        try? stop(mode: "immediate")
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static let atExit = Mutex<[TestPostgresServer]>([])

    /// Destroys `server` when the test process exits.
    public static func stopAtExit(_ server: TestPostgresServer) {
        let isFirst = atExit.withLock { servers in
            servers.append(server)
            return servers.count == 1
        }
        if isFirst {
            atexit {
                for server in TestPostgresServer.atExit.withLock({ $0 }) { server.destroy() }
            }
        }
    }

    /// Runs a command to completion with posix_spawn and waitpid. Not Foundation's `Process`: its
    /// `waitUntilExit` never returns for `pg_ctl start`, whose daemon child outlives it.
    private static func run(_ arguments: [String], asPostgres: Bool, log: String?) throws {
        let argv = asPostgres && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + arguments : arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o666)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else {
            throw CommandFailed(description: "cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitedNormally = status & 0x7f == 0
        let exitStatus = (status >> 8) & 0xff
        guard exitedNormally, exitStatus == 0 else {
            let detail = log.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            throw CommandFailed(description: "\(argv.joined(separator: " ")) failed (status \(status)): \(detail)")
        }
    }

    /// A TCP port free on loopback right now.
    public static func freePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length)
                return getsockname(descriptor, generic, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
