/// An IPv4 or IPv6 address in 16-byte (IPv6) form.
///
/// IPv4 addresses are held as IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`), so `1.2.3.4` and
/// `::ffff:1.2.3.4` are the same value and print as `1.2.3.4`. That is what lets an IPv4 CIDR
/// match a peer seen through a dual-stack socket.
///
/// Accepted text:
/// - IPv4: exactly four decimal octets 0–255 without leading zeros (`010.0.0.1` is refused, since
///   some parsers read it as octal).
/// - IPv6: every RFC 4291 form: eight groups of 1–4 hex digits, one `::` for a run of zero
///   groups (`::`, `::1`, `fe80::1`, `1::`), and an IPv4 dotted tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`).
/// - A zone id (`fe80::1%eth0`) is accepted on IPv6 text and dropped: scopes do not take part
///   in address matching. Brackets, ports and surrounding spaces are refused.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The 16 bytes in network order.
    public let bytes: [UInt8]

    /// An address from 16 bytes in network order.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses an IPv4 or IPv6 address; `nil` for anything else.
    public init?(_ text: String) {
        var utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            if let percent = utf8.firstIndex(of: UInt8(ascii: "%")) {
                let zone = utf8[(percent + 1)...]
                guard !zone.isEmpty, zone.allSatisfy(Self.isZoneCharacter) else { return nil }
                utf8.removeSubrange(percent...)
            }
            guard let bytes = Self.parseIPv6(utf8[...]) else { return nil }
            self.bytes = bytes
        } else {
            guard let v4 = Self.parseIPv4(utf8[...]) else { return nil }
            self.bytes = Self.mappedPrefix + v4
        }
    }

    /// The 12 bytes that precede an IPv4 address in its mapped form.
    static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]

    /// Whether this is an IPv4 address (IPv4-mapped in IPv6 form).
    public var isIPv4: Bool { bytes[0..<12].elementsEqual(Self.mappedPrefix) }

    /// Dotted quad for IPv4, else the RFC 5952 form (lower case, longest zero run as `::`).
    public var description: String {
        if isIPv4 {
            return bytes[12...].map { String($0) }.joined(separator: ".")
        }
        var groups: [Int] = []
        for index in stride(from: 0, to: 16, by: 2) {
            groups.append(Int(bytes[index]) << 8 | Int(bytes[index + 1]))
        }
        // Longest run of at least two zero groups; the first one wins ties (RFC 5952 §4.2).
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        let hex = { (group: Int) in String(group, radix: 16) }
        if bestStart < 0 {
            return groups.map(hex).joined(separator: ":")
        }
        let head = groups[..<bestStart].map(hex).joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].map(hex).joined(separator: ":")
        return head + "::" + tail
    }

    private static func isZoneCharacter(_ byte: UInt8) -> Bool {
        Base62.isBase62(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// Four octets from `a.b.c.d`, or `nil`.
    static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var octets: [UInt8] = []
        octets.reserveCapacity(4)
        var value = 0
        var digits = 0
        var leadingZero = false
        for byte in text {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 0 {
                    leadingZero = byte == UInt8(ascii: "0")
                } else if leadingZero {
                    return nil
                }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                guard value <= 255 else { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, octets.count < 3 else { return nil }
                octets.append(UInt8(value))
                value = 0
                digits = 0
            default:
                return nil
            }
        }
        guard digits > 0, octets.count == 3 else { return nil }
        octets.append(UInt8(value))
        return octets
    }

    /// Sixteen bytes from IPv6 text without zone, or `nil`.
    static func parseIPv6(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2 else { return nil }
        var head: [UInt8] = []  // bytes before `::` (or all of them)
        var tail: [UInt8] = []  // bytes after `::`
        var sawDoubleColon = false
        var index = text.startIndex
        let colon = UInt8(ascii: ":")

        if text[index] == colon {
            // Only `::` may begin an address.
            guard text[index + 1] == colon else { return nil }
            sawDoubleColon = true
            index += 2
            if index == text.endIndex { return [UInt8](repeating: 0, count: 16) }
        }
        while index < text.endIndex {
            // One piece: hex group, or a dotted IPv4 tail that must end the text.
            var end = index
            while end < text.endIndex && text[end] != colon { end += 1 }
            let piece = text[index..<end]
            var groupBytes: [UInt8]
            if piece.contains(UInt8(ascii: ".")) {
                guard end == text.endIndex, let v4 = parseIPv4(piece) else { return nil }
                groupBytes = v4
            } else {
                guard (1...4).contains(piece.count) else { return nil }
                var value = 0
                for byte in piece {
                    guard let digit = hexValue(byte) else { return nil }
                    value = value << 4 | digit
                }
                groupBytes = [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            if sawDoubleColon { tail += groupBytes } else { head += groupBytes }
            guard head.count + tail.count <= 16 else { return nil }
            index = end
            if index == text.endIndex { break }
            // At a colon: either a separator or the start of `::`.
            index += 1
            guard index < text.endIndex else { return nil }  // a trailing single colon
            if text[index] == colon {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                index += 1
                if index == text.endIndex { break }
                guard text[index] != colon else { return nil }
            }
        }
        if sawDoubleColon {
            // `::` stands for at least one zero group.
            guard head.count + tail.count <= 14 else { return nil }
            return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
        }
        guard head.count == 16 else { return nil }
        return head
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }
}
