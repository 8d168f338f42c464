#if canImport(Glibc)
import Glibc
#endif

/// An incremental HTTP/1.x request parser: a plain state machine over bytes, no I/O, no clock.
///
/// The owner appends what it reads to a buffer and calls `parse` with the unconsumed part; the
/// parser says how many bytes it consumed and what happened. It waits for a whole head before
/// parsing it (scanning each byte once, so one-byte feeding stays linear), checks every limit as
/// bytes arrive, and never allocates more than a limit allows on the client's word. After an
/// error it stays failed: the server answers once and closes, it never resynchronises.
struct HTTPParser {
    /// The limits the parser enforces; see `HTTPServerConfiguration`.
    struct Limits: Sendable {
        var maxBodyBytes: Int
        var maxRequestTargetBytes: Int
        var maxHeaderBytes: Int
        var maxHeaderCount: Int

        init(_ configuration: HTTPServerConfiguration) {
            maxBodyBytes = configuration.maxBodyBytes
            maxRequestTargetBytes = configuration.maxRequestTargetBytes
            maxHeaderBytes = configuration.maxHeaderBytes
            maxHeaderCount = configuration.maxHeaderCount
        }
    }

    /// What one call to `parse` produced.
    enum Result {
        /// More bytes are needed.
        case needMore
        /// A head is complete. When its framing is not `.none`, the body follows: call again.
        case head(HTTPRequestHead)
        /// The body of the last head is complete (de-chunked).
        case body([UInt8])
        /// The request is refused; the parser is now failed.
        case error(HTTPParseError)
    }

    /// Where the scan of a head stands, offsets relative to the start of the head.
    private struct HeadScan {
        var scanned = 0
        var lineStart = 0
        var requestLineEnd = -1
        var fieldLines = 0
        var emptyLinesSkipped = 0
    }

    private enum State {
        case head(HeadScan)
        case lengthBody(remaining: Int)
        /// `scanned`: bytes of the partial line already scanned (no LF, no bare CR in them).
        case chunkSize(scanned: Int)
        case chunkData(remaining: Int)
        case chunkDataEnd
        /// `bytes`: trailer bytes so far; `scanned`: of the partial line, as for `chunkSize`.
        case trailers(bytes: Int, scanned: Int)
        case failed
    }

    /// Empty lines tolerated before a request line (RFC 9112 §2.2).
    static let maxLeadingEmptyLines = 8
    /// The longest chunk-size line (size and extensions) accepted.
    static let maxChunkLineBytes = 4096

    let limits: Limits
    private var state: State = .head(HeadScan())
    private var body: [UInt8] = []
    /// Bytes the chunk-size and trailer line scanners have examined, in total: each byte of a
    /// line once, however the line arrives (tests check that one-byte feeding stays linear).
    private(set) var lineScanBytes = 0
    /// What is known of the request being parsed, for the error response and its log line.
    private(set) var errorMethod: String?
    private(set) var errorTarget: String?
    private(set) var errorRequestID: String?

    init(limits: Limits) {
        self.limits = limits
    }

    /// Whether no byte of a next request has been consumed or scanned.
    var isAtRequestStart: Bool {
        if case .head(let scan) = state { return scan.scanned == 0 && scan.emptyLinesSkipped == 0 }
        return false
    }

    /// Whether the parser is reading a body.
    var isReadingBody: Bool {
        switch state {
        case .lengthBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers: true
        case .head, .failed: false
        }
    }

