#if canImport(Glibc)
import Glibc
#endif

/// The byte-level syntax `HTTPParser` reads heads with: tokens, versions, methods, lists, numbers.
extension HTTPParser {
    /// `HTTP/1.1` or `HTTP/1.0`, nil for anything else.
    static func version(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPVersion? {
        guard bytes.count == 8, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"),
            bytes[2] == UInt8(ascii: "T"), bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"),
            bytes[5] == UInt8(ascii: "1"), bytes[6] == UInt8(ascii: ".")
        else { return nil }
        switch bytes[7] {
        case UInt8(ascii: "1"): return .http1_1
        case UInt8(ascii: "0"): return .http1_0
        default: return nil
        }
    }

    func parseContentLength(_ value: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Int {
        guard !value.isEmpty else { throw .badRequest("empty Content-Length") }
        var result = 0
        for byte in value {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else {
                throw .badRequest("invalid Content-Length")
            }
            let (times10, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw .badRequest("Content-Length overflow") }
            result = sum
        }
        return result
    }

    /// Calls `body` with each non-empty, OWS-trimmed element of a comma-separated list.
    func forEachListElement(
        _ value: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Void
    ) rethrows {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            var s = start
            var e = end
            while s < e && (value[s] == .space || value[s] == .tab) { s += 1 }
            while e > s && (value[e - 1] == .space || value[e - 1] == .tab) { e -= 1 }
            if e > s { try body(UnsafeBufferPointer(rebasing: value[s..<e])) }
            start = end + 1
        }
    }

    /// Compares ASCII case-insensitively with a lowercase literal of letters, digits and `-`.
    func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let pointer = literal.utf8Start
        for i in 0..<bytes.count where bytes[i] | 0x20 != pointer[i] {
            return false
        }
        return true
    }

    func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// The method as a string, without allocating for the common ones.
    static func method(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        func equals(_ literal: StaticString) -> Bool {
            guard bytes.count == literal.utf8CodeUnitCount else { return false }
            return memcmp(bytes.baseAddress!, literal.utf8Start, bytes.count) == 0
        }
        switch bytes.count {
        case 3 where equals("GET"): return "GET"
        case 3 where equals("PUT"): return "PUT"
        case 4 where equals("POST"): return "POST"
        case 4 where equals("HEAD"): return "HEAD"
        case 5 where equals("PATCH"): return "PATCH"
        case 6 where equals("DELETE"): return "DELETE"
        case 7 where equals("OPTIONS"): return "OPTIONS"
        default: return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The methods the server knows; any other is 501 before the handler sees it.
    static func isKnownMethod(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT": true
        default: false
        }
    }
}
