/// Numbers: the RFC 8259 grammar, and integers read exactly when they fit.
extension JSONReader {
    mutating func number() throws(JSONError) -> JSONNumber {
        let start = position
        var isInteger = true
        if bytes[position] == JSONByte.minus { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw JSONError("expected a digit", offset: position)
        }
        if bytes[position] == JSONByte.zero {
            position += 1
            if position < bytes.count && isDigit(bytes[position]) {
                throw JSONError("leading zero in number", offset: position - 1)
            }
        } else {
            skipDigits()
        }
        if position < bytes.count && bytes[position] == JSONByte.dot {
            isInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw JSONError("expected a digit after '.'", offset: position)
            }
            skipDigits()
        }
        if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
            isInteger = false
            position += 1
            if position < bytes.count && (bytes[position] == JSONByte.plus || bytes[position] == JSONByte.minus) {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw JSONError("expected a digit in exponent", offset: position)
            }
            skipDigits()
        }
        let slice = UnsafeBufferPointer(rebasing: bytes[start..<position])
        return JSONNumber(validatedText: String(decoding: slice, as: UTF8.self), integer: isInteger ? int64(slice) : nil)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte >= JSONByte.zero && byte <= JSONByte.nine }

    @inline(__always)
    mutating func skipDigits() {
        while position < bytes.count && isDigit(bytes[position]) { position += 1 }
    }

    /// The exact value of an integer literal, `nil` outside `Int64`. Accumulates negatively so
    /// `Int64.min` fits.
    func int64(_ literal: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        let negative = literal[0] == JSONByte.minus
        if negative { index = 1 }
        var value: Int64 = 0
        while index < literal.count {
            let digit = Int64(literal[index] - JSONByte.zero)
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.subtractingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        return value == .min ? nil : -value
    }
}
