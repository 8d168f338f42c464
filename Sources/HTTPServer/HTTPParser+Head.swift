/// The head states of `HTTPParser`: empty lines before a request line, the scan for the end of
/// the head, and the parse of a complete head (request line, fields, framing).
extension HTTPParser {
    /// What the field lines said, as far as the server itself cares.
    struct FieldSummary {
        var fields: [(name: String, value: String)] = []
        var contentLength: Int?
        var contentLengthCount = 0
        var codings: [String] = []
        var hasTransferEncoding = false
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var requestID: String?
    }

    /// `.head`: skips leading empty lines, scans for the end of the head, then parses it.
    mutating func readHead(_ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, _ scan: HeadScan) throws(HTTPParseError) -> Result? {
        var scan = scan
        if scan.scanned == 0 {
            guard try skipEmptyLines(buffer, &consumed, &scan) else {
                state = .head(scan)
                return .needMore
            }
        }
        let base = consumed
        guard let length = try scanHead(buffer, base: base, scan: &scan) else {
            state = .head(scan)
            return .needMore
        }
        let head = try parseHead(
            UnsafeBufferPointer(rebasing: buffer[base..<(base + length)]), requestLineEnd: scan.requestLineEnd)
        consumed = base + length
        startBody(head.framing)
        return .head(head)
    }

    /// Skips empty lines before the request line, but not forever; false when a CR waits for its LF.
    func skipEmptyLines(_ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, _ scan: inout HeadScan) throws(HTTPParseError) -> Bool {
        while consumed < buffer.count {
            let first = buffer[consumed]
            if first == .lf { throw .badRequest("bare LF") }
            guard first == .cr else { break }
            guard consumed + 1 < buffer.count else { return false }
            guard buffer[consumed + 1] == .lf else { throw .badRequest("bare CR") }
            scan.emptyLinesSkipped += 1
            if scan.emptyLinesSkipped > HTTPParser.maxLeadingEmptyLines {
                throw .badRequest("too many empty lines")
            }
            consumed += 2
        }
        return true
    }

