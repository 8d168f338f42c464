/// Small text helpers shared by the server and the gateway (which imports this target): one
/// percent-decoder, one hex digit reader, one log-value escaper.
///
/// `PostgresStore` and `Auth` keep their own hex digit reader: the targets below `Gateway` do not
/// import each other, and a one-line switch does not warrant a target of its own.
public enum PercentEncoding {
    /// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`, for query strings).
    ///
    /// Strict: nil for an invalid or truncated escape, a decoded NUL (no text downstream may hold
    /// one: PostgreSQL refuses it in `text`) or bytes that are not UTF-8.
    public static func decode(_ text: Substring, plusIsSpace: Bool) -> String? {
        decode(utf8: text.utf8, plusIsSpace: plusIsSpace)
    }

    /// `decode` over UTF-8 bytes (the router's path, with no `Substring` made per segment).
    public static func decode<Bytes: Collection<UInt8>>(utf8: Bytes, plusIsSpace: Bool) -> String? {
        if !utf8.contains(UInt8(ascii: "%")) && !(plusIsSpace && utf8.contains(UInt8(ascii: "+"))) {
            return utf8.contains(0) ? nil : String(validating: utf8, as: UTF8.self)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(ASCII.hexValue), let low = iterator.next().flatMap(ASCII.hexValue)
                else { return nil }
                let decoded = high << 4 | low
                if decoded == 0 { return nil }
                bytes.append(decoded)
            case 0:
                return nil
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// ASCII byte helpers.
public enum ASCII {
    /// The value of a hexadecimal digit (either case), nil for any other byte.
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }
}
