import Auth
import Foundation

/// A webhook URL taken apart: what the address guard resolves and the client pins.
struct WebhookTarget: Sendable, Equatable {
    /// The URL as given (and stored).
    let url: String
    /// `http` or `https`.
    let scheme: String
    /// The host without IPv6 brackets, lowercased.
    let host: String
    let port: Int
    /// The host is an IP address literal: nothing to resolve, the literal itself is checked.
    let isAddressLiteral: Bool

    /// Longest URL accepted.
    static let maxLength = 2048

    /// Parses `text`; nil with the reason when it is not an absolute `http(s)` URL with a host,
    /// or carries credentials or a fragment.
    static func parse(_ text: String) -> Result<WebhookTarget, WebhookURLError> {
        guard text.utf8.count <= maxLength else { return .failure(.invalid("must be at most \(maxLength) bytes")) }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(.invalid("must be an ASCII URL without spaces (percent-encode the rest)"))
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            return .failure(.invalid("is not a URL"))
        }
        guard scheme == "https" || scheme == "http" else { return .failure(.invalid("must start with https:// or http://")) }
        guard components.user == nil, components.password == nil else {
            return .failure(.invalid("must not carry credentials; use the signature to authenticate the gateway"))
        }
        guard components.fragment == nil else { return .failure(.invalid("must not have a fragment")) }
        guard var host = components.percentEncodedHost?.lowercased(), !host.isEmpty else {
            return .failure(.invalid("must name a host"))
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { return .failure(.invalid("has an invalid port")) }
        let isLiteral = !host.contains("%") && IPAddress(host) != nil
        if !isLiteral, host.contains(":") || host.contains("%") { return .failure(.invalid("has an invalid host")) }
        return .success(WebhookTarget(url: text, scheme: scheme, host: host, port: port, isAddressLiteral: isLiteral))
    }
}

/// Why a webhook URL is refused.
enum WebhookURLError: Error, Equatable {
    /// Not a usable URL; the text completes "url …".
    case invalid(String)
    /// It resolves to an address in a refused range (`WEBHOOK_ALLOW_PRIVATE` is off).
    case privateAddress(String)
    /// Its host does not resolve.
    case unresolvable(String)

    var message: String {
        switch self {
        case .invalid(let reason): "url " + reason
        case .privateAddress(let address):
            "url resolves to \(address), a loopback, private, link-local or otherwise internal address"
                + " (the operator may allow those with WEBHOOK_ALLOW_PRIVATE=true)"
        case .unresolvable(let host): "url host '\(host.prefix(255))' does not resolve"
        }
    }
}
