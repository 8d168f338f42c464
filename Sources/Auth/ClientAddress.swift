/// Which address a request comes from, given the socket peer and `X-Forwarded-For`.
///
/// API.md: the client address is the socket peer, unless the peer is in `TRUSTED_PROXIES`, in
/// which case it is the rightmost `X-Forwarded-For` address that is not itself a trusted proxy.
public enum ClientAddress {
    /// Resolves the client address and returns it as canonical text (``IPAddress/description``;
    /// an unparsable peer comes back unchanged).
    ///
    /// Rules, in order:
    /// 1. If the peer does not parse or is not in `trustedProxies`, the answer is the peer and
    ///    `X-Forwarded-For` is ignored (anyone can write that header).
    /// 2. All `forwardedFor` values are split on commas, in order, as one list; each entry is
    ///    trimmed of spaces and tabs; empty entries are skipped (HTTP list syntax).
    /// 3. The list is walked from the right. The first entry that is not a trusted proxy is the
    ///    answer.
    /// 4. If an entry does not parse, the walk stops there: what lies left of it was written by
    ///    something no trusted proxy vouches for in a usable form. The answer is the last good
    ///    address seen (the trusted proxy right of the bad entry), else the peer.
    /// 5. If every entry is a trusted proxy, the answer is the leftmost one; if there are no
    ///    entries, the peer.
    ///
    /// Entries may be bare addresses, `[v6]`, `[v6]:port` or `v4:port` (some proxies add the
    /// port); the port is dropped. A zone id is dropped as ``IPAddress`` does.
    ///
    /// - Parameters:
    ///   - peer: the socket peer address as text, without port.
    ///   - forwardedFor: every `X-Forwarded-For` field value, in the order received.
    ///   - trustedProxies: the `TRUSTED_PROXIES` blocks.
    public static func resolve(peer: String, forwardedFor: [String], trustedProxies: [CIDR]) -> String {
        guard let peerAddress = IPAddress(peer) else { return peer }
        guard isTrusted(peerAddress, trustedProxies), !forwardedFor.isEmpty else { return peerAddress.description }

        var entries: [Substring] = []
        for value in forwardedFor {
            for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = trimmed(entry)
                if !trimmed.isEmpty { entries.append(trimmed) }
            }
        }
        var lastGood = peerAddress
        for entry in entries.reversed() {
            guard let address = forwardedAddress(entry) else { return lastGood.description }
            if !isTrusted(address, trustedProxies) { return address.description }
            lastGood = address
        }
        return lastGood.description
    }

    /// Whether `address` lies in any of `blocks`.
    public static func isTrusted(_ address: IPAddress, _ blocks: [CIDR]) -> Bool {
        blocks.contains { $0.contains(address) }
    }

    /// One `X-Forwarded-For` entry as an address: bare, `[v6]`, `[v6]:port` or `v4:port`.
    static func forwardedAddress(_ entry: Substring) -> IPAddress? {
        let utf8 = Array(entry.utf8)
        if utf8.first == UInt8(ascii: "[") {
            guard let close = utf8.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let rest = utf8[(close + 1)...]
            guard rest.isEmpty || isPortSuffix(rest) else { return nil }
            let inner = String(decoding: utf8[1..<close], as: UTF8.self)
            guard inner.utf8.contains(UInt8(ascii: ":")) else { return nil }
            return IPAddress(inner)
        }
        let colons = utf8.count(where: { $0 == UInt8(ascii: ":") })
        if colons == 1, let colon = utf8.firstIndex(of: UInt8(ascii: ":")), isPortSuffix(utf8[colon...]) {
            // `v4:port`: a single colon cannot be IPv6.
            return IPAddress(String(decoding: utf8[..<colon], as: UTF8.self)).flatMap { $0.isIPv4 ? $0 : nil }
        }
        return IPAddress(String(entry))
    }

    /// `:` followed by 1–5 digits.
    private static func isPortSuffix(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.first == UInt8(ascii: ":") else { return false }
        let digits = bytes.dropFirst()
        return (1...5).contains(digits.count) && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> Substring {
        let isBlank = { (c: Character) in c == " " || c == "\t" }
        guard let first = text.firstIndex(where: { !isBlank($0) }),
            let last = text.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return text[first...last]
    }
}