    /// Scans new bytes of a head; returns its length (final CRLF included) once complete.
    func scanHead(
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

    /// Parses a complete head (request line, fields, final empty line) and validates its framing.
    mutating func parseHead(
        _ head: UnsafeBufferPointer<UInt8>, requestLineEnd lf: Int
    ) throws(HTTPParseError) -> HTTPRequestHead {
        errorMethod = nil
        errorTarget = nil
        errorRequestID = nil
        let (method, target, version) = try parseRequestLine(head, lineFeed: lf)
        var summary = FieldSummary()
        summary.fields.reserveCapacity(8)
        let end = head.count - 2
        var position = lf + 1
        while position < end {
            position = try parseFieldLine(head, at: position, into: &summary)
        }
        if end - (lf + 1) > limits.maxHeaderBytes { throw .headerFieldsTooLarge }
        if version == .http1_1 {
            guard summary.hostCount == 1 else { throw .badRequest(summary.hostCount == 0 ? "missing Host" : "repeated Host") }
        } else if summary.hostCount > 1 {
            throw .badRequest("repeated Host")
        }
        let framing = try framing(summary, version: version)
        let isKeepAlive = version == .http1_1
            ? !summary.connectionClose : (summary.connectionKeepAlive && !summary.connectionClose)
        return HTTPRequestHead(
            method: method, target: target, version: version, headers: HTTPHeaders(summary.fields), framing: framing,
            isKeepAlive: isKeepAlive, expectsContinue: summary.expectsContinue, incomingRequestID: summary.requestID)
    }

    /// `method SP target SP HTTP/1.x`, the line ending at `lf`.
    mutating func parseRequestLine(
        _ head: UnsafeBufferPointer<UInt8>, lineFeed lf: Int
    ) throws(HTTPParseError) -> (method: String, target: String, version: HTTPVersion) {
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
        guard let version = HTTPParser.version(UnsafeBufferPointer(rebasing: head[(sp2 + 1)..<lineEnd])) else {
            throw .badRequest("unsupported HTTP version")
        }
        for i in (sp1 + 1)..<sp2 where head[i] < 0x21 || head[i] > 0x7E {
            throw .badRequest("invalid request target")
        }
        let target = String(decoding: UnsafeBufferPointer(rebasing: head[(sp1 + 1)..<sp2]), as: UTF8.self)
        errorTarget = target
        guard HTTPParser.isKnownMethod(method) else { throw .notImplemented("method \(method)") }
        guard head[sp1 + 1] == UInt8(ascii: "/") else { throw .badRequest("request target must be in origin form") }
        return (method, target, version)
    }

    /// One `name: value` line from `position`; returns where the next line starts.
    mutating func parseFieldLine(
        _ head: UnsafeBufferPointer<UInt8>, at position: Int, into summary: inout FieldSummary
    ) throws(HTTPParseError) -> Int {
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
        try noteField(
            name: UnsafeBufferPointer(rebasing: head[position..<colon]),
            value: UnsafeBufferPointer(rebasing: head[valueStart..<valueEnd]), into: &summary)
        return lineFeed + 1
    }

    /// Keeps the field, and what the server reads from it (framing, Host, Connection, Expect, X-Request-ID).
    mutating func noteField(
        name nameBytes: UnsafeBufferPointer<UInt8>, value valueBytes: UnsafeBufferPointer<UInt8>,
        into summary: inout FieldSummary
    ) throws(HTTPParseError) {
        let name = String(decoding: nameBytes, as: UTF8.self)
        let value = String(decoding: valueBytes, as: UTF8.self)
        summary.fields.append((name, value))
        switch nameBytes.count {
        case 4 where equalsLowercase(nameBytes, "host"):
            summary.hostCount += 1
        case 6 where equalsLowercase(nameBytes, "expect"):
            if equalsLowercase(valueBytes, "100-continue") { summary.expectsContinue = true }
        case 10 where equalsLowercase(nameBytes, "connection"):
            forEachListElement(valueBytes) { element in
                if equalsLowercase(element, "close") { summary.connectionClose = true }
                if equalsLowercase(element, "keep-alive") { summary.connectionKeepAlive = true }
            }
        case 12 where equalsLowercase(nameBytes, "x-request-id"):
            if summary.requestID == nil, RequestID.isValidIncoming(value) {
                summary.requestID = value
                errorRequestID = value
            }
        case 14 where equalsLowercase(nameBytes, "content-length"):
            summary.contentLengthCount += 1
            summary.contentLength = try parseContentLength(valueBytes)
        case 17 where equalsLowercase(nameBytes, "transfer-encoding"):
            summary.hasTransferEncoding = true
            var sawElement = false
            forEachListElement(valueBytes) { element in
                sawElement = true
                summary.codings.append(String(decoding: element, as: UTF8.self).lowercased())
            }
            if !sawElement { throw .badRequest("empty Transfer-Encoding") }
        default:
            break
        }
    }

    /// How the body is delimited (RFC 9112 §6.3), refusing the ambiguous combinations.
    func framing(_ summary: FieldSummary, version: HTTPVersion) throws(HTTPParseError) -> HTTPBodyFraming {
        if summary.hasTransferEncoding {
            if version == .http1_0 { throw .badRequest("Transfer-Encoding in HTTP/1.0") }
            if summary.contentLengthCount > 0 { throw .badRequest("Content-Length with Transfer-Encoding") }
            let chunkedCount = summary.codings.count(where: { $0 == "chunked" })
            guard summary.codings.last == "chunked", chunkedCount == 1 else {
                throw .badRequest("Transfer-Encoding must end in a single chunked")
            }
            if summary.codings.count > 1 { throw .notImplemented("transfer coding \(summary.codings[0])") }
            return .chunked
        }
        if summary.contentLengthCount > 1 { throw .badRequest("repeated Content-Length") }
        if let length = summary.contentLength {
            if length > limits.maxBodyBytes { throw .payloadTooLarge }
            return length == 0 ? .none : .length(length)
        }
        return .none
    }
}
