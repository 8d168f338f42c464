/// The body states of `HTTPParser`: a length-delimited body, and chunked framing (size lines,
/// data, the CRLF after it, trailers), each line scanned once however it arrives.
extension HTTPParser {
    /// Starts the body `framing` announces, or waits for the next head when there is none.
    mutating func startBody(_ framing: HTTPBodyFraming) {
        switch framing {
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
    }

    /// `.lengthBody`: takes what is there of the remaining bytes; the body once all came.
    mutating func readLengthBody(_ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, remaining: Int) -> Result? {
        let left = appendToBody(buffer, &consumed, upTo: remaining)
        if left > 0 {
            state = .lengthBody(remaining: left)
            return .needMore
        }
        return .body(finishBody())
    }

    /// Appends what is there of the next `count` body bytes; returns how many are still to come.
    mutating func appendToBody(_ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, upTo count: Int) -> Int {
        let take = min(count, buffer.count - consumed)
        body.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[consumed..<(consumed + take)]))
        consumed += take
        return count - take
    }

    /// `.chunkSize`: one `size [; ext] CRLF` line, scanned once however it arrives.
    mutating func readChunkSize(
        _ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, scanned: Int
    ) throws(HTTPParseError) -> Result? {
        // Resume where the last call stopped: a line sent a byte at a time is scanned once in
        // total, not once per byte.
        guard let lf = findLF(buffer, from: consumed + scanned,
                              end: min(buffer.count, consumed + HTTPParser.maxChunkLineBytes + 1)) else {
            if buffer.count - consumed > HTTPParser.maxChunkLineBytes {
                throw .badRequest("chunk size line too long")
            }
            try checkNoBareCR(buffer, from: max(consumed, consumed + scanned - 1), to: buffer.count)
            state = .chunkSize(scanned: buffer.count - consumed)
            return .needMore
        }
        let size = try parseChunkSize(buffer, from: consumed, lf: lf)
        consumed = lf + 1
        if size == 0 {
            state = .trailers(bytes: 0, scanned: 0)
        } else {
            guard size <= limits.maxBodyBytes - body.count else { throw .payloadTooLarge }
            state = .chunkData(remaining: size)
        }
        return nil
    }

    /// `.chunkData`: takes what is there of the chunk.
    mutating func readChunkData(_ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, remaining: Int) -> Result? {
        let left = appendToBody(buffer, &consumed, upTo: remaining)
        if left > 0 {
            state = .chunkData(remaining: left)
            return .needMore
        }
        state = .chunkDataEnd
        return nil
    }

    /// `.chunkDataEnd`: the CRLF after a chunk's data.
    mutating func readChunkDataEnd(_ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int) throws(HTTPParseError) -> Result? {
        let available = buffer.count - consumed
        if available >= 1 && buffer[consumed] != .cr { throw .badRequest("missing CRLF after chunk data") }
        if available < 2 { return .needMore }
        guard buffer[consumed + 1] == .lf else { throw .badRequest("missing CRLF after chunk data") }
        consumed += 2
        state = .chunkSize(scanned: 0)
        return nil
    }

    /// `.trailers`: trailer lines (checked, counted against the header limit, dropped) up to the empty line.
    mutating func readTrailers(
        _ buffer: UnsafeBufferPointer<UInt8>, _ consumed: inout Int, bytes: Int, scanned: Int
    ) throws(HTTPParseError) -> Result? {
        let room = limits.maxHeaderBytes - bytes
        guard let lf = findLF(buffer, from: consumed + scanned, end: min(buffer.count, consumed + room + 3)) else {
            if buffer.count - consumed > room + 2 { throw .headerFieldsTooLarge }
            try checkNoBareCR(buffer, from: max(consumed, consumed + scanned - 1), to: buffer.count)
            state = .trailers(bytes: bytes, scanned: buffer.count - consumed)
            return .needMore
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
            return nil
        }
        consumed = lf + 1
        return .body(finishBody())
    }

    /// The first LF in `[start, end)`.
    mutating func findLF(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, end: Int) -> Int? {
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
    mutating func checkNoBareCR(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) throws(HTTPParseError) {
        lineScanBytes &+= max(0, to - from)
        var i = from
        while i + 1 < to {
            if buffer[i] == .cr && buffer[i + 1] != .lf { throw .badRequest("bare CR") }
            i += 1
        }
    }

    /// `chunk-size [ chunk-ext ] CRLF`; extensions are accepted and ignored.
    func parseChunkSize(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, lf: Int) throws(HTTPParseError) -> Int {
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
}
