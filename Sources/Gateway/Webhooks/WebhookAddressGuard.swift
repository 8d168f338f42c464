import Auth
import Foundation
import Glibc

/// The SSRF guard: resolves a webhook's host once and refuses it when any address it resolves to
/// is internal. The delivery then connects only to the addresses checked here (pinned by
/// ``WebhookHTTPClient``), so a DNS answer that changes between check and connect cannot reach
/// an internal address.
///
/// `getaddrinfo` blocks: call this on a worker or deliverer thread, never on an event loop.
struct WebhookAddressGuard: Sendable {
    /// `WEBHOOK_ALLOW_PRIVATE=true`: internal addresses are allowed (tests, private networks).
    var allowsPrivate = false

    /// Ranges a webhook may not reach: unspecified, loopback, RFC 1918 private, CGNAT, link-local
    /// (with the cloud metadata address 169.254.169.254), IETF protocol assignments, documentation and
    /// benchmarking, multicast, reserved and broadcast; for IPv6 also IPv4-compatible, NAT64 and 6to4
    /// (which embed an IPv4 address), discard, ULA (with fd00:ec2::254) and link-local. IPv4-mapped
    /// IPv6 addresses are matched as their IPv4 address.
    static let refusedRanges: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "2002::/16",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    ].compactMap { CIDR($0) }

    /// Whether `address` is in a refused range.
    static func isInternal(_ address: IPAddress) -> Bool {
        refusedRanges.contains { $0.contains(address) }
    }

    /// The addresses to connect to for `target`, every one of them checked.
    /// - Throws: `.unresolvable` when the host has no address, `.privateAddress` when one is internal.
    func addresses(for target: WebhookTarget) throws(WebhookURLError) -> [IPAddress] {
        let addresses: [IPAddress]
        if target.isAddressLiteral, let literal = IPAddress(target.host) {
            addresses = [literal]
        } else {
            addresses = Self.resolve(target.host)
        }
        guard !addresses.isEmpty else { throw .unresolvable(target.host) }
        if !allowsPrivate, let refused = addresses.first(where: Self.isInternal) {
            throw .privateAddress(refused.description)
        }
        return addresses
    }

    /// Every address `host` resolves to (IPv4 and IPv6), deduplicated, in resolver order.
    static func resolve(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var result: [IPAddress] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr, let ip = Self.address(address, family: current.pointee.ai_family),
               !result.contains(ip) {
                result.append(ip)
            }
            entry = current.pointee.ai_next
        }
        return result
    }

    private static func address(_ pointer: UnsafeMutablePointer<sockaddr>, family: Int32) -> IPAddress? {
        switch family {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                let raw = withUnsafeBytes(of: v4.pointee.sin_addr.s_addr) { Array($0) }
                return IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + raw)
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                IPAddress(bytes: withUnsafeBytes(of: v6.pointee.sin6_addr) { Array($0) })
            }
        default:
            return nil
        }
    }
}
