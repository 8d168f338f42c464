/// A block of addresses: a network address and a prefix length, IPv4 or IPv6.
///
/// Accepted text: `10.0.0.0/8`, `2001:db8::/32`, or a bare address meaning one host (`/32` for
/// IPv4, `/128` for IPv6). The prefix length is plain decimal (no sign, no leading zeros), 0–32
/// for IPv4 and 0–128 for IPv6. Host bits set after the prefix (`192.168.1.7/24`) are accepted
/// and cleared, so that block is `192.168.1.0/24`. Zone ids and surrounding spaces are refused.
///
/// IPv4 blocks are stored as their IPv4-mapped IPv6 block (`10.0.0.0/8` is `::ffff:10.0.0.0/104`),
/// so they match IPv4 peers seen through dual-stack sockets. In turn an IPv6 block that covers
/// `::ffff:0:0/96` (such as `::/0`) covers every IPv4 address.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the block (host bits cleared).
    public let network: IPAddress
    /// The prefix length in the 128-bit space (an IPv4 `/8` is 104 here).
    public let prefixLength128: Int

    /// Parses a block; `nil` when the address or the prefix length is malformed or out of range.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard !utf8.contains(UInt8(ascii: "%")) else { return nil }
        let addressPart: String
        var length: Int?
        if let slash = utf8.firstIndex(of: UInt8(ascii: "/")) {
            let digits = utf8[(slash + 1)...]
            guard (1...3).contains(digits.count),
                digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                digits.count == 1 || digits.first != UInt8(ascii: "0")
            else { return nil }
            length = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            addressPart = String(decoding: utf8[..<slash], as: UTF8.self)
        } else {
            addressPart = text
        }
        guard let address = IPAddress(addressPart) else { return nil }
        // IPv4 *text* takes IPv4 lengths; IPv6 text (even `::ffff:1.2.3.4`) takes IPv6 lengths.
        let writtenAsIPv4 = !addressPart.utf8.contains(UInt8(ascii: ":"))
        let length128: Int
        if writtenAsIPv4 {
            let length32 = length ?? 32
            guard length32 <= 32 else { return nil }
            length128 = 96 + length32
        } else {
            length128 = length ?? 128
            guard length128 <= 128 else { return nil }
        }
        self.init(network: address, prefixLength128: length128)
    }

    /// The block of `address` with `prefixLength128` leading bits (0–128), host bits cleared.
    public init(network address: IPAddress, prefixLength128: Int) {
        precondition((0...128).contains(prefixLength128), "CIDR: prefix length \(prefixLength128) out of 0...128")
        self.prefixLength128 = prefixLength128
        self.network = IPAddress(uncheckedBytes: Self.masked(address.bytes, prefixLength128))
    }

    /// Whether `address` lies in the block.
    public func contains(_ address: IPAddress) -> Bool {
        Self.masked(address.bytes, prefixLength128) == network.bytes
    }

    /// Whether this is an IPv4 block (written with IPv4 lengths).
    public var isIPv4: Bool { prefixLength128 >= 96 && network.isIPv4 }

    /// `10.0.0.0/8` for IPv4 blocks, `2001:db8::/32` for IPv6 blocks; always with the length.
    public var description: String {
        isIPv4 ? "\(network)/\(prefixLength128 - 96)" : "\(network)/\(prefixLength128)"
    }

    /// Parses a comma-separated list such as `TRUSTED_PROXIES` (`10.0.0.0/8, 2001:db8::/32`).
    /// Entries are trimmed of spaces and tabs; empty entries are skipped; empty text is `[]`.
    ///
    /// - Throws: ``CIDRError/invalid(_:)`` naming the first entry that is not a CIDR.
    public static func parseList(_ text: String) throws(CIDRError) -> [CIDR] {
        var blocks: [CIDR] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = String(ClientAddress.trimmed(entry))
            if trimmed.isEmpty { continue }
            guard let block = CIDR(trimmed) else { throw .invalid(trimmed) }
            blocks.append(block)
        }
        return blocks
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var result = bytes
        for index in 0..<16 {
            let bitsKept = min(max(length - index * 8, 0), 8)
            let mask: UInt8 = bitsKept == 8 ? 0xFF : ~(0xFF >> UInt8(bitsKept))
            result[index] &= mask
        }
        return result
    }
}

/// Why a CIDR list was refused.
public enum CIDRError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The entry is not an address or block.
    case invalid(String)

    /// A message for people (operators reading a startup error).
    public var description: String {
        switch self {
        case .invalid(let entry): "not an IP address or CIDR block: \"\(entry)\""
        }
    }
}

extension IPAddress {
    /// An address from bytes already known to be 16 long.
    init(uncheckedBytes bytes: [UInt8]) {
        guard let address = IPAddress(bytes: bytes) else {
            fatalError("IPAddress: \(bytes.count) bytes where 16 were guaranteed")
        }
        self = address
    }
}
