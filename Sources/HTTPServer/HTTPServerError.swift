/// Why the server could not start.
public enum HTTPServerError: Error, Sendable, CustomStringConvertible {
    /// A system call failed with `errno`.
    case system(String, Int32)
    /// The host is not an IPv4 or IPv6 literal (or `localhost`).
    case invalidHost(String)

    public var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: errno \(code)"
        case .invalidHost(let host): "invalid host \(host)"
        }
    }
}