    /// Consumes bytes from the front of `buffer` (the unconsumed input).
    mutating func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> (consumed: Int, result: Result) {
        var consumed = 0
        do throws(HTTPParseError) {
            while true {
                switch state {
                case .failed:
                    return (0, .error(.badRequest("parser already failed")))
                case .head(var scan):
                    if scan.scanned == 0 {
                        // Skip empty lines before the request line, but not forever.
                        while consumed < buffer.count {
                            let first = buffer[consumed]
                            if first == .lf { throw .badRequest("bare LF") }
                            guard first == .cr else { break }
                            guard consumed + 1 < buffer.count else {
                                state = .head(scan)
                                return (consumed, .needMore)
                            }
                            guard buffer[consumed + 1] == .lf else { throw .badRequest("bare CR") }
                            scan.emptyLinesSkipped += 1
                            if scan.emptyLinesSkipped > HTTPParser.maxLeadingEmptyLines {
                                throw .badRequest("too many empty lines")
                            }
                            consumed += 2
                        }
                    }
                    let base = consumed
                    guard let length = try scanHead(buffer, base: base, scan: &scan) else {
                        state = .head(scan)
                        return (consumed, .needMore)
                    }
                    let head = try parseHead(
                        UnsafeBufferPointer(rebasing: buffer[base..<(base + length)]),
                        requestLineEnd: scan.requestLineEnd)
                    consumed = base + length
                    switch head.framing {
                    case .none, .length(0):
                        state = .head(HeadScan())
                    case .length(let n):
                        body = []
                        body.reserveCapacity(n)
                        state = .lengthBody(remaining: n)
                    case .chunked:
                        body = []
                        state = .chunkSize(scanned: 0)
                    }
                    return (consumed, .head(head))
                case .lengthBody(let remaining):
                    let take = min(remaining, buffer.count - consumed)
                    body.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[consumed..<(consumed + take)]))
                    consumed += take
                    if take < remaining {
                        state = .lengthBody(remaining: remaining - take)
                        return (consumed, .needMore)
                    }
                    return (consumed, .body(finishBody()))
                case .chunkSize(let scanned):
                    // Resume where the last call stopped: a line sent a byte at a time is scanned
                    // once in total, not once per byte.
                    guard let lf = findLF(buffer, from: consumed + scanned,
                                          end: min(buffer.count, consumed + HTTPParser.maxChunkLineBytes + 1)) else {
                        if buffer.count - consumed > HTTPParser.maxChunkLineBytes {
                            throw .badRequest("chunk size line too long")
                        }
                        try checkNoBareCR(buffer, from: max(consumed, consumed + scanned - 1), to: buffer.count)
                        state = .chunkSize(scanned: buffer.count - consumed)
                        return (consumed, .needMore)
                    }
                    let size = try parseChunkSize(buffer, from: consumed, lf: lf)
                    consumed = lf + 1
                    if size == 0 {
                        state = .trailers(bytes: 0, scanned: 0)
                    } else {
                        guard size <= limits.maxBodyBytes - body.count else { throw .payloadTooLarge }
                        state = .chunkData(remaining: size)
                    }
                case .chunkData(let remaining):
                    let take = min(remaining, buffer.count - consumed)
                    body.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[consumed..<(consumed + take)]))
                    consumed += take
                    if take < remaining {
                        state = .chunkData(remaining: remaining - take)
                        return (consumed, .needMore)
                    }
                    state = .chunkDataEnd
                case .chunkDataEnd:
                    let available = buffer.count - consumed
                    if available >= 1 && buffer[consumed] != .cr { throw .badRequest("missing CRLF after chunk data") }
                    if available < 2 { return (consumed, .needMore) }
                    guard buffer[consumed + 1] == .lf else { throw .badRequest("missing CRLF after chunk data") }
                    consumed += 2
                    state = .chunkSize(scanned: 0)
                case .trailers(let bytes, let scanned):
                    let room = limits.maxHeaderBytes - bytes
                    guard let lf = findLF(buffer, from: consumed + scanned, end: min(buffer.count, consumed + room + 3)) else {
                        if buffer.count - consumed > room + 2 { throw .headerFieldsTooLarge }
                        try checkNoBareCR(buffer, from: max(consumed, consumed + scanned - 1), to: buffer.count)
                        state = .trailers(bytes: bytes, scanned: buffer.count - consumed)
                        return (consumed, .needMore)
                    }
                    // The scanned part holds no LF and no bare CR; check the rest of the line.
                    try checkNoBareCR(buffer, from: max(consumed, consumed + scanned - 1), to: lf + 1)
                    guard lf > consumed, buffer[lf - 1] == .cr else { throw .badRequest("bare LF") }
                    let lineLength = lf - 1 - consumed
                    if lineLength > 0 {
                        if buffer[consumed] == .space || buffer[consumed] == .tab {
                            throw .badRequest("obsolete line folding")
                        }
                        consumed = lf + 1
                        state = .trailers(bytes: bytes + lineLength + 2, scanned: 0)
                    } else {
                        consumed = lf + 1
                        return (consumed, .body(finishBody()))
                    }
                }
            }
        } catch {
            state = .failed
            return (consumed, .error(error))
        }
    }

    private mutating func finishBody() -> [UInt8] {
        state = .head(HeadScan())
        let result = body
        body = []
        return result
    }

    /// Scans new bytes of a head; returns its length (final CRLF included) once complete.
    private func scanHead(
        _ buffer: UnsafeBufferPointer<UInt8>, base: Int, scan: inout HeadScan
    ) throws(HTTPParseError) -> Int? {
        var i = base + scan.scanned
        while i < buffer.count {
            let byte = buffer[i]
            if byte == .lf {
                guard i > base, buffer[i - 1] == .cr else { throw .badRequest("bare LF") }
                let relative = i - base
                if scan.requestLineEnd < 0 {
                    scan.requestLineEnd = relative
                    if relative - 1 > limits.maxRequestTargetBytes + 64 { throw .uriTooLong }
                } else if relative - scan.lineStart == 1 {
                    scan.scanned = relative + 1
                    if relative + 1 - (scan.requestLineEnd + 1) - 2 > limits.maxHeaderBytes {
                        throw .headerFieldsTooLarge
                    }
                    return relative + 1
                } else {
                    scan.fieldLines += 1
                    if scan.fieldLines > limits.maxHeaderCount { throw .headerFieldsTooLarge }
                }
                scan.lineStart = relative + 1
            } else if i > base && buffer[i - 1] == .cr {
                throw .badRequest("bare CR")
            }
            i += 1
        }
        scan.scanned = i - base
        if scan.requestLineEnd < 0 {
            if scan.scanned > limits.maxRequestTargetBytes + 64 { throw .uriTooLong }
        } else if scan.scanned - (scan.requestLineEnd + 1) > limits.maxHeaderBytes + 2 {
            throw .headerFieldsTooLarge
        }
        return nil
    }

    /// The first LF in `[start, end)`.
    private mutating func findLF(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, end: Int) -> Int? {
        var i = start
        while i < end {
            if buffer[i] == .lf {
                lineScanBytes &+= i + 1 - start
                return i
            }
            i += 1
        }
        lineScanBytes &+= max(0, end - start)
        return nil
    }

    /// Rejects a CR followed by anything but LF in `[from, to)` (a CR at `to - 1` waits for the
    /// next byte). Callers start one byte before the unscanned part, so a CR that ended the
    /// last read is checked against the byte that follows it.
    private mutating func checkNoBareCR(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) throws(HTTPParseError) {
        lineScanBytes &+= max(0, to - from)
        var i = from
        while i + 1 < to {
            if buffer[i] == .cr && buffer[i + 1] != .lf { throw .badRequest("bare CR") }
            i += 1
        }
    }

    /// `chunk-size [ chunk-ext ] CRLF`; extensions are accepted and ignored.
    private func parseChunkSize(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, lf: Int) throws(HTTPParseError) -> Int {
        guard lf > start, buffer[lf - 1] == .cr else { throw .badRequest("bare LF in chunk size") }
        let end = lf - 1
        var i = start
        var size = 0
        while i < end, let digit = ASCII.hexValue(buffer[i]) {
            guard size <= (Int.max >> 4) else { throw .badRequest("chunk size overflow") }
            size = size << 4 | Int(digit)
            i += 1
        }
        guard i > start else { throw .badRequest("invalid chunk size") }
        while i < end && (buffer[i] == .space || buffer[i] == .tab) { i += 1 }
        if i < end {
            guard buffer[i] == UInt8(ascii: ";") else { throw .badRequest("invalid chunk size") }
            while i < end {
                let byte = buffer[i]
                guard byte == .tab || (byte >= 0x20 && byte != 0x7F) else { throw .badRequest("invalid chunk extension") }
                i += 1
            }
        }
        return size
    }

    /// Parses a complete head (request line, fields, final empty line) and validates its framing.
    private mutating func parseHead(
        _ head: UnsafeBufferPointer<UInt8>, requestLineEnd lf: Int
    ) throws(HTTPParseError) -> HTTPRequestHead {
        errorMethod = nil
        errorTarget = nil
        errorRequestID = nil
        // Request line: method SP target SP HTTP/1.x
        let lineEnd = lf - 1
        var sp1 = 0
        while sp1 < lineEnd && head[sp1] != .space { sp1 += 1 }
        guard sp1 > 0, sp1 < lineEnd else { throw .badRequest("invalid request line") }
        for i in 0..<sp1 where !isTokenByte(head[i]) { throw .badRequest("invalid method") }
        var sp2 = sp1 + 1
        while sp2 < lineEnd && head[sp2] != .space { sp2 += 1 }
        guard sp2 < lineEnd, sp2 > sp1 + 1 else { throw .badRequest("invalid request line") }
        let method = HTTPParser.method(UnsafeBufferPointer(rebasing: head[0..<sp1]))
        errorMethod = method
        if sp2 - sp1 - 1 > limits.maxRequestTargetBytes { throw .uriTooLong }
        let version: HTTPVersion
        if lineEnd - sp2 - 1 == 8 && head[sp2 + 1] == UInt8(ascii: "H") && head[sp2 + 2] == UInt8(ascii: "T")
            && head[sp2 + 3] == UInt8(ascii: "T") && head[sp2 + 4] == UInt8(ascii: "P")
            && head[sp2 + 5] == UInt8(ascii: "/") && head[sp2 + 6] == UInt8(ascii: "1")
            && head[sp2 + 7] == UInt8(ascii: ".") && (head[sp2 + 8] == UInt8(ascii: "1") || head[sp2 + 8] == UInt8(ascii: "0"))
        {
            version = head[sp2 + 8] == UInt8(ascii: "1") ? .http1_1 : .http1_0
        } else {
            throw .badRequest("unsupported HTTP version")
        }
        for i in (sp1 + 1)..<sp2 where head[i] < 0x21 || head[i] > 0x7E {
            throw .badRequest("invalid request target")
        }
        let target = String(decoding: UnsafeBufferPointer(rebasing: head[(sp1 + 1)..<sp2]), as: UTF8.self)
        errorTarget = target
        guard HTTPParser.isKnownMethod(method) else { throw .notImplemented("method \(method)") }
        guard head[sp1 + 1] == UInt8(ascii: "/") else { throw .badRequest("request target must be in origin form") }

        // Fields.
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(8)
        var contentLength: Int?
        var contentLengthCount = 0
        var codings: [String] = []
        var hasTransferEncoding = false
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var requestID: String?
        var position = lf + 1
        let end = head.count - 2
        while position < end {
            var lineFeed = position
            while head[lineFeed] != .lf { lineFeed += 1 }
            let lineEnd = lineFeed - 1
            let first = head[position]
            if first == .space || first == .tab { throw .badRequest("obsolete line folding") }
            var colon = position
            while colon < lineEnd && isTokenByte(head[colon]) { colon += 1 }
            guard colon < lineEnd, head[colon] == UInt8(ascii: ":") else {
                if colon < lineEnd && (head[colon] == .space || head[colon] == .tab) {
                    throw .badRequest("whitespace before colon")
                }
                throw .badRequest("invalid field name")
            }
            guard colon > position else { throw .badRequest("empty field name") }
            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd && (head[valueStart] == .space || head[valueStart] == .tab) { valueStart += 1 }
            while valueEnd > valueStart && (head[valueEnd - 1] == .space || head[valueEnd - 1] == .tab) { valueEnd -= 1 }
            for i in valueStart..<valueEnd {
                let byte = head[i]
                guard byte == .tab || (byte >= 0x20 && byte != 0x7F) else { throw .badRequest("invalid character in field value") }
            }
            let nameBytes = UnsafeBufferPointer(rebasing: head[position..<colon])
            let valueBytes = UnsafeBufferPointer(rebasing: head[valueStart..<valueEnd])
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(decoding: valueBytes, as: UTF8.self)
            fields.append((name, value))
            switch nameBytes.count {
            case 4 where equalsLowercase(nameBytes, "host"):
                hostCount += 1
            case 6 where equalsLowercase(nameBytes, "expect"):
                if equalsLowercase(valueBytes, "100-continue") { expectsContinue = true }
            case 10 where equalsLowercase(nameBytes, "connection"):
                forEachListElement(valueBytes) { element in
                    if equalsLowercase(element, "close") { connectionClose = true }
                    if equalsLowercase(element, "keep-alive") { connectionKeepAlive = true }
                }
            case 12 where equalsLowercase(nameBytes, "x-request-id"):
                if requestID == nil, RequestID.isValidIncoming(value) {
                    requestID = value
                    errorRequestID = value
                }
            case 14 where equalsLowercase(nameBytes, "content-length"):
                contentLengthCount += 1
                contentLength = try parseContentLength(valueBytes)
            case 17 where equalsLowercase(nameBytes, "transfer-encoding"):
                hasTransferEncoding = true
                var sawElement = false
                forEachListElement(valueBytes) { element in
                    sawElement = true
                    var lowered = String(decoding: element, as: UTF8.self)
                    lowered = lowered.lowercased()
                    codings.append(lowered)
                }
                if !sawElement { throw .badRequest("empty Transfer-Encoding") }
            default:
                break
            }
            position = lineFeed + 1
        }
        if end - (lf + 1) > limits.maxHeaderBytes { throw .headerFieldsTooLarge }
        if version == .http1_1 {
            guard hostCount == 1 else { throw .badRequest(hostCount == 0 ? "missing Host" : "repeated Host") }
        } else if hostCount > 1 {
            throw .badRequest("repeated Host")
        }
        let framing: HTTPBodyFraming
        if hasTransferEncoding {
            if version == .http1_0 { throw .badRequest("Transfer-Encoding in HTTP/1.0") }
            if contentLengthCount > 0 { throw .badRequest("Content-Length with Transfer-Encoding") }
            let chunkedCount = codings.count(where: { $0 == "chunked" })
            guard codings.last == "chunked", chunkedCount == 1 else {
                throw .badRequest("Transfer-Encoding must end in a single chunked")
            }
            if codings.count > 1 { throw .notImplemented("transfer coding \(codings[0])") }
            framing = .chunked
        } else if contentLengthCount > 1 {
            throw .badRequest("repeated Content-Length")
        } else if let length = contentLength {
            if length > limits.maxBodyBytes { throw .payloadTooLarge }
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .none
        }
        let isKeepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return HTTPRequestHead(
            method: method, target: target, version: version, headers: HTTPHeaders(fields), framing: framing,
            isKeepAlive: isKeepAlive, expectsContinue: expectsContinue, incomingRequestID: requestID)
    }

    private func parseContentLength(_ value: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Int {
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
    private func forEachListElement(
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
    private func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let pointer = literal.utf8Start
        for i in 0..<bytes.count where bytes[i] | 0x20 != pointer[i] {
            return false
        }
        return true
    }

    private func isTokenByte(_ byte: UInt8) -> Bool {
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
    private static func method(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
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

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
}
