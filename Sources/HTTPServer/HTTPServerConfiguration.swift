#if canImport(Glibc)
import Glibc
#endif

/// Limits, timeouts and addresses of one `HTTPServer`. Built once by the caller and passed in.
public struct HTTPServerConfiguration: Sendable {
    /// The address to listen on: an IPv4 or IPv6 literal (`"::"` is dual-stack) or `localhost`.
    public var host: String = "0.0.0.0"
    /// The TCP port; 0 asks the kernel for an ephemeral port, shared by every loop.
    public var port: Int = 8080
    /// The number of event loops, each with its own `SO_REUSEPORT` listener.
    public var threads: Int = HTTPServerConfiguration.coreCount
    /// The largest request body accepted (413 beyond).
    public var maxBodyBytes: Int = 1_048_576
    /// The longest request target accepted (414 beyond).
    public var maxRequestTargetBytes: Int = 8192
    /// The largest header block accepted, request line excluded (431 beyond).
    public var maxHeaderBytes: Int = 32768
    /// The most header fields accepted, `Host` included (431 beyond).
    public var maxHeaderCount: Int = 100
    /// The most open connections of the whole server; further connections are closed at once.
    public var maxConnections: Int = 10_000
    /// The time a request head may take from its first byte (408 and close; a silent close when nothing came).
    public var headTimeout: Duration = .seconds(10)
    /// The time a request body may take once its head is complete (408 and close).
    public var bodyTimeout: Duration = .seconds(30)
    /// How long a keep-alive connection may stay idle between requests.
    public var idleTimeout: Duration = .seconds(60)
    /// With a response pending, the longest time a client may accept no bytes before it is
    /// disconnected (streamed responses included): a stalled reader holds no buffer forever.
    public var writeStallTimeout: Duration = .seconds(30)
    /// Unsent response bytes all connections together may hold (split evenly between the event
    /// loops). Past it the server is under memory pressure: a connection whose client has accepted
    /// no bytes for `pressureStallTimeout` is closed at once instead of after `writeStallTimeout`,
    /// so clients that never read cannot grow resident memory however many connections they open.
    public var maxBufferedOutput: Int = 192 << 20
    /// Under memory pressure, the longest a client may accept no bytes of a pending response.
    public var pressureStallTimeout: Duration = .milliseconds(500)
    /// How long a graceful shutdown waits for requests in flight before closing everything.
    public var shutdownGrace: Duration = .seconds(20)
    /// Whether to write one access-log line per response on stdout.
    public var accessLog: Bool = true

    /// The defaults documented on each field.
    public init() {}

    /// The number of online processors, at least 1.
    static var coreCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return product &+ attoseconds / 1_000_000_000
    }
}
